"""A real TrueCourse server filled by a seeded simulator run, shared by the browser tests.

One run of the simulated fleet (45 simulated minutes, seeded) with a tool outage and a bad
prompt rollout, played through the real server on a DuckDB file; the server stays up with its
clock at the run's end, so the pages and the API answer about the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from truecourse.sim import Fault, Timeline
from truecourse.sim.run import RunResult, run_timeline
from truecourse.sim.server import SimServer

HORIZON_S = 45 * 60
TIMELINE = Timeline(HORIZON_S, [Fault("bad_prompt", 15 * 60, 20 * 60),
                                Fault("tool_outage", 25 * 60, 15 * 60)])


@dataclass
class FilledServer:
    server: SimServer
    result: RunResult
    since: datetime
    until: datetime

    @property
    def url(self) -> str:
        return self.server.base_url

    def range_params(self) -> dict[str, str]:
        """An absolute window holding the whole run (so the page and the API agree)."""
        return {"since": iso(self.since), "until": iso(self.until)}


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_filled_server(folder: Path, seed: int = 11) -> FilledServer:
    """Play :data:`TIMELINE` into a fresh server under ``folder``; the caller stops it."""
    result, server = run_timeline(TIMELINE, seed=seed, folder=folder, keep_server=True)
    assert server is not None
    since = result.start.replace(second=0, microsecond=0)
    until = result.start + timedelta(seconds=HORIZON_S + 60)
    return FilledServer(server, result, since, until)
