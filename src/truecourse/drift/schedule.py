"""Scheduled drift checks: the configured reports, run by the detection leader.

Each check runs every ``every_s`` on the last ``window_s`` seconds against its reference,
stores its report, and returns its alerts; an alert it raised before and no longer raises is
returned resolved. Overlapping windows share alpha (``every``), so checking often does not
multiply false alarms, and the alerting engine deduplicates a persisting alert by fingerprint.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from truecourse.config.drift import DriftConfig
from truecourse.drift.reports import save_report
from truecourse.drift.sources import build_report
from truecourse.errors import TrueCourseError
from truecourse.model.alerts import Alert
from truecourse.store.base import Store

log = logging.getLogger(__name__)


class DriftChecks:
    """The state of the scheduled checks of one leader: when each last ran, what it fired."""

    def __init__(self, store: Store, cfg: DriftConfig) -> None:
        self.store = store
        self.cfg = cfg
        self._last: dict[int, datetime] = {}
        self._firing: dict[int, dict[str, Alert]] = {}
        self._sketched: dict[str, datetime] = {}

    def sketch_due(self, now: datetime) -> int:
        """Sketch each configured model's windows that closed since the last call (the first
        call sketches the last closed window); windows sketched."""
        from truecourse.drift.sketches import build_sketches

        step = self.cfg.sketch_window_s
        closed = datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=UTC)
        done = 0
        for model in self.cfg.sketch_models:
            since = self._sketched.get(model, closed - timedelta(seconds=step))
            if since >= closed:
                continue
            try:
                done += build_sketches(self.store, model, since, closed, step, self.cfg)
            except TrueCourseError as exc:
                log.warning("sketching %s failed: %s", model, exc)
                continue
            self._sketched[model] = closed
        return done

    def run_due(self, now: datetime) -> list[Alert]:
        """Run every check whose interval has passed; their firing and resolved alerts.

        A check that cannot run (its baseline is gone, the store is down) is logged and
        skipped until its next turn; the other checks still run.
        """
        out: list[Alert] = []
        self.sketch_due(now)
        for i, check in enumerate(self.cfg.checks):
            last = self._last.get(i)
            if last is not None and (now - last).total_seconds() < check.every_s:
                continue
            self._last[i] = now
            since = now - timedelta(seconds=check.window_s)
            try:
                report = build_report(self.store, check.reference,
                                      f"{since.isoformat()}..{now.isoformat()}", self.cfg,
                                      model=check.model, service=check.service,
                                      every=f"{check.every_s}s")
                report.created_at = now
                save_report(self.store, report)
            except TrueCourseError as exc:
                log.warning("drift check %s failed: %s", check.model or check.service, exc)
                continue
            alerts = {a.fingerprint: a for a in report.alerts(now)}
            before = self._firing.get(i, {})
            out.extend(alerts.values())
            out.extend(a.resolve(now) for fp, a in before.items() if fp not in alerts)
            self._firing[i] = alerts
        return out
