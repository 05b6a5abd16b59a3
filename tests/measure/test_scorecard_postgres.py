"""The known-answer scorecard checks of ``test_scorecard.py``, on PostgreSQL.

The same fleet (:mod:`measure.scorecard_fixture`) goes through the same ingest path into a
throwaway PostgreSQL database; every known-answer test of ``test_scorecard.py`` that reads the
fleet runs again here against it (the ``fleet`` fixture below replaces that module's), and
further tests compare whole scorecards, time series, comparisons and cost recomputation with
DuckDB's: counts exactly, other values to 1e-9.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from measure.scorecard_fixture import (
    PB,
    TRACES,
    Fleet,
    _feedback,
    _request,
    _span_id,
    build_fleet,
    trace_id,
)

# The known-answer tests, collected again in this module so they use its PostgreSQL fleet.
from measure.test_scorecard import (  # noqa: F401
    HOUR,
    TEN_MIN,
    _by_group,
    _check,
    test_a_trace_counts_as_a_task_of_any_window_holding_one_of_its_spans,
    test_cost_to_the_cent,
    test_default_step_gives_about_60_points,
    test_filter_by_service_grouped_by_model,
    test_group_cardinality_is_capped,
    test_grouped_timeseries,
    test_long_windows_use_the_tdigest_sketch,
    test_scorecard_by_model_is_computed_over_ai_calls,
    test_scorecard_by_service_is_computed_over_requests,
    test_series_count_is_capped,
    test_subject_can_be_chosen,
    test_task_metrics_judge_each_trace_by_its_root,
    test_task_span_names_judge_the_named_span,
    test_tasks_by_prompt_version_with_a_service_filter,
    test_the_fixture_was_priced_by_the_catalog,
    test_timeseries_buckets_are_aligned_to_the_epoch_not_to_since,
    test_timeseries_buckets_cover_the_window_and_empty_counts_are_zero,
    test_timeseries_of_an_empty_window_still_has_its_buckets,
    test_tool_success_rate_per_tool,
    test_unknown_metrics_are_refused,
    test_window_since_is_inclusive_and_until_exclusive,
)
from truecourse.config.measure import MeasureConfig
from truecourse.errors import InvalidInput
from truecourse.ingest.events import events_from_json
from truecourse.ingest.otlp import decode
from truecourse.measure.compare import compare
from truecourse.measure.costs import recompute_costs, unknown_models
from truecourse.measure.pricing import PricingCatalog
from truecourse.measure.query import MeasureQuery, Window
from truecourse.measure.scorecard import scorecard, timeseries
from truecourse.model import TABLE_COLUMNS
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store.postgres import PostgresStore

from pg_support import pg_database

pytestmark = pytest.mark.services


def build_pg_fleet(url: str) -> Fleet:
    """The fixture fleet written to the PostgreSQL database at ``url`` (migrated here) through
    the same path as :func:`measure.scorecard_fixture.build_fleet`."""
    store = PostgresStore(url)
    store.migrate()
    normalize = NormalizeProcessor()
    batches = [normalize.process(decode("traces", _request(t), PB, None, 8 << 20).batch)
               for t in TRACES]
    trace_ids = {t.name: trace_id(t.name).hex() for t in TRACES}
    span_ids = {(t.name, i): _span_id(t.name, i).hex()
                for t in TRACES for i in range(len(t.children) + 1)}
    events = events_from_json(_feedback(trace_ids, span_ids))
    assert not events.rejected, events.rejected
    store.write([*batches, events.batch])
    return Fleet(store, trace_ids, span_ids)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def duck() -> Iterator[Fleet]:
    f = build_fleet()
    yield f
    f.store.close()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """The fleet on PostgreSQL (replaces ``test_scorecard``'s DuckDB fleet here)."""
    with pg_database() as url:
        f = build_pg_fleet(url)
        yield f
        f.store.close()


def _rows(fleet: Fleet, table: str) -> list[dict[str, Any]]:
    cols = ", ".join(c.name for c in TABLE_COLUMNS[table])
    return sorted(fleet.store.select(f"SELECT {cols} FROM {table}").to_pylist(), key=repr)


def test_both_stores_hold_the_same_rows(fleet: Fleet, duck: Fleet) -> None:
    for table in TABLE_COLUMNS:
        assert _rows(fleet, table) == _rows(duck, table), table


def _same(pg: Any, dd: Any, where: str) -> None:
    """Equal structures: ints and None exactly (type too), floats to 1e-9."""
    if isinstance(dd, dict):
        assert isinstance(pg, dict) and pg.keys() == dd.keys(), where
        for k in dd:
            _same(pg[k], dd[k], f"{where}.{k}")
    elif isinstance(dd, list):
        assert isinstance(pg, list) and len(pg) == len(dd), where
        for i, (p, d) in enumerate(zip(pg, dd, strict=True)):
            _same(p, d, f"{where}[{i}]")
    elif isinstance(dd, float) and not isinstance(pg, bool):
        assert isinstance(pg, float), f"{where}: {pg!r} is not a float like {dd!r}"
        assert pg == pytest.approx(dd, rel=1e-9, abs=1e-12) or (math.isnan(pg) and
                                                                  math.isnan(dd)), where
    else:
        assert pg == dd and type(pg) is type(dd), f"{where}: {pg!r} != {dd!r}"


SCORECARDS: list[tuple[str | None, dict[str, str] | None, str | None, MeasureConfig | None]] = [
    (None, None, None, None),
    ("service", None, None, None),
    ("model", None, None, None),
    ("provider", None, None, None),
    ("prompt_version", {"service": "chat-api"}, None, None),
    ("service,model", None, None, None),
    ("env", None, "ai_calls", None),
    ("service", None, "requests", MeasureConfig(task_span_names=["handle_ticket"])),
    ("version", {"model": "gpt-4o"}, None, None),
]


@pytest.mark.parametrize(("group_by", "filters", "subject", "settings"), SCORECARDS)
def test_scorecards_equal_duckdbs(fleet: Fleet, duck: Fleet, group_by: str | None,
                                  filters: dict[str, str] | None, subject: str | None,
                                  settings: MeasureConfig | None) -> None:
    for window in (HOUR, Window.of(HOUR.since - timedelta(hours=1), HOUR.until)):
        q = MeasureQuery.build(window, group_by, filters, subject)
        pg, dd = (scorecard(f.store, q, None, settings) for f in (fleet, duck))
        for card in (pg, dd):
            card["groups"].sort(key=lambda g: repr(sorted(g["group"].items())))
        _same(pg, dd, f"scorecard({group_by}, {filters}, {subject})")


@pytest.mark.parametrize(("group_by", "metric", "step"), [
    (None, "requests", "2m"), ("service", "latency_p95", "5m"), ("model", "cost_usd", "10m"),
    (None, "task_completion_rate", "1m"), ("service", "negative_feedback_rate", "15m"),
    ("provider", "refusal_rate", "3m"),
])
def test_timeseries_equal_duckdbs(fleet: Fleet, duck: Fleet, group_by: str | None,
                                  metric: str, step: str) -> None:
    q = MeasureQuery.build(HOUR, group_by)
    pg, dd = (timeseries(f.store, q, metric, step) for f in (fleet, duck))
    _same(pg, dd, f"timeseries({group_by}, {metric}, {step})")


def test_compare_equals_duckdbs(fleet: Fleet, duck: Fleet) -> None:
    q = MeasureQuery.build(HOUR)
    pg, dd = (compare(f.store, q, "prompt_version", "v7", "v8") for f in (fleet, duck))
    for p, d in zip(pg["metrics"], dd["metrics"], strict=True):
        for k in ("name", "a", "b", "delta", "relative_delta"):
            _same(p[k], d[k], f"compare.{p['name']}.{k}")
        if d["test"] is not None:
            assert (p["test"]["n_a"], p["test"]["n_b"]) == (d["test"]["n_a"], d["test"]["n_b"])
    with pytest.raises(InvalidInput, match="values with data: "):
        compare(fleet.store, q, "prompt_version", "v7", "v99")


def test_unknown_models_equal_duckdbs(fleet: Fleet, duck: Fleet) -> None:
    pg, dd = (unknown_models(f.store, HOUR) for f in (fleet, duck))
    assert pg == dd and pg[0]["model"] == "my-local-llm"


def test_cost_recomputation_updates_spans() -> None:
    with pg_database() as url:
        f = build_pg_fleet(url)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE spans SET cost_usd = 99 WHERE span_id = %s",
                             [f.span_ids[("A", 2)]])
            catalog = PricingCatalog.load_default()
            result = recompute_costs(f.store, catalog, HOUR, chunk=3)
            assert result["updated"] == 1 and result["unknown_model"] == 1
            card = scorecard(f.store, MeasureQuery.build(HOUR, "service"), "cost_usd")
            _check(_by_group(card, "service")["chat-api"], {"cost_usd": 0.02436})
            assert recompute_costs(f.store, catalog, HOUR)["updated"] == 0
        finally:
            f.store.close()


