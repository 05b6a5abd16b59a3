"""End-to-end ingest benchmark: OTLP protobuf → running server → queryable in the store.

    python bench/ingest.py --traces 20000
    python bench/ingest.py --db postgresql://postgres@127.0.0.1/test \
        --queue nats://127.0.0.1:4222 --queue-workers 1,2

With ``--db`` it also runs PostgreSQL direct (a fresh database per run, dropped after); with
``--queue`` also ``serve --queue`` + N ``truecourse worker`` processes on PostgreSQL, for each N
in ``--queue-workers`` (a fresh stream per run). All settings run on the same payloads in one
invocation, so their figures compare.

Starts ``truecourse serve`` on a fresh DuckDB file, sends N realistic GenAI traces (3 spans
each) as OTLP protobuf in batches of ~512 spans from several client threads, and waits until
every span is queryable through the API. Prints end-to-end spans/s and the server's peak RSS.
In the same run it times the reference: decoding the same payloads with ``opentelemetry-proto``
(parse, and parse + reading every field and attribute into Python values) and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
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


def run_server(db: str, port: int, config: str | None = None,
               queue: str | None = None) -> subprocess.Popen[bytes]:
    extra = ["--config", config] if config else []
    if queue:
        extra += ["--queue", queue]
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


def send_all(base: str, bodies: list[bytes], threads: int,
             headers: dict[str, str] | None = None) -> tuple[int, int]:
    """POST every body (with ``headers``, e.g. an API key); retries on 429/503. Returns
    (requests sent, retries)."""
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
                                    headers={"Content-Type": "application/x-protobuf",
                                             **(headers or {})})
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


def time_until_queryable(base: str, bodies: list[bytes], total: int,
                         send_headers: dict[str, str] | None = None,
                         read_headers: dict[str, str] | None = None) -> float:
    """Send every body (8 client threads), wait until ``total`` spans are queryable through
    ``/api/v1/services``; spans per second over the whole."""
    t0 = time.perf_counter()
    send_all(base, bodies, 8, send_headers)
    while sum(s["span_count"] for s in httpx.get(
            f"{base}/api/v1/services", timeout=30,
            headers=read_headers or {}).json()["items"]) < total:
        time.sleep(0.05)
    return total / (time.perf_counter() - t0)


@dataclass(frozen=True)
class Setting:
    label: str
    ingest_workers: int = 1
    pg: str | None = None  # admin URL: a fresh database is made from it per run
    queue: str | None = None
    queue_workers: int = 0
    drain: bool = False  # publish everything first, then time the workers draining it


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
    ap.add_argument("--db", default=None,
                    help="a postgresql:// URL: also run PostgreSQL direct (and the queue runs) "
                         "on fresh databases created through it")
    ap.add_argument("--queue", default=None,
                    help="a nats:// URL: also run serve --queue + workers (needs --db)")
    ap.add_argument("--queue-workers", default="1,2",
                    help="comma-separated numbers of truecourse worker processes")
    ap.add_argument("--drain-only", action="store_true",
                    help="with --queue: only the backlog-drain runs (worker scaling)")
    args = ap.parse_args()
    if args.queue and not args.db:
        raise SystemExit("--queue needs --db postgresql://... (workers write to PostgreSQL)")

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

    settings = [Setting(f"duckdb ingest_workers={w}", ingest_workers=int(w))
                for w in args.ingest_workers.split(",")]
    if args.db:
        settings.append(Setting("postgresql direct", pg=args.db))
    if args.drain_only:
        settings = []
    if args.queue:
        counts = [int(x) for x in args.queue_workers.split(",")]
        if not args.drain_only:
            settings += [Setting(f"nats + postgresql, {n} worker{'s' if n > 1 else ''}",
                                 pg=args.db, queue=args.queue, queue_workers=n)
                         for n in counts]
        settings += [Setting(f"drain backlog, {n} worker{'s' if n > 1 else ''}", pg=args.db,
                             queue=args.queue, queue_workers=n, drain=True) for n in counts]
    medians: dict[str, float] = {}
    for setting in settings:
        rates = sorted(run_one(bodies, total, setting, args.threads) for _ in range(args.repeat))
        e2e = medians[setting.label] = statistics.median(rates)
        print(f"[{setting.label}] median of {len(rates)}: {e2e:,.0f} spans/s end to end "
              f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})")
        print(f"[{setting.label}] ratio to decode-only: parse + read all fields "
              f"{e2e / walk_rate:.2f}, parse only {e2e / parse_rate:.3f}, "
              f"parse + MessageToDict {e2e / dict_rate:.2f}")
    for drain in (False, True):
        runs = [s for s in settings if s.queue and s.drain == drain]
        for s in runs[1:]:
            print(f"scaling ({'drain' if drain else 'end to end'}): {s.queue_workers} workers / "
                  f"{runs[0].queue_workers} = {medians[s.label] / medians[runs[0].label]:.2f}x")


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database next to ``admin_url``'s, dropped afterwards."""
    name = f"tc_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def delete_stream(url: str, stream: str) -> None:
    import nats

    async def go() -> None:
        nc = await nats.connect(url)
        with suppress(Exception):
            await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(go())


