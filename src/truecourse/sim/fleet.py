"""A simulated AI fleet that sends realistic telemetry through the real ingest endpoints.

Four apps (a RAG support assistant, a fraud classifier, a recommender and an order agent) and
four dependencies (orders-api, vector-store, llm-gateway, feature-store) emit spans and logs with
the real OpenTelemetry SDK (OTLP protobuf over HTTP) and events as JSON, on *simulated* time:
:meth:`Fleet.emit` produces the traffic of one step ``[t0, t1)`` of event time, as fast as the
machine allows, under the knobs of :class:`~truecourse.sim.effects.Effects`.

Everything random comes from ``numpy``'s PCG64 seeded with ``seed`` and the step's start, trace
and span ids included, so the same seed and the same calls give the same telemetry.

Lifecycle: ``Fleet(...)`` checks the server answers; ``emit`` / ``deploy`` / ``config_change``
send and return once the server acknowledged; ``shutdown`` (idempotent) releases everything.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import numpy as np
import requests
from opentelemetry._logs import Logger
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import (
    LoggerProvider,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Tracer

from truecourse.errors import RetryableError
from truecourse.sim.apps import APPS, Step, iso
from truecourse.sim.effects import Effects
from truecourse.sim.traffic import BASE_RATE_PER_MIN, SeededIds, seasonality

__all__ = [
    "SERVICES", "TOOLS", "Fleet", "FleetError", "MemorySink", "OtlpSink", "StepCounts",
    "TelemetrySink",
]

#: the simulated service catalog, in ``truecourse.yaml`` ``catalog.services`` shape
SERVICES: dict[str, dict[str, Any]] = {
    "support-assistant": {
        "owner": "maya.chen@example.com", "team": "support-ai", "tier": 1,
        "oncall": "support-ai-pager",
        "dependencies": ["vector-store", "llm-gateway", "orders-api"],
        "description": "RAG customer-support assistant: knowledge-base retrieval, order tools, "
                       "one LLM answer per message."},
    "fraud-scorer": {
        "owner": "raj.patel@example.com", "team": "risk-ml", "tier": 1,
        "oncall": "risk-ml-pager", "dependencies": ["feature-store"],
        "description": "Gradient-boosted fraud classifier scoring card transactions."},
    "recommender": {
        "owner": "lena.fischer@example.com", "team": "discovery", "tier": 2,
        "oncall": "discovery-slack", "dependencies": ["feature-store"],
        "description": "Two-tower product recommender; latency sensitive, high volume."},
    "order-agent": {
        "owner": "sam.okafor@example.com", "team": "support-ai", "tier": 2,
        "oncall": "support-ai-pager", "dependencies": ["llm-gateway", "orders-api"],
        "description": "Multi-step agent resolving order tasks with tools and retries."},
    "orders-api": {
        "owner": "commerce@example.com", "team": "commerce", "tier": 1,
        "oncall": "commerce-pager", "dependencies": [],
        "description": "Order service behind the order_lookup and issue_refund tools."},
    "vector-store": {
        "owner": "platform@example.com", "team": "platform", "tier": 2,
        "oncall": "platform-pager", "dependencies": [],
        "description": "Qdrant cluster serving the knowledge-base index."},
    "llm-gateway": {
        "owner": "platform@example.com", "team": "platform", "tier": 1,
        "oncall": "platform-pager", "dependencies": ["openai", "anthropic"],
        "description": "Proxy in front of the model providers (keys, quotas, retries)."},
    "feature-store": {
        "owner": "data-platform@example.com", "team": "data-platform", "tier": 2,
        "oncall": "data-platform-slack", "dependencies": [],
        "description": "Online features for fraud scoring and recommendations."},
}

#: the tools the AI apps call
TOOLS: tuple[str, ...] = ("order_lookup", "issue_refund", "search_kb", "web_search")

INITIAL_VERSION = "2026.11.1"
INITIAL_PROMPTS = {"support-assistant": "support-v12", "order-agent": "agent-v4"}
INITIAL_INDEX = "kb-2026-11-01"

_SPANS_PER_EXPORT = 2000
_LOGS_PER_EXPORT = 5000
_EVENTS_PER_POST = 10_000
_HINT = "start one with `truecourse serve`"


class FleetError(RetryableError):
    """The fleet could not deliver telemetry: the server is unreachable or refused it."""


@dataclass
class StepCounts:
    """What one call sent: spans, log records, events, and entry requests per service."""

    spans: int
    logs: int
    events: int
    requests: dict[str, int] = field(default_factory=dict)


class TelemetrySink(Protocol):
    """Where the fleet's telemetry goes; each method returns once it is acknowledged and
    raises :class:`FleetError` when it is not."""

    def export_spans(self, spans: Sequence[ReadableSpan]) -> None: ...
    def export_logs(self, records: Sequence[ReadableLogRecord]) -> None: ...
    def post_events(self, events: Sequence[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class _RecordingSession(requests.Session):
    """The exporters' HTTP session, remembering why the last request failed."""

    last_failure: str | None = None

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        except requests.ConnectionError as exc:
            self.last_failure = "connection refused" if "refused" in str(exc).lower() \
                else f"connection failed ({type(exc).__name__})"
            raise
        except requests.Timeout:
            self.last_failure = "timed out"
            raise
        if response.ok:
            self.last_failure = None
        else:
            self.last_failure = f"HTTP {response.status_code}: {response.text[:200]}"
        return response


