"""One simulation run: a fault timeline played through the fleet into a server, step by step.

Each step of simulated time (default one minute): the faults starting in it write their change
events, the fleet emits the step's traffic under the step's effects and waits until the server
acknowledged all of it, an alert storm (if one is on) posts its Alertmanager webhook, and then
the server's detection evaluates every tick due up to the step's end — on event time, so an hour
of traffic takes seconds and a seed reproduces a run.

What a run reports comes from the platform only: the alerts its detectors and alerting engine
produced (first seen firing at the end of the step in which they fired), its noise figures, and
the notifications the on-call inbox really received. Which fault an alert belongs to is decided
afterwards by :func:`attribute`: an alert on one of the fault's target services that started
firing between the fault's start and ``grace_s`` after its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from truecourse.sim.faults import Fault, Timeline
from truecourse.sim.server import Inbox, SimServer
from truecourse.sim.setup import fleet_config, write_fleet_config

__all__ = ["AlertEpisode", "FaultOutcome", "RunResult", "SimEvent", "attribute", "run_timeline"]

#: an alert up to this long after a fault's end still counts as its detection
GRACE_S = 900


@dataclass
class AlertEpisode:
    """One alert from when it was first seen firing (on event time) until it resolved."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    source: str
    starts_at: datetime
    fired_at: datetime
    resolved_at: datetime | None = None

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "?")

    @property
    def service(self) -> str | None:
        return self.labels.get("service")

    def to_dict(self) -> dict[str, Any]:
        return {"alertname": self.alertname, "service": self.service, "labels": self.labels,
                "source": self.source, "starts_at": self.starts_at.isoformat(),
                "fired_at": self.fired_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "summary": self.annotations.get("summary")}


@dataclass
class SimEvent:
    """Something a watcher of the run may want to show as it happens."""

    kind: str  # step, fault, alert, resolved, notification
    at: datetime
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaultOutcome:
    fault: Fault
    started: datetime
    detected: bool
    mttd_s: float | None
    alerts: list[AlertEpisode]

    @property
    def detected_by(self) -> list[str]:
        """The attributed alerts as ``alertname{service=...}``, each once."""
        return sorted({f"{a.alertname}{{service={a.service}}}" for a in self.alerts})

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.fault.kind, "at_s": self.fault.at_s,
                "duration_s": self.fault.duration_s, "magnitude": self.fault.magnitude,
                "started": self.started.isoformat(), "detected": self.detected,
                "mttd_s": self.mttd_s, "detected_by": self.detected_by}


@dataclass
class RunResult:
    seed: int
    start: datetime
    horizon_s: int
    timeline: Timeline
    episodes: list[AlertEpisode]
    stats: dict[str, Any]
    notifications_delivered: int
    spans: int
    logs: int
    events: int
    wall_s: float
    outcomes: list[FaultOutcome] = field(default_factory=list)

    @property
    def unattributed(self) -> list[AlertEpisode]:
        """Alerts that belong to no fault: false alarms (every alert of a control run)."""
        claimed = {id(a) for o in self.outcomes for a in o.alerts}
        return [e for e in self.episodes if id(e) not in claimed]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "start": self.start.isoformat(), "horizon_s": self.horizon_s,
                "faults": [o.to_dict() for o in self.outcomes],
                "false_alarms": [e.to_dict() for e in self.unattributed],
                "alerts": len(self.episodes), "raw_signals": self.stats.get("raw_signals", 0),
                "notifications": self.stats.get("notifications", 0),
                "notifications_delivered": self.notifications_delivered,
                "spans": self.spans, "logs": self.logs, "events": self.events,
                "wall_s": round(self.wall_s, 2)}


def attribute(timeline: Timeline, start: datetime, episodes: list[AlertEpisode],
              grace_s: int = GRACE_S) -> list[FaultOutcome]:
    """Each fault's outcome: the alerts on its target services that fired during it (or up to
    ``grace_s`` after it), and the time from its start to the first of them."""
    out = []
    for f in timeline.faults:
        t0 = start + timedelta(seconds=f.at_s)
        t1 = start + timedelta(seconds=f.end_s + grace_s)
        mine = [e for e in episodes if e.service in f.spec.targets and t0 <= e.fired_at <= t1]
        mine.sort(key=lambda e: e.fired_at)
        mttd = (mine[0].fired_at - t0).total_seconds() if mine else None
        out.append(FaultOutcome(f, t0, bool(mine), mttd, mine))
    return out


