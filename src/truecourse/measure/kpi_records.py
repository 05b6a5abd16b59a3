"""The records operational KPIs are computed from, and the JSON file format that carries them.

Records are frozen value objects that check themselves when built: timestamps must carry a UTC
offset and are normalized to UTC, enum fields accept only their listed values, amounts are finite
and not negative, and the order of an incident's timestamps is checked. A broken record raises
:class:`~truecourse.errors.InvalidInput` naming the record id and the field.

A records file (:func:`load_records`) is one JSON object::

    {"description": "...",
     "incidents": [{"id": "inc-1", "service": "chat", "started_at": "2025-01-06T10:00:00Z",
                    "detected_at": "2025-01-06T10:05:00Z", ...}],
     "alerts": [...], "changes": [...], "actions": [...], "drift_checks": [...]}

Every section is optional. Keys that start with ``_`` (and ``description``) are annotations, such
as a test's expected answers, and are ignored; any other unknown key is an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from truecourse.errors import InvalidInput

__all__ = [
    "ACTION_DECISIONS",
    "ACTION_EXECUTORS",
    "ACTION_PROPOSERS",
    "ACTION_RISKS",
    "CHANGE_KINDS",
    "ActionRecord",
    "AlertRecord",
    "Change",
    "DriftCheck",
    "Incident",
    "KpiRecords",
    "load_records",
    "parse_records",
]

Proposer = Literal["ai", "human"]
Risk = Literal["low", "medium", "high"]
Decision = Literal["allowed", "approved", "rejected", "modified", "denied"]
Executor = Literal["auto", "human"]

ACTION_PROPOSERS: tuple[str, ...] = typing.get_args(Proposer)
ACTION_RISKS: tuple[str, ...] = typing.get_args(Risk)
ACTION_DECISIONS: tuple[str, ...] = typing.get_args(Decision)
ACTION_EXECUTORS: tuple[str, ...] = typing.get_args(Executor)
#: Deploys and config changes as the events API records them, plus releases of AI artifacts.
CHANGE_KINDS: tuple[str, ...] = (
    "deploy", "config_change", "feature_flag", "prompt", "model", "index",
)
# Decisions after which an action may not run: a person rejected it or policy denied it.
_NOT_RUN = ("rejected", "denied")


def unknown_value(what: str, value: object, choices: Sequence[str]) -> str:
    """``unknown decision 'aproved' — did you mean 'approved'? (valid: ...)``."""
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    guess = f" — did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {value!r}{guess} (valid: {', '.join(choices)})"


def _bad(label: str, field: str, problem: str, hint: str | None = None) -> InvalidInput:
    return InvalidInput(f"{label}: {field} {problem}", hint=hint)


def _utc(label: str, field: str, value: object, *, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, datetime):
        raise _bad(label, field, f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(label, field, f"{value.isoformat()} has no UTC offset",
                   "give timestamps with an offset, e.g. 2025-01-06T10:00:00Z")
    return value.astimezone(UTC)


def _choice(label: str, field: str, value: object, choices: Sequence[str],
            *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value not in choices:
        raise InvalidInput(f"{label}: " + unknown_value(field, value, choices))


def _flag(label: str, field: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bool):
        raise _bad(label, field, f"must be true or false, not {value!r}")


def _amount(label: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(label, field, f"must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise _bad(label, field, f"must be a finite number >= 0, not {value!r}")
    return float(value)


def _name(label: str, field: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise _bad(label, field, f"must be a non-empty string, not {value!r}")


def _not_before(label: str, later: str, when: datetime | None, earlier: str,
                than: datetime | None) -> None:
    if when is not None and than is not None and when < than:
        raise _bad(label, later, f"{when.isoformat()} is before {earlier} {than.isoformat()}")


def _set(record: object, field: str, value: object) -> None:
    object.__setattr__(record, field, value)


@dataclass(frozen=True)
class Incident:
    """One incident: when impact started, was detected, acknowledged and resolved, and its cost.

    ``started_at`` is when user impact began (often learned after the fact), ``detected_at`` when
    an alert or a person opened the incident, ``resolved_at`` when impact ended (service
    restored), not when the record was closed. ``resolved_at`` may fall before ``detected_at``
    when an incident is found after it ended. ``fingerprint`` is the correlation key the incident
    was grouped by (same key = same problem); ``cause_change_id`` the change it is attributed to.
    The cost parts are what was attributed to this incident; an unmeasured part counts as zero.
    """

    id: str
    service: str
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    fingerprint: str | None = None
    cause_change_id: str | None = None
    extra_model_cost_usd: float = 0.0
    responder_hours: float = 0.0
    assistant_cost_usd: float = 0.0

    def __post_init__(self) -> None:
        _name("incident", "id", self.id)
        label = f"incident {self.id!r}"
        _name(label, "service", self.service)
        _name(label, "fingerprint", self.fingerprint, optional=True)
        _name(label, "cause_change_id", self.cause_change_id, optional=True)
        _set(self, "started_at", _utc(label, "started_at", self.started_at))
        for field in ("detected_at", "acknowledged_at", "resolved_at"):
            _set(self, field, _utc(label, field, getattr(self, field),
                                   optional=field != "detected_at"))
        for field in ("extra_model_cost_usd", "responder_hours", "assistant_cost_usd"):
            _set(self, field, _amount(label, field, getattr(self, field)))
        _not_before(label, "detected_at", self.detected_at, "started_at", self.started_at)
        _not_before(label, "acknowledged_at", self.acknowledged_at, "detected_at",
                    self.detected_at)
        _not_before(label, "resolved_at", self.resolved_at, "started_at", self.started_at)


@dataclass(frozen=True)
class AlertRecord:
    """One raw alert firing, and what alerting did with it.

    ``notified`` is true for the firing that caused a notification to be sent; a firing folded
    into an existing group, deduplicated, silenced or inhibited is false. ``incident_id`` links
    the alert to the incident it opened or was attached to.
    """

    id: str
    fingerprint: str
    fired_at: datetime
    notified: bool
    incident_id: str | None = None

    def __post_init__(self) -> None:
        _name("alert", "id", self.id)
        label = f"alert {self.id!r}"
        _name(label, "fingerprint", self.fingerprint)
        _name(label, "incident_id", self.incident_id, optional=True)
        _set(self, "fired_at", _utc(label, "fired_at", self.fired_at))
        _flag(label, "notified", self.notified)


@dataclass(frozen=True)
class Change:
    """One change to production: a deploy, config change, flag flip or AI artifact release."""

    id: str
    kind: str
    service: str
    at: datetime
    rolled_back_at: datetime | None = None

    @property
    def rolled_back(self) -> bool:
        return self.rolled_back_at is not None

    def __post_init__(self) -> None:
        _name("change", "id", self.id)
        label = f"change {self.id!r}"
        _choice(label, "kind", self.kind, CHANGE_KINDS)
        _name(label, "service", self.service)
        _set(self, "at", _utc(label, "at", self.at))
        _set(self, "rolled_back_at", _utc(label, "rolled_back_at", self.rolled_back_at,
                                          optional=True))
        _not_before(label, "rolled_back_at", self.rolled_back_at, "at", self.at)


@dataclass(frozen=True)
class ActionRecord:
    """One remediation action through the harness: who proposed it, what was decided, what ran.

    ``decision`` is None while pending: ``allowed`` means policy let it run with no approval,
    ``approved``/``rejected``/``modified`` are a person's answer, ``denied`` is policy refusing
    it. ``executed_by`` is None when it never ran; ``verified`` is None when it was not (yet)
    verified. ``rolled_back`` means it was undone after running, by a person or by the harness.
    """

    id: str
    proposed_by: Proposer
    risk: Risk
    proposed_at: datetime
    decision: Decision | None = None
    decided_at: datetime | None = None
    executed_by: Executor | None = None
    verified: bool | None = None
    rolled_back: bool = False

    def __post_init__(self) -> None:
        _name("action", "id", self.id)
        label = f"action {self.id!r}"
        _choice(label, "proposed_by", self.proposed_by, ACTION_PROPOSERS)
        _choice(label, "risk", self.risk, ACTION_RISKS)
        _choice(label, "decision", self.decision, ACTION_DECISIONS, optional=True)
        _choice(label, "executed_by", self.executed_by, ACTION_EXECUTORS, optional=True)
        _flag(label, "verified", self.verified, optional=True)
        _flag(label, "rolled_back", self.rolled_back)
        _set(self, "proposed_at", _utc(label, "proposed_at", self.proposed_at))
        _set(self, "decided_at", _utc(label, "decided_at", self.decided_at, optional=True))
        _not_before(label, "decided_at", self.decided_at, "proposed_at", self.proposed_at)
        if (self.decision is None) != (self.decided_at is None):
            raise _bad(label, "decided_at", "and decision must be given together",
                       "a pending action has neither")
        if self.executed_by is not None and (self.decision is None or self.decision in _NOT_RUN):
            raise _bad(label, "executed_by", f"is {self.executed_by!r} but decision is "
                       f"{self.decision!r}", "only an allowed, approved or modified action runs")
        if self.executed_by is None and (self.verified is not None or self.rolled_back):
            raise _bad(label, "executed_by", "is null but the action is verified or rolled back",
                       "an action that never ran cannot be verified or rolled back")


@dataclass(frozen=True)
class DriftCheck:
    """One scheduled drift check of a model, and whether it found drift."""

    model: str
    at: datetime
    drifted: bool

    def __post_init__(self) -> None:
        _name("drift check", "model", self.model)
        label = f"drift check of model {self.model!r}"
        _set(self, "at", _utc(label, "at", self.at))
        _flag(f"{label} at {self.at.isoformat()}", "drifted", self.drifted)


def unique_ids(kind: str,
               records: Iterable[Incident | AlertRecord | Change | ActionRecord]) -> None:
    """Raise InvalidInput when two records share an id: a duplicate would be counted twice."""
    repeated = [i for i, n in Counter(r.id for r in records).items() if n > 1]
    if repeated:
        raise InvalidInput(f"{kind} id {repeated[0]!r} appears more than once",
                           hint="each record must have its own id")


@dataclass(frozen=True)
class KpiRecords:
    """Every kind of record the KPIs read, as tuples; ids are unique within each kind."""

    incidents: tuple[Incident, ...] = ()
    alerts: tuple[AlertRecord, ...] = ()
    changes: tuple[Change, ...] = ()
    actions: tuple[ActionRecord, ...] = ()
    drift_checks: tuple[DriftCheck, ...] = ()

    def __post_init__(self) -> None:
        for section, kind in _SECTIONS.items():
            records = tuple(getattr(self, section))
            for record in records:
                if not isinstance(record, kind):
                    raise InvalidInput(f"{section} holds a {type(record).__name__}, "
                                       f"not a {kind.__name__}")
            _set(self, section, records)
        unique_ids("incident", self.incidents)
        unique_ids("alert", self.alerts)
        unique_ids("change", self.changes)
        unique_ids("action", self.actions)


_SECTIONS: dict[str, type] = {
    "incidents": Incident, "alerts": AlertRecord, "changes": Change,
    "actions": ActionRecord, "drift_checks": DriftCheck,
}


def _json_value(where: str, name: str, hint: Any, value: object) -> object:
    """Convert one JSON value to the field's Python type, or say what was wrong with it."""
    optional = type(None) in typing.get_args(hint)
    base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
    if value is None:
        if optional:
            return None
        raise InvalidInput(f"{where}.{name} must not be null")
    if base is datetime:
        if not isinstance(value, str):
            raise InvalidInput(f"{where}.{name} must be an ISO 8601 timestamp string, "
                               f"not {value!r}")
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"{where}.{name} is not an ISO 8601 timestamp: {value!r}",
                               hint="e.g. 2025-01-06T10:00:00Z") from exc
    return value  # the record's own checks judge strings, numbers, flags and enum values


