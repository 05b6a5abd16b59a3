"""Silences: matchers over a time range that mute notifications (alerts stay recorded)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from truecourse.alerting.matchers import Matcher, matches_all, parse_matchers
from truecourse.errors import InvalidInput


@dataclass(frozen=True)
class Silence:
    """A silence; active while ``starts_at <= now < ends_at``."""

    id: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""
    parsed: tuple[Matcher, ...] = field(default=(), compare=False, repr=False)

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.parsed, labels)

    def status(self, now: datetime) -> str:
        """``pending``, ``active`` or ``expired`` (Alertmanager's silence states)."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "matchers": list(self.matchers),
            "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by, "comment": self.comment}
        if now is not None:
            out["status"] = self.status(now)
        return out


def new_silence(matchers: Sequence[str], starts_at: datetime, ends_at: datetime,
                created_by: str, comment: str = "", *, id: str | None = None) -> Silence:
    """A validated silence; raises ``InvalidInput`` for no matchers, a bad matcher, an end not
    after the start, naive times or no author."""
    if not matchers:
        raise InvalidInput("a silence needs at least one matcher (e.g. service=checkout); "
                           "one with none would mute every alert")
    parsed = parse_matchers(list(matchers))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("silence starts_at and ends_at must carry a timezone")
    if ends_at <= starts_at:
        raise InvalidInput(f"silence ends_at ({ends_at.isoformat()}) must be after starts_at "
                           f"({starts_at.isoformat()})")
    if not created_by:
        raise InvalidInput("a silence needs created_by (who silenced it)")
    return Silence(id or uuid.uuid4().hex, tuple(matchers), starts_at, ends_at, created_by,
                   comment, tuple(parsed))


def expired(silence: Silence, now: datetime) -> Silence:
    """The silence ended at ``now`` (a pending one ends at its start: never active)."""
    return replace(silence, ends_at=max(min(silence.ends_at, now), silence.starts_at))
