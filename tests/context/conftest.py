"""Context tests run on both backends."""

from store_backends import pg_url, store

__all__ = ["pg_url", "store"]
