"""Retention on DuckDB and PostgreSQL: per-project TTLs with defaults, the text kind, aggregates,
rows of unlisted projects; exact rows removed, newer and other projects' rows untouched; one
audit entry per run; the metrics and the leader job; bad TTLs in the config."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from truecourse.config import load_config, parse_config
from truecourse.config.governance import RetentionConfig
from truecourse.config.loader import InvalidConfig
from truecourse.errors import StoreUnavailable
from truecourse.governance import audit, create_project
from truecourse.governance.retention import (
    AGGREGATES,
    UNLISTED,
    RetentionJob,
    RetentionMetrics,
    preview_retention,
    run_retention,
)
from truecourse.store import DuckDBStore, Store

WriteRows = Callable[[str, Sequence[Mapping[str, Any]]], None]
NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)

CONFIG = RetentionConfig.model_validate({
    "defaults": {"text": "1d", "spans": "30d", "logs": "30d", "metric_points": "30d",
                 "events": "30d", "predictions": "30d", "aggregates": "90d"},
    "projects": {"acme": {"spans": "7d", "text": "1h"}},
})


def _span(key: str, age: timedelta, project: str) -> dict[str, Any]:
    return {"trace_id": "a" * 32, "span_id": key, "start_time": NOW - age,
            "start_unix_nano": 0, "input_text": f"prompt {key}", "output_text": f"answer {key}",
            "attributes": "{}", "project": project}


def _log(key: str, age: timedelta, project: str) -> dict[str, Any]:
    return {"time": NOW - age, "time_unix_nano": 0, "body": key, "project": project}


def _metric(key: str, age: timedelta, project: str) -> dict[str, Any]:
    return {"time": NOW - age, "time_unix_nano": 0, "name": key, "kind": "gauge",
            "value": 1.0, "project": project}


def _event(key: str, age: timedelta, project: str) -> dict[str, Any]:
    return {"id": key, "time": NOW - age, "kind": "deploy", "payload": "{}", "project": project}


def _prediction(key: str, age: timedelta, project: str) -> dict[str, Any]:
    return {"id": key, "time": NOW - age, "model": "fraud", "features": "{}",
            "prediction": "0", "project": project}


@pytest.fixture
def aged(governed_store: Store, write_rows: WriteRows) -> Store:
    """Per project (default, acme, ghost: not in the projects table), rows of each table at
    ages around their TTLs; keys name project and age."""
    create_project(governed_store, "acme", actor="test")
    ages = {"40d": 40 * DAY, "10d": 10 * DAY, "2d": 2 * DAY, "30m": timedelta(minutes=30)}
    makers = {"spans": _span, "logs": _log, "metric_points": _metric, "events": _event,
              "predictions": _prediction}
    for table, make in makers.items():
        write_rows(table, [make(f"{p}-{a}", age, p) for p in ("default", "acme", "ghost")
                           for a, age in ages.items()])
    governed_store.execute([
        *[("INSERT INTO drift_reports (id, model, created_at, status, drift_share, report) "
           "VALUES (?, 'fraud', ?, 'ok', 0.0, '{}')", [k, NOW - age])
          for k, age in (("r-100d", 100 * DAY), ("r-10d", 10 * DAY))],
        *[("INSERT INTO drift_sketches (model, window_start, window_end, \"column\", kind, "
           "rows, sketch) VALUES ('fraud', ?, ?, 'amount', 'numeric', 1, ?)",
           [NOW - age - DAY, NOW - age, b"\x00"]) for age in (100 * DAY, 10 * DAY)],
    ])
    return governed_store


def _keys(store: Store, sql: str) -> set[str]:
    return {str(v) for v in store.select(sql).column(0).to_pylist()}


def _everything(p: str) -> set[str]:
    return {f"{p}-{a}" for a in ("40d", "10d", "2d", "30m")}


def test_run_removes_exactly_what_expired(aged: Store) -> None:
    result = run_retention(aged, CONFIG, now=NOW)
    assert result.removed == {
        # spans 40d; the text of the spans and logs of 10d and 2d (40d's rows are deleted)
        "default": {"text": 4, "spans": 1, "logs": 1, "metric_points": 1, "events": 1,
                    "predictions": 1},
        # acme: spans 7d (40d, 10d); text 1h: the spans of 2d, the logs of 10d and 2d
        "acme": {"text": 3, "spans": 2, "logs": 1, "metric_points": 1, "events": 1,
                 "predictions": 1},
        UNLISTED: {"text": 4, "spans": 1, "logs": 1, "metric_points": 1, "events": 1,
                   "predictions": 1},
        AGGREGATES: {"aggregates": 2},
    }
    assert result.total == 29
    assert _keys(aged, "SELECT span_id FROM spans") == (
        _everything("default") | _everything("ghost") | _everything("acme")) - {
        "default-40d", "ghost-40d", "acme-40d", "acme-10d"}
    younger = {f"{p}-{a}" for p in ("default", "acme", "ghost") for a in ("10d", "2d", "30m")}
    for table, key in (("metric_points", "name"), ("events", "id"), ("predictions", "id")):
        assert _keys(aged, f"SELECT {key} FROM {table}") == younger, table
    # logs' bodies were cleared: name them by project and time
    cut = NOW - 30 * DAY
    assert aged.select("SELECT count(*) AS n FROM logs WHERE time < ?", [cut]).column(
        "n")[0].as_py() == 0
    assert aged.select("SELECT count(*) AS n FROM logs").column("n")[0].as_py() == 9
    # the text: kept only where younger than its TTL (1d; acme 1h)
    held = _keys(aged, "SELECT span_id FROM spans WHERE input_text IS NOT NULL "
                       "AND output_text IS NOT NULL")
    assert held == {"default-30m", "ghost-30m", "acme-30m"}
    assert _keys(aged, "SELECT span_id FROM spans WHERE input_text IS NULL") == {
        "default-10d", "default-2d", "ghost-10d", "ghost-2d", "acme-2d"}
    assert _keys(aged, "SELECT body FROM logs WHERE body IS NOT NULL") == {
        "default-30m", "ghost-30m", "acme-30m"}
    assert _keys(aged, "SELECT id FROM drift_reports") == {"r-10d"}
    assert aged.select("SELECT count(*) AS n FROM drift_sketches").column("n")[0].as_py() == 1


def test_run_is_audited_once_and_a_second_run_removes_nothing(aged: Store) -> None:
    first = run_retention(aged, CONFIG, now=NOW)
    second = run_retention(aged, CONFIG, now=NOW)
    entries = audit.entries(aged, since_seq=1)  # entry 1: create_project
    assert [(e.action, e.actor) for e in entries] == [("retention.run", "retention")] * 2
    assert entries[0].seq == first.audit_seq
    assert orjson.loads(entries[0].details) == {"now": NOW.isoformat(), "removed": first.removed,
                                                "notes": []}
    # text already cleared is not counted again; unlisted rows appear only when some went
    assert second.removed == {p: dict.fromkeys(kinds, 0) for p, kinds in first.removed.items()
                              if p != UNLISTED}
    assert second.total == 0
    assert audit.verify(aged).ok


def test_preview_counts_the_same_and_changes_nothing(aged: Store) -> None:
    preview = preview_retention(aged, CONFIG, now=NOW)
    assert preview.total == 29 and preview.audit_seq == 0 and not preview.ran
    assert aged.select("SELECT count(*) AS n FROM spans WHERE input_text IS NOT NULL").column(
        "n")[0].as_py() == 12
    assert audit.entries(aged, since_seq=1) == []
    assert run_retention(aged, CONFIG, now=NOW).removed == preview.removed


def test_a_row_exactly_at_the_cutoff_is_kept(governed_store: Store,
                                             write_rows: WriteRows) -> None:
    write_rows("spans", [_span("edge", 30 * DAY, "default"),
                         _span("past", 30 * DAY + timedelta(microseconds=1), "default")])
    config = RetentionConfig.model_validate({"defaults": {"spans": "30d"}})
    assert run_retention(governed_store, config, now=NOW).removed == {"default": {"spans": 1}}
    assert _keys(governed_store, "SELECT span_id FROM spans") == {"edge"}


def test_a_project_falls_back_to_the_defaults_kind_by_kind(aged: Store) -> None:
    config = RetentionConfig.model_validate({"defaults": {"logs": "5d"},
                                             "projects": {"acme": {"logs": "1d"}}})
    assert config.ttls("acme") == {"logs": 86400}
    result = run_retention(aged, config, now=NOW)
    assert result.removed == {"default": {"logs": 2}, "acme": {"logs": 3},
                              UNLISTED: {"logs": 2}}
    assert aged.select("SELECT count(*) AS n FROM spans").column("n")[0].as_py() == 12


def test_no_ttl_deletes_nothing_and_records_nothing(aged: Store) -> None:
    result = run_retention(aged, RetentionConfig(), now=NOW)
    assert not result.ran and result.removed == {} and result.audit_seq == 0
    assert audit.entries(aged, since_seq=1) == []
    assert aged.select("SELECT count(*) AS n FROM spans").column("n")[0].as_py() == 12


def test_project_aggregates_are_ignored_and_noted(aged: Store) -> None:
    config = RetentionConfig.model_validate({"projects": {"acme": {"aggregates": "1d"}}})
    result = run_retention(aged, config, now=NOW)
    assert result.notes == (
        "retention.projects.acme.aggregates is ignored: drift reports and sketches belong to "
        "no project, so only retention.defaults.aggregates applies",)
    assert result.removed == {}
    assert orjson.loads(audit.entries(aged, since_seq=1)[0].details)["notes"] == list(
        result.notes)
    assert aged.select("SELECT count(*) AS n FROM drift_reports").column("n")[0].as_py() == 2


def test_naive_now_is_refused(governed_store: Store) -> None:
    with pytest.raises(ValueError, match="aware `now`"):
        run_retention(governed_store, CONFIG, now=datetime(2025, 1, 1))


def test_metrics_count_rows_runs_and_the_last_run(aged: Store) -> None:
    registry = CollectorRegistry()
    metrics = RetentionMetrics(registry)
    job = RetentionJob(aged, CONFIG, metrics, clock=lambda: NOW)
    job.run_once()
    job.run_once()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("truecourse_retention_rows_removed_total", project="acme", kind="spans") == 2
    assert value("truecourse_retention_rows_removed_total", project="default",
                 kind="text") == 4
    assert value("truecourse_retention_rows_removed_total", project=AGGREGATES,
                 kind="aggregates") == 2
    assert value("truecourse_retention_rows_removed_total", project="acme",
                 kind="aggregates") is None
    assert value("truecourse_retention_runs_total") == 2
    assert value("truecourse_retention_failures_total") == 0
    assert value("truecourse_retention_last_run_timestamp_seconds") == NOW.timestamp()


def test_a_failed_run_is_counted_and_raised(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "r.duckdb")
    store.migrate()
    store.execute([("DROP TABLE predictions", [])])  # a statement of the run cannot run
    registry = CollectorRegistry()
    job = RetentionJob(store, CONFIG, RetentionMetrics(registry), clock=lambda: NOW)
    with pytest.raises(StoreUnavailable):
        job.run_once()
    assert registry.get_sample_value("truecourse_retention_failures_total") == 1
    assert registry.get_sample_value("truecourse_retention_runs_total") == 0
    assert audit.entries(store) == []
    store.close()


def test_job_runs_on_the_leader_and_stops_twice(aged: Store) -> None:
    registry = CollectorRegistry()
    job = RetentionJob(aged, CONFIG, RetentionMetrics(registry), clock=lambda: NOW)
    job.shutdown()  # before start
    job.start()
    job.start()
    deadline = time.monotonic() + 30
    while job.last is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job.shutdown()
    job.shutdown()
    assert job.last is not None and job.last.total == 29
    assert registry.get_sample_value("truecourse_retention_runs_total") == 1
    assert aged.select("SELECT count(*) AS n FROM spans").column("n")[0].as_py() == 8


def test_job_does_not_start_without_a_ttl(governed_store: Store) -> None:
    job = RetentionJob(governed_store, RetentionConfig())
    job.start()
    assert job.job._thread is None
    job.shutdown()


@pytest.mark.parametrize(("yaml", "problem"), [
    ("retention:\n  defaults:\n    spans: forever\n",
     "tc.yaml:3: retention.defaults.spans: 'forever' is not a duration; use a whole number "
     "and a unit: 30s, 5m, 6h, 28d, 1w"),
    ("retention:\n  projects:\n    acme:\n      text: -1d\n",
     "tc.yaml:4: retention.projects.acme.text: '-1d' is not a duration; use a whole number "
     "and a unit: 30s, 5m, 6h, 28d, 1w"),
    ("retention:\n  defaults:\n    prompts: 1d\n",
     "tc.yaml:3: retention.defaults.prompts: unknown key 'prompts'; valid: text, spans, logs, "
     "metric_points, events, predictions, aggregates"),
    ("retention:\n  interval: 0s\n",
     "tc.yaml:2: retention.interval: '0s' must be longer than zero"),
])
def test_bad_ttls_in_the_config_name_key_and_line(yaml: str, problem: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(yaml, "tc.yaml")
    assert caught.value.problems == [problem]


def test_config_file_ttls_reach_the_run(tmp_path: Path) -> None:
    path = tmp_path / "truecourse.yaml"
    path.write_text("retention:\n  interval: 15m\n  defaults: {spans: 30d}\n"
                    "  projects:\n    acme: {spans: 7d}\n")
    config = load_config(path).retention
    assert config.enabled
    assert (config.ttls("acme"), config.ttls("other")) == ({"spans": 7 * 86400},
                                                           {"spans": 30 * 86400})
    assert RetentionJob(DuckDBStore(tmp_path / "x.duckdb"), config).job.interval_s == 900
