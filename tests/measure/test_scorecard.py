"""Scorecards and time series with known answers, over a fleet ingested through the real path.

The fleet is described in :mod:`measure.scorecard_fixture`; every expected value below is worked
out by hand from it (the arithmetic is in the comments). Prices are the shipped catalog's, in
USD per 1M tokens (``src/truecourse/measure/pricing_catalog.yaml``):

    gpt-4o            input 2.50  output 10.00  cached_input 1.25
    claude-3-5-haiku  input 0.80  output  4.00  cached_input 0.08  cache_write 1.00

cost = (input - cache_read - cache_write) * input + cache_read * cached_input
       + cache_write * cache_write_price + output * output, all / 1e6.

Latency percentiles are exact below ``measure.exact_quantiles_max_hours``: ``quantile_cont``,
linear interpolation at h = (n - 1) * q over the sorted durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from measure.scorecard_fixture import T0, Fleet, build_fleet
from truecourse.config.measure import MeasureConfig
from truecourse.errors import InvalidInput
from truecourse.measure.metrics import METRICS
from truecourse.measure.query import MeasureQuery, Window, parse_step
from truecourse.measure.scorecard import scorecard, timeseries

HOUR = Window.of(T0, T0 + timedelta(hours=1))

# Per-trace costs (USD), by hand:
COST_A = 600 * 2.50 / 1e6 + 400 * 1.25 / 1e6 + 200 * 10.00 / 1e6  # 0.0015 + 0.0005 + 0.002 = 0.004
COST_B = 2000 * 2.50 / 1e6 + 500 * 10.00 / 1e6  # 0.005 + 0.005 = 0.010
# claude: 10000 in = 5000 uncached + 3000 cache read + 2000 cache write
COST_C = (5000 * 0.80 + 3000 * 0.08 + 2000 * 1.00 + 1000 * 4.00) / 1e6  # 0.004 + 0.00024 + 0.002
#                                                                        + 0.004 = 0.01024
COST_D = (100 * 0.80 + 10 * 4.00) / 1e6  # 0.00008 + 0.00004 = 0.00012
COST_E = (500 * 2.50 + 100 * 10.00) / 1e6  # 0.00125 + 0.001 = 0.00225
COST_F = 300 * 2.50 / 1e6  # 0.00075
# G: my-local-llm is not in the catalog: cost NULL, cost_source unknown_model


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    f = build_fleet()
    yield f
    f.store.close()


def _by_group(card: dict[str, Any], dim: str) -> dict[Any, dict[str, Any]]:
    return {g["group"][dim]: g["metrics"] for g in card["groups"]}


def _check(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each expected metric equals the actual one: exact for counts and None, floats to 1e-9."""
    for name, want in expected.items():
        got = actual[name]
        if want is None or isinstance(want, int):
            assert got == want, f"{name}: {got!r} != {want!r}"
            assert type(got) is type(want), f"{name}: {got!r} is not {type(want).__name__}"
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{name}: {got!r} != {want!r}"


def test_the_fixture_was_priced_by_the_catalog(fleet: Fleet) -> None:
    rows = fleet.store.select(
        "SELECT trace_id, cost_usd, cost_source FROM spans WHERE operation = 'chat'").to_pylist()
    by_trace = {r["trace_id"]: (r["cost_usd"], r["cost_source"]) for r in rows}
    ids = fleet.trace_ids
    for name, cost in (("A", COST_A), ("B", COST_B), ("C", COST_C), ("D", COST_D),
                       ("E", COST_E), ("F", COST_F)):
        assert by_trace[ids[name]] == (pytest.approx(cost, abs=1e-12), "catalog"), name
    assert by_trace[ids["G"]] == (None, "unknown_model")


