"""``guard``: masks what the mask rules match in the guarded text columns.

This is regex masking only, until the ``truecourse.guard`` detectors (PII, secrets, prompt
injection) plug in here. The rules run as one compiled alternation when they can be combined —
at each position the first rule (in order) that matches wins — and one after another otherwise
(a rule with numbered backreferences, clashing group names or global inline flags). Replacements
are literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from truecourse.config import GuardConfig, MaskRule
from truecourse.model import TABLE_COLUMNS, Batch
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.stage import Stage, with_columns

_NUMBERED_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


@dataclass
class MaskStats(StageStats):
    masked: int = 0
    """Matches replaced."""
    values_changed: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)


class Masker:
    """Applies mask rules to one text; counts replacements per rule name."""

    def __init__(self, rules: list[MaskRule]) -> None:
        self.counts: dict[str, int] = {r.name: 0 for r in rules}
        self._passes: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = []
        combined = _combine(rules) if len(rules) > 1 else None
        if combined is not None:
            names = {f"_m{i}": r for i, r in enumerate(rules)}
            self._passes.append((combined, self._replacer_by_group(names)))
        else:
            for r in rules:
                self._passes.append((re.compile(r.pattern), self._replacer(r)))

    def mask(self, text: str) -> str:
        """``text`` with every match replaced (the same object when nothing matched)."""
        for pattern, replace in self._passes:
            text = pattern.sub(replace, text)
        return text

    def _replacer(self, rule: MaskRule) -> Callable[[re.Match[str]], str]:
        replacement, name, counts = rule.replacement_text, rule.name, self.counts

        def replace(_: re.Match[str]) -> str:
            counts[name] += 1
            return replacement

        return replace

    def _replacer_by_group(self, rules: dict[str, MaskRule]) -> Callable[[re.Match[str]], str]:
        counts = self.counts
        table = {g: (r.name, r.replacement_text) for g, r in rules.items()}

        def replace(m: re.Match[str]) -> str:
            name, replacement = table[m.lastgroup or ""]
            counts[name] += 1
            return replacement

        return replace


def _combine(rules: list[MaskRule]) -> re.Pattern[str] | None:
    if any(_NUMBERED_BACKREF.search(r.pattern) for r in rules):
        return None
    try:
        return re.compile("|".join(f"(?P<_m{i}>{r.pattern})" for i, r in enumerate(rules)))
    except re.error:
        return None


class MaskProcessor(Stage[MaskStats]):
    """Rewrites the guarded columns present in a batch; other columns are shared, not copied."""

    def __init__(self, config: GuardConfig, name: str = "guard") -> None:
        tables = frozenset(t for t, cols in TABLE_COLUMNS.items()
                           if any(c.name in config.columns for c in cols))
        super().__init__(name, tables, MaskStats())
        self.columns = tuple(config.columns)
        self._json_columns = {c.name for cols in TABLE_COLUMNS.values() for c in cols if c.json}
        self.masker = Masker(config.mask)
        self._enabled = bool(config.mask)

    def apply(self, batch: Batch) -> Batch:
        if not self._enabled:
            return batch
        before = sum(self.masker.counts.values())
        replaced: dict[str, list[object]] = {}
        changed = 0
        mask = self.masker.mask
        for column in self.columns:
            values = batch.columns.get(column)
            if values is None:
                continue
            out: list[object] | None = None
            column_mask = self._mask_json if column in self._json_columns else mask
            for i, v in enumerate(values):
                if isinstance(v, str) and v:
                    masked = column_mask(v)
                    if masked is not v and masked != v:
                        if out is None:
                            out = list(values)
                        out[i] = masked
                        changed += 1
            if out is not None:
                replaced[column] = out
        self.stats.masked += sum(self.masker.counts.values()) - before
        self.stats.values_changed += changed
        self.stats.by_rule = dict(self.masker.counts)
        return with_columns(batch, replaced)

    def _mask_json(self, text: str) -> str:
        """Mask JSON text; if a match crossed JSON syntax, mask each string value instead.

        Text that was not JSON to begin with (a value ingest could not encode, ``NaN``) is
        masked as plain text: there is no syntax to keep, and the batch must not fail on it.
        """
        counts = dict(self.masker.counts)
        masked = self.masker.mask(text)
        if masked is text or masked == text:
            return text
        try:
            orjson.loads(masked)
            return masked
        except orjson.JSONDecodeError:
            pass
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return masked
        self.masker.counts.update(counts)  # redone value by value below, counted there
        return orjson.dumps(self._mask_values(parsed)).decode()

    def _mask_values(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.masker.mask(node)
        if isinstance(node, list):
            return [self._mask_values(x) for x in node]
        if isinstance(node, dict):
            return {k: self._mask_values(v) for k, v in node.items()}
        return node
