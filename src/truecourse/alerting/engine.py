"""The alert engine: receive → dedupe → group; flush → inhibit → silence → deploy → notify.

``receive`` records every alert it is given (silenced and inhibited ones too), deduplicated by
fingerprint; a firing alert not sent again for ``resolve_timeout_s`` is resolved. ``flush``
looks at the groups that are due on event time and returns the notifications it produced,
handing them to the dispatcher (which delivers in the background, so a failing receiver never
blocks either call). All times are event time: tests and the simulator pass ``now``.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from truecourse.alerting import state as persist
from truecourse.alerting.groups import AggregationGroup, group_key
from truecourse.alerting.inhibit import Inhibitor, InhibitRule
from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.dispatch import DeliveryRecord, Dispatcher
from truecourse.alerting.routing import Route, build_routes, match
from truecourse.alerting.silences import Silence, expired, new_silence
from truecourse.alerting.state import AlertState
from truecourse.config.alerting import OWNER_RECEIVER, AlertingConfig
from truecourse.config.schema import CatalogConfig
from truecourse.errors import NotFound
from truecourse.model.alerts import Alert
from truecourse.store.base import Store

DeployWindowSource = Callable[[str | None, datetime], bool]
_NO = {"false", "0", "no", "off"}


def asks_deploy_suppression(alert: Alert) -> bool:
    """True when the alert's rule asked not to notify during deploys
    (``notify_during_deploys: "false"`` as a label or annotation)."""
    v = alert.labels.get("notify_during_deploys", alert.annotations.get("notify_during_deploys"))
    return v is not None and str(v).strip().lower() in _NO


class AlertEngine:
    """Alertmanager's semantics over :class:`~truecourse.model.alerts.Alert`; thread-safe."""

    def __init__(self, config: AlertingConfig, catalog: CatalogConfig, *,
                 store: Store | None = None, dispatcher: Dispatcher | None = None) -> None:
        self.config, self.catalog, self.store, self.dispatcher = config, catalog, store, dispatcher
        self._root: Route = build_routes(config.route)
        self._inhibitor = Inhibitor(InhibitRule.from_config(r) for r in config.inhibit_rules)
        self._resolve_timeout = timedelta(seconds=config.resolve_timeout_s)
        self._lock = threading.RLock()
        self._states: dict[str, AlertState] = {}
        self._groups: dict[str, AggregationGroup] = {}
        self._routes_of: dict[str, list[tuple[Route, str, dict[str, str]]]] = {}
        self._silences: dict[str, Silence] = {}
        self._deliveries: deque[DeliveryRecord] = deque(maxlen=10_000)
        self._firing_received: list[datetime] = []
        self._deploy: DeployWindowSource | None = None
        self._now: datetime | None = None
        self._raw = self._notifications = 0
        self._muted: dict[str, set[tuple[str, datetime]]] = {
            "silence": set(), "inhibition": set(), "deploy": set()}
        if dispatcher is not None:
            dispatcher.listeners.append(self._on_delivery)
        if store is not None:
            self._load(store)

    # -- input --------------------------------------------------------------------------------

    def set_deploy_window_source(self, fn: DeployWindowSource | None) -> None:
        """``fn(service, now)`` is True while ``service`` is deploying (from deploy events)."""
        self._deploy = fn

    def receive(self, alerts: Sequence[Alert], now: datetime) -> None:
        """Record alerts (deduplicated by fingerprint) and put firing ones in their groups."""
        with self._lock:
            self._now = now
            self._raw += len(alerts)
            changed = self._expire(now)
            for alert in alerts:
                fp = alert.fingerprint
                st = self._states.get(fp)
                if alert.resolved:
                    if st is None or not st.firing:
                        st = AlertState(alert, now, now)
                        self._states[fp] = st
                    else:
                        st.alert = replace(alert, starts_at=st.alert.starts_at)
                        st.last_seen = now
                elif st is not None and st.firing:
                    st.alert = replace(alert, starts_at=min(st.alert.starts_at, alert.starts_at))
                    st.last_seen = now
                else:
                    st = AlertState(alert, now, now)
                    self._states[fp] = st
                    bisect.insort(self._firing_received, now)
                    self._join_groups(fp, alert, now)
                if self._deploying(alert, now):
                    st.suppressed_by = "deploy"
                changed[fp] = st
            persist.write(self.store, (persist.upsert_alert(s) for s in changed.values()))

    def _join_groups(self, fp: str, alert: Alert, now: datetime) -> None:
        routes = self._routes_of.get(fp)
        if routes is None:
            routes = []
            for route in match(self._root, alert.labels):
                labels = route.group_labels(alert.labels)
                routes.append((route, group_key(route, labels), labels))
            self._routes_of[fp] = routes
        for route, key, labels in routes:
            group = self._groups.get(key)
            if group is None:
                group = AggregationGroup(key, route, labels,
                                         now + timedelta(seconds=route.group_wait_s))
                self._groups[key] = group
            group.fingerprints.add(fp)

    def _expire(self, now: datetime) -> dict[str, AlertState]:
        changed = {}
        for fp, st in self._states.items():
            if st.firing and now - st.last_seen > self._resolve_timeout:
                st.alert = st.alert.resolve(st.last_seen + self._resolve_timeout)
                changed[fp] = st
        return changed

    def _deploying(self, alert: Alert, now: datetime) -> bool:
        return (self._deploy is not None and asks_deploy_suppression(alert)
                and self._deploy(alert.labels.get("service"), now))

    # -- notification -------------------------------------------------------------------------

    def flush(self, now: datetime) -> list[Notification]:
        """Notifications of the groups due at ``now`` (after inhibition, silences and deploy
        suppression), also handed to the dispatcher when there is one."""
        with self._lock:
            self._now = now
            changed = self._expire(now)
            if self._inhibitor.rules:
                self._inhibitor.update(s.alert for s in self._states.values() if s.firing)
            out: list[Notification] = []
            for key, group in list(self._groups.items()):
                if not group.due(now):
                    continue

                def is_firing(fp: str) -> bool | None:
                    st = self._states.get(fp)
                    return None if st is None else st.firing

                def is_muted(fp: str) -> bool:
                    reason = self._mute_reason(self._states[fp], now)
                    if reason == "deploy":
                        changed[fp] = self._states[fp]
                    return reason is not None

                decision = group.tick(now, is_firing, is_muted)
                if decision is not None:
                    firing, resolved = decision
                    alerts = tuple(self._states[fp].alert for fp in firing + resolved)
                    out.append(self._notification(group, "firing" if firing else "resolved",
                                                  alerts, now))
                if group.empty:
                    del self._groups[key]
            self._notifications += len(out)
            persist.write(self.store, (persist.upsert_alert(s) for s in changed.values()))
        for n in out:
            self._deliver(n)
        return out

    def _mute_reason(self, st: AlertState, now: datetime) -> str | None:
        a = st.alert
        reason = None
        if self._inhibitor.rules and self._inhibitor.inhibited_by(a.labels, a.fingerprint):
            reason = "inhibition"
        elif self._silenced_by(a, now):
            reason = "silence"
        elif self._deploying(a, now):
            st.suppressed_by = "deploy"
            reason = "deploy"
        if reason is not None:
            self._muted[reason].add((a.fingerprint, st.received_at))
        return reason

    def _silenced_by(self, alert: Alert, now: datetime) -> list[str]:
        return [s.id for s in self._silences.values() if s.mutes(alert.labels, now)]

    def _owner(self, labels: dict[str, str], alerts: Sequence[Alert]) -> tuple[str | None, Any]:
        service = labels.get("service")
        if service is None:
            services = {a.labels.get("service") for a in alerts}
            service = services.pop() if len(services) == 1 else None
        return service, self.catalog.services.get(service) if service else None

    def _notification(self, group: AggregationGroup, status: Any, alerts: tuple[Alert, ...],
                      now: datetime) -> Notification:
        service, entry = self._owner(group.labels, alerts)
        owner = {"service": service, "owner": entry.owner if entry else None,
                 "team": entry.team if entry else None, "oncall": entry.oncall if entry else None}
        receiver = group.route.receiver
        if receiver == OWNER_RECEIVER and entry is not None and entry.oncall \
                and self.config.receiver(entry.oncall) is not None:
            receiver = entry.oncall
        return Notification(receiver, group.route.path, group.key, status, dict(group.labels),
                            alerts, now, owner, self.config.external_url)

    def _deliver(self, n: Notification) -> None:
        if n.receiver == OWNER_RECEIVER:
            oncall = n.owner.get("oncall")
            why = (f"service {n.owner.get('service')!r} is not in the catalog"
                   if n.owner.get("service") is None or not any(
                       n.owner.get(k) for k in ("owner", "team", "oncall"))
                   else f"no receiver named by its oncall {oncall!r}")
            self._on_delivery(DeliveryRecord(n.at, OWNER_RECEIVER, "-", n.group_key,
                                             "undeliverable", 0, why, n.status))
        elif self.dispatcher is not None:
            self.dispatcher.submit(n)

    def _on_delivery(self, record: DeliveryRecord) -> None:
        with self._lock:
            self._deliveries.append(record)
        persist.write(self.store, [persist.insert_delivery(record)])

    # -- operator actions ---------------------------------------------------------------------

    def acknowledge(self, fingerprint: str, by: str, now: datetime | None = None) -> None:
        """Mark an alert acknowledged; PagerDuty receivers of its notified groups get an
        ``acknowledge`` event. Raises ``NotFound`` for an unknown fingerprint."""
        with self._lock:
            st = self._states.get(fingerprint)
            if st is None:
                raise NotFound(f"no alert with fingerprint {fingerprint!r}")
            at = now or self._now or st.last_seen
            st.acknowledged_by, st.acknowledged_at = by, at
            persist.write(self.store, [persist.upsert_alert(st)])
            acks = [self._notification(g, "acknowledged", (st.alert,), at)
                    for g in self._groups.values()
                    if fingerprint in g.fingerprints and fingerprint in g.last_firing]
        for n in acks:
            self._deliver(n)

    def add_silence(self, matchers: Sequence[str], starts_at: datetime, ends_at: datetime,
                    created_by: str, comment: str = "") -> Silence:
        """Create a silence; ``InvalidInput`` for no matchers, a bad one, or end <= start."""
        s = new_silence(matchers, starts_at, ends_at, created_by, comment)
        with self._lock:
            self._silences[s.id] = s
            persist.write(self.store, [persist.upsert_silence(s)])
        return s

    def get_silence(self, silence_id: str) -> Silence:
        with self._lock:
            s = self._silences.get(silence_id)
        if s is None:
            raise NotFound(f"no silence with id {silence_id!r}")
        return s

    def silences(self, now: datetime | None = None, *, status: str | None = None
                 ) -> list[Silence]:
        """Silences by start time; ``status`` (pending, active, expired) needs ``now``."""
        with self._lock:
            found = sorted(self._silences.values(), key=lambda s: (s.starts_at, s.id))
        if status is not None:
            at = now or self._now
            found = [s for s in found if at is not None and s.status(at) == status]
        return found

    def expire_silence(self, silence_id: str, now: datetime) -> Silence:
        """End a silence at ``now``; the alerts it muted notify at their group's next tick."""
        with self._lock:
            s = expired(self.get_silence(silence_id), now)
            self._silences[s.id] = s
            persist.write(self.store, [persist.upsert_silence(s)])
        return s

    # -- reading ------------------------------------------------------------------------------

    def alerts(self, now: datetime | None = None, *, status: str | None = None,
               service: str | None = None) -> list[dict[str, Any]]:
        """Current alerts (firing and resolved), newest first, with why each is muted."""
        with self._lock:
            at = now or self._now
            states = list(self._states.values())
            if self._inhibitor.rules:
                self._inhibitor.update(s.alert for s in states if s.firing)
            out = []
            for st in states:
                a = st.alert
                if status is not None and ("firing" if st.firing else "resolved") != status:
                    continue
                if service is not None and a.labels.get("service") != service:
                    continue
                inhibitor = (self._inhibitor.inhibited_by(a.labels, a.fingerprint)
                             if st.firing and self._inhibitor.rules else None)
                out.append({**a.to_dict(), "last_seen": st.last_seen.isoformat(),
                            "silenced_by": self._silenced_by(a, at) if at and st.firing else [],
                            "inhibited_by": [inhibitor] if inhibitor else [],
                            "acknowledged_by": st.acknowledged_by,
                            "suppressed_by": st.suppressed_by})
        out.sort(key=lambda d: d["starts_at"], reverse=True)
        return out

    def groups(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """The aggregation groups as notification sees them: per group its key, route path,
        receiver (the owner's on-call when the route sends to the owner), group labels, owner,
        and its firing alerts as :meth:`alerts` lists them — most alerts first. Resolved
        alerts have left their groups; a firing alert appears in every group its routes put it
        in."""
        by_fp = {a["fingerprint"]: a for a in self.alerts(now, status="firing")}
        with self._lock:
            groups = list(self._groups.values())
            out: list[dict[str, Any]] = []
            for g in groups:
                alerts = [by_fp[fp] for fp in sorted(g.fingerprints) if fp in by_fp]
                if not alerts:
                    continue
                states = tuple(self._states[a["fingerprint"]].alert for a in alerts)
                n = self._notification(g, "firing", states, now or self._now or g.next_tick)
                out.append({"key": g.key, "route": g.route.path, "receiver": n.receiver,
                            "labels": dict(g.labels), "owner": n.owner,
                            "last_notified_at": g.last_sent_at.isoformat()
                            if g.last_sent_at else None,
                            "alerts": sorted(alerts, key=lambda a: a["starts_at"])})
        out.sort(key=lambda d: (-len(d["alerts"]), str(d["key"])))
        return out

    def deliveries(self, limit: int = 100) -> list[DeliveryRecord]:
        """The latest delivery-log records, oldest first."""
        with self._lock:
            return list(self._deliveries)[-limit:]

    def stats(self) -> dict[str, Any]:
        """Noise figures: raw signals received, notifications produced, alert instances held
        back by silences, inhibition and deploy windows, and ``noise_reduction`` =
        1 - notifications / raw signals."""
        with self._lock:
            firing = sum(1 for s in self._states.values() if s.firing)
            return {"raw_signals": self._raw, "notifications": self._notifications,
                    "suppressed_by_silence": len(self._muted["silence"]),
                    "suppressed_by_inhibition": len(self._muted["inhibition"]),
                    "suppressed_by_deploy": len(self._muted["deploy"]),
                    "alerts_firing": firing, "groups": len(self._groups),
                    "noise_reduction": (1 - self._notifications / self._raw) if self._raw
                    else 0.0}

    def mttd(self, fault_start: datetime) -> timedelta | None:
        """Time from ``fault_start`` to the first firing alert received at or after it."""
        with self._lock:
            i = bisect.bisect_left(self._firing_received, fault_start)
            if i == len(self._firing_received):
                return None
            return self._firing_received[i] - fault_start

    # -- persistence --------------------------------------------------------------------------

    def _load(self, store: Store) -> None:
        for st in persist.load_alerts(store):
            fp = st.alert.fingerprint
            self._states[fp] = st
            if st.firing:
                bisect.insort(self._firing_received, st.received_at)
                self._join_groups(fp, st.alert, st.last_seen)
        for s in persist.load_silences(store):
            self._silences[s.id] = s
        self._deliveries.extend(persist.load_deliveries(store))