def test_scorecard_by_service_is_computed_over_requests(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"))
    assert card["subject"] == "requests"
    assert card["quantiles"] == "exact"
    assert card["group_by"] == ["service"] and card["filters"] == {}
    assert card["window"] == {"since": "2024-01-01T00:00:00+00:00",
                              "until": "2024-01-01T01:00:00+00:00"}
    assert [m["name"] for m in card["metrics"]] == list(METRICS)
    # biggest group first: chat-api has 4 requests, search-api 3
    assert [g["group"] for g in card["groups"]] == [{"service": "chat-api"},
                                                    {"service": "search-api"}]
    groups = _by_group(card, "service")
    _check(groups["chat-api"], {
        # entry spans: roots A B C D (OLD at T0-1s and LATE at T0+1h are outside the window)
        "requests": 4, "errors": 1, "error_rate": 1 / 4, "availability": 3 / 4,
        "throughput_rps": 4 / 3600,
        # durations 100 200 300 400: p50 h=1.5 -> 250; p90 h=2.7 -> 370; p95 h=2.85 -> 385;
        # p99 h=2.97 -> 397; mean 1000/4
        "latency_p50": 250.0, "latency_p90": 370.0, "latency_p95": 385.0, "latency_p99": 397.0,
        "latency_mean": 250.0,
        # model calls A B C D: 1000+2000+10000+100 in, 200+500+1000+10 out
        "llm_calls": 4, "input_tokens": 13100, "output_tokens": 1710,
        "input_tokens_per_call": 13100 / 4, "output_tokens_per_call": 1710 / 4,
        # 0.004 + 0.010 + 0.01024 + 0.00012 = 0.02436
        "cost_usd": 0.02436, "cost_per_request": 0.02436 / 4, "cost_per_call": 0.02436 / 4,
        "unpriced_calls": 0,
        # D answers "I'm sorry, but I can't help with that."
        "refusals": 1, "refusal_checked": 4, "refusal_rate": 1 / 4,
        # web_search ok in A, error in B
        "tool_calls": 2, "tool_failures": 1, "tool_success_rate": 0.5,
        "retrievals": 0, "documents_per_retrieval": None, "empty_retrievals": 0,
        "retrievals_counted": 0, "empty_retrieval_rate": None,
    })
    _check(groups["search-api"], {
        "requests": 3, "errors": 0, "error_rate": 0.0, "availability": 1.0,
        # durations 50 150 250: p50 h=1 -> 150; p90 h=1.8 -> 230; p95 h=1.9 -> 240;
        # p99 h=1.98 -> 248; mean 450/3
        "latency_p50": 150.0, "latency_p90": 230.0, "latency_p95": 240.0, "latency_p99": 248.0,
        "latency_mean": 150.0,
        "llm_calls": 3, "input_tokens": 500 + 300 + 50, "output_tokens": 100 + 0 + 20,
        # 0.00225 + 0.00075; G is unpriced and adds nothing to the sum but 1 to llm_calls
        "cost_usd": 0.003, "cost_per_request": 0.003 / 3, "cost_per_call": 0.003 / 3,
        "unpriced_calls": 1,
        # F: finish reason content_filter
        "refusals": 1, "refusal_checked": 3, "refusal_rate": 1 / 3,
        "tool_calls": 1, "tool_failures": 0, "tool_success_rate": 1.0,
        # E 3 documents, F 0 (a query and nothing back), G no count at all
        "retrievals": 3, "retrievals_counted": 2, "documents_per_retrieval": (3 + 0) / 2,
        "empty_retrievals": 1, "empty_retrieval_rate": 1 / 2,
    })


def test_cost_to_the_cent(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"),
                     ["cost_usd", "cost_per_request", "cost_per_call", "unpriced_calls"])
    chat = _by_group(card, "service")["chat-api"]
    # in cents: 0.4 + 1.0 + 1.024 + 0.012 = 2.436 cents; per request 2.436 / 4 = 0.609 cents
    assert round(chat["cost_usd"] * 100, 6) == 2.436
    assert round(chat["cost_usd"], 2) == 0.02
    assert round(chat["cost_per_request"] * 100, 6) == 0.609
    assert chat["cost_usd"] == pytest.approx(COST_A + COST_B + COST_C + COST_D, abs=1e-12)
    search = _by_group(card, "service")["search-api"]
    # 0.225 + 0.075 = 0.3 cents
    assert round(search["cost_usd"] * 100, 6) == 0.3
    assert search["unpriced_calls"] == 1


def test_scorecard_by_model_is_computed_over_ai_calls(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "model"))
    assert card["subject"] == "ai_calls"
    groups = _by_group(card, "model")
    assert set(groups) == {"gpt-4o", "claude-3-5-haiku", "my-local-llm", None}
    _check(groups["gpt-4o"], {
        # chat spans of A B E F, durations 80 150 30 120 -> sorted 30 80 120 150
        "requests": 4, "errors": 0, "error_rate": 0.0, "availability": 1.0,
        "latency_p50": 100.0,  # h=1.5: 80 + 0.5 * 40
        "latency_p95": 145.5,  # h=2.85: 120 + 0.85 * 30
        "latency_mean": 95.0,  # 380 / 4
        "llm_calls": 4, "input_tokens": 3800, "output_tokens": 800,
        # 0.004 + 0.010 + 0.00225 + 0.00075 = 0.017
        "cost_usd": 0.017, "cost_per_call": 0.017 / 4, "cost_per_request": 0.017 / 4,
        "unpriced_calls": 0, "refusals": 1, "refusal_checked": 4, "refusal_rate": 0.25,
        "tool_calls": 0, "tool_success_rate": None,
    })
    _check(groups["claude-3-5-haiku"], {
        # C 250 (error), D 350
        "requests": 2, "errors": 1, "error_rate": 0.5, "availability": 0.5,
        "latency_p50": 300.0, "latency_p95": 345.0,  # h=0.95: 250 + 0.95 * 100
        "latency_mean": 300.0,
        "input_tokens": 10100, "output_tokens": 1010,
        "cost_usd": 0.01024 + 0.00012, "cost_per_call": 0.01036 / 2,
        "refusals": 1, "refusal_rate": 0.5,
    })
    _check(groups["my-local-llm"], {
        "requests": 1, "latency_p50": 200.0, "latency_p95": 200.0, "llm_calls": 1,
        "input_tokens": 50, "output_tokens": 20, "cost_usd": None, "cost_per_call": None,
        "unpriced_calls": 1, "refusal_rate": 0.0,
    })
    _check(groups[None], {
        # AI spans with no model: tools A 10, B 20 (error), G 1; retrievals E F G 5 each
        # sorted 1 5 5 5 10 20: p50 h=2.5 -> 5; mean 46 / 6
        "requests": 6, "errors": 1, "error_rate": 1 / 6, "latency_p50": 5.0,
        "latency_mean": 46 / 6, "llm_calls": 0, "input_tokens": None, "cost_usd": None,
        "cost_per_call": None, "refusal_checked": 0, "refusal_rate": None,
        "tool_calls": 3, "tool_failures": 1, "tool_success_rate": 2 / 3,
        "retrievals": 3, "documents_per_retrieval": 1.5,
        # no trace has a NULL model (a task's model is the smallest model in its trace)
        "tasks": 0, "completed_tasks": 0, "task_completion_rate": None,
        "feedback_tasks": 0, "corrections": 0,
    })


