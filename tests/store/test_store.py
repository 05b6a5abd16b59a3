"""The ``Store`` contract on both backends: migrations, bulk writes, queries, paging, trees,
keyed writes, and the errors. Every test taking ``store`` runs on DuckDB and PostgreSQL (see
``conftest.py``); backend-only tests say so in their name and docstring."""

from __future__ import annotations

import math
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pyarrow as pa
import pytest

from truecourse.errors import InvalidInput, StoreUnavailable
from truecourse.ingest.events import events_from_json
from truecourse.ingest.otlp import decode
from truecourse.model import ARROW_SCHEMAS, TABLE_COLUMNS, ArrowBatch, Batch
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store import (
    DuckDBStore,
    EventQuery,
    LogQuery,
    MetricQuery,
    SpanQuery,
    Store,
    trace_tree,
)
from truecourse.store.migrate import migrations
from truecourse.store.postgres import PostgresStore

from otlp_builders import log_request, metric_request, span, trace_request
from pg_support import truncate

PB = "application/x-protobuf"


def _spans(req: Any) -> Batch:
    batch = decode("traces", req.SerializeToString(), PB).batch
    return NormalizeProcessor().process(batch)


def _logs(req: Any) -> Batch:
    return decode("logs", req.SerializeToString(), PB).batch


def _events(body: bytes) -> Batch:
    return events_from_json(body).batch


def _execute(store: Store, sql: str) -> None:
    """Run a statement outside the store's API (what an operator or a test setup does)."""
    if isinstance(store, DuckDBStore):
        store._con.execute(sql)
    else:
        assert isinstance(store, PostgresStore)
        with psycopg.connect(_raw_url(store), autocommit=True) as conn:
            conn.execute(sql.encode())


def _raw_url(store: PostgresStore) -> str:
    return store._connector._conninfo


