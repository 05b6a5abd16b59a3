"""Fixtures of the governance tests: ``governed_store`` (a migrated store of each backend with
an empty audit log, no keys and only the ``default`` project) and ``write_rows``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from truecourse.model import BATCH_TYPES
from truecourse.store import Store

from store_backends import pg_store, pg_url, store

__all__ = ["governed_store", "pg_store", "pg_url", "store", "write_rows"]


@pytest.fixture
def governed_store(store: Store) -> Iterator[Store]:
    """``store`` with the governance tables emptied too (the PostgreSQL database is shared by
    a module's tests, and the shared truncate leaves those tables alone)."""
    store.execute([("DELETE FROM audit_log", []), ("DELETE FROM api_keys", []),
                   ("DELETE FROM projects WHERE name <> 'default'", [])])
    yield store


WriteRows = Callable[[str, Sequence[Mapping[str, Any]]], None]


@pytest.fixture
def write_rows(governed_store: Store) -> WriteRows:
    """``write_rows(table, rows)``: write rows (dicts; columns left out are NULL, ``project``
    defaults to 'default') through ``Store.write`` as a model batch."""

    def write(table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        cls = BATCH_TYPES[table]
        names = cls.column_names()
        unknown = {k for r in rows for k in r} - set(names)
        assert not unknown, f"not columns of {table}: {unknown}"
        columns = {n: [r.get(n, "default" if n == "project" else None) for r in rows]
                   for n in names}
        governed_store.write([cls(columns)])

    return write
