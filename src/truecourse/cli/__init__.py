"""The command line: ``truecourse serve | worker | validate | spans | scorecard | ... |
version`` (``truecourse --help`` lists them all)."""

from truecourse.cli.main import app, main

__all__ = ["app", "main"]