def start_workers(n: int, queue: str, db: str, config: str) -> list[subprocess.Popen[bytes]]:
    """Start ``n`` workers at once and return when each has subscribed."""
    procs = [subprocess.Popen([sys.executable, "-m", "truecourse", "worker", "--queue", queue,
                               "--db", db, "--config", config],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(n)]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().decode()
        if "truecourse worker: stream" not in line:
            raise SystemExit(f"worker did not start: {line}{p.stdout.read().decode()}")
    return procs


def cpu_seconds(workers: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    """CPU seconds used so far by the workers, by PostgreSQL's processes, and by the machine."""
    def used(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    pg = sum(used(p) for p in psutil.process_iter(["name"])
             if (p.info["name"] or "").startswith("postgres"))
    total = psutil.cpu_times()
    return {"workers": sum(used(psutil.Process(w.pid)) for w in workers), "postgres": pg,
            "all": float(total.user + total.system + getattr(total, "nice", 0.0))}


def run_one(bodies: list[bytes], total: int, setting: Setting, threads: int) -> float:
    tmp = tempfile.mkdtemp(prefix="tc-bench-")
    config = os.path.join(tmp, "truecourse.yaml")
    text = f"server:\n  ingest_workers: {setting.ingest_workers}\n"
    stream = f"TCBENCH_{uuid.uuid4().hex[:8].upper()}"
    if setting.queue:
        text += (f"queue:\n  stream: {stream}\n  subject_prefix: tcbench.{stream.lower()}\n"
                 "  consumer: bench\n")
    Path(config).write_text(text)
    store = (nullcontext(os.path.join(tmp, "bench.duckdb")) if setting.pg is None
             else fresh_database(setting.pg))
    with store as db:
        port = free_port()
        proc = run_server(db, port, config, setting.queue)
        workers = (start_workers(setting.queue_workers, setting.queue, db, config)
                   if setting.queue and not setting.drain else [])
        base = f"http://127.0.0.1:{port}"

        def stored() -> int:
            if setting.pg is not None:  # a plain count: /services computes percentiles, and on
                # PostgreSQL polling it would take CPU from the workers being measured
                with psycopg.connect(db, autocommit=True) as conn:
                    row = conn.execute("SELECT count(*) FROM spans").fetchone()
                return int(row[0]) if row else 0
            r = httpx.get(f"{base}/api/v1/services", timeout=30).json()
            return sum(s["span_count"] for s in r["items"])

        try:
            t0 = time.perf_counter()
            _, retries = send_all(base, bodies, threads)
            t_acked = time.perf_counter() - t0
            if setting.drain:
                # the backlog is in the stream; time the workers alone once all of them run
                workers = start_workers(setting.queue_workers, setting.queue, db, config)
                t0, total_before = time.perf_counter(), stored()
                cpu_before = cpu_seconds(workers)
            while stored() < total:
                time.sleep(0.05)
            t_query = time.perf_counter() - t0
            if setting.drain:
                cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(workers).items()}
            rss = peak_rss_mib(proc.pid)
            kids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            kid_rss = sum(peak_rss_mib(k) for k in kids)
            worker_rss = sum(peak_rss_mib(w.pid) for w in workers)
        finally:
            for w in workers:
                w.terminate()
            proc.terminate()
            proc.wait(30)
            for w in workers:
                w.wait(30)
            if setting.queue:
                delete_stream(setting.queue, stream)
    if setting.drain:
        rate = (total - total_before) / t_query
        print(f"[{setting.label}] {total} spans published in {t_acked:.2f} s; "
              f"{total - total_before} drained by {len(workers)} workers in {t_query:.2f} s -> "
              f"{rate:,.0f} spans/s; {worker_rss:.0f} MiB peak RSS in the workers; CPU busy "
              f"(cores): workers {cpu['workers'] / t_query:.2f}, PostgreSQL "
              f"{cpu['postgres'] / t_query:.2f}, all {cpu['all'] / t_query:.2f} of "
              f"{os.cpu_count()}")
        return rate
    e2e = total / t_query
    print(f"[{setting.label}] {total} spans acknowledged in {t_acked:.2f} s, "
          f"queryable after {t_query:.2f} s -> {e2e:,.0f} spans/s; server peak RSS "
          f"{rss:.0f} MiB" + (f" + {kid_rss:.0f} MiB in {len(kids)} helper processes"
                               if kids else "")
          + (f" + {worker_rss:.0f} MiB in {len(workers)} workers" if workers else "")
          + f" ({retries} backpressure retries, {threads} client connections)")
    return e2e


if __name__ == "__main__":
    main()
