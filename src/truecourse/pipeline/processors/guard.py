"""``guard``: masks PII and secrets in the guarded columns and records safety events.

The work per value is :class:`truecourse.guard.Guard`'s (regex rules, then the validated
detectors, then the masking policy); this stage walks the columns of a batch, rewrites only
the columns that changed (the others are shared, not copied), scores prompt injection on the
configured columns (before masking, on what the model saw), and attaches what it found to the
row: a ``truecourse.safety`` span event per finding group on spans, a ``truecourse.safety``
attribute (a list) on logs. The raw values are never part of a safety event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from truecourse.config import GuardConfig
from truecourse.guard import Guard, Masker, RowSafety
from truecourse.model import TABLE_COLUMNS, Batch
from truecourse.model.safety import SAFETY_EVENT
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.stage import Stage, with_columns

__all__ = ["GuardProcessor", "MaskProcessor", "MaskStats", "Masker"]

_UNTRUSTED_OPERATIONS = frozenset({"tool", "retrieval"})
"""Spans whose ``output_text`` is content from outside (a tool's result, retrieved documents)."""


@dataclass
class MaskStats(StageStats):
    masked: int = 0
    """Matches replaced (regex rules and detector findings)."""
    values_changed: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_type: Counter[str] = field(default_factory=Counter)
    """Findings per entity type (masked or kept)."""
    injections: int = 0
    """Values whose injection score reached the threshold."""
    unscanned: int = 0
    """Values cut at the size bound, walked past the depth bound, or withheld after an error."""


class GuardProcessor(Stage[MaskStats]):
    """Rewrites the guarded columns present in a batch and adds safety events to the rows."""

    def __init__(self, config: GuardConfig, name: str = "guard") -> None:
        guarded = set(config.columns) | (
            set(config.injection.columns) if config.injection.enabled else set())
        tables = frozenset(t for t, cols in TABLE_COLUMNS.items()
                           if any(c.name in guarded for c in cols))
        super().__init__(name, tables, MaskStats())
        self.columns = tuple(config.columns)
        self.injection_columns = tuple(config.injection.columns) if config.injection.enabled \
            else ()
        self._json_columns = {c.name for cols in TABLE_COLUMNS.values() for c in cols if c.json}
        self.guard = Guard(config)
        self.masker = self.guard.rules
        self._enabled = bool(config.mask) or config.detect or config.injection.enabled

    def apply(self, batch: Batch) -> Batch:
        if not self._enabled:
            return batch
        guard = self.guard
        rules_before = sum(self.masker.counts.values())
        n = len(batch)
        safety: list[RowSafety | None] = [None] * n
        self._score_injection(batch, safety)
        replaced: dict[str, list[Any]] = {}
        changed = 0
        for column in self.columns:
            values = batch.columns.get(column)
            if values is None:
                continue
            out: list[Any] | None = None
            is_json = column in self._json_columns
            row = RowSafety()
            for i, v in enumerate(values):
                if not isinstance(v, str) or not v:
                    continue
                masked = (guard.guard_json(v, column, row) if is_json
                          else guard.guard_text(v, column, row))
                if row:
                    _merge_row(safety, i, row)
                    row = RowSafety()
                if masked is not v and masked != v:
                    if out is None:
                        out = list(values)
                    out[i] = masked
                    changed += 1
            if out is not None:
                replaced[column] = out
        self._attach(batch, safety, replaced)
        rules = sum(self.masker.counts.values()) - rules_before
        self.stats.masked += rules
        self.stats.values_changed += changed
        self.stats.by_rule = dict(self.masker.counts)
        return with_columns(batch, replaced)

    def _score_injection(self, batch: Batch, safety: list[RowSafety | None]) -> None:
        if self.guard.injection is None:
            return
        operations = batch.columns.get("operation")
        for column in self.injection_columns:
            values = batch.columns.get(column)
            if values is None:
                continue
            untrusted_column = column == "output_text"
            for i, v in enumerate(values):
                if not isinstance(v, str) or not v:
                    continue
                untrusted = untrusted_column and operations is not None and (
                    operations[i] in _UNTRUSTED_OPERATIONS)
                row = RowSafety()
                self.guard.score_injection(v, column, row, untrusted=untrusted)
                if row:
                    _merge_row(safety, i, row)

    def _attach(self, batch: Batch, safety: list[RowSafety | None],
                replaced: dict[str, list[Any]]) -> None:
        """Safety events onto the rows: span events on spans, an attribute on logs (metric
        points keep their attributes as they are; their findings are counted in the stats)."""
        if not any(safety):
            return
        stats = self.stats
        if batch.table == "spans":
            target, starts = "events", batch.columns.get("start_unix_nano")
        elif batch.table == "logs":
            target, starts = "attributes", None
        else:
            target, starts = "", None
        current = replaced.get(target, batch.columns.get(target)) if target else None
        out = list(current) if current is not None else None
        for i, row in enumerate(safety):
            if row is None:
                continue
            events = row.events()
            for ev in events:
                kind = ev["safety.kind"]
                if kind == "prompt_injection":
                    stats.injections += 1
                elif kind == "unscanned":
                    stats.unscanned += ev["safety.count"]
                else:
                    stats.by_type[ev["safety.type"]] += ev["safety.count"]
                    if ev.get("safety.action") not in ("keep", None):
                        stats.masked += ev["safety.count"]
            if out is None:
                continue
            if target == "events":
                t = starts[i] if starts is not None else 0
                out[i] = _append_span_events(out[i], [
                    {"name": SAFETY_EVENT, "time_unix_nano": t or 0, "attributes": ev}
                    for ev in events])
            else:
                out[i] = _add_log_attribute(out[i], events)
        if out is not None:
            replaced[target] = out


def _merge_row(safety: list[RowSafety | None], i: int, row: RowSafety) -> None:
    current = safety[i]
    if current is None:
        safety[i] = row
    else:
        current.counts.update(row.counts)
        current.injections.extend(row.injections)


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _append_span_events(current: str | None, events: list[dict[str, Any]]) -> str:
    parsed = _loads(current)
    existing = parsed if isinstance(parsed, list) else (
        [] if current is None else [{"name": "truecourse.unparsed_events", "time_unix_nano": 0,
                                     "attributes": {"value": current}}])
    return orjson.dumps(existing + events).decode()


def _add_log_attribute(current: str | None, events: list[dict[str, Any]]) -> str:
    parsed = _loads(current)
    attrs = parsed if isinstance(parsed, dict) else (
        {} if current is None else {"truecourse.unparsed_attributes": current})
    attrs[SAFETY_EVENT] = [*attrs.get(SAFETY_EVENT, []), *events] if isinstance(
        attrs.get(SAFETY_EVENT), list) else events
    return orjson.dumps(attrs).decode()


MaskProcessor = GuardProcessor
"""The stage's earlier name (regex masking only), kept for existing imports."""
