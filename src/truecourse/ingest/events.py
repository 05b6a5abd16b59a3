"""The events receiver: deploys, config changes, flags, feedback and labels as an EventBatch.

Accepts one event object, a list of them, or ``{"events": [...]}``. Every event is validated on
its own: the valid ones are kept and the invalid ones reported with their index and reason, so one
bad event never loses the others. Raises ``InvalidInput`` only when the body itself is unusable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from truecourse.errors import InvalidInput
from truecourse.model import Event, EventBatch, event_row

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
MAX_EVENTS = 10_000


@dataclass
class EventsResult:
    batch: EventBatch
    ids: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
            msg = "kind must be one of deploy, config_change, feature_flag, feedback, label"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def events_from_json(body: bytes) -> EventsResult:
    """Validate and batch the events in a JSON body."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and "events" in doc and "kind" not in doc:
        items = doc["events"]
        if not isinstance(items, list):
            raise InvalidInput("'events' must be a list of event objects")
    elif isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        items = [doc]
    else:
        raise InvalidInput("body must be an event object, a list of them, or {\"events\": [...]}")
    if len(items) > MAX_EVENTS:
        raise InvalidInput(f"{len(items)} events in one request; at most {MAX_EVENTS}",
                           hint="split the request")
    result = EventsResult(EventBatch())
    cols = result.batch.columns
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append({"index": i, "error": "event must be an object"})
            continue
        try:
            ev = _ADAPTER.validate_python(item)
        except ValidationError as exc:
            result.rejected.append({"index": i, "error": _describe(exc)})
            continue
        row = event_row(ev)
        for name, col in cols.items():
            col.append(row[name])
        result.ids.append(row["id"])
    return result