def test_subject_can_be_chosen(fleet: Fleet) -> None:
    by_service = _by_group(scorecard(fleet.store, MeasureQuery.build(HOUR, "service",
                                                                     subject="ai_calls"),
                                     "requests,errors,latency_p50"), "service")
    # chat-api AI spans: 4 chats + 2 tools (B's tool and C's chat are errors)
    # durations 10 20 80 150 250 350 -> p50 h=2.5: 80 + 0.5 * 70 = 115
    assert by_service["chat-api"] == {"requests": 6, "errors": 2, "latency_p50": 115.0}
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "model", subject="requests"),
                     "requests")
    assert card["subject"] == "requests"
    # entry spans carry no model: all 7 roots A-G fall in the NULL-model group, and the model
    # groups count no requests
    groups = _by_group(card, "model")
    assert groups[None]["requests"] == 7
    assert groups["gpt-4o"]["requests"] == 0


def test_tool_success_rate_per_tool(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "tool_name"),
                     "tool_calls,tool_failures,tool_success_rate")
    groups = _by_group(card, "tool_name")
    assert groups["web_search"] == {"tool_calls": 2, "tool_failures": 1, "tool_success_rate": 0.5}
    assert groups["calculator"] == {"tool_calls": 1, "tool_failures": 0, "tool_success_rate": 1.0}
    # the other AI spans (chats, retrievals) have no tool: no verdict, rate undefined
    assert groups[None] == {"tool_calls": 0, "tool_failures": 0, "tool_success_rate": None}


