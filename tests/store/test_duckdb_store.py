"""The DuckDB store: migrations, bulk writes, queries, paging, trees, bad paths."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from truecourse.errors import InvalidInput, StoreUnavailable
from truecourse.ingest.events import events_from_json
from truecourse.ingest.otlp import decode
from truecourse.model import TABLE_COLUMNS
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store import (
    DuckDBStore,
    EventQuery,
    LogQuery,
    MetricQuery,
    SpanQuery,
    trace_tree,
)
from truecourse.store.migrate import migrations

from otlp_builders import log_request, metric_request, span, trace_request

PB = "application/x-protobuf"


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "t.duckdb")
    s.migrate()
    yield s
    s.close()


def _spans(req) -> object:  # type: ignore[no-untyped-def]
    batch = decode("traces", req.SerializeToString(), PB).batch
    return NormalizeProcessor().process(batch)


def test_migrated_tables_match_the_canonical_columns(store: DuckDBStore) -> None:
    for table, cols in TABLE_COLUMNS.items():
        rows = store._query(f"DESCRIBE {table}", [], "x")
        assert [r["column_name"] for r in rows] == [c.name for c in cols], table
    assert store.migrate() == len(migrations("duckdb"))  # idempotent


def test_write_and_query_by_every_filter(store: DuckDBStore) -> None:
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


def test_paging_is_complete_and_stable(store: DuckDBStore) -> None:
    store.write([_spans(trace_request([span(f"s{i}", start_ns=10**18 + i // 2)
                                       for i in range(25)]))])
    seen, cursor = [], None
    while True:
        page = store.spans(SpanQuery(limit=7, cursor=cursor))
        seen += [r["name"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"s{i}" for i in range(25))
    assert len(seen) == 25


def test_bad_cursor_is_invalid_input(store: DuckDBStore) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        store.spans(SpanQuery(cursor="not-a-cursor!!"))


def test_trace_as_tree(store: DuckDBStore) -> None:
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


def test_services_summary(store: DuckDBStore) -> None:
    store.write([_spans(trace_request([
        span("chat", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m1",
                            "gen_ai.usage.input_tokens": 7}),
        span("x", status=2)], service="svc", env="prod", version="2.0"))])
    [svc] = store.services()
    assert svc["service"] == "svc" and svc["span_count"] == 2 and svc["error_count"] == 1
    assert svc["models"] == ["m1"] and svc["versions"] == ["2.0"]
    assert svc["input_tokens"] == 7


def test_logs_metrics_events_round_trip(store: DuckDBStore) -> None:
    logs = decode("logs", log_request(["boom happened", "fine"], severity=17)
                  .SerializeToString(), PB).batch
    metrics = decode("metrics", metric_request().SerializeToString(), PB).batch
    events = events_from_json(b'[{"kind": "deploy", "service": "svc", "version": "2", '
                              b'"id": "d1"}]').batch
    store.write([logs, metrics, events])
    assert store.counts() == {"spans": 0, "logs": 2, "metric_points": 5, "events": 1}
    assert [r["body"] for r in store.logs(LogQuery(text="boom")).items] == ["boom happened"]
    assert store.logs(LogQuery(severity_min=18)).items == []
    ev = store.events(EventQuery(kind="deploy")).items[0]
    assert ev["id"] == "d1" and ev["kind"] == "deploy"
    assert ev["summary"] == "deploy svc 2" and "previous_version" in ev["payload"]
    # an event id is stored once, however often it is sent (client retries)
    store.write([events_from_json(b'{"kind": "deploy", "service": "svc", "version": "2", '
                                  b'"id": "d1"}').batch])
    assert store.counts()["events"] == 1


def test_failed_write_keeps_nothing(store: DuckDBStore) -> None:
    good = _spans(trace_request([span("a")]))
    bad = _spans(trace_request([span("b")]))
    bad.columns["start_unix_nano"][0] = "not a number"  # type: ignore[index]
    with pytest.raises(Exception):  # noqa: B017 - Arrow rejects it before the database
        store.write([good, bad])
    assert store.counts()["spans"] == 0


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        DuckDBStore(tmp_path / "missing" / "x.duckdb")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x.duckdb").write_text("this is not a database")
    with pytest.raises(StoreUnavailable, match="cannot open DuckDB database"):
        DuckDBStore(ro / "x.duckdb")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "n.duckdb")
    s.migrate()
    s._con.execute("INSERT INTO schema_migrations VALUES (99, 'future', now())")
    with pytest.raises(StoreUnavailable, match="schema version 99"):
        s.migrate()
    s.close()
    s.close()  # safe twice


def test_log_paging_with_equal_timestamps_loses_nothing(store: DuckDBStore) -> None:
    req = log_request([f"line {i}" for i in range(5)])
    for rec in req.resource_logs[0].scope_logs[0].log_records:
        rec.time_unix_nano = 1_700_000_000 * 10**9  # all at the same instant
    store.write([decode("logs", req.SerializeToString(), PB).batch])
    seen, cursor = [], None
    while True:
        page = store.logs(LogQuery(limit=2, cursor=cursor))
        seen += [r["body"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == [f"line {i}" for i in range(5)]


def test_text_search_takes_wildcards_literally(store: DuckDBStore) -> None:
    store.write([decode("logs", log_request(["100% done", "plain"]).SerializeToString(),
                        PB).batch])
    store.write([_spans(trace_request([span("a_b"), span("axb")]))])
    assert [r["body"] for r in store.logs(LogQuery(text="%")).items] == ["100% done"]
    assert [r["name"] for r in store.spans(SpanQuery(text="a_b")).items] == ["a_b"]


def test_metric_points_query(store: DuckDBStore) -> None:
    store.write([decode("metrics", metric_request().SerializeToString(), PB).batch])
    assert len(store.metric_points(MetricQuery()).items) == 5
    [g] = store.metric_points(MetricQuery(name="queue.depth")).items
    assert g["value"] == 7.0 and g["attributes"] == {"queue": "a"}
    assert [p["name"] for p in store.metric_points(MetricQuery(kind="histogram")).items] == \
        ["gen_ai.client.operation.duration"]
    first = store.metric_points(MetricQuery(limit=3))
    rest = store.metric_points(MetricQuery(limit=3, cursor=first.next_cursor))
    assert len(first.items) + len(rest.items) == 5 and rest.next_cursor is None
