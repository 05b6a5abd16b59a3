"""Aggregation groups: alerts of one route with equal ``group_by`` labels, notified together.

Timing, as in Alertmanager, on event time: a new group waits ``group_wait`` before its first
notification; after that the group is looked at every ``group_interval`` and notified when its
content changed (a new firing alert, or a notified alert resolved); an unchanged firing group is
notified again once ``repeat_interval`` passed since the last notification. A resolved alert is
notified once (if its firing was notified) and then leaves the group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from truecourse.alerting.routing import Route


def group_key(route: Route, labels: dict[str, str]) -> str:
    """``<route path>{k="v",...}``: unique per route and group label values, stable."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{route.path}{{{inner}}}"


@dataclass
class AggregationGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_tick: datetime
    fingerprints: set[str] = field(default_factory=set)
    last_firing: frozenset[str] = frozenset()
    last_sent_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_tick <= now

    def tick(self, now: datetime, is_firing: Callable[[str], bool | None],
             is_muted: Callable[[str], bool]) -> tuple[list[str], list[str]] | None:
        """Decide this tick: the (firing, resolved) fingerprints to notify, or None.

        ``is_firing`` answers True/False, or None for an alert the engine no longer knows.
        Advances the tick on the group_interval grid and drops resolved alerts.
        """
        interval = timedelta(seconds=self.route.group_interval_s)
        while self.next_tick <= now:
            self.next_tick += interval
        firing, resolved = [], []
        for fp in sorted(self.fingerprints):
            state = is_firing(fp)
            if state is None:
                self.fingerprints.discard(fp)
            elif state:
                if not is_muted(fp):
                    firing.append(fp)
            else:
                if fp in self.last_firing:
                    resolved.append(fp)
                self.fingerprints.discard(fp)
        new = set(firing) - self.last_firing
        repeat = (firing and self.last_sent_at is not None and now - self.last_sent_at
                  >= timedelta(seconds=self.route.repeat_interval_s))
        if not (new or resolved or repeat):
            self.last_firing = self.last_firing - set(resolved)
            return None
        self.last_firing = frozenset(firing)
        self.last_sent_at = now
        return firing, resolved

    @property
    def empty(self) -> bool:
        return not self.fingerprints