def _all_pages(fetch: Any, limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = fetch(limit, cursor)
        assert len(page.items) <= limit
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            return seen


# -- schema -----------------------------------------------------------------------------------


def test_migrated_tables_match_the_canonical_columns(store: Store) -> None:
    for table, cols in TABLE_COLUMNS.items():
        assert list(store.table_columns(table)) == [c.name for c in cols], table
    assert list(store.table_columns("ingest_ledger")) == ["key", "committed_at"]
    assert store.table_columns("no_such_table") == {}
    assert store.migrate() == len(migrations(store.dialect))  # idempotent


def test_column_types_match_the_canonical_sql_types(store: Store) -> None:
    """The SQL types say what the canonical types say, in each dialect's spelling."""
    spelled = {"VARCHAR": {"VARCHAR", "TEXT"}, "DOUBLE": {"DOUBLE", "DOUBLE PRECISION"},
               "TIMESTAMPTZ": {"TIMESTAMP WITH TIME ZONE"}, "DOUBLE[]": {"DOUBLE[]",
                                                                          "DOUBLE PRECISION[]"}}
    for table, cols in TABLE_COLUMNS.items():
        types = store.table_columns(table)
        for c in cols:
            assert types[c.name] in spelled.get(c.sql, {c.sql}), (table, c.name, types[c.name])


def test_newer_schema_is_refused(store: Store) -> None:
    store.migrate()
    _execute(store, "INSERT INTO schema_migrations VALUES (99, 'future', now())")
    try:
        with pytest.raises(StoreUnavailable, match="schema version 99, this TrueCourse knows"):
            store.migrate()
    finally:
        _execute(store, "DELETE FROM schema_migrations WHERE version = 99")
    store.close()
    store.close()  # safe twice


# -- writes and queries -----------------------------------------------------------------------


def test_write_and_query_by_every_filter(store: Store) -> None:
    tid = os.urandom(16)
    spans = [span("chat gpt", trace_id=tid, attrs={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
        "truecourse.prompt_version": "v2"}, start_ns=2 * 10**18),
        span("db query", status=2, start_ns=2 * 10**18 + 1)]
    store.write([_spans(trace_request(spans, service="a", env="prod"))])
    store.write([_spans(trace_request([span("other")], service="b", env="dev"))])
    assert store.counts()["spans"] == 3
    assert len(store.spans(SpanQuery()).items) == 3
    assert [r["name"] for r in store.spans(SpanQuery(service="a")).items] == ["db query",
                                                                               "chat gpt"]
    assert [r["name"] for r in store.spans(SpanQuery(model="gpt-4o")).items] == ["chat gpt"]
    assert [r["name"] for r in store.spans(SpanQuery(prompt_version="v2")).items] == ["chat gpt"]
    assert [r["name"] for r in store.spans(SpanQuery(operation="chat")).items] == ["chat gpt"]
    assert [r["name"] for r in store.spans(SpanQuery(status="error")).items] == ["db query"]
    assert [r["name"] for r in store.spans(SpanQuery(env="dev")).items] == ["other"]
    assert [r["name"] for r in store.spans(SpanQuery(text="QUERY")).items] == ["db query"]
    assert len(store.spans(SpanQuery(trace_id=tid.hex())).items) == 1
    since = datetime.fromtimestamp(2 * 10**9, UTC)
    assert len(store.spans(SpanQuery(since=since)).items) == 2
    assert len(store.spans(SpanQuery(until=since)).items) == 1
    row = store.spans(SpanQuery(model="gpt-4o")).items[0]
    assert row["input_tokens"] == 10 and row["output_tokens"] == 5
    assert row["attributes"]["gen_ai.request.model"] == "gpt-4o"  # JSON decoded
    assert row["start_time"] == datetime.fromtimestamp(2 * 10**9, UTC)


def test_paging_is_complete_and_stable(store: Store) -> None:
    store.write([_spans(trace_request([span(f"s{i}", start_ns=10**18 + i // 2)
                                       for i in range(25)]))])
    seen = _all_pages(lambda n, c: store.spans(SpanQuery(limit=n, cursor=c)), 7)
    assert sorted(r["name"] for r in seen) == sorted(f"s{i}" for i in range(25))
    assert len(seen) == 25


def test_bad_cursor_is_invalid_input(store: Store) -> None:
    for query in (lambda c: store.spans(SpanQuery(cursor=c)),
                  lambda c: store.logs(LogQuery(cursor=c)),
                  lambda c: store.events(EventQuery(cursor=c))):
        with pytest.raises(InvalidInput, match="cursor"):
            query("not-a-cursor!!")


def test_trace_as_tree(store: Store) -> None:
    tid, root, child, grandchild = os.urandom(16), os.urandom(8), os.urandom(8), os.urandom(8)
    orphan_parent = os.urandom(8)
    spans = [span("grandchild", trace_id=tid, span_id=grandchild, parent=child, start_ns=30),
             span("root", trace_id=tid, span_id=root, start_ns=10),
             span("child", trace_id=tid, span_id=child, parent=root, start_ns=20),
             span("orphan", trace_id=tid, parent=orphan_parent, start_ns=40)]
    store.write([_spans(trace_request(spans))])
    rows = store.trace(tid.hex())
    assert [r["name"] for r in rows] == ["root", "child", "grandchild", "orphan"]
    roots = trace_tree(rows)
    assert [r["name"] for r in roots] == ["root", "orphan"]
    assert roots[0]["children"][0]["name"] == "child"
    assert roots[0]["children"][0]["children"][0]["depth"] == 2
    assert store.trace("0" * 32) == []


def test_services_summary(store: Store) -> None:
    store.write([_spans(trace_request([
        span("chat", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m1",
                            "gen_ai.usage.input_tokens": 7}, dur_ns=10_000_000),
        span("chat", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m0",
                            "gen_ai.usage.input_tokens": 3}, dur_ns=30_000_000),
        span("x", status=2, dur_ns=20_000_000)], service="svc", env="prod", version="2.0"))])
    store.write([_spans(trace_request([span("y")], service="Api", env=None))])
    summary = store.services()
    assert [(s["service"], s["env"]) for s in summary] == [("Api", None), ("svc", "prod")]
    svc = summary[1]
    assert svc["span_count"] == 3 and svc["error_count"] == 1 and svc["trace_count"] == 3
    assert svc["models"] == ["m0", "m1"] and svc["versions"] == ["2.0"]
    assert svc["input_tokens"] == 10 and type(svc["input_tokens"]) is int
    assert svc["p50_ms"] == 20.0 and svc["p95_ms"] == pytest.approx(29.0)
    assert summary[0]["models"] == [] and summary[0]["input_tokens"] is None
    assert store.services(since=datetime(2100, 1, 1, tzinfo=UTC)) == []