def storm_payload(at: datetime, *, status: str, seed: int, pods: int = 60) -> dict[str, Any]:
    """An Alertmanager (version 4) webhook body: a crash-looping recommender rollout, ``pods``
    pods each raising three alerts — what a real cluster sends during such an outage."""
    alerts = []
    ends = (at if status == "resolved" else datetime(1, 1, 1, tzinfo=UTC)).isoformat()
    for i in range(pods):
        pod = f"recommender-7f9c{seed % 97:02d}-{i:03d}"
        for name, sev in (("KubePodCrashLooping", "warning"),
                          ("KubeContainerWaiting", "warning"), ("TargetDown", "critical")):
            alerts.append({
                "status": status,
                "labels": {"alertname": name, "service": "recommender", "namespace": "prod",
                           "pod": pod, "severity": sev},
                "annotations": {"summary": f"{name} on {pod}"},
                "startsAt": at.isoformat(), "endsAt": ends,
                "generatorURL": "http://prometheus.prod:9090/graph"})
    return {"version": "4", "status": status, "receiver": "truecourse",
            "groupLabels": {}, "commonLabels": {"service": "recommender"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.prod:9093",
            "alerts": alerts}


def run_timeline(timeline: Timeline, *, seed: int, folder: Path, start: datetime | None = None,
                 step_s: int = 60, rate: float = 1.0, on_event: Callable[[SimEvent], None]
                 | None = None, keep_server: bool = False, port: int = 0,
                 background_deploy_s: int | None = None) -> tuple[RunResult, SimServer | None]:
    """Play ``timeline`` into a fresh server on ``folder/truecourse.duckdb``.

    ``start``: the event time of the run's first instant (default: the horizon before now, so
    the run ends at the wall clock). ``background_deploy_s``: a healthy deploy of
    support-assistant at that offset (a change that must not alert). With ``keep_server`` the
    server is returned still running, its clock at the run's end (:meth:`SimServer.go_live`
    hands it to the wall clock); otherwise it is stopped and None returned.
    """
    from truecourse.sim.fleet import Fleet

    timeline.validate()
    folder.mkdir(parents=True, exist_ok=True)
    horizon = timeline.horizon_s
    if start is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now - timedelta(seconds=horizon)
    emit = on_event or (lambda _e: None)
    inbox = Inbox().start()
    cfg = fleet_config(inbox.url)
    write_fleet_config(folder / "truecourse.yaml", inbox.url)
    server = SimServer(cfg, folder / "truecourse.duckdb", port=port, start=start).start()
    fleet = None
    wall0 = time.perf_counter()
    open_: dict[str, AlertEpisode] = {}
    episodes: list[AlertEpisode] = []
    spans = logs = events = 0
    try:
        fleet = Fleet(server.base_url, seed=seed, rate=rate)
        storm_on = False
        steps = -(-horizon // step_s)
        for i in range(steps):
            t0_s, t1_s = i * step_s, min(horizon, (i + 1) * step_s)
            t0, t1 = start + timedelta(seconds=t0_s), start + timedelta(seconds=t1_s)
            for f in timeline.starting(t0_s, t1_s):
                at = start + timedelta(seconds=f.at_s)
                if f.spec.on_start is not None:
                    f.spec.on_start(fleet, at, f.magnitude)
                emit(SimEvent("fault", at, f"fault injected: {f.kind} — {f.spec.description}",
                              {"fault": f.kind}))
            if background_deploy_s is not None and t0_s <= background_deploy_s < t1_s:
                fleet.deploy("support-assistant", "2026.11.1-hotfix1",
                             start + timedelta(seconds=background_deploy_s),
                             summary="routine deploy: dependency bumps")
            counts = fleet.emit(t0, t1, timeline.effects((t0_s + t1_s) / 2))
            spans, logs, events = spans + counts.spans, logs + counts.logs, \
                events + counts.events
            storm = [f for f in timeline.active((t0_s + t1_s) / 2) if f.spec.external]
            if storm or storm_on:
                server.clock.set(t1)
                body = storm_payload(start + timedelta(seconds=storm[0].at_s) if storm else t1,
                                     status="firing" if storm else "resolved", seed=seed)
                r = httpx.post(f"{server.base_url}/api/v1/alerts/alertmanager", json=body,
                               timeout=30)
                r.raise_for_status()
                storm_on = bool(storm)
            server.tick(t1)
            _observe(server, t1, open_, episodes, emit)
            emit(SimEvent("step", t1, "", {"step": i + 1, "steps": steps, "spans": spans}))
        wall = time.perf_counter() - wall0
        time.sleep(0.2)  # let the dispatcher hand the last notifications to the inbox
        result = RunResult(seed, start, horizon, timeline, episodes, server.stats(),
                           len(inbox.received()), spans, logs, events, wall)
        result.outcomes = attribute(timeline, start, episodes)
        if keep_server:
            return result, server
        return result, None
    finally:
        if fleet is not None:
            fleet.shutdown()
        if not keep_server:
            server.stop()
            inbox.stop()


def _observe(server: SimServer, now: datetime, open_: dict[str, AlertEpisode],
             episodes: list[AlertEpisode], emit: Callable[[SimEvent], None]) -> None:
    """Record alerts that started firing and episodes that ended since the last step."""
    firing = {f"{a['fingerprint']}@{a['starts_at']}": a for a in server.firing()}
    for key, a in firing.items():
        if key in open_:
            continue
        ep = AlertEpisode(a["fingerprint"], a["labels"], a.get("annotations") or {},
                          a.get("source", ""), datetime.fromisoformat(a["starts_at"]), now)
        open_[key] = ep
        episodes.append(ep)
        muted = [w for w in ("silenced_by", "inhibited_by", "suppressed_by") if a.get(w)]
        emit(SimEvent("alert", now, ep.annotations.get("summary") or ep.alertname,
                      {"alert": ep, "muted": muted}))
    for key, ep in list(open_.items()):
        if key not in firing:
            ep.resolved_at = now
            del open_[key]
            emit(SimEvent("resolved", now, ep.alertname, {"alert": ep}))