def test_task_metrics_judge_each_trace_by_its_root(fleet: Fleet) -> None:
    names = [n for n, m in METRICS.items() if m.source == "task" or n in (
        "task_completion_rate", "cost_per_completed_task", "feedback_rate",
        "negative_feedback_rate")]
    groups = _by_group(scorecard(fleet.store, MeasureQuery.build(HOUR, "service"), names),
                       "service")
    _check(groups["chat-api"], {
        # A ok + thumbs up: completed; B thumbs down: negative; C root error; D refused
        "tasks": 4, "completed_tasks": 1, "task_completion_rate": 1 / 4,
        # all tasks' cost over the completed ones: 0.02436 / 1
        "task_cost_usd": 0.02436, "cost_per_completed_task": 0.02436,
        # feedback on A (up = 1.0), B (down = 0.0, with correction), D (score 0.9)
        "feedback_tasks": 3, "feedback_rate": 3 / 4, "feedback_score_mean": 1.9 / 3,
        "negative_feedback_tasks": 1, "negative_feedback_rate": 1 / 3, "corrections": 1,
    })
    _check(groups["search-api"], {
        # E completed (0.8 is not below 0.5); F refused (content_filter); G completed: its
        # thumbs down names only a span, and feedback joins by trace_id alone (docs/measure.md)
        "tasks": 3, "completed_tasks": 2, "task_completion_rate": 2 / 3,
        # unpriced G adds no cost: 0.003 / 2
        "task_cost_usd": 0.003, "cost_per_completed_task": 0.0015,
        # E: 0.8, and a correction without a score (feedback, not scored, not negative)
        "feedback_tasks": 1, "feedback_rate": 1 / 3, "feedback_score_mean": 0.8,
        "negative_feedback_tasks": 0, "negative_feedback_rate": 0.0, "corrections": 1,
    })
    # neither the orphan feedback (unknown trace, thumbs down with a correction) nor G's
    # span-linked one counts: feedback on A B D E, corrections on B E
    total = scorecard(fleet.store, MeasureQuery.build(HOUR), "corrections,feedback_tasks")
    assert total["groups"][0]["metrics"] == {"corrections": 2, "feedback_tasks": 4}


def test_task_span_names_judge_the_named_span(fleet: Fleet) -> None:
    settings = MeasureConfig(task_span_names=["handle_ticket"])
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"),
                     "requests,tasks,completed_tasks,task_completion_rate,task_cost_usd,"
                     "cost_per_completed_task,feedback_tasks,feedback_score_mean", settings)
    groups = _by_group(card, "service")
    _check(groups["chat-api"], {
        "requests": 4,
        # only A B C hold a handle_ticket span; C's handle_ticket is ok, so C completes even
        # though its root failed; B drew a thumbs down
        "tasks": 3, "completed_tasks": 2, "task_completion_rate": 2 / 3,
        # 0.004 + 0.010 + 0.01024 over 2 completed
        "task_cost_usd": 0.02424, "cost_per_completed_task": 0.01212,
        "feedback_tasks": 2, "feedback_score_mean": 0.5,  # (1.0 + 0.0) / 2
    })
    # search-api has requests but no task span: its task counts are 0 and its rates undefined
    _check(groups["search-api"], {"requests": 3, "tasks": 0, "completed_tasks": 0,
                                  "task_completion_rate": None, "task_cost_usd": None,
                                  "feedback_tasks": 0, "feedback_score_mean": None})


