"""End to end: OTel SDK spans into a real server, then scorecard, timeseries, compare and pricing
through the REST API and the CLI (against the server, and against its file once stopped)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ServerProcess, start_server

pytestmark = pytest.mark.e2e

# gpt-4o at 2.50 / 10.00 USD per 1M input / output tokens (shipped catalog)
GPT4O_CALL = 1000 * 2.50 / 1e6 + 200 * 10.00 / 1e6  # 0.0045


def _emit(base: str) -> None:
    """40 traces: prompt v7 fast and healthy, v8 slower with refusals; one unknown model."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    provider = TracerProvider(resource=Resource.create({
        "service.name": "support-bot", "deployment.environment.name": "prod"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    tracer = provider.get_tracer("e2e")
    now = time.time_ns()
    for i in range(40):
        v8 = i % 2 == 1
        start = now - (60 - i) * 10**9
        dur = (400 if v8 else 100) * 10**6 + i * 10**6
        root = tracer.start_span("POST /ask", start_time=start)
        ctx = set_span_in_context(root)
        if True:
            chat = tracer.start_span("chat gpt-4o", context=ctx, start_time=start + 10**6)
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 1000)
            chat.set_attribute("gen_ai.usage.output_tokens", 200)
            chat.set_attribute("truecourse.prompt_version", "v8" if v8 else "v7")
            answer = "I'm sorry, but I can't help with that." if v8 and i % 4 == 1 else \
                "Your order ships tomorrow."
            chat.set_attribute("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]))
            chat.end(end_time=start + dur)
            if i == 0:
                odd = tracer.start_span("chat house-model", context=ctx,
                                        start_time=start + 2 * 10**6)
                odd.set_attribute("gen_ai.operation.name", "chat")
                odd.set_attribute("gen_ai.request.model", "house-model-3")
                odd.set_attribute("gen_ai.usage.input_tokens", 50)
                odd.end(end_time=start + 3 * 10**6)
            if i == 2:
                root.set_status(Status(StatusCode.ERROR, "boom"))
        root.end(end_time=start + dur + 10**6)
    assert provider.force_flush(10_000)
    provider.shutdown()


def _wait(base: str, spans: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        n = sum(s["span_count"] for s in httpx.get(f"{base}/api/v1/services").json()["items"])
        if n >= spans:
            return
        time.sleep(0.2)
    raise AssertionError(f"expected {spans} spans")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "truecourse", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("measure")
    srv = start_server(tmp)
    try:
        _emit(srv.base_url)
        _wait(srv.base_url, 81)
        yield srv
    finally:
        srv.stop()


def test_scorecard_api_costs_match_the_catalog(loaded: ServerProcess) -> None:
    r = httpx.get(f"{loaded.base_url}/api/v1/scorecard",
                  params={"group_by": "model", "since": "1h"}).json()
    assert r["subject"] == "ai_calls"
    by_model = {g["group"]["model"]: g["metrics"] for g in r["groups"]}
    gpt = by_model["gpt-4o"]
    assert gpt["llm_calls"] == 40
    assert gpt["cost_usd"] == pytest.approx(40 * GPT4O_CALL, abs=0.005)
    assert round(gpt["cost_usd"], 2) == round(40 * GPT4O_CALL, 2)
    assert gpt["cost_per_call"] == pytest.approx(GPT4O_CALL)
    assert gpt["refusal_rate"] == pytest.approx(10 / 40)
    unknown = by_model["house-model-3"]
    assert unknown["unpriced_calls"] == 1 and unknown["cost_usd"] is None


def test_scorecard_by_service_counts_requests_and_errors(loaded: ServerProcess) -> None:
    r = httpx.get(f"{loaded.base_url}/api/v1/scorecard",
                  params={"group_by": "service", "since": "1h",
                          "metrics": "requests,errors,error_rate,tasks,completed_tasks"}).json()
    assert r["subject"] == "requests"
    [g] = r["groups"]
    # 40 roots; one error; 10 refusals -> 29 completed tasks
    assert g["metrics"] == {"requests": 40, "errors": 1, "error_rate": 1 / 40, "tasks": 40,
                            "completed_tasks": 29}


def test_timeseries_and_compare_api(loaded: ServerProcess) -> None:
    ts = httpx.get(f"{loaded.base_url}/api/v1/timeseries",
                   params={"metric": "requests", "step": "5m", "since": "1h"}).json()
    assert ts["step_s"] == 300
    assert sum(v for _, v in ts["series"][0]["points"]) == 40
    cmp = httpx.get(f"{loaded.base_url}/api/v1/compare",
                    params={"dimension": "prompt_version", "a": "v7", "b": "v8",
                            "since": "1h"}).json()
    rows = {m["name"]: m for m in cmp["metrics"]}
    assert rows["latency_p50"]["verdict"] == "worse"
    assert rows["latency_p50"]["test"]["method"] == "mann_whitney"
    assert rows["latency_p50"]["test"]["p_value"] < 0.001
    assert rows["refusal_rate"]["b"] == pytest.approx(0.5)
    assert rows["refusal_rate"]["verdict"] == "worse"
    assert rows["cost_per_call"]["verdict"] == "no significant change"


@pytest.mark.parametrize(("path", "params", "needle"), [
    ("/api/v1/scorecard", {"group_by": "servce"}, "did you mean 'service'"),
    ("/api/v1/scorecard", {"metrics": "p95"}, "allowed"),
    ("/api/v1/scorecard", {"since": "1h", "until": "2h"}, "inverted"),
    ("/api/v1/timeseries", {"metric": "requests", "step": "1s", "since": "7d"}, "points"),
    ("/api/v1/compare", {"dimension": "prompt_version", "a": "v7", "b": "v9"}, "v7, v8"),
    ("/api/v1/compare", {"dimension": "colour", "a": "x", "b": "y"}, "allowed"),
])
def test_bad_input_is_a_400_that_names_the_allowed_values(
        loaded: ServerProcess, path: str, params: dict[str, str], needle: str) -> None:
    resp = httpx.get(loaded.base_url + path, params=params)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert needle in err["message"] + " " + (err.get("hint") or "")


def test_metrics_endpoint_exposes_slis(loaded: ServerProcess) -> None:
    text = httpx.get(f"{loaded.base_url}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    calls = {tuple(sorted(s.labels.items())): s.value
             for s in families["truecourse_llm_calls"].samples if s.name.endswith("_total")}
    assert sum(v for k, v in calls.items() if ("model", "gpt-4o") in k) == 40


def test_cli_scorecard_compare_and_pricing(loaded: ServerProcess) -> None:
    out = _cli("scorecard", "--url", loaded.base_url, "-g", "prompt_version", "--since", "1h",
               "--json")
    assert out.returncode == 0, out.stderr
    groups = {g["group"]["prompt_version"]: g for g in json.loads(out.stdout)["groups"]}
    assert set(groups) == {"v7", "v8", None}
    table = _cli("scorecard", "--url", loaded.base_url, "-g", "model", "--since", "1h")
    assert table.returncode == 0 and "gpt-4o" in table.stdout
    gate = _cli("compare", "prompt_version", "v7", "v8", "--url", loaded.base_url,
                "--since", "1h", "--fail-on-regression")
    assert gate.returncode == 1 and "worse" in gate.stdout
    bad = _cli("scorecard", "--url", loaded.base_url, "-g", "modle")
    assert bad.returncode == 2 and "did you mean 'model'" in bad.stderr
    prices = _cli("pricing", "list", "--provider", "anthropic", "--json")
    assert prices.returncode == 0
    assert all(m["provider"] == "anthropic" for m in json.loads(prices.stdout)["models"])
    unknown = _cli("pricing", "unknown", "--url", loaded.base_url, "--json")
    assert [r["model"] for r in json.loads(unknown.stdout)] == ["house-model-3"]


def test_cli_on_the_file_and_cost_recompute(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        _emit(srv.base_url)
        _wait(srv.base_url, 81)
    finally:
        srv.stop()
    db = str(srv.db)
    out = _cli("scorecard", "--db", db, "-g", "model", "--since", "1h", "--json",
               "--metrics", "cost_usd,unpriced_calls")
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "truecourse.yaml"
    cfg.write_text("measure:\n  pricing:\n    - {provider: house, model: house-model-3, "
                   "input: 2.0, output: 4.0}\n")
    done = _cli("cost", "recompute", "--db", db, "--since", "1h", "--config", str(cfg),
                "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["updated"] == 1 and result["catalog_version"].endswith("+overrides")
    after = _cli("scorecard", "--db", db, "-g", "model", "--since", "1h", "--json",
                 "--metrics", "cost_usd,unpriced_calls", "--config", str(cfg))
    by_model = {g["group"]["model"]: g["metrics"] for g in json.loads(after.stdout)["groups"]}
    assert by_model["house-model-3"] == {"cost_usd": pytest.approx(50 * 2.0 / 1e6),
                                         "unpriced_calls": 0}
    missing = _cli("scorecard", "--db", str(tmp_path / "nope.duckdb"))
    assert missing.returncode == 2 and "no such DuckDB file" in missing.stderr
