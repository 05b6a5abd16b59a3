"""The ``store`` fixture: the store-level guard tests run on DuckDB and on PostgreSQL."""

from store_backends import pg_store, pg_url, store

__all__ = ["pg_store", "pg_url", "store"]