def test_tasks_by_prompt_version_with_a_service_filter(fleet: Fleet) -> None:
    q = MeasureQuery.build(HOUR, "prompt_version", {"service": "chat-api"})
    names = "requests,cost_usd,tasks,completed_tasks,cost_per_completed_task"
    groups = _by_group(scorecard(fleet.store, q, names), "prompt_version")
    # v7: A (gpt-4o, done) and D (claude, refused); v8: B (negative) and C (failed)
    _check(groups["v7"], {"requests": 2, "cost_usd": 0.004 + 0.00012, "tasks": 2,
                          "completed_tasks": 1, "cost_per_completed_task": 0.00412})
    _check(groups["v8"], {"requests": 2, "cost_usd": 0.010 + 0.01024, "tasks": 2,
                          "completed_tasks": 0, "cost_per_completed_task": None})
    # chat-api's tool spans have no prompt version
    _check(groups[None], {"requests": 2, "cost_usd": None, "tasks": 0})
    with_names = scorecard(fleet.store, q, names,
                           MeasureConfig(task_span_names=["handle_ticket"]))
    groups = _by_group(with_names, "prompt_version")
    # v7: only A has a handle_ticket; v8: B (negative) and C (handle_ticket ok -> completed)
    _check(groups["v7"], {"tasks": 1, "completed_tasks": 1, "cost_per_completed_task": 0.004})
    _check(groups["v8"], {"tasks": 2, "completed_tasks": 1, "cost_per_completed_task": 0.02024})


def test_filter_by_service_grouped_by_model(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "model", {"service": "search-api"}),
                     "requests,latency_p50,cost_usd,unpriced_calls,tasks,completed_tasks")
    assert card["subject"] == "ai_calls" and card["filters"] == {"service": "search-api"}
    groups = _by_group(card, "model")
    assert set(groups) == {"gpt-4o", "my-local-llm", None}  # no claude in search-api
    # E 30, F 120: p50 h=0.5 -> 75; E 0.00225 + F 0.00075; tasks E (done) F (refused)
    _check(groups["gpt-4o"], {"requests": 2, "latency_p50": 75.0, "cost_usd": 0.003,
                              "unpriced_calls": 0, "tasks": 2, "completed_tasks": 1})
    _check(groups["my-local-llm"], {"requests": 1, "cost_usd": None, "unpriced_calls": 1,
                                    "tasks": 1, "completed_tasks": 1})
    # 3 retrievals + the calculator tool
    _check(groups[None], {"requests": 4, "cost_usd": None, "tasks": 0})
    # an empty filter value means no filter
    q = MeasureQuery.build(HOUR, None, {"service": "", "model": None})
    assert q.filters == {} and q.resolved_subject == "requests"


def test_window_since_is_inclusive_and_until_exclusive(fleet: Fleet) -> None:
    names = "requests,errors,latency_mean,cost_usd,tasks"
    # [T0+120s, T0+240s): B's root starts exactly at since (in), D's exactly at until (out)
    w = Window.of(T0 + timedelta(seconds=120), T0 + timedelta(seconds=240))
    card = scorecard(fleet.store, MeasureQuery.build(w, "service"), names)
    assert [g["group"] for g in card["groups"]] == [{"service": "chat-api"}]
    _check(card["groups"][0]["metrics"], {"requests": 2, "errors": 1, "latency_mean": 250.0,
                                          "cost_usd": 0.010 + 0.01024, "tasks": 2})
    # widen to take OLD (T0-1s) and LATE (exactly T0+1h, so until must pass it)
    w = Window.of(T0 - timedelta(seconds=1), T0 + timedelta(hours=1, microseconds=1))
    chat = _by_group(scorecard(fleet.store, MeasureQuery.build(w, "service"), names),
                     "service")["chat-api"]
    # 4 + OLD + LATE, both errors of 1000 ms: (1000 + 4 * 250 + 1000) / 6
    _check(chat, {"requests": 6, "errors": 3, "latency_mean": 3000 / 6, "tasks": 6})


def test_a_trace_counts_as_a_task_of_any_window_holding_one_of_its_spans(fleet: Fleet) -> None:
    # 1 µs after B's root: B's children (1 ms later) are in, its root is not
    w = Window.of(T0 + timedelta(seconds=120, microseconds=1), T0 + timedelta(seconds=240))
    card = scorecard(fleet.store, MeasureQuery.build(w, "service"),
                     "requests,tasks,completed_tasks")
    # requests: C only; tasks: B (by its children) and C; neither completes (B negative,
    # C's root failed)
    assert card["groups"][0]["metrics"] == {"requests": 1, "tasks": 2, "completed_tasks": 0}


