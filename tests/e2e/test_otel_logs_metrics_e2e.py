"""End to end: the real OpenTelemetry SDK log and metric exporters against a real server."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from conftest import ServerProcess

pytestmark = pytest.mark.e2e


def test_logs_from_the_otel_logging_handler(server: ServerProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "log-app"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{server.base_url}/v1/logs")))
    logger = logging.getLogger("e2e-logs")
    logger.propagate = False
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.warning("retrieval index stale for tenant %s", "acme")
        logger.error("model call failed: %s", "rate limited")
        provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    deadline = time.time() + 30
    while time.time() < deadline:
        items = httpx.get(f"{server.base_url}/api/v1/logs", params={"service": "log-app"},
                          timeout=10).json()["items"]
        if len(items) == 2:
            break
        time.sleep(0.1)
    bodies = {i["body"]: i for i in items}
    assert set(bodies) == {"retrieval index stale for tenant acme",
                           "model call failed: rate limited"}
    assert bodies["model call failed: rate limited"]["severity_text"] == "ERROR"
    assert bodies["model call failed: rate limited"]["severity_number"] == 17
    errors = httpx.get(f"{server.base_url}/api/v1/logs",
                       params={"service": "log-app", "severity_min": 17}, timeout=10).json()
    assert [i["body"] for i in errors["items"]] == ["model call failed: rate limited"]


def test_metrics_from_the_otel_meter_provider(server: ServerProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{server.base_url}/v1/metrics"),
        export_interval_millis=60_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "metric-app"}),
                             metric_readers=[reader])
    meter = provider.get_meter("e2e")
    tokens = meter.create_counter("gen_ai.client.token.usage", unit="{token}")
    latency = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    tokens.add(120, {"gen_ai.token.type": "input"})
    latency.record(0.8, {"gen_ai.request.model": "gpt-4o-mini"})
    latency.record(1.6, {"gen_ai.request.model": "gpt-4o-mini"})
    assert provider.force_flush(10_000)
    provider.shutdown()
    deadline = time.time() + 30
    points: list[dict[str, object]] = []
    while time.time() < deadline:
        points = httpx.get(f"{server.base_url}/api/v1/metric-points",
                           params={"service": "metric-app"}, timeout=10).json()["items"]
        if len(points) == 2:
            break
        time.sleep(0.1)
    by_name = {p["name"]: p for p in points}
    counter = by_name["gen_ai.client.token.usage"]
    assert (counter["kind"], counter["value"], counter["is_monotonic"]) == ("sum", 120.0, True)
    assert counter["attributes"] == {"gen_ai.token.type": "input"}
    hist = by_name["gen_ai.client.operation.duration"]
    assert (hist["kind"], hist["count"], hist["sum"]) == ("histogram", 2, pytest.approx(2.4))
    assert hist["unit"] == "s" and sum(hist["bucket_counts"]) == 2