class OtlpSink:
    """The real thing: OTLP/HTTP protobuf exporters and ``POST /api/v1/events``."""

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None,
                 timeout_s: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._session = _RecordingSession()
        self._spans = OTLPSpanExporter(endpoint=f"{self.endpoint}/v1/traces", headers=headers,
                                       timeout=timeout_s, session=self._session)
        self._logs = OTLPLogExporter(endpoint=f"{self.endpoint}/v1/logs", headers=headers,
                                     timeout=timeout_s, session=self._session)
        self._http = httpx.Client(headers=headers, timeout=timeout_s)

    def _failed(self, what: str, path: str) -> FleetError:
        reason = self._session.last_failure or "the exporter gave up"
        if reason == "connection refused" or reason.startswith("connection failed"):
            return FleetError(f"cannot reach the TrueCourse server at {self.endpoint}: {reason} "
                              f"(exporting {what} to {path})", hint=_HINT)
        return FleetError(f"the TrueCourse server at {self.endpoint} did not accept {what} "
                          f"on {path}: {reason}")

    def export_spans(self, spans: Sequence[ReadableSpan]) -> None:
        for i in range(0, len(spans), _SPANS_PER_EXPORT):
            chunk = spans[i:i + _SPANS_PER_EXPORT]
            if self._spans.export(chunk) is not SpanExportResult.SUCCESS:
                raise self._failed(f"{len(chunk)} spans", "/v1/traces")

    def export_logs(self, records: Sequence[ReadableLogRecord]) -> None:
        for i in range(0, len(records), _LOGS_PER_EXPORT):
            chunk = records[i:i + _LOGS_PER_EXPORT]
            if self._logs.export(chunk) is not LogRecordExportResult.SUCCESS:
                raise self._failed(f"{len(chunk)} log records", "/v1/logs")

    def post_events(self, events: Sequence[dict[str, Any]]) -> None:
        url = f"{self.endpoint}/api/v1/events"
        for i in range(0, len(events), _EVENTS_PER_POST):
            chunk = list(events[i:i + _EVENTS_PER_POST])
            try:
                response = self._http.post(url, json=chunk)
            except httpx.HTTPError as exc:
                raise FleetError(f"cannot reach the TrueCourse server at {self.endpoint}: "
                                 f"{_reason(exc)} (posting {len(chunk)} events)",
                                 hint=_HINT) from exc
            if response.status_code != 200:
                raise FleetError(f"the TrueCourse server at {self.endpoint} answered "
                                 f"{response.status_code} to POST /api/v1/events: "
                                 f"{response.text[:300]}")
            rejected = response.json().get("rejected") or []
            if rejected:
                raise FleetError(f"the TrueCourse server at {self.endpoint} rejected "
                                 f"{len(rejected)} of {len(chunk)} events: {rejected[:3]}")

    def close(self) -> None:
        self._spans.shutdown()
        self._logs.shutdown()
        self._http.close()


