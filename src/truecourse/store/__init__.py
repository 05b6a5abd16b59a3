"""Where telemetry lives: the ``Store`` interface, its backends and migrations."""

from __future__ import annotations

from truecourse.errors import InvalidInput
from truecourse.store.base import EventQuery, LogQuery, MetricQuery, Page, SpanQuery, Store
from truecourse.store.duckdb import DuckDBStore
from truecourse.store.tree import trace_tree


def open_store(db: str, *, checkpoint_mb: int = 256) -> Store:
    """The store named by ``--db``: a DuckDB file path (or ``:memory:``), or a postgresql URL."""
    if db.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(f"--db {db}: the PostgreSQL backend is not available in this build",
                           hint="use a DuckDB file path")
    if "://" in db:
        raise InvalidInput(f"--db {db!r} is not a DuckDB path or a postgresql:// URL")
    return DuckDBStore(db, checkpoint_mb=checkpoint_mb)


__all__ = [
    "DuckDBStore",
    "EventQuery",
    "LogQuery",
    "MetricQuery",
    "Page",
    "SpanQuery",
    "Store",
    "open_store",
    "trace_tree",
]
