"""The scenario benchmark: every fault scenario over several seeds, plus fault-free controls.

Per scenario it reports what the platform did, from the runs' own results:

- ``detected``: runs in which an alert on one of the fault's target services started firing
  between the fault's start and 15 minutes after its end, out of all runs;
- ``mttd_s``: fault start to that first alert firing (event time; one-step resolution), median
  and worst over the detecting runs;
- ``false_alarms_per_day``: on the control runs, alert episodes per simulated day (every alert
  of a fault-free run is a false alarm); on fault runs, alerts attributable to no fault are
  listed as ``other_alerts``;
- ``raw_signals`` / ``notifications``: alerts received by the alerting engine (each firing
  alert, every evaluation) against notifications it produced after grouping, deduplication,
  inhibition and silences; ``noise_reduction`` = 1 - notifications / raw signals.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from truecourse.sim.run import RunResult, SimEvent, run_timeline
from truecourse.sim.scenarios import CONTROL, scenario

__all__ = ["BENCH_START", "ScenarioReport", "run_bench"]

#: every benchmark run starts at the same instant (a Monday 06:00 UTC), so a seed reproduces it
BENCH_START = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)


@dataclass
class ScenarioReport:
    name: str
    description: str
    runs: list[RunResult] = field(default_factory=list)

    @property
    def is_control(self) -> bool:
        return self.name == CONTROL

    def to_dict(self) -> dict[str, Any]:
        outcomes = [o for r in self.runs for o in r.outcomes]
        mttds = [o.mttd_s for o in outcomes if o.mttd_s is not None]
        sim_days = sum(r.horizon_s for r in self.runs) / 86400
        raw = sum(int(r.stats.get("raw_signals", 0)) for r in self.runs)
        notes = sum(int(r.stats.get("notifications", 0)) for r in self.runs)
        other = sum(len(r.unattributed) for r in self.runs)
        by: dict[str, int] = {}
        for o in outcomes:
            for name in o.detected_by:
                by[name] = by.get(name, 0) + 1
        return {
            "scenario": self.name, "description": self.description, "runs": len(self.runs),
            "seeds": [r.seed for r in self.runs],
            "detected": None if self.is_control else sum(o.detected for o in outcomes),
            "mttd_s_median": statistics.median(mttds) if mttds else None,
            "mttd_s_max": max(mttds) if mttds else None,
            "false_alarms": other if self.is_control else None,
            "false_alarms_per_day": round(other / sim_days, 2) if self.is_control and sim_days
            else None,
            "other_alerts": None if self.is_control else other,
            "raw_signals": raw, "notifications": notes,
            "noise_reduction": round(1 - notes / raw, 4) if raw else None,
            "detected_by": dict(sorted(by.items(), key=lambda kv: -kv[1])),
            "simulated_hours": round(sum(r.horizon_s for r in self.runs) / 3600, 2),
            "spans": sum(r.spans for r in self.runs),
            "wall_s": round(sum(r.wall_s for r in self.runs), 1),
            "details": [r.to_dict() for r in self.runs],
        }


def run_bench(names: Sequence[str], seeds: Sequence[int], *, quick: bool = False,
              rate: float = 1.0, folder: Path | None = None,
              on_run: Callable[[str, int, RunResult], None] | None = None,
              on_event: Callable[[SimEvent], None] | None = None) -> list[ScenarioReport]:
    """Run each scenario of ``names`` once per seed, each run on a fresh database under
    ``folder`` (a temporary folder by default, removed afterwards)."""
    specs = [scenario(n, quick=quick) for n in names]  # unknown names fail before any run
    reports = []
    with tempfile.TemporaryDirectory(prefix="truecourse-bench-") as tmp:
        base = folder or Path(tmp)
        for spec in specs:
            report = ScenarioReport(spec.name, spec.description)
            for seed in seeds:
                run_dir = base / f"{spec.name}-{seed}"
                result, _ = run_timeline(
                    spec.timeline(), seed=seed, folder=run_dir, start=BENCH_START, rate=rate,
                    on_event=on_event,
                    background_deploy_s=spec.horizon_s // 2 if spec.is_control else None)
                report.runs.append(result)
                if on_run is not None:
                    on_run(spec.name, seed, result)
            reports.append(report)
    return reports
