"""Named scenarios: the scripted timeline of ``truecourse demo`` and one scenario per fault
kind for ``truecourse bench scenarios``.

Every run starts with a healthy warm-up (``WARMUP_S``): the anomaly rules learn their baselines
from it (they need 12 five-minute buckets before they may fire), as they would on a real fleet
that has been running for a while.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from truecourse.errors import InvalidInput
from truecourse.sim.faults import FAULTS, Fault, Timeline

__all__ = ["CONTROL", "DEMO", "WARMUP_S", "Scenario", "demo_timeline", "scenario",
           "scenario_names"]

WARMUP_S = 3600
CONTROL = "control"
DEMO = "demo"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    faults: tuple[Fault, ...]
    horizon_s: int

    def timeline(self) -> Timeline:
        return Timeline(self.horizon_s, list(self.faults)).validate()

    @property
    def is_control(self) -> bool:
        return not self.faults


def _single(kind: str, *, quick: bool) -> Scenario:
    spec = FAULTS[kind]
    duration = min(spec.default_duration_s, 1200 if quick else 2400)
    after = 900 if quick else 1800
    fault = Fault(kind, WARMUP_S, duration)
    return Scenario(kind, spec.description, (fault,), WARMUP_S + duration + after)


def demo_timeline() -> Timeline:
    """The demo's script: a warm-up hour, then five incidents of different kinds, some
    overlapping, over two more hours."""
    h = WARMUP_S
    return Timeline(h + 7200, [
        Fault("latency_regression", h + 0, 1500),
        Fault("tool_outage", h + 1800, 1200),
        Fault("bad_prompt", h + 2700, 2400),
        Fault("dependency_outage", h + 4200, 900),
        Fault("cost_runaway", h + 4800, 2400),
        Fault("alert_storm", h + 5400, 600),
    ]).validate()


def scenario_names() -> list[str]:
    """Every scenario the benchmark knows, the control run first."""
    return [CONTROL, *FAULTS]


def scenario(name: str, *, quick: bool = False) -> Scenario:
    """The scenario called ``name`` (a fault kind, ``control`` or ``demo``); InvalidInput with
    the known names for anything else."""
    if name == CONTROL:
        return Scenario(CONTROL, "no fault: a healthy fleet with a routine deploy",
                        (), WARMUP_S + (2100 if quick else 4200))
    if name == DEMO:
        t = demo_timeline()
        return Scenario(DEMO, "the demo's script", tuple(t.faults), t.horizon_s)
    if name in FAULTS:
        return _single(name, quick=quick)
    known = [*scenario_names(), DEMO]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InvalidInput(f"unknown scenario {name!r}", hint=f"{hint}known: {', '.join(known)}")
