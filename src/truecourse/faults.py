"""Fault-injection points for the failure tests (real processes killed at exact moments).

``TRUECOURSE_FAULT_PAUSE="worker.after_commit=30,server.after_publish=30"`` makes the process
print ``fault point <name> reached`` to stderr and sleep that many seconds at the named point,
so a test can ``kill -9`` it exactly there. Unset (always, outside tests) it costs one dict
lookup. Points: ``server.after_publish`` (JetStream acknowledged, answer not sent),
``worker.before_commit`` (batch processed, not written), ``worker.after_commit`` (written, not
acknowledged to JetStream).
"""

from __future__ import annotations

import asyncio
import os
import sys


def _parse(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, seconds = item.partition("=")
        out[name.strip()] = float(seconds or 0)
    return out


_PAUSES = _parse(os.environ.get("TRUECOURSE_FAULT_PAUSE", ""))


def _announce(point: str) -> float:
    seconds = _PAUSES.get(point, 0.0)
    if seconds:
        sys.stderr.write(f"fault point {point} reached; pausing {seconds:g} s\n")
        sys.stderr.flush()
    return seconds


async def pause(point: str) -> None:
    """Sleep at ``point`` when the environment asks for it (a no-op otherwise)."""
    if _PAUSES:
        seconds = _announce(point)
        if seconds:
            await asyncio.sleep(seconds)
