"""Ad-hoc scans (``POST /api/v1/guard/scan``, ``truecourse guard scan FILE``): one text in,
the masked text, the findings by position and the injection score out. No value is echoed
except inside ``masked``, where every finding is already replaced."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from truecourse.config.guard import GuardConfig
from truecourse.guard.engine import Guard, RowSafety
from truecourse.guard.injection import InjectionResult
from truecourse.guard.masking import mask_findings
from truecourse.model.safety import category


@dataclass(frozen=True)
class ScanFinding:
    """Where a value was found and what was done with it — never the value."""

    type: str
    category: str
    start: int
    end: int
    action: str


@dataclass
class ScanReport:
    """The result of :func:`scan_text`."""

    masked: str | None
    """The text with findings replaced; None when a ``drop`` policy dropped it."""
    findings: list[ScanFinding]
    injection: InjectionResult | None
    chars: int
    scanned_chars: int
    encoding: str
    """``utf-8``, or how undecodable bytes were handled."""
    unscanned: list[str] = field(default_factory=list)
    """Reasons part of the input was not scanned (``TOO_LARGE``)."""

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(f.type for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        injection = None if self.injection is None else {
            "score": self.injection.score, "checks": list(self.injection.checks)}
        return {
            "masked": self.masked, "counts": self.counts,
            "findings": [f.__dict__ for f in self.findings], "injection": injection,
            "chars": self.chars, "scanned_chars": self.scanned_chars,
            "encoding": self.encoding, "unscanned": self.unscanned,
        }


def decode_input(data: bytes) -> tuple[str, str]:
    """``(text, encoding note)``: UTF-8 when valid, else UTF-8 with each undecodable byte
    replaced by U+FFFD (the note says how many) — scanned either way, never refused."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - data.count("\ufffd".encode())
        return text, f"not utf-8: {bad} undecodable byte(s) replaced before scanning"


def scan_text(text: str | bytes, guard: Guard | None = None, *, untrusted: bool = False,
              field_name: str = "input_text") -> ScanReport:
    """Scan one text with ``guard`` (default: the default ``guard`` settings).

    ``untrusted`` scores the text as retrieved content or a tool's output. Bounded: text past
    the guard's ``max_value_chars`` is not scanned; the report says so in ``unscanned``.
    """
    guard = guard or Guard(GuardConfig())
    encoding = "utf-8"
    if isinstance(text, bytes):
        text, encoding = decode_input(text)
    limit = guard.max_chars
    scanned = text[:limit]
    unscanned = ["TOO_LARGE"] if len(text) > limit else []
    masked_input = guard.rules.mask(scanned) if guard.rules.counts else scanned
    found = guard.findings(masked_input, None)
    outcome = mask_findings(masked_input, found, guard.policy, field_name)
    findings = [ScanFinding(f.type, category(f.type), f.start, f.end, action)
                for f, (_, action) in zip(found, outcome.findings, strict=True)]
    injection = None
    if guard.injection is not None:
        injection = guard.score_injection(text, field_name, RowSafety(), untrusted=untrusted)
    masked = outcome.text
    if masked is not None and unscanned:
        masked += f"<UNSCANNED:{len(text) - limit} chars>"
    return ScanReport(masked, findings, injection, len(text), len(scanned), encoding, unscanned)
