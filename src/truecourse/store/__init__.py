"""Where telemetry lives: the ``Store`` interface, its backends and migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from truecourse.errors import InvalidInput
from truecourse.store.base import EventQuery, LogQuery, MetricQuery, Page, SpanQuery, Store
from truecourse.store.duckdb import DuckDBStore
from truecourse.store.tree import trace_tree

if TYPE_CHECKING:
    from truecourse.store.postgres import PostgresStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(db: str, *, checkpoint_mb: int = 256) -> Store:
    """The store named by ``--db``: a DuckDB file path (or ``:memory:``), or a
    ``postgresql://`` (``postgres://``) URL. Raises StoreUnavailable when it cannot be
    opened or reached, InvalidInput for another URL scheme."""
    if db.startswith(POSTGRES_SCHEMES):
        from truecourse.store.postgres import PostgresStore

        return PostgresStore(db)
    if "://" in db:
        raise InvalidInput(f"--db {db!r} is not a DuckDB path or a postgresql:// URL")
    return DuckDBStore(db, checkpoint_mb=checkpoint_mb)


def __getattr__(name: str) -> Any:
    # psycopg is imported only by processes that use PostgreSQL
    if name == "PostgresStore":
        from truecourse.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DuckDBStore",
    "EventQuery",
    "LogQuery",
    "MetricQuery",
    "Page",
    "PostgresStore",
    "SpanQuery",
    "Store",
    "open_store",
    "trace_tree",
]