class MemorySink:
    """Keeps everything in memory (tests, dry runs); never fails."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.logs: list[ReadableLogRecord] = []
        self.events: list[dict[str, Any]] = []

    def export_spans(self, spans: Sequence[ReadableSpan]) -> None:
        self.spans.extend(spans)

    def export_logs(self, records: Sequence[ReadableLogRecord]) -> None:
        self.logs.extend(records)

    def post_events(self, events: Sequence[dict[str, Any]]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect ({exc})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


class _CollectSpans(SpanProcessor):
    """Keeps ended spans for the fleet to export in large batches on its own thread."""

    def __init__(self, into: list[ReadableSpan]) -> None:
        self.into = into

    def on_end(self, span: ReadableSpan) -> None:
        self.into.append(span)


class _CollectLogs(LogRecordProcessor):
    def __init__(self, into: list[ReadableLogRecord]) -> None:
        self.into = into

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.into.append(ReadableLogRecord(
            log_record=log_record.log_record,
            resource=log_record.resource or Resource.get_empty(),
            instrumentation_scope=log_record.instrumentation_scope, limits=log_record.limits))

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _ns(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError(f"{at!r} is naive: pass a timezone-aware (UTC) datetime")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class Fleet:
    """The simulated fleet; see the module docstring.

    ``sink`` replaces the OTLP/HTTP delivery (e.g. :class:`MemorySink`); without it the
    constructor checks ``GET {endpoint}/healthz`` and raises :class:`FleetError` when the
    server cannot be reached.
    """

    def __init__(self, endpoint: str, *, seed: int, rate: float = 1.0, env: str = "prod",
                 headers: dict[str, str] | None = None, timeout_s: float = 30.0,
                 sink: TelemetrySink | None = None) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        self.endpoint = endpoint.rstrip("/")
        self.seed = seed
        self.rate = rate
        self.env = env
        if sink is None:
            _check_reachable(self.endpoint, headers, min(timeout_s, 5.0))
            sink = OtlpSink(self.endpoint, headers, timeout_s)
        self._sink = sink
        self._ids = SeededIds(np.random.Generator(np.random.PCG64(seed)))
        self._spans: list[ReadableSpan] = []
        self._logs: list[ReadableLogRecord] = []
        self._providers: dict[tuple[str, str], tuple[TracerProvider, Tracer,
                                                     LoggerProvider, Logger]] = {}
        self._versions = dict.fromkeys(SERVICES, INITIAL_VERSION)
        self._labels: list[tuple[int, dict[str, Any]]] = []
        self._closed = False

    # -- providers per deployed version ---------------------------------------------------------

    def _provider(self, service: str) -> tuple[TracerProvider, Tracer, LoggerProvider, Logger]:
        key = (service, self._versions[service])
        found = self._providers.get(key)
        if found is None:
            resource = Resource.create({
                "service.name": service, "service.version": key[1],
                "deployment.environment.name": self.env, "telemetry.sdk.language": "python",
                "host.name": f"{service}-{zlib.crc32(service.encode()) % 1000:03d}"})
            tracer_provider = TracerProvider(resource=resource, id_generator=self._ids,
                                             shutdown_on_exit=False)
            tracer_provider.add_span_processor(_CollectSpans(self._spans))
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            logger_provider.add_log_record_processor(_CollectLogs(self._logs))
            found = (tracer_provider, tracer_provider.get_tracer("truecourse.sim", "1.0"),
                     logger_provider, logger_provider.get_logger("truecourse.sim", "1.0"))
            self._providers[key] = found
        return found

    def _tracer(self, service: str) -> Tracer:
        return self._provider(service)[1]

    def _logger(self, service: str) -> Logger:
        return self._provider(service)[3]

    # -- the public surface ---------------------------------------------------------------------

    def emit(self, t0: datetime, t1: datetime, effects: Effects) -> StepCounts:
        """Generate all traffic whose requests START in ``[t0, t1)`` under ``effects``, send it,
        and return once the server acknowledged all of it. Raises :class:`FleetError` when any
        export or event post failed (that step's telemetry is then dropped, not retried)."""
        self._open()
        start, end = _ns(t0), _ns(t1)
        if end <= start:
            raise ValueError(f"empty step: t1 {t1.isoformat()} is not after t0 {t0.isoformat()}")
        seeds = np.random.SeedSequence([self.seed & (2**63 - 1), start])
        traffic_seed, id_seed = seeds.spawn(2)
        rng = np.random.Generator(np.random.PCG64(traffic_seed))
        self._ids.rng = np.random.Generator(np.random.PCG64(id_seed))
        prompts = {**INITIAL_PROMPTS, **effects.prompt_version}
        step = Step(rng, effects, tracer=self._tracer, logger=self._logger,
                    version=self._versions.__getitem__, env=self.env, prompt_versions=prompts,
                    index_version=effects.index_version or INITIAL_INDEX, labels=self._labels)
        minutes = (end - start) / 60e9
        busy = seasonality(datetime.fromtimestamp((start + end) / 2e9, UTC))
        requests_by_service: dict[str, int] = {}
        for service, app in APPS.items():
            count = int(rng.poisson(BASE_RATE_PER_MIN[service] * minutes * busy * self.rate))
            requests_by_service[service] = count
            offsets = np.sort(rng.integers(0, end - start, count))
            for offset in offsets.tolist():
                app(step, start + offset)
        due = [event for at, event in self._labels if at < end]
        self._labels[:] = [(at, event) for at, event in self._labels if at >= end]
        events = step.events + due
        spans, logs = self._spans[:], self._logs[:]
        self._spans.clear()
        self._logs.clear()
        self._sink.export_spans(spans)
        self._sink.export_logs(logs)
        if events:
            self._sink.post_events(events)
        return StepCounts(spans=len(spans), logs=len(logs), events=len(events),
                          requests=requests_by_service)

    def deploy(self, service: str, version: str, at: datetime, *, summary: str | None = None,
               actor: str = "ci") -> None:
        """Post a deploy event for ``service`` at ``at``; its spans emitted afterwards carry
        ``service.version=version``."""
        self._open()
        previous = self._known(service)
        self._versions[service] = version
        event: dict[str, Any] = {
            "kind": "deploy", "id": f"deploy-{service}-{version}-{_ns(at)}", "time": iso(_ns(at)),
            "service": service, "env": self.env, "version": version,
            "previous_version": previous, "actor": actor,
            "commit": f"{zlib.crc32(f'{service}@{version}'.encode()):08x}"}
        if summary:
            event["summary"] = summary
        self._sink.post_events([event])

    def config_change(self, service: str, key: str, old: Any, new: Any, at: datetime) -> None:
        """Post a config_change event: ``key`` of ``service`` went from ``old`` to ``new``."""
        self._open()
        version = self._known(service)
        self._sink.post_events([{
            "kind": "config_change", "id": f"config-{service}-{key}-{_ns(at)}",
            "time": iso(_ns(at)), "service": service, "env": self.env, "version": version,
            "key": key, "old_value": old, "new_value": new, "actor": "ops"}])

    def versions(self) -> dict[str, str]:
        """The version deployed now, per service."""
        return dict(self._versions)

    def shutdown(self) -> None:
        """Shut every provider and the sink down; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for tracer_provider, _, logger_provider, _ in self._providers.values():
            tracer_provider.shutdown()
            logger_provider.shutdown()
        self._sink.close()

    def _open(self) -> None:
        if self._closed:
            raise FleetError("the fleet was shut down; create a new Fleet")

    def _known(self, service: str) -> str:
        try:
            return self._versions[service]
        except KeyError:
            raise ValueError(f"unknown service {service!r}; the fleet has "
                             f"{', '.join(SERVICES)}") from None


def _check_reachable(endpoint: str, headers: dict[str, str] | None, timeout_s: float) -> None:
    try:
        response = httpx.get(f"{endpoint}/healthz", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise FleetError(f"cannot reach the TrueCourse server at {endpoint}: {_reason(exc)}",
                         hint=_HINT) from exc
    if response.status_code != 200:
        raise FleetError(f"the TrueCourse server at {endpoint} answered "
                         f"{response.status_code} to GET /healthz", hint=_HINT)
