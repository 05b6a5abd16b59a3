"""The simulated AI fleet and its fault scenarios: ``truecourse demo`` and the scenario benchmark.

- :mod:`~truecourse.sim.fleet` — four instrumented AI services and their dependencies emitting
  OTLP through the real OpenTelemetry SDK on simulated time;
- :mod:`~truecourse.sim.faults` — fault kinds, their effects and timelines;
- :mod:`~truecourse.sim.run` — a timeline played step by step into an in-process server whose
  detection ticks on event time (:mod:`~truecourse.sim.server`);
- :mod:`~truecourse.sim.scenarios` and :mod:`~truecourse.sim.bench` — the named scenarios and
  the benchmark over seeds and controls.
"""

from truecourse.sim.effects import Effects, ServiceEffects
from truecourse.sim.faults import FAULTS, Fault, FaultKind, Timeline, parse_fault
from truecourse.sim.scenarios import Scenario, demo_timeline, scenario, scenario_names

__all__ = ["FAULTS", "Effects", "Fault", "FaultKind", "Scenario", "ServiceEffects", "Timeline",
           "demo_timeline", "parse_fault", "scenario", "scenario_names"]