def test_logs_metrics_events_round_trip(store: Store) -> None:
    logs = _logs(log_request(["boom happened", "fine"], severity=17))
    metrics = decode("metrics", metric_request().SerializeToString(), PB).batch
    events = _events(b'[{"kind": "deploy", "service": "svc", "version": "2", "id": "d1"}]')
    store.write([logs, metrics, events])
    assert store.counts() == {"spans": 0, "logs": 2, "metric_points": 5, "events": 1,
                              "predictions": 0}
    assert [r["body"] for r in store.logs(LogQuery(text="boom")).items] == ["boom happened"]
    assert store.logs(LogQuery(severity_min=18)).items == []
    ev = store.events(EventQuery(kind="deploy")).items[0]
    assert ev["id"] == "d1" and ev["kind"] == "deploy"
    assert ev["summary"] == "deploy svc 2" and "previous_version" in ev["payload"]


def test_a_retried_event_id_is_stored_once(store: Store) -> None:
    body = b'{"kind": "deploy", "service": "svc", "version": "2", "id": "d1"}'
    store.write([_events(body)])
    store.write([_events(body)])  # the client retried
    store.write([_events(body), _events(body.replace(b"d1", b"d2"))])  # and again, with another
    assert store.counts()["events"] == 2
    # a duplicate inside one batch too
    d3 = b'{"kind": "deploy", "service": "svc", "version": "3", "id": "d3"}'
    store.write([_events(b"[" + d3 + b", " + d3 + b"]")])
    assert sorted(e["id"] for e in store.events(EventQuery()).items) == ["d1", "d2", "d3"]


def test_failed_write_keeps_nothing(store: Store) -> None:
    good = _spans(trace_request([span("a")]))
    bad = _spans(trace_request([span("b")]))
    bad.columns["start_unix_nano"][0] = "not a number"
    with pytest.raises(Exception):  # noqa: B017 - Arrow rejects it before the database
        store.write([good, bad])
    assert store.counts()["spans"] == 0
    store.write([good])  # the store still works
    assert store.counts()["spans"] == 1


def test_text_search_takes_wildcards_literally(store: Store) -> None:
    store.write([_logs(log_request(["100% done", "plain"]))])
    store.write([_spans(trace_request([span("a_b"), span("axb")]))])
    assert [r["body"] for r in store.logs(LogQuery(text="%")).items] == ["100% done"]
    assert [r["name"] for r in store.spans(SpanQuery(text="a_b")).items] == ["a_b"]


def test_metric_points_query(store: Store) -> None:
    store.write([decode("metrics", metric_request().SerializeToString(), PB).batch])
    assert len(store.metric_points(MetricQuery()).items) == 5
    [g] = store.metric_points(MetricQuery(name="queue.depth")).items
    assert g["value"] == 7.0 and g["attributes"] == {"queue": "a"}
    [h] = store.metric_points(MetricQuery(kind="histogram")).items
    assert h["name"] == "gen_ai.client.operation.duration"
    assert isinstance(h["bucket_counts"], list) and isinstance(h["explicit_bounds"], list)
    first = store.metric_points(MetricQuery(limit=3))
    rest = store.metric_points(MetricQuery(limit=3, cursor=first.next_cursor))
    assert len(first.items) + len(rest.items) == 5 and rest.next_cursor is None


# -- paging with ties -------------------------------------------------------------------------


def _same_instant_logs(n: int, at_ns: int = 1_700_000_000 * 10**9) -> Batch:
    req = log_request([f"line {i}" for i in range(n)])
    for rec in req.resource_logs[0].scope_logs[0].log_records:
        rec.time_unix_nano = at_ns
    return _logs(req)


def test_log_paging_with_equal_timestamps_loses_nothing(store: Store) -> None:
    store.write([_same_instant_logs(5)])
    seen = _all_pages(lambda n, c: store.logs(LogQuery(limit=n, cursor=c)), 2)
    assert sorted(r["body"] for r in seen) == [f"line {i}" for i in range(5)]


def test_paging_many_records_of_one_instant_and_exact_duplicates(store: Store) -> None:
    """60 logs at one instant, 20 of them stored three times (identical rows): every page
    size returns each stored row exactly once, newest instant first."""
    store.write([_same_instant_logs(60)])
    twenty = _same_instant_logs(20)
    store.write([twenty, twenty])
    store.write([_same_instant_logs(3, at_ns=1_800_000_000 * 10**9)])
    expected = sorted([f"line {i}" for i in range(60)] + [f"line {i}" for i in range(20)] * 2
                      + [f"line {i}" for i in range(3)])
    for limit in (1, 2, 7, 20, 21, 100):
        seen = _all_pages(lambda n, c: store.logs(LogQuery(limit=n, cursor=c)), limit)
        assert sorted(r["body"] for r in seen) == expected, limit
        assert [r["time_unix_nano"] for r in seen[:3]] == [1_800_000_000 * 10**9] * 3
    # the filters still apply on later pages
    seen = _all_pages(lambda n, c: store.logs(LogQuery(limit=n, cursor=c, text="line 1")), 4)
    assert len(seen) == 11 + 2 * 11 + 1  # line 1, 10..19 (x3 for the duplicated ones), 1


