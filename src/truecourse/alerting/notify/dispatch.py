"""The dispatcher: delivers notifications on background threads, retrying with backoff.

``submit`` only enqueues, so a slow or failing receiver never blocks the engine's ``receive``
or ``flush``. Each integration of a receiver is its own job; a failed attempt that may succeed
later is scheduled again after ``backoff_initial_s * 2**(attempt-1)`` (capped at
``backoff_max_s``) up to ``max_attempts``. Every attempt, and every notification that cannot be
delivered at all, is recorded in the delivery log through the ``listeners``.

Lifecycle: ``start`` launches the workers (jobs submitted before wait for it); ``shutdown``
stops them, letting in-flight attempts finish; both are safe to call twice.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.base import Notifier
from truecourse.alerting.notify.email import EmailNotifier
from truecourse.alerting.notify.pagerduty import PagerDutyNotifier
from truecourse.alerting.notify.slack import SlackNotifier
from truecourse.alerting.notify.webhook import WebhookNotifier
from truecourse.config.alerting import AlertingConfig, ReceiverConfig


@dataclass(frozen=True)
class DeliveryRecord:
    """One line of the delivery log. ``status``: sent, retrying, failed, dropped,
    undeliverable."""

    time: datetime
    receiver: str
    integration: str
    group_key: str
    status: str
    attempts: int
    error: str | None = None
    notification_status: str = "firing"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "time": self.time.isoformat()}


def integrations(cfg: ReceiverConfig, timeout: float) -> list[Notifier]:
    """The notifiers of one receiver, in a fixed order."""
    out: list[Notifier] = []
    if cfg.slack:
        out.append(SlackNotifier(cfg.slack, timeout))
    if cfg.pagerduty:
        out.append(PagerDutyNotifier(cfg.pagerduty, timeout))
    if cfg.webhook:
        out.append(WebhookNotifier(cfg.webhook, timeout))
    if cfg.email:
        out.append(EmailNotifier(cfg.email, timeout))
    return out


@dataclass
class _Job:
    notification: Notification
    notifier: Notifier
    attempt: int = 1


class Dispatcher:
    """Background delivery with retries; see the module docstring for the contract."""

    def __init__(self, cfg: AlertingConfig) -> None:
        self.cfg = cfg.delivery
        self.receivers = {r.name: integrations(r, cfg.delivery.timeout_s) for r in cfg.receivers}
        self.listeners: list[Callable[[DeliveryRecord], None]] = []
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._threads = [threading.Thread(target=self._work, name=f"tc-notify-{i}",
                                              daemon=True) for i in range(self.cfg.workers)]
        for t in self._threads:
            t.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for t in threads:
            t.join(timeout)

    def submit(self, notification: Notification) -> None:
        """Queue a notification for every integration of its receiver; never blocks."""
        notifiers = self.receivers.get(notification.receiver)
        if notifiers is None:
            self._record(notification, "-", "undeliverable", 0,
                         f"no receiver named {notification.receiver!r}")
            return
        with self._cond:
            for n in notifiers:
                if len(self._heap) >= self.cfg.queue_size:
                    self._record(notification, n.integration, "dropped", 0,
                                 f"delivery queue full ({self.cfg.queue_size})")
                    continue
                heapq.heappush(self._heap, (0.0, next(self._seq), _Job(notification, n)))
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being delivered (retries included); False on
        timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _record(self, n: Notification, integration: str, status: str, attempts: int,
                error: str | None) -> None:
        rec = DeliveryRecord(datetime.now(UTC), n.receiver, integration, n.group_key, status,
                             attempts, error, n.status)
        for listener in self.listeners:
            listener(rec)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        _, _, job = heapq.heappop(self._heap)
                        self._busy += 1
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        try:
            retryable, error = job.notifier.notify(job.notification)
        except Exception as exc:  # a notifier bug must not kill the worker; it is logged
            retryable, error = False, f"notifier crashed: {type(exc).__name__}: {exc}"
        if error is None:
            self._record(job.notification, job.notifier.integration, "sent", job.attempt, None)
            return
        if retryable and job.attempt < self.cfg.max_attempts:
            self._record(job.notification, job.notifier.integration, "retrying", job.attempt,
                         error)
            delay = min(self.cfg.backoff_initial_s * 2 ** (job.attempt - 1),
                        self.cfg.backoff_max_s)
            job.attempt += 1
            with self._cond:
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
                self._cond.notify_all()
            return
        self._record(job.notification, job.notifier.integration, "failed", job.attempt, error)
