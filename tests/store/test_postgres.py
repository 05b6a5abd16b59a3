"""What only the PostgreSQL store does: connection errors and recovery, the reader pool,
concurrent migrations, row locks of ``write_once``, NUMERIC results, ``?`` placeholders."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa
import pytest

from truecourse.errors import InvalidInput, StoreUnavailable
from truecourse.ingest.otlp import decode
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store import LogQuery, SpanQuery, open_store
from truecourse.store.migrate import migrations
from truecourse.store.pg_connect import mask_url, pyformat
from truecourse.store.postgres import PostgresStore

from otlp_builders import span, trace_request
from pg_support import pg_database, terminate_connections, truncate
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.services

PB = "application/x-protobuf"


def _spans(*names: str) -> Any:
    req = trace_request([span(n) for n in names])
    return NormalizeProcessor().process(decode("traces", req.SerializeToString(), PB).batch)


# -- pure functions (no server) ---------------------------------------------------------------


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT ? AS a", "SELECT %s AS a"),
    ("WHERE a = ? AND b LIKE '100%' AND c = '?'", "WHERE a = %s AND b LIKE '100%%' AND c = '?'"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
    ("SELECT E'\\' ?', ?", "SELECT E'\\' ?', %s"),
    ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = %s'),
    ("SELECT 1 -- why? 5%\nWHERE x = ?", "SELECT 1 -- why? 5%%\nWHERE x = %s"),
    ("SELECT /* ? */ ?", "SELECT /* ? */ %s"),
    ("SELECT $$ ? $$, $tag$ '?' $tag$, ?", "SELECT $$ ? $$, $tag$ '?' $tag$, %s"),
    ("SELECT a % 2 FROM t WHERE b IN (?, ?)", "SELECT a %% 2 FROM t WHERE b IN (%s, %s)"),
    ("SELECT type'?'", "SELECT type'?'"),
])
def test_question_marks_become_placeholders_outside_literals(sql: str, expected: str) -> None:
    assert pyformat(sql) == expected


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://u:s3cret@db:5432/tc", "postgresql://u:***@db:5432/tc"),
    ("postgres://u@db/tc", "postgres://u@db/tc"),
    ("postgresql://db/tc?user=u&password=s3cret&sslmode=require",
     "postgresql://db/tc?user=u&password=***&sslmode=require"),
    ("postgresql://u:p%40ss@db/tc", "postgresql://u:***@db/tc"),
])
def test_urls_are_shown_without_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# -- connecting -------------------------------------------------------------------------------


def test_an_unreachable_server_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        PostgresStore("postgresql://tc:s3cret@127.0.0.1:1/test")
    assert err.value.message == ("cannot connect to PostgreSQL at "
                                 "postgresql://tc:***@127.0.0.1:1/test: connection refused")
    assert err.value.hint is not None and "check the server is running" in err.value.hint
    assert "s3cret" not in str(err.value) and time.monotonic() - started < 10
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        open_store("postgres://127.0.0.1:1/test")


def test_a_missing_database_says_so(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/tc_no_such_database"
    with pytest.raises(StoreUnavailable) as err:
        PostgresStore(missing)
    assert 'database "tc_no_such_database" does not exist' in err.value.message
    assert err.value.hint is not None and "create the database" in err.value.hint


def test_a_malformed_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not a valid PostgreSQL URL"):
        PostgresStore("postgresql://u:pw@host:notaport/db?bogus_option=1")


def test_open_store_picks_postgres_for_both_schemes(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        s = open_store(url)
        try:
            assert isinstance(s, PostgresStore) and s.dialect == "postgresql"
            s.ping()
        finally:
            s.close()


def test_calls_fail_clearly_while_the_server_is_away_and_recover_after(pg_url: str) -> None:
    truncate(pg_url)
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    store = PostgresStore(urlunsplit(parts._replace(
        netloc=f"{parts.username}@127.0.0.1:{proxy.port}")))
    try:
        store.write([_spans("before")])
        assert store.counts()["spans"] == 1
        proxy.cut()  # the server goes away: open connections drop, new ones are refused
        calls = {
            "write": lambda: store.write([_spans("lost")]),
            "write_once": lambda: store.write_once([("k:1", [_spans("lost")])]),
            "update_spans": lambda: store.update_spans(pa.table({
                "trace_id": ["a"], "span_id": ["b"], "cost_usd": [1.0]})),
            "spans": lambda: store.spans(SpanQuery()),
            "logs": lambda: store.logs(LogQuery()),
            "select": lambda: store.select("SELECT 1"),
            "counts": store.counts,
            "ping": store.ping,
            "migrate": store.migrate,
            "services": store.services,
            "table_columns": lambda: store.table_columns("spans"),
        }
        for name, call in calls.items():
            with pytest.raises(StoreUnavailable) as err:
                call()
                pytest.fail(f"{name} did not raise")
            assert store.url in err.value.message, name
            assert err.value.hint is not None, name
        proxy.restore()  # back: the next calls connect again on their own
        store.write([_spans("after")])
        assert sorted(r["name"] for r in store.spans(SpanQuery()).items) == ["after", "before"]
    finally:
        store.close()
        proxy.close()


def test_killed_connections_are_replaced(pg_url: str) -> None:
    truncate(pg_url)
    store = PostgresStore(pg_url, pool_size=3)
    try:
        store.write([_spans("a")])
        with ThreadPoolExecutor(3) as pool:  # fill the pool with idle readers
            list(pool.map(lambda _: store.spans(SpanQuery()), range(6)))
        assert terminate_connections(pg_url) >= 2
        store.write([_spans("b")])  # writer: found dead, replaced, the write retried
        assert store.counts()["spans"] == 2  # readers: the dead idle ones are dropped
        assert terminate_connections(pg_url) >= 2
        assert len(store.spans(SpanQuery()).items) == 2
        store.write_once([("k", [_spans("c")])])
        assert store.counts()["spans"] == 3
    finally:
        store.close()


def test_a_closed_store_refuses_calls(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.close()
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.ping()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.write([_spans("x")])


def test_more_readers_than_connections_wait_their_turn(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(
                lambda _: store.select("SELECT count(*) AS n FROM pg_sleep(0.05)"), range(16)))
        assert all(r.column("n").to_pylist() == [1] for r in results)
        with psycopg.connect(pg_url) as conn:
            n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND application_name = 'truecourse'").fetchone()
        assert n is not None and n[0] <= 3  # two readers and the writer
    finally:
        store.close()


# -- migrations -------------------------------------------------------------------------------


def test_two_processes_migrating_at_once_migrate_once() -> None:
    with pg_database() as url:
        stores = [PostgresStore(url) for _ in range(3)]
        try:
            start = threading.Barrier(len(stores))

            def migrate(s: PostgresStore) -> int:
                start.wait()
                return s.migrate()

            with ThreadPoolExecutor(len(stores)) as pool:
                versions = list(pool.map(migrate, stores))
            assert versions == [len(migrations("postgresql"))] * len(stores)
            applied = stores[0].select("SELECT version FROM schema_migrations ORDER BY 1")
            assert applied.column(0).to_pylist() == list(range(1, len(versions) and
                                                               versions[0] + 1))
        finally:
            for s in stores:
                s.close()


def test_a_failed_migration_names_itself_and_keeps_nothing(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from truecourse.store import postgres
    from truecourse.store.migrate import Migration

    real = migrations("postgresql")
    broken = [*real, Migration(len(real) + 1, "broken", "CREATE TABLE x (a int); SELEC 1")]
    monkeypatch.setattr(postgres, "migrations", lambda dialect: broken)
    store = PostgresStore(pg_url)
    try:
        with pytest.raises(StoreUnavailable, match=rf"migration {len(broken)} \(broken\) failed"):
            store.migrate()
        assert store.table_columns("x") == {}
        monkeypatch.setattr(postgres, "migrations", lambda dialect: real)
        assert store.migrate() == len(real)
    finally:
        store.close()


# -- results and locks ------------------------------------------------------------------------


def test_numeric_results_are_int_or_float(pg_store: PostgresStore) -> None:
    """``sum`` of bigint is NUMERIC in PostgreSQL; it comes back int64 (whole) or float64."""
    pg_store.write([_spans("a")])
    t = pg_store.select(
        "SELECT sum(start_unix_nano) AS s, sum(duration_ms)::numeric / 3 AS third, "
        "avg(length(name)) AS a, "
        "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY duration_ms) AS q "
        "FROM spans")
    assert t.schema.field("s").type == pa.int64()
    assert t.schema.field("third").type == pa.float64()
    assert t.schema.field("a").type == pa.float64()
    assert t.schema.field("q").type == pa.list_(pa.float64())
    row = pg_store._rows("SELECT sum(start_unix_nano) AS s, 1.5::numeric AS f FROM spans", [],
                         "x")[0]
    assert type(row["s"]) is int and row["f"] == 1.5


def test_write_once_waits_for_an_uncommitted_key(pg_store: PostgresStore, pg_url: str) -> None:
    """A key another transaction holds uncommitted makes write_once wait; the key is skipped
    if that transaction commits and written if it rolls back."""
    batch = _spans("a")
    for outcome in ("commit", "rollback"):
        truncate(pg_url)
        with psycopg.connect(pg_url) as holder:
            holder.execute("INSERT INTO ingest_ledger VALUES ('q:1', now())")
            result: list[set[str]] = []

            def deliver(result: list[set[str]] = result) -> None:
                result.append(pg_store.write_once([("q:1", [batch]), ("q:2", [batch])]))

            t = threading.Thread(target=deliver)
            t.start()
            time.sleep(0.5)
            assert t.is_alive() and not result  # waiting on the row lock
            getattr(holder, outcome)()
            t.join(30)
        if outcome == "commit":
            assert result == [{"q:1"}] and pg_store.counts()["spans"] == 1
        else:
            assert result == [set()] and pg_store.counts()["spans"] == 2