def test_score_columns_join_the_scorecard_without_code_changes() -> None:
    fleet = build_fleet()
    con = fleet.store._con  # what an operator's migration does: a new column on spans
    con.execute("ALTER TABLE spans ADD COLUMN quality_score DOUBLE")
    con.execute("ALTER TABLE spans ADD COLUMN helpfulness_score INTEGER")
    con.execute("ALTER TABLE spans ADD COLUMN verdict_score VARCHAR")  # not numeric: ignored
    # not a plain identifier, and one whose mean would shadow a built-in: both ignored
    con.execute('ALTER TABLE spans ADD COLUMN "odd name_score" DOUBLE DEFAULT 1')
    con.execute("ALTER TABLE spans ADD COLUMN feedback_score DOUBLE DEFAULT 0")
    for trace, quality, helpful in (("A", 0.9, 4), ("B", 0.6, None), ("E", 0.3, 2)):
        con.execute("UPDATE spans SET quality_score = ?, helpfulness_score = ?, "
                    "verdict_score = 'good' WHERE span_id = ?",
                    [quality, helpful, fleet.span_ids[(trace, 1 if trace == "E" else 2)]])

    try:
        card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"))
        groups = _by_group(card, "service")
        names = [m["name"] for m in card["metrics"]]
        assert names[-2:] == ["quality_score_mean", "helpfulness_score_mean"]
        assert "verdict_score_mean" not in names and "odd name_score_mean" not in names
        assert names.count("feedback_score_mean") == 1
        # the built-in task metric, not the mean of the feedback_score column (all 0)
        assert groups["chat-api"]["feedback_score_mean"] == pytest.approx(1.9 / 3)
        described = {m["name"]: m for m in card["metrics"]}["quality_score_mean"]
        assert described["unit"] == "score" and described["lower_is_better"] is None
        # E's score went on its retrieval span (span 1); spans without a score are skipped
        _check(groups["chat-api"], {"quality_score_mean": (0.9 + 0.6) / 2,
                                    "helpfulness_score_mean": 4.0})
        _check(groups["search-api"], {"quality_score_mean": 0.3, "helpfulness_score_mean": 2.0})
        by_model = _by_group(scorecard(fleet.store, MeasureQuery.build(HOUR, "model"),
                                       ["quality_score_mean"]), "model")
        assert by_model["gpt-4o"] == {"quality_score_mean": pytest.approx(0.75)}
        assert by_model[None] == {"quality_score_mean": pytest.approx(0.3)}
        with pytest.raises(InvalidInput, match="verdict_score_mean"):
            scorecard(fleet.store, MeasureQuery.build(HOUR), ["verdict_score_mean"])
        series = timeseries(fleet.store, MeasureQuery.build(HOUR), "quality_score_mean", "30m")
        assert series["series"][0]["points"][0][1] == pytest.approx(0.6)  # (0.9+0.6+0.3)/3
    finally:
        fleet.store.close()


def test_long_windows_use_the_tdigest_sketch(fleet: Fleet) -> None:
    card = scorecard(fleet.store, MeasureQuery.build(HOUR, "service"), "latency_p50,latency_mean",
                     MeasureConfig(exact_quantiles_max_hours=0.5))
    assert card["quantiles"] == "tdigest"
    chat = _by_group(card, "service")["chat-api"]
    assert 100.0 <= chat["latency_p50"] <= 400.0 and chat["latency_mean"] == 250.0


# --- time series ---------------------------------------------------------------------------

TEN_MIN = Window.of(T0, T0 + timedelta(minutes=10))


def _times(series: dict[str, Any]) -> list[str]:
    return [p[0] for p in series["series"][0]["points"]]


def test_timeseries_buckets_cover_the_window_and_empty_counts_are_zero(fleet: Fleet) -> None:
    ts = timeseries(fleet.store, MeasureQuery.build(TEN_MIN), "requests", "2m")
    assert ts["step_s"] == 120 and ts["subject"] == "requests"
    assert ts["metric"]["name"] == "requests" and ts["metric"]["unit"] == "count"
    # until is on a bucket edge: 5 buckets, none starting at until
    assert ts["series"] == [{"group": {}, "points": [
        ["2024-01-01T00:00:00+00:00", 1],  # A (T0+60s)
        ["2024-01-01T00:02:00+00:00", 2],  # B (exactly T0+120s), C
        ["2024-01-01T00:04:00+00:00", 2],  # D, E
        ["2024-01-01T00:06:00+00:00", 2],  # F, G
        ["2024-01-01T00:08:00+00:00", 0],  # nothing: 0 for a count
    ]}]


