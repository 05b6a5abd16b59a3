"""Operator-written regex mask rules (``guard.mask``), run before the detectors.

The rules run as one compiled alternation when they can be combined — at each position the
first rule (in order) that matches wins — and one after another otherwise (a rule with numbered
backreferences, clashing group names or global inline flags). Replacements are literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from truecourse.config.guard import MaskRule

_NUMBERED_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


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
