"""Entry spans for the detect tests, built columnar (numpy -> Arrow), with known answers.

``requests(service, start, minutes, per_minute, slow=...)`` gives ``per_minute`` entry spans a
minute, evenly spaced (every 6 s for 10 a minute) from ``start``; ``slow(t)`` says which of
them take 3 s instead of 100 ms (the latency regression).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from truecourse.model import ArrowBatch
from truecourse.model.columns import ARROW_SCHEMAS

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAST_MS, SLOW_MS = 100.0, 3000.0


def ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def batch(start_ns: np.ndarray, duration_ms: np.ndarray, service: str,
          status: np.ndarray | None = None, extra: dict[str, pa.Array] | None = None,
          salt: int = 0) -> ArrowBatch:
    """Root server spans; every other column NULL (JSON columns ``{}``)."""
    n = len(start_ns)
    schema = ARROW_SCHEMAS["spans"]
    ids = np.arange(n) + salt * 10**9
    cols: dict[str, pa.Array] = {
        "trace_id": pa.array([f"{service[:8]:0<8}{i:024x}" for i in ids]),
        "span_id": pa.array([f"{i:016x}" for i in ids]),
        "name": pa.array(["POST /"] * n), "kind": pa.array(["server"] * n),
        "start_time": pa.array(start_ns // 1000, type=pa.int64()).cast(
            pa.timestamp("us", tz="UTC")),
        "start_unix_nano": pa.array(start_ns, type=pa.int64()),
        "duration_ms": pa.array(duration_ms, type=pa.float64()),
        "status_code": pa.array(status if status is not None else ["unset"] * n),
        "service": pa.array([service] * n), "env": pa.array(["prod"] * n),
        "attributes": pa.array(["{}"] * n), "resource": pa.array(["{}"] * n),
        **(extra or {}),
    }
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
              for f in schema]
    return ArrowBatch("spans", pa.Table.from_arrays(arrays, schema=schema))


def requests(service: str, start: datetime, minutes: int, per_minute: int = 10,
             slow: Callable[[np.ndarray], np.ndarray] | None = None,
             salt: int = 0) -> ArrowBatch:
    step = 60 * 10**9 // per_minute
    starts = ns(start) + np.arange(minutes * per_minute, dtype=np.int64) * step
    dur = np.full(len(starts), FAST_MS)
    if slow is not None:
        dur[slow(starts)] = SLOW_MS
    return batch(starts, dur, service, salt=salt)


def between(a: datetime, b: datetime) -> Callable[[np.ndarray], np.ndarray]:
    """Spans starting in ``[a, b)``."""
    return lambda starts: (starts >= ns(a)) & (starts < ns(b))