def test_timeseries_buckets_are_aligned_to_the_epoch_not_to_since(fleet: Fleet) -> None:
    w = Window.of(T0 + timedelta(seconds=30), T0 + timedelta(minutes=10, seconds=30))
    ts = timeseries(fleet.store, MeasureQuery.build(w), "task_completion_rate", 120)
    # first bucket starts before since, last one holds until: 00:00 .. 00:10, 6 buckets
    assert ts["series"][0]["points"] == [
        ["2024-01-01T00:00:00+00:00", 1.0],   # A done
        ["2024-01-01T00:02:00+00:00", 0.0],   # B negative, C failed
        ["2024-01-01T00:04:00+00:00", 0.5],   # D refused, E done
        ["2024-01-01T00:06:00+00:00", 0.5],   # F refused, G done
        ["2024-01-01T00:08:00+00:00", None],  # no task: a rate is undefined, not 0
        ["2024-01-01T00:10:00+00:00", None],
    ]


def test_grouped_timeseries(fleet: Fleet) -> None:
    ts = timeseries(fleet.store, MeasureQuery.build(TEN_MIN, "service"), "latency_p50", "2m")
    assert [s["group"] for s in ts["series"]] == [{"service": "chat-api"},
                                                  {"service": "search-api"}]
    chat, search = ([v for _, v in s["points"]] for s in ts["series"])
    # chat-api: [A 100] [B 200, C 300 -> 250] [D 400] [] []
    assert chat == [100.0, 250.0, 400.0, None, None]
    # search-api: [] [] [E 50] [F 150, G 250 -> 200] []
    assert search == [None, None, 50.0, 200.0, None]
    done = timeseries(fleet.store, MeasureQuery.build(TEN_MIN, "service"), "completed_tasks",
                      "2m")
    assert [[v for _, v in s["points"]] for s in done["series"]] == [
        [1, 0, 0, 0, 0],  # chat-api: A
        [0, 0, 1, 1, 0],  # search-api: E, G
    ]
    cost = timeseries(fleet.store, MeasureQuery.build(TEN_MIN, "model"), "cost_usd", "5m")
    by_model = {s["group"]["model"]: [v for _, v in s["points"]] for s in cost["series"]}
    # [T0, T0+5m): A B C D; [T0+5m, T0+10m): E F G
    assert by_model["gpt-4o"] == [pytest.approx(0.014), pytest.approx(0.003)]
    assert by_model["claude-3-5-haiku"] == [pytest.approx(0.01036), None]
    assert by_model["my-local-llm"] == [None, None]  # unpriced: no cost, not a zero cost


def test_timeseries_of_an_empty_window_still_has_its_buckets(fleet: Fleet) -> None:
    w = Window.of(T0 + timedelta(days=30), T0 + timedelta(days=30, minutes=10))
    ts = timeseries(fleet.store, MeasureQuery.build(w), "requests", "5m")
    assert ts["series"] == [{"group": {}, "points": [["2024-01-31T00:00:00+00:00", 0],
                                                     ["2024-01-31T00:05:00+00:00", 0]]}]
    rate = timeseries(fleet.store, MeasureQuery.build(w), "error_rate", "5m")
    assert [v for _, v in rate["series"][0]["points"]] == [None, None]
    grouped = timeseries(fleet.store, MeasureQuery.build(w, "service"), "requests", "5m")
    assert grouped["series"] == []


