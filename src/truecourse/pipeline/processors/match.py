"""Match rules compiled once and evaluated column-wise over a batch.

Rules on a ``field`` read the column list directly. Rules on an ``attribute`` look the key up in
the row's ``attributes`` and then its ``resource``; those columns hold JSON text, so a row is
parsed only when the key's JSON form occurs in its text, and at most once per batch however many
rules ask (:class:`AttributeIndex`); the decoder's parsed ``_attrs`` scratch column is used
instead of the JSON when the batch still carries it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from truecourse.config import MatchRule
from truecourse.model import Batch

_ABSENT: dict[str, Any] = {}


class AttributeIndex:
    """Lazily parsed ``attributes`` / ``resource`` of one batch, shared by the rules run on it."""

    __slots__ = ("_parsed", "_sources")

    def __init__(self, batch: Batch) -> None:
        c = batch.columns
        # the decoder's scratch `_attrs` holds the attributes already parsed, when still there
        attributes = c.get("_attrs") or c.get("attributes")
        self._sources = [col for col in (attributes, c.get("resource")) if col is not None]
        self._parsed: list[dict[int, dict[str, Any]]] = [{} for _ in self._sources]

    def lookup(self, row: int, key: str, needle: str) -> Any:
        """The value of ``key`` for ``row`` (attributes first, then resource); None if absent.

        ``needle`` is the key as JSON text (``orjson.dumps(key)``), used to skip rows whose
        text cannot hold the key without parsing them.
        """
        for source, parsed in zip(self._sources, self._parsed, strict=True):
            raw = source[row]
            if raw is None:
                continue
            if isinstance(raw, str):
                if needle not in raw:
                    continue
                attrs = parsed.get(row)
                if attrs is None:
                    attrs = parsed[row] = _parse(raw)
            elif isinstance(raw, dict):
                attrs = raw
            else:
                continue
            value = attrs.get(key)
            if value is not None:
                return value
        return None


def _parse(raw: str) -> dict[str, Any]:
    # ingest writes these columns; text that is not a JSON object holds no attributes to match
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _ABSENT
    return value if isinstance(value, dict) else _ABSENT


class RowMatcher:
    """One compiled :class:`~truecourse.config.MatchRule`."""

    __slots__ = ("_key", "_needle", "_test", "rule")

    def __init__(self, rule: MatchRule) -> None:
        self.rule = rule
        self._test = _compile_test(rule)
        self._key = rule.attribute
        self._needle = orjson.dumps(rule.attribute).decode() if rule.attribute else ""

    def split(
        self, batch: Batch, rows: Sequence[int], attrs: AttributeIndex
    ) -> tuple[list[int], list[int]]:
        """``rows`` (indices into ``batch``) divided into (matching, not matching), in order."""
        test = self._test
        matched: list[int] = []
        missed: list[int] = []
        if self._key is not None:
            key, needle = self._key, self._needle
            for i in rows:
                (matched if test(attrs.lookup(i, key, needle)) else missed).append(i)
            return matched, missed
        column = batch.columns.get(self.rule.field or "")
        if column is None:  # a column this table does not have: every value is absent
            return (list(rows), []) if test(None) else ([], list(rows))
        for i in rows:
            (matched if test(column[i]) else missed).append(i)
        return matched, missed

    def matches(self, batch: Batch) -> list[bool]:
        """One flag per row of ``batch`` (for tests and one-off use)."""
        matched, _ = self.split(batch, range(len(batch)), AttributeIndex(batch))
        flags = [False] * len(batch)
        for i in matched:
            flags[i] = True
        return flags


def _compile_test(rule: MatchRule) -> Callable[[Any], bool]:
    given = rule.model_fields_set
    if "exists" in given:
        want = bool(rule.exists)
        return lambda v: (v is not None) == want
    if "regex" in given:
        search = re.compile(rule.regex or "").search
        return lambda v: v is not None and search(_text(v)) is not None
    if "in_" in given:
        members = frozenset(rule.in_ or ())

        def member(v: Any) -> bool:
            try:
                return v in members
            except TypeError:  # an unhashable attribute value (list, map) is never a member
                return False

        return member
    target = rule.equals
    return lambda v: v == target


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()
