"""The ``store`` fixture, shared by every test folder that runs on both backends.

Every test using ``store`` runs on DuckDB and on PostgreSQL. The PostgreSQL variant shares one
migrated throwaway database per test module (tables emptied before each test); it fails or
skips as :mod:`pg_support` says when the server is missing. A folder's ``conftest.py`` imports
the fixtures: ``from store_backends import pg_store, pg_url, store``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from truecourse.store import DuckDBStore, Store
from truecourse.store.postgres import PostgresStore

from pg_support import pg_database, truncate


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A migrated database for this module's tests."""
    with pg_database() as url:
        s = PostgresStore(url)
        s.migrate()
        s.close()
        yield url


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store of each backend."""
    s: Store
    if request.param == "duckdb":
        s = DuckDBStore(tmp_path / "t.duckdb")
        s.migrate()
    else:
        url = request.getfixturevalue("pg_url")
        truncate(url)
        s = PostgresStore(url)
    yield s
    s.close()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    """A migrated, empty PostgreSQL store (for the PostgreSQL-only tests)."""
    truncate(pg_url)
    s = PostgresStore(pg_url)
    yield s
    s.close()