def test_metric_paging_with_equal_timestamps(store: Store) -> None:
    batch = decode("metrics", metric_request().SerializeToString(), PB).batch
    batch.columns["time_unix_nano"] = [42] * len(batch)
    store.write([batch, batch])
    seen = _all_pages(lambda n, c: store.metric_points(MetricQuery(limit=n, cursor=c)), 3)
    assert len(seen) == 10
    assert sorted(r["name"] for r in seen) == sorted(batch["name"] * 2)


def test_event_paging_with_equal_times(store: Store) -> None:
    at = "2024-01-01T00:00:00.123456+00:00"
    result = events_from_json(orjson.dumps([
        {"kind": "deploy", "service": "svc", "version": str(i), "id": f"e{i:02}", "time": at}
        for i in range(15)]))
    assert not result.rejected
    store.write([result.batch])
    seen = _all_pages(lambda n, c: store.events(EventQuery(limit=n, cursor=c)), 4)
    assert [e["id"] for e in seen] == [f"e{i:02}" for i in reversed(range(15))]
    assert seen[0]["time"] == datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


# -- values round-trip ------------------------------------------------------------------------


def test_json_columns_round_trip(store: Store) -> None:
    attrs = {"quote": 'say "hi"', "backslash": "C:\\path\\n", "newline": "a\nb\tc",
             "unicode": "żółw 🐢", "nested": {"list": [1, 2.5, "x", True]}, "empty": "",
             "percent": "100%", "question": "?", "big": 2**60}
    store.write([_spans(trace_request([span("json", attrs=attrs)]))])
    [row] = store.spans(SpanQuery()).items
    for key, value in attrs.items():
        assert row["attributes"][key] == value, key
    raw = store.select("SELECT attributes FROM spans").column(0).to_pylist()[0]
    assert isinstance(raw, str) and '"żółw 🐢"' in raw


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _edge_table(table: str, rows: int = 7) -> pa.Table:
    """Rows exercising every canonical type: NULLs, empties, extremes, NaN and infinities."""
    ints = [0, -1, 2**63 - 1, -(2**63), None, 42, 7]
    floats = [0.1 + 0.2, float("nan"), float("inf"), float("-inf"), None, -0.0, 1e-300]
    texts = ["", None, "ascii", "żółw 🐢", 'q"uote,\n\\', "\t", "x" * 5000]
    times = [datetime(2024, 1, 1, tzinfo=UTC), None, datetime(1969, 12, 31, 23, 59, 59, 1, UTC),
             datetime(1900, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC),
             datetime(2099, 12, 31, 23, 59, 59, 999999, UTC), datetime(2000, 1, 1, 0, 0, 0, 1,
                                                                        tzinfo=UTC)]
    bools = [True, False, None, True, False, None, True]
    int_lists = [[1, 2], [], None, [None, 3], [2**63 - 1], [0] * 50, [None]]
    float_lists = [[0.5, float("nan")], [], None, [None], [float("inf"), -1e308], [1.0], []]
    arrays = []
    for f in ARROW_SCHEMAS[table]:
        t = f.type
        if pa.types.is_string(t):
            values: list[Any] = texts
            if f.name == "id":
                values = [f"id{i}" for i in range(rows)]
        elif pa.types.is_int64(t):
            values = ints
        elif pa.types.is_int32(t):
            values = [0, -1, 2**31 - 1, -(2**31), None, 5, 6]
        elif pa.types.is_float64(t):
            values = floats
        elif pa.types.is_boolean(t):
            values = bools
        elif pa.types.is_timestamp(t):
            values = times
        elif t == pa.list_(pa.int64()):
            values = int_lists
        else:
            values = float_lists
        arrays.append(pa.array(values[:rows], t))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMAS[table])


