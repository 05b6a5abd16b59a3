"""``truecourse_safety_findings_total``: safety events counted per service, kind and type.

Fed like the SLI metrics, from every committed batch (so rows guarded in ingest worker processes
or on another ingest node count the same): it reads the safety events the guard stage attached
— span events named ``truecourse.safety`` on spans, the ``truecourse.safety`` attribute on logs.
Rows without one are skipped by a substring test over the Arrow column; only the rows that have
one are parsed. Labels: ``service`` (at most ``max_services`` values, later ones reported as
``__other__``), ``kind`` (pii, secret, prompt_injection, unscanned) and ``type`` (EMAIL, ...).
The value is the number of findings (a prompt-injection event counts one).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, Metric

from truecourse.model.batch import Batch
from truecourse.model.safety import SAFETY_EVENT

__all__ = ["SafetyMetrics"]

OTHER = "__other__"
_SOURCE = {"spans": "events", "logs": "attributes"}


class _Stored(Protocol):
    table: str

    def __len__(self) -> int: ...

    def to_arrow(self) -> pa.Table: ...


class SafetyMetrics:
    """A Prometheus collector of safety findings; ``observe`` each committed batch.

    Thread-safe. Cost: one substring scan of the events/attributes column per batch, plus
    JSON parsing of the rows that carry safety events.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 max_services: int = 50) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._services: set[str] = set()
        self.max_services = max_services
        if registry is not None:
            registry.register(self)

    def observe(self, batch: Batch | _Stored) -> None:
        """Count the safety events in one committed spans or logs batch (others are ignored)."""
        column = _SOURCE.get(batch.table)
        if column is None or len(batch) == 0:
            return
        if isinstance(batch, Batch):
            values, services = batch.columns[column], batch.columns["service"]
            rows = [i for i, v in enumerate(values) if v and SAFETY_EVENT in v]
            picked = [(services[i], values[i]) for i in rows]
        else:
            table = batch.to_arrow()
            hits = pc.match_substring(table.column(column), SAFETY_EVENT)
            selected = table.filter(pc.fill_null(hits, False))
            if not selected.num_rows:
                return
            picked = list(zip(selected.column("service").to_pylist(),
                              selected.column(column).to_pylist(), strict=True))
        if not picked:
            return
        found: Counter[tuple[str, str, str]] = Counter()
        for service, text in picked:
            for event in _safety_events(batch.table, text):
                found[(service or "", str(event.get("safety.kind", "")),
                       str(event.get("safety.type", "")))] += int(event.get("safety.count", 1))
        with self._lock:
            for (service, kind, entity_type), n in found.items():
                self._counts[(self._admit(service), kind, entity_type)] += n

    def _admit(self, service: str) -> str:
        if service in self._services or not service:
            return service
        if len(self._services) >= self.max_services:
            return OTHER
        self._services.add(service)
        return service

    def totals(self) -> dict[tuple[str, str, str], int]:
        """``(service, kind, type) -> findings`` so far."""
        with self._lock:
            return dict(self._counts)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "truecourse_safety_findings", "Safety findings stored (PII, secrets, prompt "
            "injection, unscanned values), by service, kind and type.",
            labels=["service", "kind", "type"])
        for labels, n in sorted(self.totals().items()):
            family.add_metric(list(labels), float(n))
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily("truecourse_safety_findings", "", labels=[
            "service", "kind", "type"])


def _safety_events(table: str, text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if table == "spans" and isinstance(parsed, list):
        return [e["attributes"] for e in parsed if isinstance(e, dict)
                and e.get("name") == SAFETY_EVENT and isinstance(e.get("attributes"), dict)]
    if table == "logs" and isinstance(parsed, dict):
        events = parsed.get(SAFETY_EVENT)
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    return []
