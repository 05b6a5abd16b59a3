"""SliMetrics: SLI families from span batches, label limits, exposition; the Grafana dashboard."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from truecourse.measure.prometheus import DURATION_BUCKETS, OTHER, SliMetrics
from truecourse.model.batch import ArrowBatch, EventBatch, SpanBatch
from truecourse.pipeline.metrics import PipelineMetrics

from pipeline.telemetry_rows import logs, metrics, spans

DASHBOARD = Path(__file__).resolve().parents[2] / "integrations" / "grafana" / "truecourse.json"
CHILD = {"parent_span_id": "1" * 16}


def sli(**limits: int) -> tuple[SliMetrics, CollectorRegistry]:
    registry = CollectorRegistry(auto_describe=True)
    return SliMetrics(registry, **limits), registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def families(registry: CollectorRegistry) -> dict[str, Any]:
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample_batch() -> SpanBatch:
    """Two services, an agent with LLM and tool children, errors, a refusal, nulls."""
    return spans(
        {"service": "chat-api", "kind": "server", "duration_ms": 1200.0},
        {"service": "chat-api", "kind": "server", "duration_ms": 30.0, "status_code": "error"},
        {**CHILD, "service": "chat-api", "operation": "chat", "provider": "openai",
         "model": "gpt-4o", "duration_ms": 900.0, "input_tokens": 100, "output_tokens": 20,
         "cost_usd": 0.01},
        {**CHILD, "service": "chat-api", "operation": "chat", "provider": "openai",
         "model": "gpt-4o", "duration_ms": 40.0, "input_tokens": 50, "output_tokens": None,
         "cost_usd": 0.005, "refused": True, "status_code": "error"},
        {**CHILD, "service": "chat-api", "operation": "embeddings", "provider": "openai",
         "model": "text-embedding-3-small", "duration_ms": 8.0, "input_tokens": 7},
        {**CHILD, "service": "chat-api", "operation": "tool", "tool_name": "search",
         "tool_ok": True, "duration_ms": 15.0},
        {**CHILD, "service": "chat-api", "operation": "tool", "tool_name": "search",
         "tool_ok": False, "duration_ms": 15.0},
        {**CHILD, "service": "chat-api", "operation": "tool", "tool_name": "calc",
         "tool_ok": None, "duration_ms": 1.0},
        {**CHILD, "service": "chat-api", "operation": "retrieval", "duration_ms": 12.0},
        {"service": "batch-worker", "kind": "consumer", "duration_ms": 70_000.0},
        {**CHILD, "service": "batch-worker", "operation": "completion", "provider": "anthropic",
         "model": "claude-3-5-haiku", "duration_ms": 2500.0, "input_tokens": 1000,
         "output_tokens": 300, "cost_usd": 0.002},
    )


# --- counts and sums ---------------------------------------------------------------------------


def test_requests_llm_tokens_cost_refusals_and_tools_are_counted() -> None:
    m, r = sli()
    m.observe(sample_batch())

    assert value(r, "truecourse_requests_total", service="chat-api", status="ok") == 1
    assert value(r, "truecourse_requests_total", service="chat-api", status="error") == 1
    assert value(r, "truecourse_requests_total", service="batch-worker", status="ok") == 1
    assert value(r, "truecourse_requests_total", service="batch-worker", status="error") == 0

    calls = "truecourse_llm_calls_total"
    gpt = {"service": "chat-api", "provider": "openai", "model": "gpt-4o"}
    assert value(r, calls, **gpt, status="ok") == 1
    assert value(r, calls, **gpt, status="error") == 1
    assert value(r, calls, service="chat-api", provider="openai",
                 model="text-embedding-3-small", status="ok") == 1
    assert value(r, calls, service="batch-worker", provider="anthropic",
                 model="claude-3-5-haiku", status="ok") == 1

    sm = {"service": "chat-api", "model": "gpt-4o"}
    assert value(r, "truecourse_tokens_total", **sm, direction="input") == 150
    assert value(r, "truecourse_tokens_total", **sm, direction="output") == 20
    assert value(r, "truecourse_cost_usd_total", **sm) == pytest.approx(0.015)
    assert value(r, "truecourse_refusals_total", **sm) == 1
    haiku = {"service": "batch-worker", "model": "claude-3-5-haiku"}
    assert value(r, "truecourse_refusals_total", **haiku) == 0
    assert value(r, "truecourse_tokens_total", **haiku, direction="output") == 300
    assert value(r, "truecourse_llm_duration_seconds_count", **sm) == 2
    assert value(r, "truecourse_llm_duration_seconds_sum", **sm) == pytest.approx(0.94)

    tools = "truecourse_tool_calls_total"
    assert value(r, tools, service="chat-api", tool="search", ok="true") == 1
    assert value(r, tools, service="chat-api", tool="search", ok="false") == 1
    assert value(r, tools, service="chat-api", tool="search", ok="unknown") == 0
    assert value(r, tools, service="chat-api", tool="calc", ok="unknown") == 1

    # retrieval spans feed no family; non-entry children are not requests
    assert value(r, "truecourse_request_duration_seconds_count", service="chat-api") == 2


def test_entry_spans_are_roots_server_and_consumer_spans() -> None:
    m, r = sli()
    m.observe(spans(
        {"kind": "internal"},                      # root
        {"kind": "internal", "parent_span_id": ""},  # empty parent reads as root
        {**CHILD, "kind": "server"},
        {**CHILD, "kind": "consumer"},
        {**CHILD, "kind": "internal"},
        {**CHILD, "kind": "client"},
        {**CHILD, "kind": "producer"},
    ))
    assert value(r, "truecourse_requests_total", service="chat-api", status="ok") == 4


def test_totals_accumulate_and_arrow_batches_count_like_list_batches() -> None:
    m, r = sli()
    batch = sample_batch()
    m.observe(batch)
    m.observe(ArrowBatch("spans", batch.to_arrow()))
    chunked = pa.concat_tables([batch.to_arrow().slice(0, 4), batch.to_arrow().slice(4)])
    assert chunked.column("service").num_chunks == 2
    m.observe(ArrowBatch("spans", chunked))

    assert value(r, "truecourse_requests_total", service="chat-api", status="ok") == 3
    assert value(r, "truecourse_tokens_total", service="chat-api", model="gpt-4o",
                 direction="input") == 450
    assert value(r, "truecourse_tool_calls_total", service="chat-api", tool="calc",
                 ok="unknown") == 3


def test_negative_and_missing_numbers_never_decrease_a_counter() -> None:
    m, r = sli()
    m.observe(spans(
        {"operation": "chat", "model": "m", "input_tokens": -5, "output_tokens": None,
         "cost_usd": -1.0, "duration_ms": -3.0},
        {"operation": "chat", "model": "m", "input_tokens": 5, "cost_usd": float("nan"),
         "duration_ms": float("inf")},
        {"operation": "chat", "model": "m", "duration_ms": None},
    ))
    sm = {"service": "chat-api", "model": "m"}
    assert value(r, "truecourse_tokens_total", **sm, direction="input") == 5
    assert value(r, "truecourse_tokens_total", **sm, direction="output") == 0
    assert value(r, "truecourse_cost_usd_total", **sm) == 0
    # the negative duration counts as 0 s; infinite and missing ones stay out of the histogram
    assert value(r, "truecourse_llm_duration_seconds_count", **sm) == 1
    assert value(r, "truecourse_llm_duration_seconds_bucket", **sm, le="0.005") == 1
    assert value(r, "truecourse_llm_duration_seconds_sum", **sm) == 0
    assert value(r, "truecourse_requests_total", service="chat-api", status="ok") == 3


# --- histograms --------------------------------------------------------------------------------


def test_histogram_buckets_are_cumulative_and_inclusive_upper_bounds() -> None:
    m, r = sli()
    durations_ms = [5.0, 5.0001, 10.0, 999.0, 1000.0, 60_000.0, 60_001.0, 120_000.0]
    m.observe(spans(*({"duration_ms": d} for d in durations_ms)))

    h = "truecourse_request_duration_seconds"
    buckets = {le: value(r, f"{h}_bucket", service="chat-api", le=le)
               for le in ["0.005", "0.01", "0.025", "1.0", "2.5", "60.0", "+Inf"]}
    assert buckets == {"0.005": 1, "0.01": 3, "0.025": 3, "1.0": 5, "2.5": 5, "60.0": 6,
                       "+Inf": 8}
    assert value(r, f"{h}_count", service="chat-api") == 8
    assert value(r, f"{h}_sum", service="chat-api") == pytest.approx(sum(durations_ms) / 1000)

    fam = families(r)[h]
    counts = [s.value for s in fam.samples if s.name == f"{h}_bucket"]
    assert len(counts) == len(DURATION_BUCKETS) + 1
    assert counts == sorted(counts)


def test_histogram_equals_prometheus_client_histogram_fed_one_by_one() -> None:
    rng = np.random.default_rng(7)
    durations_ms = np.concatenate([rng.lognormal(6, 2, 400), np.array(DURATION_BUCKETS) * 1000])
    m, r = sli()
    m.observe(spans(*({"duration_ms": float(d)} for d in durations_ms)))

    reference = CollectorRegistry()
    h = Histogram("ref_seconds", "reference", buckets=DURATION_BUCKETS, registry=reference)
    for d in durations_ms:
        h.observe(float(d) / 1000)
    for le in [*(str(float(b)) for b in DURATION_BUCKETS), "+Inf"]:
        assert value(r, "truecourse_request_duration_seconds_bucket", service="chat-api",
                     le=le) == reference.get_sample_value("ref_seconds_bucket", {"le": le}), le
    assert value(r, "truecourse_request_duration_seconds_sum", service="chat-api") == \
        pytest.approx(reference.get_sample_value("ref_seconds_sum", {}))


# --- label limits and nulls ------------------------------------------------------------------


def test_label_values_past_the_limit_fold_into_other_and_are_counted() -> None:
    m, r = sli(max_services=2, max_models=1, max_tools=1)
    m.observe(spans(*({"service": s} for s in ["a", "b", "a", "c", "d", "d"])))

    req = "truecourse_requests_total"
    assert value(r, req, service="a", status="ok") == 2
    assert value(r, req, service="b", status="ok") == 1
    assert value(r, req, service=OTHER, status="ok") == 3
    assert value(r, req, service="c", status="ok") is None
    assert value(r, "truecourse_sli_label_overflow_total", label="service") == 3

    # admitted values stay admitted; new ones keep folding
    m.observe(spans({"service": "b"}, {"service": "e"}))
    assert value(r, req, service="b", status="ok") == 2
    assert value(r, req, service=OTHER, status="ok") == 4
    assert value(r, "truecourse_sli_label_overflow_total", label="service") == 4

    m.observe(spans(
        {"service": "a", "operation": "chat", "model": "m1", "input_tokens": 1},
        {"service": "a", "operation": "chat", "model": "m2", "input_tokens": 2},
        {"service": "a", "operation": "chat", "model": "m3", "input_tokens": 4},
        {**CHILD, "service": "a", "operation": "tool", "tool_name": "t1", "tool_ok": True},
        {**CHILD, "service": "a", "operation": "tool", "tool_name": "t2", "tool_ok": True},
    ))
    tokens = "truecourse_tokens_total"
    assert value(r, tokens, service="a", model="m1", direction="input") == 1
    assert value(r, tokens, service="a", model=OTHER, direction="input") == 6
    assert value(r, "truecourse_sli_label_overflow_total", label="model") == 2
    assert value(r, "truecourse_tool_calls_total", service="a", tool=OTHER, ok="true") == 1
    assert value(r, "truecourse_sli_label_overflow_total", label="tool") == 1
    assert value(r, "truecourse_sli_label_overflow_total", label="provider") == 0


def test_values_on_spans_that_feed_no_family_take_no_slot() -> None:
    m, r = sli(max_services=1)
    m.observe(spans({**CHILD, "service": "internal-only"}, {"service": "real"}))
    assert value(r, "truecourse_requests_total", service="real", status="ok") == 1
    assert value(r, "truecourse_sli_label_overflow_total", label="service") == 0


def test_null_service_model_and_tool_become_empty_and_take_no_slot() -> None:
    m, r = sli(max_services=1, max_models=1)
    m.observe(spans(
        {"service": None, "operation": "chat", "provider": None, "model": None,
         "input_tokens": 3},
        {"service": "svc", "operation": "chat", "provider": "p", "model": "m", "input_tokens": 1},
        {**CHILD, "service": None, "operation": "tool", "tool_name": None, "tool_ok": False},
    ))
    assert value(r, "truecourse_requests_total", service="", status="ok") == 1
    assert value(r, "truecourse_requests_total", service="svc", status="ok") == 1
    assert value(r, "truecourse_llm_calls_total", service="", provider="", model="",
                 status="ok") == 1
    assert value(r, "truecourse_tokens_total", service="svc", model="m", direction="input") == 1
    assert value(r, "truecourse_tool_calls_total", service="", tool="", ok="false") == 1
    for label in ("service", "model", "tool", "provider"):
        assert value(r, "truecourse_sli_label_overflow_total", label=label) == 0


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_"):
        sli(max_models=-1)


# --- what is ignored -----------------------------------------------------------------------------


def test_non_span_tables_and_empty_batches_change_nothing() -> None:
    m, r = sli()
    before = generate_latest(r)
    m.observe(logs({"body": "x"}))
    m.observe(metrics({"name": "x"}))
    m.observe(EventBatch())
    m.observe(ArrowBatch("logs", logs({"body": "x"}).to_arrow()))
    m.observe(ArrowBatch.empty("spans"))
    m.observe(SpanBatch())
    assert generate_latest(r) == before


# --- exposition --------------------------------------------------------------------------------


def test_exposition_parses_with_standard_types_and_zero_siblings() -> None:
    m, r = sli()
    m.observe(sample_batch())
    fams = families(r)
    expected = {
        "truecourse_requests": "counter", "truecourse_request_duration_seconds": "histogram",
        "truecourse_llm_calls": "counter", "truecourse_llm_duration_seconds": "histogram",
        "truecourse_tokens": "counter", "truecourse_cost_usd": "counter",
        "truecourse_refusals": "counter", "truecourse_tool_calls": "counter",
        "truecourse_sli_label_overflow": "counter",
    }
    assert {name: f.type for name, f in fams.items()} == expected
    for f in fams.values():
        assert f.samples, f.name
    h = fams["truecourse_request_duration_seconds"]
    names = {s.name for s in h.samples}
    assert names == {f"{h.name}_bucket", f"{h.name}_count", f"{h.name}_sum"}
    assert {s.labels["le"] for s in h.samples if "le" in s.labels} == \
        {*(str(float(b)) for b in DURATION_BUCKETS), "+Inf"}


def test_families_register_beside_the_server_metrics_and_only_once_per_registry() -> None:
    server = PipelineMetrics()
    SliMetrics(server.registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        SliMetrics(server.registry)


def test_observe_while_scraping_from_other_threads_loses_nothing() -> None:
    m, r = sli()
    batch = sample_batch()
    stop = threading.Event()
    scrapes: list[int] = []

    def scrape() -> None:
        while not stop.is_set():
            families(r)
            scrapes.append(1)

    def feed() -> None:
        for _ in range(50):
            m.observe(batch)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    feeders = [threading.Thread(target=feed) for _ in range(4)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    stop.set()
    scraper.join()
    assert scrapes
    assert value(r, "truecourse_requests_total", service="chat-api", status="ok") == 200
    assert value(r, "truecourse_tokens_total", service="chat-api", model="gpt-4o",
                 direction="input") == 150 * 200
    assert value(r, "truecourse_request_duration_seconds_count", service="chat-api") == 400


# --- the Grafana dashboard -----------------------------------------------------------------------

_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def expressions(d: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(d) for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in d["templating"]["list"] if v["type"] == "query"]
    return exprs


def server_exposition() -> dict[str, Any]:
    """What a running server exposes: pipeline metrics with traffic, SLIs after a batch."""
    server = PipelineMetrics()
    slis = SliMetrics(server.registry)
    slis.observe(sample_batch())
    server.accepted.labels("traces").inc(11)
    server.rejected.labels("traces", "invalid").inc()
    server.queue_depth.set(2)
    server.queue_capacity.set(64)
    server.batch_seconds.observe(0.003)
    return families(server.registry)


def metric_family(name: str, fams: dict[str, Any]) -> tuple[str, str] | None:
    """The family ``name`` belongs to and its type, stripping only the suffixes its type has."""
    for f in fams.values():
        if any(name == f.name + suffix for suffix in _SUFFIXES.get(f.type, ("",))):
            return f.name, f.type
    return None


def test_dashboard_is_a_grafana_model_with_a_prometheus_input() -> None:
    d = dashboard()
    assert d["schemaVersion"] >= 39
    assert d["uid"] and d["title"]
    assert [(i["name"], i["type"], i["pluginId"]) for i in d["__inputs"]] == \
        [("DS_PROMETHEUS", "datasource", "prometheus")]
    text = DASHBOARD.read_text(encoding="utf-8")
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text)) - {d["uid"], "-- Grafana --"}
    assert uids == {"${DS_PROMETHEUS}"}

    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["service"]["query"]["query"] == \
        "label_values(truecourse_requests_total, service)"
    model_query = variables["model"]["query"]["query"]
    assert model_query.startswith("label_values(truecourse_llm_calls_total")
    assert model_query.endswith(", model)")


def test_every_panel_has_a_unique_id_a_place_and_queries() -> None:
    d = dashboard()
    ps = panels(d)
    ids = [p["id"] for p in ps]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in ps:
        g = p["gridPos"]
        assert {"h", "w", "x", "y"} <= g.keys(), p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        covered = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                   for y in range(g["y"], g["y"] + g["h"])}
        assert not covered & cells, f"{p['title']} overlaps another panel"
        cells |= covered
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        assert all(t["expr"].strip() for t in p["targets"]), p["title"]
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_every_metric_in_the_dashboard_is_exposed() -> None:
    fams = server_exposition()
    series = {s.name for f in fams.values() for s in f.samples}
    used = {m for e in expressions(dashboard()) for m in re.findall(r"truecourse_[a-z_]+", e)}
    assert used
    for name in sorted(used):
        found = metric_family(name, fams)
        assert found is not None, f"{name} is not in the exposition"
        assert name in series, f"{name} has no samples after a sample batch"
        if name.endswith("_bucket"):
            assert found[1] == "histogram", name
    for e in expressions(dashboard()):
        for m in re.findall(r"histogram_quantile\([^,]+,[^()]*\(rate\((truecourse_[a-z_]+)", e):
            assert m.endswith("_bucket"), e


def test_dashboard_covers_the_sli_and_ingest_families() -> None:
    used = {m for e in expressions(dashboard()) for m in re.findall(r"truecourse_[a-z_]+", e)}
    for name in ("truecourse_requests_total", "truecourse_request_duration_seconds_bucket",
                 "truecourse_llm_calls_total", "truecourse_llm_duration_seconds_bucket",
                 "truecourse_tokens_total", "truecourse_cost_usd_total",
                 "truecourse_refusals_total", "truecourse_tool_calls_total",
                 "truecourse_ingest_accepted_total", "truecourse_queue_depth",
                 "truecourse_write_batch_seconds_bucket"):
        assert name in used, name


def test_dashboard_variables_are_defined() -> None:
    d = dashboard()
    defined = {v["name"] for v in d["templating"]["list"]}
    for e in expressions(d):
        for var in re.findall(r"\$(\w+)", e):
            assert var.startswith("__") or var in defined, (var, e)


# --- cost smoke (a figure, not a test of speed) -------------------------------------------------


def test_observe_cost_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    ops = ["chat", "tool", "retrieval", None, "embeddings"]
    rows = [{"service": f"svc-{i % 4}", "operation": ops[i % 5], "model": f"m-{i % 3}",
             "provider": "openai", "tool_name": f"t-{i % 6}", "tool_ok": bool(i % 2),
             "duration_ms": float(rng.lognormal(5, 1.5)), "input_tokens": i, "output_tokens": 2,
             "cost_usd": 0.001, **({} if i % 10 == 0 else CHILD)} for i in range(500)]
    batch = spans(*rows)
    arrow = ArrowBatch("spans", batch.to_arrow())
    m, _ = sli()
    for b in (batch, arrow):
        m.observe(b)
        rounds = 50
        start = time.perf_counter()
        for _ in range(rounds):
            m.observe(b)
        per_batch = (time.perf_counter() - start) / rounds
        with capsys.disabled():
            print(f"\nSliMetrics.observe, 500 spans, {type(b).__name__}: "
                  f"{per_batch * 1e6:.0f} us per batch")
