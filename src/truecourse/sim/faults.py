"""The faults a simulation can inject, and a timeline of them.

A fault has a kind (one of :data:`FAULTS`), a start and a duration in simulated seconds from the
run's start, and a magnitude (1.0 is the kind's typical size; 0.5 half as bad, 2.0 twice).
While active it turns knobs of :class:`~truecourse.sim.effects.Effects`; some also leave a trace
in the change log when they start (a deploy, a config change), as the real incident would.

A :class:`Timeline` is validated as a whole: unknown kinds (with "did you mean"), faults that
start before the run or end after it, magnitudes out of range, and overlapping faults of the same
exclusive group (two deploys of one service at once) are refused with every problem listed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from truecourse.config.detect import parse_duration
from truecourse.errors import InvalidInput
from truecourse.sim.effects import Effects

__all__ = ["FAULTS", "Fault", "FaultKind", "Timeline", "parse_fault"]


class ChangeLog(Protocol):
    """Where a fault's start writes its change events (the fleet)."""

    def deploy(self, service: str, version: str, at: datetime, *, summary: str | None = None,
               actor: str = "ci") -> None: ...

    def config_change(self, service: str, key: str, old: Any, new: Any,
                      at: datetime) -> None: ...


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: what it breaks and which services should be seen to suffer."""

    name: str
    description: str
    #: services whose alerts count as detecting it (the fault's blast radius)
    targets: tuple[str, ...]
    #: how the knobs move at ``level`` (magnitude * ramp, 0 when inactive)
    apply: Callable[[Effects, float, float], None]
    #: faults of one group may not overlap (e.g. two deploys of one service)
    exclusive: str | None = None
    default_duration_s: int = 3600
    #: seconds to reach full strength (0: a step change)
    ramp_s: int = 0
    #: change events written when the fault starts
    on_start: Callable[[ChangeLog, datetime, float], None] | None = None
    #: alerts arrive from outside (an Alertmanager flood) rather than from the fleet's traffic
    external: bool = False
    #: the detector meant to catch it, for reports
    caught_by: str = ""


def _input_drift(e: Effects, level: float, _progress: float) -> None:
    e.input_shift = max(e.input_shift, min(1.0, 0.8 * level))


def _latency(e: Effects, level: float, _progress: float) -> None:
    s = e.touch("recommender")
    s.latency_mult *= 1.0 + 3.0 * level


def _latency_deploy(log: ChangeLog, at: datetime, _m: float) -> None:
    log.deploy("recommender", "2026.11.2", at, summary="ranker: switch to two-tower v3",
               actor="deploy-bot")


def _bad_prompt(e: Effects, level: float, _progress: float) -> None:
    e.prompt_version["support-assistant"] = "support-v13"
    e.quality_drop = max(e.quality_drop, min(1.0, 0.5 * level))
    e.refusal_add = max(e.refusal_add, min(0.9, 0.2 * level))


def _bad_prompt_change(log: ChangeLog, at: datetime, _m: float) -> None:
    log.config_change("support-assistant", "prompt_version", "support-v12", "support-v13", at)


def _tool_outage(e: Effects, level: float, _progress: float) -> None:
    e.tool_fail["order_lookup"] = max(e.tool_fail.get("order_lookup", 0.0), min(1.0, 0.9 * level))


def _retrieval(e: Effects, level: float, _progress: float) -> None:
    e.retrieval_degrade = max(e.retrieval_degrade, min(1.0, 0.7 * level))
    e.index_version = "kb-2026-11-20"


def _retrieval_change(log: ChangeLog, at: datetime, _m: float) -> None:
    log.config_change("support-assistant", "index_version", "kb-2026-11-01", "kb-2026-11-20", at)


def _cost(e: Effects, level: float, progress: float) -> None:
    # the context grows through the fault: 1x at its start to (1 + 4*magnitude) times at its end
    e.context_growth *= 1.0 + 4.0 * level * progress


def _pii(e: Effects, level: float, _progress: float) -> None:
    e.pii_leak_rate = max(e.pii_leak_rate, min(1.0, 0.2 * level))


def _injection(e: Effects, level: float, _progress: float) -> None:
    e.injection_rate = max(e.injection_rate, min(1.0, 0.3 * level))


def _dependency(e: Effects, level: float, _progress: float) -> None:
    s = e.touch("feature-store")
    if level >= 1.0:
        s.down = True
    else:
        s.error_rate = max(s.error_rate, level)


def _storm(e: Effects, level: float, _progress: float) -> None:
    """Nothing in the traffic: the storm comes in through the Alertmanager webhook."""


FAULTS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("input_drift", "a new user population: longer questions on other topics, "
              "shifted fraud features", ("support-assistant", "fraud-scorer", "order-agent"),
              _input_drift,
              ramp_s=600, caught_by="anomaly on input tokens per call (drift detectors: "
              "issue 5)"),
    FaultKind("latency_regression", "a recommender deploy makes it about 4x slower",
              ("recommender",), _latency, exclusive="deploy:recommender",
              on_start=_latency_deploy, caught_by="latency SLO burn rate, p95 anomaly"),
    FaultKind("bad_prompt", "prompt support-v13 rolled out: worse answers, more refusals",
              ("support-assistant",), _bad_prompt, exclusive="prompt:support-assistant",
              on_start=_bad_prompt_change, caught_by="refusal-rate threshold, negative feedback"),
    FaultKind("tool_outage", "the order_lookup tool fails most calls",
              ("support-assistant", "order-agent", "orders-api"), _tool_outage,
              default_duration_s=1800, caught_by="tool success rate per tool"),
    FaultKind("retrieval_regression", "a rebuilt index returns fewer, worse documents",
              ("support-assistant", "vector-store"), _retrieval, exclusive="index",
              on_start=_retrieval_change, caught_by="documents per retrieval, empty retrievals"),
    FaultKind("cost_runaway", "the conversation context grows without bound: tokens and cost "
              "climb", ("support-assistant", "order-agent"), _cost, ramp_s=0,
              default_duration_s=5400, caught_by="cost per request anomaly"),
    FaultKind("pii_leak", "answers start to contain customers' emails, phones and cards",
              ("support-assistant",), _pii, caught_by="guard findings (issue 7)"),
    FaultKind("prompt_injection", "a campaign of injection payloads in user messages",
              ("support-assistant",), _injection, caught_by="injection detector (issue 7)"),
    FaultKind("dependency_outage", "feature-store goes down; fraud-scorer and recommender fail "
              "through it", ("feature-store", "fraud-scorer", "recommender"), _dependency,
              default_duration_s=1200, caught_by="availability SLO burn rate, error rate"),
    FaultKind("alert_storm", "a crash-looping deployment floods Alertmanager with pod alerts",
              ("recommender",), _storm, external=True, default_duration_s=600,
              caught_by="external alerts, grouped"),
)}


@dataclass(frozen=True)
class Fault:
    """One fault on a timeline, its times in simulated seconds from the run's start."""

    kind: str
    at_s: int
    duration_s: int
    magnitude: float = 1.0

    @property
    def end_s(self) -> int:
        return self.at_s + self.duration_s

    @property
    def spec(self) -> FaultKind:
        return FAULTS[self.kind]

    def level(self, t_s: float) -> float:
        """The fault's strength at ``t_s`` seconds into the run: 0 outside it."""
        if not self.at_s <= t_s < self.end_s:
            return 0.0
        ramp = self.spec.ramp_s
        return self.magnitude * (min(1.0, (t_s - self.at_s) / ramp) if ramp else 1.0)

    def progress(self, t_s: float) -> float:
        """How far through the fault ``t_s`` is, 0..1."""
        return min(1.0, max(0.0, (t_s - self.at_s) / self.duration_s))

    def describe(self) -> str:
        mag = "" if self.magnitude == 1.0 else f" x{self.magnitude:g}"
        return f"{self.kind}{mag} at +{_fmt_s(self.at_s)} for {_fmt_s(self.duration_s)}"


