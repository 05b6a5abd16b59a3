"""Client-side masking: spans are guarded in the app's process, before the exporter sends them.

``truecourse.init(..., guard=True)`` (or ``$TRUECOURSE_GUARD=1``, or a ``guard`` settings
mapping shaped like the ``guard`` processor's section of ``truecourse.yaml``) wraps the
exporter in :class:`GuardingSpanExporter`: every string attribute of a span and of its events,
and the status description, go through the same :class:`truecourse.guard.Guard` the server's
pipeline uses — same detectors, same policies (field ``attributes.<key>``), same bounds. The
original value never leaves the process; what was found is added to the span as
``truecourse.safety`` events, which the server stores and counts like its own findings.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace.status import Status

from truecourse.config.guard import GuardConfig
from truecourse.errors import InvalidInput
from truecourse.guard import Guard, RowSafety
from truecourse.model.safety import SAFETY_EVENT

ENV_GUARD = "TRUECOURSE_GUARD"


def guard_config(guard: bool | GuardConfig | Mapping[str, Any] | None,
                 env_value: str | None) -> GuardConfig | None:
    """The client-side guard settings: the argument, else ``$TRUECOURSE_GUARD``; None = off.

    Raises :class:`~truecourse.errors.InvalidInput` for settings that do not validate.
    """
    if guard is None:
        guard = (env_value or "").strip().lower() in ("1", "true", "yes", "on")
    if guard is False:
        return None
    if guard is True:
        return GuardConfig()
    if isinstance(guard, GuardConfig):
        return guard
    try:
        return GuardConfig.model_validate(dict(guard))
    except ValueError as exc:
        raise InvalidInput(f"init(guard=...) settings are invalid: {exc}",
                           hint="use the keys of the guard processor in truecourse.yaml") from exc


class GuardingSpanExporter(SpanExporter):
    """Masks spans, then hands them to ``exporter``. Thread-safe (one guard under a lock)."""

    def __init__(self, exporter: SpanExporter, config: GuardConfig) -> None:
        self.exporter = exporter
        self.guard = Guard(config)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            masked = [self._mask(span) for span in spans]
        return self.exporter.export(masked)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def _mask(self, span: ReadableSpan) -> ReadableSpan:
        safety = RowSafety()
        attributes, changed = self._attributes(span.attributes, "attributes", safety)
        events: list[Event] = []
        events_changed = False
        for event in span.events:
            ev_attrs, ev_changed = self._attributes(event.attributes, "events", safety)
            events_changed |= ev_changed
            events.append(Event(event.name, ev_attrs, event.timestamp) if ev_changed
                          else event)
        status = span.status
        if status.description:
            masked = self.guard.guard_text(status.description, "status_message", safety)
            if masked != status.description:
                status = Status(status.status_code, masked)
                changed = True
        if not safety and not changed and not events_changed:
            return span
        for found in safety.events():
            events.append(Event(SAFETY_EVENT, found, span.end_time or span.start_time))
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=attributes, events=events, links=span.links, kind=span.kind,
            status=status, start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope)

    def _attributes(self, attributes: Mapping[str, Any] | None, column: str,
                    safety: RowSafety) -> tuple[dict[str, Any], bool]:
        out: dict[str, Any] = {}
        changed = False
        for key, value in (attributes or {}).items():
            field_name = f"{column}.{key}"
            masked: Any
            if isinstance(value, str):
                masked = self.guard.guard_text(value, field_name, safety, key)
            elif isinstance(value, tuple | list) and any(isinstance(v, str) for v in value):
                items = [self.guard.guard_text(v, field_name, safety, key)
                         if isinstance(v, str) else v for v in value]
                masked = None if any(v is None for v in items) else tuple(items)
            else:
                out[key] = value
                continue
            if masked is None:  # dropped by policy
                changed = True
                continue
            changed |= masked != value
            out[key] = masked
        return out, changed
