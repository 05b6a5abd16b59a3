"""API-key checks on the ingest path: what authentication costs a request, and ingest with
keys required vs an open server.

    python bench/auth.py --traces 3000 --repeats 3

1. In process: ``Gatekeeper.authenticate`` + ``authorize`` per request against a key table of
   ``--keys`` keys (a cached lookup, a SHA-256 of the secret, a constant-time compare and the
   token bucket), timed against the reference of the same run: decoding one OTLP request of
   ``--batch-spans`` spans with ``opentelemetry-proto`` (``ParseFromString``), which every
   ingest request pays anyway.
2. End to end: ``truecourse serve`` on a fresh DuckDB file, the ``bench/ingest.py`` GenAI
   workload sent by 8 client threads, once open (no key exists) and once with an ingest key on
   every request (rate unlimited), interleaved ``--repeats`` times; spans/s until every span is
   queryable, and the ratio keys / open.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest import free_port, run_server, time_until_queryable
from bench.workload import payloads


def in_process(keys: int, batch_spans: int, rounds: int) -> None:
    from truecourse.governance import Gatekeeper, create_key
    from truecourse.store import DuckDBStore

    store = DuckDBStore(":memory:")
    store.migrate()
    tokens = [create_key(store, project="default", scope="ingest", name=f"k{i}",
                         actor="bench")[1] for i in range(keys)]
    gate = Gatekeeper(store)
    headers = [f"Bearer {t}" for t in tokens]
    for h in headers:  # warm the key cache
        gate.authorize(gate.authenticate(h), "ingest")
    t0 = time.perf_counter()
    for i in range(rounds):
        gate.authorize(gate.authenticate(headers[i % keys]), "ingest")
    auth_us = (time.perf_counter() - t0) / rounds * 1e6
    open_gate = Gatekeeper(DuckDBStore(":memory:"))
    open_gate.store.migrate()
    t0 = time.perf_counter()
    for _ in range(rounds):
        open_gate.authorize(open_gate.authenticate(None), "ingest")
    open_us = (time.perf_counter() - t0) / rounds * 1e6
    body, n = next(iter(payloads(batch_spans * 2, batch_spans)))
    reps = max(20, rounds // 200)
    t0 = time.perf_counter()
    for _ in range(reps):
        ExportTraceServiceRequest().ParseFromString(body)
    decode_us = (time.perf_counter() - t0) / reps * 1e6
    print(f"== in process: {keys} keys, {rounds:,} requests")
    print(f"  key check (authenticate + authorize)   {auth_us:8.1f} us/request")
    print(f"  open server (no key exists)            {open_us:8.1f} us/request")
    print(f"  reference: protobuf decode of {n} spans {decode_us:8.1f} us/request")
    print(f"  key check / decode = {auth_us / decode_us:.3f}")


def _cli_key(db: str, scope: str) -> str:
    """A key made the way an operator makes it: `truecourse keys create --db`."""
    out = subprocess.run(
        [sys.executable, "-m", "truecourse", "keys", "create", "--db", db, "--scope", scope,
         "--name", f"bench-{scope}", "--json"], capture_output=True, text=True, check=True)
    return str(json.loads(out.stdout)["key"])


def end_to_end(traces: int, batch_spans: int, repeats: int, workers: int) -> None:
    items = list(payloads(traces, batch_spans))
    bodies = [b for b, _ in items]
    total = sum(n for _, n in items)
    print(f"\n== end to end: {total} spans in {len(bodies)} requests, ingest_workers={workers}, "
          f"median of {repeats}")
    rates: dict[str, list[float]] = {"open (no keys)": [], "ingest key on every request": []}
    for _ in range(repeats):
        for label in rates:  # interleaved: machine drift hits both alike
            tmp = tempfile.mkdtemp(prefix="tc-auth-bench-")
            db = os.path.join(tmp, "b.duckdb")
            config = os.path.join(tmp, "truecourse.yaml")
            Path(config).write_text(f"server:\n  ingest_workers: {workers}\n")
            send_headers: dict[str, str] = {}
            read_headers: dict[str, str] = {}
            if label != "open (no keys)":
                send_headers = {"Authorization": f"Bearer {_cli_key(db, 'ingest')}"}
                read_headers = {"Authorization": f"Bearer {_cli_key(db, 'read')}"}
            port = free_port()
            proc = run_server(db, port, config)
            base = f"http://127.0.0.1:{port}"
            try:
                rates[label].append(time_until_queryable(base, bodies, total, send_headers,
                                                         read_headers))
            finally:
                proc.terminate()
                proc.wait(30)
    med = {k: statistics.median(v) for k, v in rates.items()}
    for label, values in rates.items():
        print(f"  {label:28s} {med[label]:9,.0f} spans/s  (runs: "
              f"{', '.join(f'{v:,.0f}' for v in values)})")
    print(f"  keys / open = {med['ingest key on every request'] / med['open (no keys)']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=3000, help="traces end to end (3 spans each)")
    ap.add_argument("--batch-spans", type=int, default=512, help="spans per OTLP request")
    ap.add_argument("--repeats", type=int, default=3, help="end-to-end runs per setting")
    ap.add_argument("--keys", type=int, default=1000, help="keys in the in-process table")
    ap.add_argument("--rounds", type=int, default=100_000, help="in-process key checks")
    ap.add_argument("--ingest-workers", type=int, default=1)
    ap.add_argument("--skip-e2e", action="store_true")
    args = ap.parse_args()
    in_process(args.keys, args.batch_spans, args.rounds)
    if not args.skip_e2e:
        end_to_end(args.traces, args.batch_spans, args.repeats, args.ingest_workers)


if __name__ == "__main__":
    main()
