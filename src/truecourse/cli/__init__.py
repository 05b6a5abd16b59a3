"""The command line: ``truecourse serve | validate | spans | version``."""

from truecourse.cli.main import app, main

__all__ = ["app", "main"]
