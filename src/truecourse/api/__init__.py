"""The HTTP face: thin routes over the runtime's store and pipeline."""

from truecourse.api.app import create_app

__all__ = ["create_app"]
