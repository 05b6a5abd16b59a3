"""Throwaway PostgreSQL databases for the integration tests.

``pg_database()`` creates a database with a random name on the test server, yields its URL and
drops it (``WITH (FORCE)``, so connections left open do not keep it alive). The server is
``TRUECOURSE_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``: trust auth, the
``test`` database used only to create and drop others). When it cannot be reached the test
fails with ``TRUECOURSE_REQUIRE_SERVICES=1`` (CI) and is skipped otherwise.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ADMIN_URL = os.environ.get("TRUECOURSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("TRUECOURSE_REQUIRE_SERVICES") == "1"

#: The tables a test may write; ``truncate`` empties them.
TABLES = ("spans", "logs", "metric_points", "events", "ingest_ledger", "predictions",
          "drift_baselines", "drift_reports", "drift_sketches")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def require_postgres() -> None:
    """Fail (CI) or skip the calling test when the test server cannot be reached."""
    try:
        with _admin():
            pass
    except psycopg.Error as exc:
        message = f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


def database_url(name: str) -> str:
    """The admin URL pointing at database ``name`` instead."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def pg_database(prefix: str = "tc_test") -> Iterator[str]:
    """A new empty database ``<prefix>_<random>``; yields its URL, drops it afterwards."""
    require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate(url: str, tables: tuple[str, ...] = TABLES) -> None:
    """Empty ``tables`` of the (migrated) database at ``url``."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)}")


def terminate_connections(url: str) -> int:
    """Kill every other session on ``url``'s database (as a server restart would); returns
    how many."""
    dbname = urlsplit(url).path.lstrip("/")
    with _admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", [dbname]).fetchall()
    return len(rows)

