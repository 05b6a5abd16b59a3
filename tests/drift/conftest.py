"""Drift store tests run on both backends (the ``store`` fixture)."""

from store_backends import pg_url, store

__all__ = ["pg_url", "store"]