def _record(kind: type, where: str, item: object) -> object:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be a JSON object, not {type(item).__name__}")
    hints = typing.get_type_hints(kind)
    fields = {f.name: f for f in dataclasses.fields(kind)}
    for key in item:
        if key not in fields:
            raise InvalidInput(f"{where}: " + unknown_value("field", key, list(fields)))
    missing = [name for name, f in fields.items()
               if name not in item and f.default is dataclasses.MISSING]
    if missing:
        raise InvalidInput(f"{where}: missing required field {missing[0]!r}")
    values = {name: _json_value(where, name, hints[name], v) for name, v in item.items()}
    try:
        return kind(**values)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", hint=exc.hint) from exc


def parse_records(data: object, *, source: str = "records") -> KpiRecords:
    """Build :class:`KpiRecords` from a decoded records document (see the module docstring).

    Errors are :class:`InvalidInput` whose message starts with ``source`` and the JSON path of
    the item at fault, e.g. ``kpis.json: incidents[2]: incident 'inc-3': resolved_at ...``.
    """
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: must be a JSON object with record sections, "
                           f"not {type(data).__name__}")
    sections: dict[str, list[object]] = {}
    for key, items in data.items():
        if key == "description" or key.startswith("_"):
            continue
        kind = _SECTIONS.get(key)
        if kind is None:
            raise InvalidInput(f"{source}: " + unknown_value("section", key, list(_SECTIONS)),
                               hint="annotations go under keys that start with '_'")
        if not isinstance(items, list):
            raise InvalidInput(f"{source}: {key} must be a JSON array, not "
                               f"{type(items).__name__}")
        sections[key] = [_record(kind, f"{source}: {key}[{i}]", item)
                         for i, item in enumerate(items)]
    try:
        return KpiRecords(**{k: tuple(v) for k, v in sections.items()})  # type: ignore[arg-type]
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.message}", hint=exc.hint) from exc


def load_records(path: str | Path) -> KpiRecords:
    """Read a JSON records file; InvalidInput names the file and what is wrong in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read KPI records file {str(path)!r}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                           hint=str(path)) from exc
    return parse_records(data, source=path.name)