def _fmt_s(s: int) -> str:
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def _kind_problem(name: str) -> str | None:
    if name in FAULTS:
        return None
    close = difflib.get_close_matches(name, FAULTS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown fault {name!r}{hint} (known: {', '.join(FAULTS)})"


def parse_fault(text: str) -> Fault:
    """A fault from ``KIND@START[+DURATION][xMAGNITUDE]``, e.g. ``tool_outage@30m+20m``,
    ``cost_runaway@1h x2``. Raises InvalidInput saying which part is wrong."""
    raw = text.replace(" ", "")
    kind, sep, rest = raw.partition("@")
    if not sep or not kind or not rest:
        raise InvalidInput(f"fault {text!r} is not KIND@START[+DURATION][xMAGNITUDE]",
                           hint="e.g. tool_outage@30m+20m or cost_runaway@1hx2")
    problem = _kind_problem(kind)
    if problem:
        raise InvalidInput(problem)
    magnitude = 1.0
    if "x" in rest:
        rest, _, mag = rest.partition("x")
        try:
            magnitude = float(mag)
        except ValueError:
            raise InvalidInput(f"fault {text!r}: magnitude {mag!r} is not a number") from None
    start, _, dur = rest.partition("+")
    try:
        at_s = parse_duration(start) if start not in ("0", "0s") else 0
        duration_s = parse_duration(dur) if dur else FAULTS[kind].default_duration_s
    except ValueError as exc:
        raise InvalidInput(f"fault {text!r}: {exc}") from None
    return Fault(kind, at_s, duration_s, magnitude)


@dataclass
class Timeline:
    """The faults of one run over ``horizon_s`` simulated seconds."""

    horizon_s: int
    faults: list[Fault] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything wrong with this timeline, one line each (empty when valid)."""
        out: list[str] = []
        if self.horizon_s <= 0:
            out.append(f"horizon {self.horizon_s}s: a run must last longer than zero")
        for i, f in enumerate(self.faults):
            where = f"fault {i + 1} ({f.kind})"
            problem = _kind_problem(f.kind)
            if problem:
                out.append(f"{where}: {problem}")
                continue
            if f.at_s < 0:
                out.append(f"{where}: starts {_fmt_s(-f.at_s)} before the run starts; start "
                           "at +0 or later")
            if f.duration_s <= 0:
                out.append(f"{where}: duration must be longer than zero")
            if f.at_s >= self.horizon_s:
                out.append(f"{where}: starts at +{_fmt_s(f.at_s)}, at or after the run's end "
                           f"(+{_fmt_s(self.horizon_s)}); lengthen the run or start it earlier")
            if not (0 < f.magnitude <= 10) or math.isnan(f.magnitude):
                out.append(f"{where}: magnitude {f.magnitude:g} is outside (0, 10]")
        for a, b in _overlapping(self.faults):
            group = a.spec.exclusive
            out.append(f"faults {a.describe()} and {b.describe()} overlap, but both are "
                       f"{group!r} changes and cannot happen at once; move one of them")
        return out

    def validate(self) -> Timeline:
        """Self, or InvalidInput listing every problem."""
        problems = self.problems()
        if problems:
            raise InvalidInput("invalid fault timeline: " + "; ".join(problems),
                               hint="faults are KIND@START[+DURATION][xMAGNITUDE] within the "
                                    "run's horizon; `truecourse bench scenarios --list` shows "
                                    "the kinds")
        return self

    def effects(self, t_s: float) -> Effects:
        """The knobs at ``t_s`` seconds into the run."""
        e = Effects()
        for f in self.faults:
            level = f.level(t_s)
            if level > 0:
                f.spec.apply(e, level, f.progress(t_s))
        return e

    def starting(self, t0_s: float, t1_s: float) -> list[Fault]:
        """Faults that start in ``[t0_s, t1_s)``."""
        return [f for f in self.faults if t0_s <= f.at_s < t1_s]

    def active(self, t_s: float) -> list[Fault]:
        return [f for f in self.faults if f.at_s <= t_s < f.end_s]

    def at(self, start: datetime, f: Fault) -> datetime:
        """The wall time of ``f``'s start in a run that starts at ``start``."""
        return start + timedelta(seconds=f.at_s)


def _overlapping(faults: Sequence[Fault]) -> Iterable[tuple[Fault, Fault]]:
    for i, a in enumerate(faults):
        for b in faults[i + 1:]:
            if (a.kind in FAULTS and b.kind in FAULTS and a.spec.exclusive
                    and a.spec.exclusive == b.spec.exclusive
                    and a.at_s < b.end_s and b.at_s < a.end_s):
                yield a, b
