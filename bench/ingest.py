"""End-to-end ingest benchmark: OTLP protobuf → running server → queryable in DuckDB.

    python bench/ingest.py --traces 20000

Starts ``truecourse serve`` on a fresh DuckDB file, sends N realistic GenAI traces (3 spans
each) as OTLP protobuf in batches of ~512 spans from several client threads, and waits until
every span is queryable through the API. Prints end-to-end spans/s and the server's peak RSS.
In the same run it times the reference: decoding the same payloads with ``opentelemetry-proto``
(parse, and parse + reading every field and attribute into Python values) and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.workload import payloads


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the kernel's record of the process's peak resident set."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def decode_reference(bodies: list[bytes]) -> tuple[float, float, float]:
    """Spans/s decoding with opentelemetry-proto three ways: parse only; parse and read every
    field and attribute into Python values in a tight loop; parse and ``MessageToDict``."""
    n_spans = 0
    t0 = time.perf_counter()
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        n_spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    parse_rate = n_spans / (time.perf_counter() - t0)

    def value(v: object) -> object:
        which = v.WhichOneof("value")  # type: ignore[attr-defined]
        if which == "array_value":
            return [value(x) for x in v.array_value.values]  # type: ignore[attr-defined]
        if which == "kvlist_value":
            return {kv.key: value(kv.value) for kv in v.kvlist_value.values}  # type: ignore
        return getattr(v, which) if which else None

    t0 = time.perf_counter()
    walked = 0
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            res = {kv.key: value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    row = (s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name,
                           s.kind, s.start_time_unix_nano, s.end_time_unix_nano, s.status.code,
                           {kv.key: value(kv.value) for kv in s.attributes}, res)
                    walked += 1 if row else 0
    walk_rate = walked / (time.perf_counter() - t0)

    from google.protobuf.json_format import MessageToDict

    t0 = time.perf_counter()
    dicts = 0
    for body in bodies[: max(1, len(bodies) // 4)]:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        doc = MessageToDict(req)
        dicts += sum(len(ss["spans"]) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"])
    dict_rate = dicts / (time.perf_counter() - t0)
    return parse_rate, walk_rate, dict_rate


def run_server(db: str, port: int, config: str | None = None) -> subprocess.Popen[bytes]:
    extra = ["--config", config] if config else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "truecourse", "serve", "--db", db, "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become ready in 60 s")


def send_all(base: str, bodies: list[bytes], threads: int) -> tuple[int, int]:
    """POST every body; retries on 429/503. Returns (requests sent, retries)."""
    lock = threading.Lock()
    idx = [0]
    retries = [0]

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    i = idx[0]
                    idx[0] += 1
                if i >= len(bodies):
                    return
                while True:
                    r = client.post(f"{base}/v1/traces", content=bodies[i],
                                    headers={"Content-Type": "application/x-protobuf"})
                    if r.status_code == 200:
                        break
                    if r.status_code in (429, 503):
                        with lock:
                            retries[0] += 1
                        time.sleep(float(r.headers.get("Retry-After", "1")) / 10)
                        continue
                    raise SystemExit(f"server answered {r.status_code}: {r.text[:300]}")

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(bodies), retries[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--traces", type=int, default=20_000, help="traces to send (3 spans each)")
    ap.add_argument("--batch", type=int, default=512, help="spans per OTLP request")
    ap.add_argument("--threads", type=int, default=8,
                    help="concurrent client connections (an OTel Collector exporter uses 10)")
    ap.add_argument("--ingest-workers", default="1",
                    help="comma-separated server.ingest_workers settings to run, e.g. 0,1")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per setting, each on a fresh server and file (median reported)")
    args = ap.parse_args()

    items = list(payloads(args.traces, args.batch))
    bodies = [b for b, _ in items]
    total = sum(n for _, n in items)
    mib = sum(len(b) for b in bodies) / 2**20
    print(f"workload: {args.traces} traces, {total} spans, {len(bodies)} requests, "
          f"{mib:.1f} MiB protobuf")

    parse_rate, walk_rate, dict_rate = decode_reference(bodies)
    print(f"reference decode (opentelemetry-proto): parse {parse_rate:,.0f} spans/s; "
          f"parse + read all fields {walk_rate:,.0f} spans/s; "
          f"parse + MessageToDict {dict_rate:,.0f} spans/s")

    for workers in [int(w) for w in args.ingest_workers.split(",")]:
        rates = sorted(run_one(bodies, total, workers, args.threads)
                       for _ in range(args.repeat))
        e2e = statistics.median(rates)
        print(f"[ingest_workers={workers}] median of {len(rates)}: {e2e:,.0f} spans/s end to end "
              f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})")
        print(f"[ingest_workers={workers}] ratio to decode-only: parse + read all fields "
              f"{e2e / walk_rate:.2f}, parse only {e2e / parse_rate:.3f}, "
              f"parse + MessageToDict {e2e / dict_rate:.2f}")


def run_one(bodies: list[bytes], total: int, workers: int, threads: int) -> float:
    tmp = tempfile.mkdtemp(prefix="tc-bench-")
    db = os.path.join(tmp, "bench.duckdb")
    config = os.path.join(tmp, "truecourse.yaml")
    Path(config).write_text(f"server:\n  ingest_workers: {workers}\n")
    port = free_port()
    proc = run_server(db, port, config)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        _, retries = send_all(base, bodies, threads)
        t_acked = time.perf_counter() - t0
        while True:
            r = httpx.get(f"{base}/api/v1/services", timeout=30).json()
            stored = sum(s["span_count"] for s in r["items"])
            if stored >= total:
                break
            time.sleep(0.05)
        t_query = time.perf_counter() - t0
        rss = peak_rss_mib(proc.pid)
        kids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        kid_rss = sum(peak_rss_mib(k) for k in kids)
    finally:
        proc.terminate()
        proc.wait(30)
    e2e = total / t_query
    print(f"[ingest_workers={workers}] {total} spans acknowledged in {t_acked:.2f} s, "
          f"queryable after {t_query:.2f} s -> {e2e:,.0f} spans/s; server peak RSS "
          f"{rss:.0f} MiB" + (f" + {kid_rss:.0f} MiB in {len(kids)} helper processes"
                               if kids else "")
          + f" ({retries} backpressure retries, {threads} client connections)")
    return e2e


if __name__ == "__main__":
    main()
