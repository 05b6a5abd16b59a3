"""The guard: masks one value (text or JSON) per policy and records what it found.

::

    guard = Guard(GuardConfig())
    safety = RowSafety()
    guard.guard_text("mail bob@example.com", "input_text", safety)   # 'mail <EMAIL>'
    guard.guard_json('{"user.email": "bob@example.com"}', "attributes", safety)
    safety.events()   # [{'safety.kind': 'pii', 'safety.type': 'EMAIL', ...}, ...]

Bounds: a value longer than ``max_value_chars`` is scanned up to that length and the rest is
replaced by ``<UNSCANNED:N chars>``; JSON deeper than ``max_depth`` is masked as text below that
depth; a value the detectors fail on is withheld (``<UNSCANNED>``). Each case adds an
``unscanned`` safety event — nothing passes unscanned without a trace, and one bad value never
fails the batch around it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from truecourse.config.guard import GuardConfig
from truecourse.guard.detectors import Finding, PatternDetector, resolve_overlaps
from truecourse.guard.exemplars import load_similarity
from truecourse.guard.injection import InjectionResult, InjectionScorer
from truecourse.guard.masking import MaskPolicy, mask_findings
from truecourse.guard.ner import Ner, load_ner
from truecourse.guard.rules import Masker
from truecourse.model import safety as S

log = logging.getLogger(__name__)

WITHHELD = "<UNSCANNED>"


@dataclass
class RowSafety:
    """What the guard found in one row, by (kind, type, field); never a value."""

    counts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    """``(kind, type, field, action)`` -> findings."""
    injections: list[tuple[str, InjectionResult]] = field(default_factory=list)

    def add_findings(self, found: list[tuple[str, str]], field_name: str) -> None:
        for entity_type, action in found:
            self.counts[(S.category(entity_type), entity_type, field_name, action)] += 1

    def add_unscanned(self, reason: str, field_name: str) -> None:
        self.counts[(S.KIND_UNSCANNED, reason, field_name, "")] += 1

    def __bool__(self) -> bool:
        return bool(self.counts or self.injections)

    def events(self) -> list[dict[str, Any]]:
        """One attribute dict per (kind, type, field), then one per injection finding."""
        out: list[dict[str, Any]] = []
        for (kind, entity_type, field_name, action), n in self.counts.items():
            event: dict[str, Any] = {"safety.kind": kind, "safety.type": entity_type,
                                     "safety.field": field_name, "safety.count": n}
            if action:
                event["safety.action"] = action
            out.append(event)
        for field_name, result in self.injections:
            out.append({"safety.kind": S.KIND_INJECTION, "safety.type": "PROMPT_INJECTION",
                        "safety.field": field_name, "safety.count": 1,
                        "safety.score": result.score, "safety.checks": ",".join(result.checks)})
        return out


class Guard:
    """Detectors, policy, regex rules and injection scorer built from one ``guard`` section.

    Raises :class:`~truecourse.errors.ConfigError` when a policy hashes without a key, or
    ``ner``/``embeddings`` is ``on`` without its package. ``environ`` replaces ``os.environ``
    for the HMAC key. Not thread-safe (the regex rules count matches); one per thread/process.
    """

    def __init__(self, config: GuardConfig, *, environ: Mapping[str, str] | None = None,
                 ner: Ner | None = None) -> None:
        self.config = config
        types = frozenset(config.types)
        self.detector = (PatternDetector(types & set(S.PATTERN_TYPES), config.phone_regions)
                         if config.detect else None)
        self.ner = ner if ner is not None else (
            load_ner(config.ner, types) if config.detect else None)
        self.policy = MaskPolicy.from_config(config, environ)
        self.rules = Masker(config.mask)
        self.max_chars = config.max_value_chars
        self.max_depth = config.max_depth
        self.injection = (InjectionScorer(load_similarity(config.injection.embeddings))
                          if config.injection.enabled else None)
        self.injection_threshold = config.injection.threshold

    # -- finding ------------------------------------------------------------------------------

    def findings(self, text: str, key: str | None = None) -> list[Finding]:
        """Validated findings in ``text`` (pattern detectors, then NER when loaded)."""
        found = self.detector.scan(text, key) if self.detector is not None else []
        if self.ner is not None and any(c.isalpha() for c in text[:200]):
            found = resolve_overlaps(found + self.ner(text))
        return found

    def score_injection(self, text: str, field_name: str, safety: RowSafety, *,
                        untrusted: bool = False) -> InjectionResult | None:
        """Score ``text``; record a safety event when it reaches the threshold."""
        if self.injection is None or not text:
            return None
        result = self.injection.score(text, untrusted=untrusted)
        if result.score >= self.injection_threshold:
            safety.injections.append((field_name, result))
        return result

    # -- masking ------------------------------------------------------------------------------

    def guard_text(self, text: str, field_name: str, safety: RowSafety,
                   key: str | None = None) -> str | None:
        """``text`` masked for ``field_name``: the same object when nothing was found, None
        when a ``drop`` policy removed it."""
        try:
            return self._guard_text(text, field_name, safety, key)
        except Exception:  # a detector bug must not fail the batch or let the value through
            log.exception("guard failed on a value of %s; withheld", field_name)
            safety.add_unscanned("ERROR", field_name)
            return WITHHELD

    def _guard_text(self, text: str, field_name: str, safety: RowSafety,
                    key: str | None) -> str | None:
        tail = ""
        if len(text) > self.max_chars:
            tail = f"<UNSCANNED:{len(text) - self.max_chars} chars>"
            text = text[:self.max_chars]
            safety.add_unscanned("TOO_LARGE", field_name)
        masked = self.rules.mask(text) if self.rules.counts else text
        found = self.findings(masked, key)
        if found:
            outcome = mask_findings(masked, found, self.policy, field_name)
            safety.add_findings(outcome.findings, field_name)
            if outcome.text is None:
                return None
            masked = outcome.text
        if tail:
            return masked + tail
        return masked

    def guard_json(self, text: str, column: str, safety: RowSafety) -> str | None:
        """A JSON column value masked value by value where needed; stays valid JSON.

        Fast path: the raw text is scanned once; with no finding it is returned as is. When
        policies name attribute keys (or drop), when a replacement would break JSON, or when
        the value is over the size bound, it is parsed and walked with the key of each value
        as context and field (``attributes.user.email``).
        """
        try:
            return self._guard_json(text, column, safety)
        except Exception:
            log.exception("guard failed on a %s value; withheld", column)
            safety.add_unscanned("ERROR", column)
            return orjson.dumps({"truecourse.guard": WITHHELD}).decode()

    def _guard_json(self, text: str, column: str, safety: RowSafety) -> str | None:
        counts = dict(self.rules.counts)
        if len(text) <= self.max_chars:
            quick = RowSafety()
            masked = self._guard_text(text, column, quick, None)
            if masked is text:
                _merge(safety, quick)
                return text
            if masked is not None and not self.policy.keyed:
                try:
                    orjson.loads(masked)
                except orjson.JSONDecodeError:
                    pass
                else:
                    _merge(safety, quick)
                    return masked
        self.rules.counts.update(counts)  # redone value by value below, counted there
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            # not JSON (a value ingest could not encode): plain text, there is no syntax to keep
            return self._guard_text(text, column, safety, None)
        node, _, dropped = self._walk(parsed, [], 0, column, safety)
        if dropped:
            return None
        return _dumps(node)

    def _walk(self, node: Any, path: list[str], depth: int, column: str,
              safety: RowSafety) -> tuple[Any, bool, bool]:
        """``(new node, changed, dropped)``."""
        if isinstance(node, str):
            key = path[-1] if path else None
            field_name = _field(column, path)
            masked = self._guard_text(node, field_name, safety, key)
            return masked, masked is not node, masked is None
        if depth >= self.max_depth and isinstance(node, dict | list):
            safety.add_unscanned("DEPTH", column)
            raw = _dumps(node)
            masked = self._guard_text(raw, column, safety, None)
            return (node, False, False) if masked is raw else (masked, True, masked is None)
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            changed = False
            for k, v in node.items():
                new, ch, dropped = self._walk(v, [*path, k], depth + 1, column, safety)
                changed |= ch or dropped
                if not dropped:
                    out[k] = new
            return (out if changed else node), changed, False
        if isinstance(node, list):
            items: list[Any] = []
            changed = False
            for v in node:
                new, ch, dropped = self._walk(v, path, depth + 1, column, safety)
                changed |= ch or dropped
                items.append(None if dropped else new)
            return (items if changed else node), changed, False
        return node, False, False


def _field(column: str, path: list[str]) -> str:
    if column == "events" and path and path[0] == "attributes":
        path = path[1:]
    return f"{column}.{'.'.join(path)}" if path else column


def _merge(into: RowSafety, other: RowSafety) -> None:
    into.counts.update(other.counts)
    into.injections.extend(other.injections)


def _dumps(node: Any) -> str:
    try:
        return orjson.dumps(node).decode()
    except orjson.JSONEncodeError:  # lone surrogates: the standard library escapes them
        return json.dumps(node, separators=(",", ":"))