@pytest.mark.parametrize("table", list(TABLE_COLUMNS))
def test_every_type_round_trips(store: Store, table: str) -> None:
    arrow = _edge_table(table)
    store.write([ArrowBatch(table, arrow.slice(0, 3)), ArrowBatch(table, arrow.slice(3))])
    back = store.select(f"SELECT * FROM {table}")
    assert back.schema.names == arrow.schema.names
    got = sorted(back.to_pylist(), key=lambda r: repr(r))
    want = sorted(arrow.to_pylist(), key=lambda r: repr(r))
    for g, w in zip(got, want, strict=True):
        for k in w:
            assert _same(g[k], w[k]), (table, k, g[k], w[k])


def test_nul_characters_do_not_poison_a_batch(store: Store) -> None:
    """PostgreSQL text cannot hold U+0000; it is stored as U+FFFD there (DuckDB keeps it)."""
    store.write([_spans(trace_request([span("a\x00b", attrs={"k": "v\x00"})]))])
    [row] = store.spans(SpanQuery()).items
    assert row["name"] == ("a\x00b" if store.dialect == "duckdb" else "a\ufffdb")
    assert row["attributes"] == {"k": "v\x00"}  # JSON text escapes it: \u0000
    assert store.write_once([("n:1", [_spans(trace_request([span("c\x00")]))])]) == set()
    assert store.counts()["spans"] == 2


# -- select -----------------------------------------------------------------------------------


def test_select_takes_question_mark_params(store: Store) -> None:
    store.write([_spans(trace_request([span("?"), span("a?b"), span("100%")]))])
    t = store.select("SELECT count(*) AS n FROM spans WHERE name <> '?' AND name LIKE ?",
                     ["%?%"])
    assert t.column("n").to_pylist() == [1]  # a?b
    t = store.select("SELECT name FROM spans -- a comment? with 50%\n"
                     "WHERE name = ? OR name = '100%' ORDER BY name", ["?"])
    assert t.column("name").to_pylist() == ["100%", "?"]
    assert store.select("SELECT count(*) AS n FROM spans").column("n").to_pylist() == [3]


def test_select_result_types_are_usable_by_the_measure_code(store: Store) -> None:
    store.write([_spans(trace_request([
        span("c", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                         "gen_ai.usage.input_tokens": 7}),
        span("c", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                         "gen_ai.usage.input_tokens": 8})]))])
    t = store.select("SELECT CAST(sum(input_tokens) AS BIGINT) AS tokens, "
                     "avg(input_tokens) AS mean, count(*) AS n, min(start_time) AS first, "
                     "max(attributes) AS attrs FROM spans")
    assert t.schema.field("tokens").type == pa.int64()
    assert t.schema.field("mean").type == pa.float64()
    assert t.schema.field("n").type == pa.int64()
    first = t.schema.field("first").type
    assert first.unit == "us" and first.tz in ("UTC", "Etc/UTC")  # DuckDB says Etc/UTC
    assert t.schema.field("attrs").type == pa.string()
    assert t.to_pylist()[0]["tokens"] == 15 and t.to_pylist()[0]["mean"] == 7.5


# -- update_spans -----------------------------------------------------------------------------


def test_update_spans_sets_columns_by_key(store: Store) -> None:
    batch = _spans(trace_request([span("a"), span("b")]))
    store.write([batch])
    updates = pa.table({"trace_id": [batch["trace_id"][0], "f" * 32],
                        "span_id": [batch["span_id"][0], "e" * 16],
                        "cost_usd": [1.25, 9.0], "cost_source": ["catalog", "catalog"]})
    assert store.update_spans(updates) == 1
    rows = {r["name"]: r for r in store.spans(SpanQuery()).items}
    assert rows["a"]["cost_usd"] == 1.25 and rows["a"]["cost_source"] == "catalog"
    assert rows["b"]["cost_source"] is None
    with pytest.raises(ValueError, match="no_such_column"):
        store.update_spans(pa.table({"trace_id": ["x"], "span_id": ["y"],
                                     "no_such_column": [1]}))


# -- write_once and the ledger ----------------------------------------------------------------


def test_write_once_skips_keys_committed_before(store: Store) -> None:
    a = _spans(trace_request([span("a")]))
    b = _logs(log_request(["b"]))
    assert store.write_once([("s:1", [a]), ("s:2", [b])]) == set()
    assert store.counts()["spans"] == 1 and store.counts()["logs"] == 1
    c = _spans(trace_request([span("c")]))
    # s:2 redelivered with s:3: only s:3 is written
    assert store.write_once([("s:2", [b]), ("s:3", [c, b])]) == {"s:2"}
    assert store.counts()["spans"] == 2 and store.counts()["logs"] == 2
    # a key twice in one call is written once; no batches is still a key
    assert store.write_once([("s:4", [a]), ("s:4", [a]), ("s:5", [])]) == set()
    assert store.counts()["spans"] == 3
    assert store.write_once([("s:5", [a])]) == {"s:5"}
    assert store.write_once([]) == set()
    ledger = store.select("SELECT key, committed_at FROM ingest_ledger ORDER BY key")
    assert ledger.column("key").to_pylist() == ["s:1", "s:2", "s:3", "s:4", "s:5"]


