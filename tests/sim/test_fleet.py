"""The simulated fleet: complete delivery to a real server, determinism, and every knob."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from truecourse.sim.effects import Effects, ServiceEffects
from truecourse.sim.fleet import SERVICES, TOOLS, Fleet, FleetError, MemorySink

from conftest import ServerProcess

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def run(fleet: Fleet, minutes: int, effects: Effects | None = None, t0: datetime = T0) -> None:
    for i in range(minutes):
        fleet.emit(t0 + timedelta(minutes=i), t0 + timedelta(minutes=i + 1), effects or Effects())


def offline(seed: int = 1, **kwargs: Any) -> tuple[Fleet, MemorySink]:
    sink = MemorySink()
    return Fleet("http://unused", seed=seed, sink=sink, **kwargs), sink


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def service_of(span: Any) -> str:
    return str(span.resource.attributes["service.name"])


def all_items(base: str, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = httpx.get(f"{base}{path}", params={**params, "limit": 1000,
                                                  **({"cursor": cursor} if cursor else {})},
                         timeout=30).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def stored_spans(base: str, env: str) -> int:
    rows = httpx.get(f"{base}/api/v1/services", timeout=30).json()["items"]
    return sum(r["span_count"] for r in rows if r["env"] == env)


def test_a_step_is_stored_in_full_with_its_ai_columns(server: ServerProcess) -> None:
    base = server.base_url
    fleet = Fleet(base, seed=11)
    t1 = T0 + timedelta(minutes=10)
    spans = logs = events = 0
    for i in range(10):
        counts = fleet.emit(T0 + timedelta(minutes=i), T0 + timedelta(minutes=i + 1), Effects())
        spans, logs, events = spans + counts.spans, logs + counts.logs, events + counts.events
        assert set(counts.requests) == {"support-assistant", "fraud-scorer", "recommender",
                                        "order-agent"}
    fleet.shutdown()
    fleet.shutdown()  # idempotent
    assert 5000 < spans < 12000 and logs > 300 and events > 20

    deadline = time.time() + 30
    while stored_spans(base, "prod") < spans and time.time() < deadline:
        time.sleep(0.2)
    assert stored_spans(base, "prod") == spans
    window = {"since": T0.isoformat(), "until": (t1 + timedelta(hours=2)).isoformat()}
    assert len(all_items(base, "/api/v1/logs", **window)) == logs
    stored_events = all_items(base, "/api/v1/events", **window)
    assert len(stored_events) == events
    assert {e["kind"] for e in stored_events} <= {"feedback", "label"}

    rows = httpx.get(f"{base}/api/v1/services", timeout=30).json()["items"]
    assert {r["service"] for r in rows} == set(SERVICES)
    for r in rows:
        first = datetime.fromisoformat(r["first_seen"])
        last = datetime.fromisoformat(r["last_seen"])
        assert first >= T0 and last < t1 + timedelta(minutes=1), r
        assert r["versions"] == ["2026.11.1"]

    chats = httpx.get(f"{base}/api/v1/spans", params={"operation": "chat", "limit": 200},
                      timeout=30).json()["items"]
    assert {c["model"] for c in chats} >= {"gpt-4o-mini-2024-07-18",
                                           "claude-3-5-sonnet-20241022"}
    ok = [c for c in chats if c["status_code"] != "error"]
    assert ok and all(c["input_tokens"] > 0 and c["cost_usd"] > 0 for c in ok)
    assert {c["prompt_version"] for c in chats} == {"support-v12", "agent-v4"}
    assert any(c["evaluations"] for c in ok if c["service"] == "support-assistant")
    tools = httpx.get(f"{base}/api/v1/spans", params={"operation": "tool", "limit": 200},
                      timeout=30).json()["items"]
    assert {t["tool_name"] for t in tools} <= set(TOOLS) and tools
    assert any(t["tool_ok"] for t in tools)
    retrievals = httpx.get(f"{base}/api/v1/spans", params={"operation": "retrieval",
                                                           "limit": 100}, timeout=30).json()
    assert all(r["index_version"] == "kb-2026-11-01" for r in retrievals["items"])
    assert any((r["retrieval_documents"] or 0) > 0 for r in retrievals["items"])
    # feedback links to a stored trace
    feedback = next(e for e in stored_events if e["kind"] == "feedback")
    trace = httpx.get(f"{base}/api/v1/traces/{feedback['trace_id']}", timeout=30).json()
    assert trace["roots"][0]["name"] == "POST /v1/chat"


def test_same_seed_same_telemetry_other_seed_other_telemetry() -> None:
    def fingerprint(seed: int) -> list[Any]:
        fleet, sink = offline(seed)
        run(fleet, 2)
        fleet.shutdown()
        spans = [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
                 for s in sink.spans]
        logs = [(r.log_record.timestamp, r.log_record.body) for r in sink.logs]
        return [spans, logs, sink.events]

    first = fingerprint(5)
    assert first == fingerprint(5)
    assert first[0][0] != fingerprint(6)[0][0]


def test_tool_failures_reach_the_server_as_not_ok(server: ServerProcess) -> None:
    fleet = Fleet(server.base_url, seed=2, env="toolfail")
    run(fleet, 5, Effects(tool_fail={"order_lookup": 1.0}))
    fleet.shutdown()
    tools = all_items(server.base_url, "/api/v1/spans", env="toolfail", operation="tool")
    lookups = [t for t in tools if t["tool_name"] == "order_lookup"]
    assert lookups and all(t["tool_ok"] is False for t in lookups)
    assert any(t["tool_ok"] for t in tools if t["tool_name"] != "order_lookup")


def _root_error_share(sink: MemorySink, service: str) -> float:
    roots = [s for s in sink.spans if s.parent is None and service_of(s) == service]
    return sum(1 for s in roots if not s.status.is_ok) / len(roots)


def test_a_down_dependency_cascades_to_its_callers() -> None:
    healthy, healthy_sink = offline(3)
    run(healthy, 5)
    broken, broken_sink = offline(3)
    run(broken, 5, Effects(services={"orders-api": ServiceEffects(down=True)}))
    assert not [s for s in broken_sink.spans if service_of(s) == "orders-api"]
    failed_tools = [s for s in broken_sink.spans if attrs(s).get("gen_ai.tool.name") in
                    ("order_lookup", "issue_refund")]
    assert failed_tools and all(attrs(s)["error.type"] in ("503", "ConnectionRefused")
                                for s in failed_tools)
    for service in ("support-assistant", "order-agent"):
        assert _root_error_share(broken_sink, service) > \
            _root_error_share(healthy_sink, service) + 0.1
    # the assistant sometimes answers without its tool
    assert _root_error_share(broken_sink, "support-assistant") < 0.5


def _root_p50_ms(sink: MemorySink, service: str) -> float:
    return statistics.median((s.end_time - s.start_time) / 1e6 for s in sink.spans
                             if s.parent is None and service_of(s) == service)


def test_latency_and_context_growth_knobs() -> None:
    base, base_sink = offline(4)
    run(base, 3)
    slow, slow_sink = offline(4)
    run(slow, 3, Effects(services={"recommender": ServiceEffects(latency_mult=3.0)},
                         context_growth=4.0))
    p50, slow_p50 = _root_p50_ms(base_sink, "recommender"), _root_p50_ms(slow_sink, "recommender")
    assert 25 < p50 < 60 and 2.2 < slow_p50 / p50 < 3.5

    def mean_input_tokens(sink: MemorySink) -> float:
        return statistics.mean(attrs(s)["gen_ai.usage.input_tokens"] for s in sink.spans
                               if "gen_ai.usage.input_tokens" in attrs(s))

    assert mean_input_tokens(slow_sink) > 3 * mean_input_tokens(base_sink)


def test_content_knobs_reach_the_text() -> None:
    fleet, sink = offline(8)
    run(fleet, 3, Effects(pii_leak_rate=1.0, injection_rate=1.0, refusal_add=0.5,
                          prompt_version={"support-assistant": "support-v13"},
                          index_version="kb-2026-11-09", retrieval_degrade=1.0))
    chats = [attrs(s) for s in sink.spans if s.name.startswith("chat gpt")
             and "gen_ai.output.messages" in attrs(s)]
    assert {c["gen_ai.prompt.version"] for c in chats} == {"support-v13"}
    inputs = " ".join(c["gen_ai.input.messages"] for c in chats)
    assert "previous instructions" in inputs or "DAN" in inputs or "SYSTEM OVERRIDE" in inputs
    answered = [c for c in chats if not c["truecourse.refused"]]
    assert 0.3 < 1 - len(answered) / len(chats) < 0.95
    leaks = ("@example.com", "4111 1111", "5555 5555", "555-01", "555 01")
    assert all(any(p in json.loads(c["gen_ai.output.messages"])[0]["parts"][0]["content"]
                   for p in leaks) for c in answered)
    retrievals = [attrs(s) for s in sink.spans if s.name == "retrieval kb-articles"]
    assert {r["truecourse.index_version"] for r in retrievals} == {"kb-2026-11-09"}
    empty = sum(1 for r in retrievals if json.loads(r.get("gen_ai.retrieval.documents", "[]"))
                == [])
    assert empty / len(retrievals) > 0.3


def test_labels_arrive_later_and_shift_moves_features() -> None:
    fleet, sink = offline(9)
    run(fleet, 70, Effects(input_shift=1.0))
    labels = [e for e in sink.events if e["kind"] == "label"]
    assert labels and all(e["prediction_id"].startswith("p-") for e in labels)
    base, base_sink = offline(9)
    run(base, 3)

    def median_amount(s: MemorySink) -> float:
        return statistics.median(attrs(x)["fraud.feature.amount"] for x in s.spans
                                 if x.name == "POST /v1/score")

    assert median_amount(sink) > 2 * median_amount(base_sink)


def test_deploy_changes_the_version_and_posts_an_event(server: ServerProcess) -> None:
    fleet = Fleet(server.base_url, seed=12, env="deploys")
    run(fleet, 1)
    fleet.deploy("recommender", "2026.11.2", T0 + timedelta(minutes=1), summary="new ranker")
    fleet.config_change("support-assistant", "model", "gpt-4o-mini", "gpt-4o",
                        T0 + timedelta(minutes=1))
    assert fleet.versions()["recommender"] == "2026.11.2"
    run(fleet, 1, t0=T0 + timedelta(minutes=1))
    fleet.shutdown()
    with pytest.raises(FleetError, match="shut down"):
        run(fleet, 1)
    after = httpx.get(f"{server.base_url}/api/v1/spans", timeout=30, params={
        "env": "deploys", "service": "recommender", "since": (T0 + timedelta(minutes=1))
        .isoformat(), "limit": 50}).json()["items"]
    assert after and {s["version"] for s in after} == {"2026.11.2"}
    before = httpx.get(f"{server.base_url}/api/v1/spans", timeout=30, params={
        "env": "deploys", "service": "recommender", "until": T0.isoformat(timespec="seconds")
        .replace("12:00:00", "12:00:30"), "limit": 50}).json()["items"]
    assert before and {s["version"] for s in before} == {"2026.11.1"}
    [deploy] = httpx.get(f"{server.base_url}/api/v1/events", params={"kind": "deploy"},
                         timeout=30).json()["items"]
    assert deploy["service"] == "recommender" and deploy["version"] == "2026.11.2"
    assert deploy["summary"] == "new ranker"
    [change] = httpx.get(f"{server.base_url}/api/v1/events", params={"kind": "config_change"},
                         timeout=30).json()["items"]
    assert change["payload"]["new_value"] == "gpt-4o"


def test_an_unreachable_server_fails_fast_naming_the_endpoint() -> None:
    began = time.monotonic()
    with pytest.raises(FleetError) as caught:
        Fleet("http://127.0.0.1:1", seed=1, timeout_s=5)
    assert time.monotonic() - began < 5
    assert "http://127.0.0.1:1" in str(caught.value) and "refused" in str(caught.value)
    assert "truecourse serve" in str(caught.value) and caught.value.exit_code == 75
