"""Alerting benchmark, part 1 (detect): one evaluation tick of 1,000 rules over 10 M spans.

Fills a DuckDB file with ``--spans`` spans over 7 days (50 services; each request an entry span
and a model call), generated columnar with numpy and inserted as Arrow. Then builds ``--rules``
rules (threshold and anomaly, ``where: {service: ...}``, a mix of metrics, windows and
``group_by``) and ``--slos`` SLOs, runs the first tick (the backfill of every cache), and times
``--ticks`` steady-state ticks 30 s of event time apart. Prints the median tick time, the
interval and the ratio tick / interval (must stay under 1).

    python bench/alerting.py                       # 10 M spans, 1,000 rules, 50 SLOs
    python bench/alerting.py --spans 1000000 --rules 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from truecourse.config.detect import DetectConfig
from truecourse.detect import Evaluator
from truecourse.model.columns import ARROW_SCHEMAS
from truecourse.store import DuckDBStore

DAYS = 7
SERVICES = [f"svc-{i:02d}" for i in range(50)]
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku"),
          ("anthropic", "claude-3-5-sonnet")]
END = datetime(2024, 3, 11, tzinfo=UTC)
START = END - timedelta(days=DAYS)
CHUNK = 1_000_000


def _strings(values: list[str], codes: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                          pa.array(values)).cast(pa.string())


def chunk(rng: np.random.Generator, first: int, n_req: int, n_total_req: int) -> pa.Table:
    """Requests ``first .. first + n_req`` (2 spans each), evenly spread over the 7 days."""
    span_ns = DAYS * 86400 * 10**9
    req = np.arange(first, first + n_req, dtype=np.int64)
    t = int(START.timestamp()) * 10**9 + req * (span_ns // n_total_req)
    svc = rng.integers(0, len(SERVICES), n_req)
    mdl = rng.integers(0, len(MODELS), n_req)
    chat_ms = rng.lognormal(6.0, 0.5, n_req)
    root_ms = chat_ms + rng.lognormal(3.0, 0.5, n_req)
    err = rng.random(n_req) < 0.02
    tin = rng.integers(100, 4000, n_req)
    tout = rng.integers(10, 800, n_req)
    n = 2 * n_req
    # interleave: even rows the entry span, odd rows its model call
    def both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty(n, dtype=np.result_type(a, b))
        out[0::2], out[1::2] = a, b
        return out
    is_child = np.tile([False, True], n_req)
    starts = both(t, t + 1_000_000)
    ids = np.repeat(req, 2) * 2 + np.tile([0, 1], n_req)
    trace = pc.cast(pa.array(np.repeat(req, 2)), pa.string())
    span_id = pc.cast(pa.array(ids), pa.string())
    parent = pc.if_else(pa.array(is_child), pc.cast(pa.array(np.repeat(req, 2) * 2), pa.string()),
                        pa.nulls(n, pa.string()))
    cols: dict[str, Any] = {
        "trace_id": trace, "span_id": span_id, "parent_span_id": parent,
        "name": pa.array(np.where(is_child, "chat", "POST /v1")),
        "kind": pa.array(np.where(is_child, "client", "server")),
        "start_time": pa.array(starts // 1000).cast(pa.timestamp("us", tz="UTC")),
        "start_unix_nano": pa.array(starts),
        "duration_ms": pa.array(both(root_ms, chat_ms)),
        "status_code": pa.array(np.where(np.repeat(err, 2), "error", "unset")),
        "service": _strings(SERVICES, np.repeat(svc, 2)),
        "env": pa.array(["prod"] * n),
        "operation": pc.if_else(pa.array(is_child), "chat", pa.nulls(n, pa.string())),
        "provider": pc.if_else(pa.array(is_child),
                               _strings([p for p, _ in MODELS], np.repeat(mdl, 2)),
                               pa.nulls(n, pa.string())),
        "model": pc.if_else(pa.array(is_child), _strings([m for _, m in MODELS],
                                                          np.repeat(mdl, 2)),
                            pa.nulls(n, pa.string())),
        "input_tokens": pa.array(np.where(is_child, np.repeat(tin, 2), 0)),
        "output_tokens": pa.array(np.where(is_child, np.repeat(tout, 2), 0)),
        "cost_usd": pa.array(np.where(is_child, np.repeat(tin * 2.5e-6 + tout * 1e-5, 2), 0.0)),
        "refused": pc.if_else(pa.array(is_child), pa.array(rng.random(n) < 0.01),
                              pa.nulls(n, pa.bool_())),
        "attributes": pa.array(["{}"] * n), "resource": pa.array(["{}"] * n),
    }
    schema = ARROW_SCHEMAS["spans"]
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def fill(path: str, n_spans: int) -> None:
    store = DuckDBStore(path)
    store.migrate()
    store.close()
    con = duckdb.connect(path)
    rng = np.random.default_rng(11)
    n_req = n_spans // 2
    for first in range(0, n_req, CHUNK // 2):
        batch = chunk(rng, first, min(CHUNK // 2, n_req - first), n_req)  # noqa: F841
        con.execute("INSERT INTO spans SELECT * FROM batch")
    con.execute("CHECKPOINT")
    con.close()


# (kind, metric, window, extra) per rule of a service; cycled to reach --rules
TEMPLATES: list[dict[str, Any]] = [
    {"kind": "threshold", "metric": "error_rate", "op": ">", "value": 0.05, "window": "5m",
     "for": "5m"},
    {"kind": "threshold", "metric": "latency_p95", "op": ">", "value": 2000, "window": "5m"},
    {"kind": "threshold", "metric": "latency_p99", "op": ">", "value": 5000, "window": "10m"},
    {"kind": "threshold", "metric": "throughput_rps", "op": "<", "value": 0.01, "window": "5m"},
    {"kind": "threshold", "metric": "cost_usd", "op": ">", "value": 1, "window": "1h",
     "group_by": ["model"]},
    {"kind": "threshold", "metric": "refusal_rate", "op": ">", "value": 0.05, "window": "15m"},
    {"kind": "threshold", "metric": "latency_p95", "op": ">", "value": 1500, "window": "5m",
     "group_by": ["model"]},
    {"kind": "threshold", "metric": "input_tokens_per_call", "op": ">", "value": 3000,
     "window": "1h"},
    {"kind": "threshold", "metric": "error_rate", "op": ">", "value": 0.1, "window": "1m"},
    {"kind": "threshold", "metric": "availability", "op": "<", "value": 0.99, "window": "30m"},
    {"kind": "threshold", "metric": "latency_mean", "op": ">", "value": 1000, "window": "5m",
     "for": "2m"},
    {"kind": "threshold", "metric": "requests", "op": "<", "value": 1, "window": "10m"},
    {"kind": "threshold", "metric": "output_tokens", "op": ">", "value": 10**6, "window": "1h"},
    {"kind": "threshold", "metric": "cost_per_request", "op": ">", "value": 0.05,
     "window": "15m"},
    {"kind": "threshold", "metric": "llm_calls", "op": ">", "value": 10**5, "window": "5m"},
    {"kind": "threshold", "metric": "latency_p50", "op": ">", "value": 800, "window": "5m"},
    {"kind": "anomaly", "metric": "latency_mean", "baseline": "ewma"},
    {"kind": "anomaly", "metric": "error_rate", "baseline": "ewma", "window": "15m"},
    {"kind": "anomaly", "metric": "latency_p95", "baseline": "seasonal", "history": "7d"},
    {"kind": "anomaly", "metric": "cost_usd", "baseline": "ewma", "window": "15m"},
]


def config(n_rules: int, n_slos: int) -> DetectConfig:
    rules = []
    for i in range(n_rules):
        t = TEMPLATES[(i // len(SERVICES)) % len(TEMPLATES)]
        svc = SERVICES[i % len(SERVICES)]
        rules.append({**t, "name": f"r{i:04d}-{t['metric']}", "where": {"service": svc}})
    slos = [{"name": f"slo-{svc}", "service": svc, "objective": 0.99,
             "good": [{"field": "status_code", "op": "!=", "value": "error"},
                      {"field": "duration_ms", "op": "<", "value": 2000}]}
            for svc in SERVICES[:n_slos]]
    return DetectConfig.model_validate({"rules": rules, "slos": slos})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--spans", type=int, default=10_000_000, help="spans to fill (7 days)")
    ap.add_argument("--rules", type=int, default=1000, help="threshold and anomaly rules")
    ap.add_argument("--slos", type=int, default=50, help="SLOs (one per service, at most 50)")
    ap.add_argument("--ticks", type=int, default=5, help="steady-state ticks timed")
    ap.add_argument("--db", help="DuckDB file to reuse (filled first when it has no spans)")
    args = ap.parse_args()
    tmp = None
    path = args.db
    if not path:
        tmp = tempfile.mkdtemp(prefix="tc-bench-alerting-")
        path = os.path.join(tmp, "alerting.duckdb")
    try:
        run(path, args)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(path: str, args: argparse.Namespace) -> None:
    have = 0
    if os.path.exists(path):
        with duckdb.connect(path, read_only=True) as con:
            row = con.execute("SELECT count(*) FROM spans").fetchone()
            have = row[0] if row else 0
    if have:
        print(f"reusing {path}: {have:,} spans")
    else:
        t0 = time.perf_counter()
        fill(path, args.spans)
        print(f"filled {args.spans:,} spans over {DAYS} days in {time.perf_counter() - t0:.1f} s")
    cfg = config(args.rules, min(args.slos, len(SERVICES)))
    kinds = {k: sum(r.kind == k for r in cfg.rules) for k in ("threshold", "anomaly")}
    store = DuckDBStore(path)
    ev = Evaluator(store, cfg)
    now = END
    t0 = time.perf_counter()
    first = ev.tick(now)
    backfill = time.perf_counter() - t0
    print(f"{len(cfg.rules)} rules ({kinds['threshold']} threshold, {kinds['anomaly']} "
          f"anomaly), {len(cfg.slos)} SLOs; DuckDB {duckdb.__version__}, {os.cpu_count()} "
          f"cores")
    print(f"first tick (backfill: SLO windows 28 d, anomaly histories 1-7 d): {backfill:.2f} s, "
          f"{len(first)} alerts firing")
    times = []
    for i in range(1, args.ticks + 1):
        t0 = time.perf_counter()
        ev.tick(now + timedelta(seconds=cfg.interval_s * i))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"steady-state tick: median {med:.3f} s over {len(times)} ticks (runs: "
          + ", ".join(f"{t:.3f}" for t in times) + ")")
    print(f"interval {cfg.interval_s} s; ratio tick / interval = {med / cfg.interval_s:.3f} "
          f"({'under' if med < cfg.interval_s else 'OVER'} the interval)")
    print(f"instances tracked: {len(ev.states())}")
    store.close()


if __name__ == "__main__":
    main()
