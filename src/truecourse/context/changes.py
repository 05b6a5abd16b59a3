"""Change events as context: recent deploys and config changes, and deploy windows.

A *deploy window* is the span of event time after a service's deploy during which alerts of
rules that ask for it are recorded but not notified (a rollout's warm-up noise). The window is
``[deploy.time, deploy.time + window)`` for each ``deploy`` event of the service (or of every
service when the event names none).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from truecourse.store import Store


def recent_changes(store: Store, since: datetime, until: datetime,
                   service: str | None = None, limit: int = 50,
                   project: str | None = None) -> list[dict[str, Any]]:
    """Deploy, config-change and feature-flag events in ``[since, until)`` (of ``project``
    when given), newest first."""
    params: list[Any] = [since, until]
    where = "time >= ? AND time < ? AND kind IN ('deploy', 'config_change', 'feature_flag')"
    if project is not None:
        where += " AND project = ?"
        params.append(project)
    if service is not None:
        where += " AND (service = ? OR service IS NULL)"
        params.append(service)
    rows = store.select(f"SELECT id, time, kind, service, env, version, actor, summary FROM "
                        f"events WHERE {where} ORDER BY time DESC LIMIT {int(limit)}", params)
    return list(rows.to_pylist())


class DeployWindows:
    """Answers "is ``service`` inside a deploy window at ``at``?" from the events table.

    Reads the deploys of the last ``window`` once per distinct minute asked about (the
    alerting engine asks for many alerts of one flush), so a flush costs one query.
    """

    def __init__(self, store: Store, window: timedelta = timedelta(minutes=15)) -> None:
        self.store = store
        self.window = window
        self._cache_key: datetime | None = None
        self._deploys: list[tuple[datetime, str | None]] = []

    def __call__(self, service: str | None, at: datetime) -> bool:
        minute = at.replace(second=0, microsecond=0)
        if minute != self._cache_key:
            rows = self.store.select(
                "SELECT time, service FROM events WHERE kind = 'deploy' AND time > ? "
                "AND time <= ?", [minute - self.window, minute + timedelta(minutes=1)])
            self._deploys = list(zip(rows.column("time").to_pylist(),
                                     rows.column("service").to_pylist(), strict=True))
            self._cache_key = minute
        return any(t <= at < t + self.window and (s is None or s == service)
                   for t, s in self._deploys)