def test_score_columns_join_the_scorecard_without_code_changes() -> None:
    """``test_scorecard``'s test of the same name, with PostgreSQL's DDL."""
    with pg_database() as url:
        fleet = build_pg_fleet(url)
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ALTER TABLE spans ADD COLUMN quality_score double precision")
            con.execute("ALTER TABLE spans ADD COLUMN helpfulness_score integer")
            con.execute("ALTER TABLE spans ADD COLUMN verdict_score text")
            con.execute('ALTER TABLE spans ADD COLUMN "odd name_score" double precision '
                        "DEFAULT 1")
            con.execute("ALTER TABLE spans ADD COLUMN feedback_score double precision DEFAULT 0")
            for trace, quality, helpful in (("A", 0.9, 4), ("B", 0.6, None), ("E", 0.3, 2)):
                con.execute("UPDATE spans SET quality_score = %s, helpfulness_score = %s, "
                            "verdict_score = 'good' WHERE span_id = %s",
                            [quality, helpful, fleet.span_ids[(trace, 1 if trace == "E" else 2)]])
        try:
            card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"))
            groups = _by_group(card, "service")
            names = [m["name"] for m in card["metrics"]]
            assert names[-2:] == ["quality_score_mean", "helpfulness_score_mean"]
            assert "verdict_score_mean" not in names and "odd name_score_mean" not in names
            assert names.count("feedback_score_mean") == 1
            assert groups["chat-api"]["feedback_score_mean"] == pytest.approx(1.9 / 3)
            _check(groups["chat-api"], {"quality_score_mean": (0.9 + 0.6) / 2,
                                        "helpfulness_score_mean": 4.0})
            _check(groups["search-api"], {"quality_score_mean": 0.3,
                                          "helpfulness_score_mean": 2.0})
            with pytest.raises(InvalidInput, match="verdict_score_mean"):
                scorecard(fleet.store, MeasureQuery.build(HOUR), ["verdict_score_mean"])
            series = timeseries(fleet.store, MeasureQuery.build(HOUR), "quality_score_mean",
                                "30m")
            assert series["series"][0]["points"][0][1] == pytest.approx(0.6)
        finally:
            fleet.store.close()


def test_time_series_on_ten_minutes(fleet: Fleet, duck: Fleet) -> None:
    q = MeasureQuery.build(TEN_MIN, "service")
    for metric in ("requests", "latency_p50", "completed_tasks", "cost_usd"):
        _same(timeseries(fleet.store, q, metric, "2m"), timeseries(duck.store, q, metric, "2m"),
              metric)