def test_default_step_gives_about_60_points(fleet: Fleet) -> None:
    assert parse_step(None, HOUR) == 60
    assert parse_step("", Window.of(T0, T0 + timedelta(days=1))) == 1800  # 1440 s -> 30 min
    assert parse_step("1.5m", HOUR) == 90
    assert parse_step(300, HOUR) == 300
    ts = timeseries(fleet.store, MeasureQuery.build(HOUR), "requests")
    assert ts["step_s"] == 60 and len(_times(ts)) == 60


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "message", "hint"), [
    (lambda: MeasureQuery.build(HOUR, "modle"), "group_by: unknown value 'modle'",
     "did you mean 'model'"),
    (lambda: MeasureQuery.build(HOUR, "service,model,service"), "'service' is given twice",
     "name each value once"),
    (lambda: MeasureQuery.build(HOUR, ["service", "service"]), "'service' is given twice", None),
    (lambda: MeasureQuery.build(HOUR, None, {"servce": "chat-api"}),
     "filter: unknown value 'servce'", "did you mean 'service'"),
    (lambda: MeasureQuery.build(HOUR, None, None, "request"), "subject: unknown value 'request'",
     "did you mean 'requests'"),
    (lambda: Window.of(T0 + timedelta(hours=1), T0), "the time window is inverted",
     "since earlier than until"),
    (lambda: Window.of(T0, T0), "the time window is empty", "since earlier than until"),
    (lambda: parse_step("5x", HOUR), "step='5x' is not a duration", "30s, 5m, 1h"),
    (lambda: parse_step("m", HOUR), "is not a duration", None),
    (lambda: parse_step("0.5s", HOUR), "must be a whole number of seconds, at least 1", None),
    (lambda: parse_step("-1m", HOUR), "must be a whole number of seconds", None),
    (lambda: parse_step("inf", HOUR), "must be a whole number of seconds", None),
    (lambda: parse_step("nan", HOUR), "must be a whole number of seconds", None),
    (lambda: parse_step("1s", HOUR), "step='1s' gives 3600 points over the window, more than 2000",
     "at least 2s"),
])
def test_bad_queries_say_what_is_wrong(build: Any, message: str, hint: str | None) -> None:
    with pytest.raises(InvalidInput) as err:
        build()
    assert message in err.value.message
    if hint is not None:
        assert err.value.hint is not None and hint in err.value.hint


def test_unknown_metrics_are_refused(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput) as err:
        scorecard(fleet.store, MeasureQuery.build(HOUR), "requests,error_rte")
    assert err.value.message == "metric: unknown value 'error_rte'"
    assert err.value.hint is not None and err.value.hint.startswith("did you mean 'error_rate'?")
    with pytest.raises(InvalidInput, match="'requests' is given twice"):
        scorecard(fleet.store, MeasureQuery.build(HOUR), ["requests", "requests"])
    with pytest.raises(InvalidInput, match="metric: unknown value 'latency'") as err:
        timeseries(fleet.store, MeasureQuery.build(HOUR), "latency", "5m")
    assert err.value.hint is not None and "did you mean 'latency_" in err.value.hint
    with pytest.raises(InvalidInput, match="metric is required"):
        timeseries(fleet.store, MeasureQuery.build(HOUR), "", "5m")
    with pytest.raises(InvalidInput, match="more than 2000"):
        timeseries(fleet.store, MeasureQuery.build(HOUR), "requests", "1s")


@pytest.mark.parametrize("metrics", ["requests,latency_p95", "tasks,completed_tasks"])
def test_group_cardinality_is_capped(fleet: Fleet, metrics: str) -> None:
    q = MeasureQuery.build(HOUR, "service")
    card = scorecard(fleet.store, q, metrics, MeasureConfig(max_groups=2))  # exactly 2: fine
    assert len(card["groups"]) == 2
    with pytest.raises(InvalidInput) as err:
        scorecard(fleet.store, q, metrics, MeasureConfig(max_groups=1))
    assert err.value.message == "group_by service gives more than 1 groups"
    assert err.value.hint is not None and "measure.max_groups" in err.value.hint
    with pytest.raises(InvalidInput, match="group_by service x model gives more than 3 groups"):
        scorecard(fleet.store, MeasureQuery.build(HOUR, "service,model"), metrics,
                  MeasureConfig(max_groups=3))


def test_series_count_is_capped(fleet: Fleet) -> None:
    q = MeasureQuery.build(HOUR, "model")
    with pytest.raises(InvalidInput, match="group_by model gives 4 series, more than 3") as err:
        timeseries(fleet.store, q, "requests", "10m", max_series=3)
    assert err.value.hint is not None and "add a filter" in err.value.hint