def test_write_once_keeps_nothing_of_a_failed_call(store: Store) -> None:
    good = _spans(trace_request([span("a")]))
    bad = ArrowBatch("spans", pa.table({"x": [1]}))  # not the spans schema
    with pytest.raises(Exception):  # noqa: B017 - rejected before or by the database
        store.write_once([("k:1", [good]), ("k:2", [bad])])
    assert store.counts()["spans"] == 0
    assert store.select("SELECT count(*) AS n FROM ingest_ledger").column(0).to_pylist() == [0]
    assert store.write_once([("k:1", [good])]) == set()


def _second_store(store: Store) -> Store:
    """Another handle on the same database: a second PostgreSQL store (another process, in
    effect); DuckDB has one writing process, so its own handle."""
    if isinstance(store, PostgresStore):
        return PostgresStore(_raw_url(store))
    return store


def test_concurrent_write_once_of_one_key_writes_it_once(store: Store) -> None:
    other = _second_store(store)
    batch = _spans(trace_request([span(f"s{i}") for i in range(200)]))
    start = threading.Barrier(2)
    results: list[set[str]] = []

    def deliver(s: Store) -> None:
        start.wait()
        results.append(s.write_once([("stream:7", [batch])]))

    try:
        for _ in range(5):
            truncate_all(store)
            results.clear()
            threads = [threading.Thread(target=deliver, args=(s,)) for s in (store, other)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sorted(map(sorted, results)) == [[], ["stream:7"]]
            assert store.counts()["spans"] == 200
    finally:
        if other is not store:
            other.close()


def truncate_all(store: Store) -> None:
    if isinstance(store, PostgresStore):
        truncate(_raw_url(store))
    else:
        for table in ("spans", "logs", "metric_points", "events", "ingest_ledger"):
            _execute(store, f"DELETE FROM {table}")


def test_prune_ledger_deletes_old_keys(store: Store) -> None:
    a = _spans(trace_request([span("a")]))
    store.write_once([("p:1", [a]), ("p:2", [a])])
    assert store.prune_ledger(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert store.prune_ledger(datetime.now(UTC) + timedelta(seconds=1)) == 2
    # once pruned, a redelivery is written again: keep keys longer than redelivery can happen
    assert store.write_once([("p:1", [a])]) == set()
    assert store.counts()["spans"] == 3


# -- DuckDB only ------------------------------------------------------------------------------


def test_duckdb_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        DuckDBStore(tmp_path / "missing" / "x.duckdb")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x.duckdb").write_text("this is not a database")
    with pytest.raises(StoreUnavailable, match="cannot open DuckDB database"):
        DuckDBStore(ro / "x.duckdb")


def test_execute_runs_state_writes_in_one_transaction(store: Store) -> None:
    from truecourse.errors import StoreUnavailable

    try:
        store.execute([("CREATE TABLE tc_state_probe (k VARCHAR PRIMARY KEY, v INTEGER)", [])])
        counts = store.execute([
            ("INSERT INTO tc_state_probe VALUES (?, ?), (?, ?)", ["a", 1, "b", 2]),
            ("UPDATE tc_state_probe SET v = v + 10 WHERE k = ?", ["a"]),
        ])
        assert counts == [2, 1]
        with pytest.raises(StoreUnavailable):  # the second insert fails: nothing of it stays
            store.execute([("INSERT INTO tc_state_probe VALUES (?, ?)", ["c", 3]),
                           ("INSERT INTO tc_state_probe VALUES (?, ?)", ["a", 4])])
        rows = store.select("SELECT k, v FROM tc_state_probe ORDER BY k")
        assert rows.to_pylist() == [{"k": "a", "v": 11}, {"k": "b", "v": 2}]
        assert store.execute([("DELETE FROM tc_state_probe WHERE v > ?", [5])]) == [1]
    finally:
        store.execute([("DROP TABLE IF EXISTS tc_state_probe", [])])
