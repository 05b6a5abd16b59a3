"""Scale-out fixtures: a throwaway PostgreSQL database, a private JetStream stream, and real
``truecourse serve --queue`` / ``truecourse worker`` processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from conftest import REQUIRE_SERVICES, ServerProcess, start_server
from otlp_builders import span, trace_request
from pg_support import pg_database

NATS_URL = os.environ.get("TRUECOURSE_TEST_NATS", "nats://127.0.0.1:4222")
PB = {"content-type": "application/x-protobuf"}


def _nats_up() -> bool:
    import nats

    async def probe() -> bool:
        try:
            nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0,
                                    allow_reconnect=False)
        except Exception:
            return False
        await nc.close()
        return True

    return asyncio.run(probe())


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout_s: float = 30) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if re.search(pattern, self.text()):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"worker never printed {pattern!r}:\n{self.text()}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


@dataclass
class Cluster:
    """A private stream + database, and the processes started on them (stopped at teardown)."""

    tmp: Path
    db: str
    stream: str
    config: Path
    nats_url: str = NATS_URL
    workers: list[WorkerProcess] = field(default_factory=list)
    servers: list[ServerProcess] = field(default_factory=list)

    def worker(self, *extra: str, env: dict[str, str] | None = None, db: str | None = None,
               queue: str | None = None, wait: bool = True) -> WorkerProcess:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "truecourse", "worker", "--queue", queue or self.nats_url,
             "--db", db or self.db, "--config", str(self.config), "--log-level", "info", *extra],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=self.tmp,
            env={**os.environ, **(env or {})})
        w = WorkerProcess(proc, log)
        self.workers.append(w)
        if wait:
            w.wait_for(r"truecourse worker: stream")
        return w

    def server(self, *extra: str, env: dict[str, str] | None = None,
               queue: str | None = None) -> ServerProcess:
        s = start_server(self.tmp, "--queue", queue or self.nats_url, "--config",
                         str(self.config), *extra, db=self.db, env=env)  # type: ignore[arg-type]
        self.servers.append(s)
        return s

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db, autocommit=True) as conn:
            return list(conn.execute(query).fetchall())

    def span_counts(self) -> tuple[int, int]:
        """(rows, distinct (trace_id, span_id)) in the spans table."""
        [(rows, distinct)] = self.sql(
            "SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM spans")
        return int(rows), int(distinct)

    def wait_spans(self, n: int, timeout_s: float = 60) -> tuple[int, int]:
        deadline = time.time() + timeout_s
        counts = self.span_counts()
        while time.time() < deadline and counts[0] < n:
            time.sleep(0.1)
            counts = self.span_counts()
        return counts

    def stream_state(self) -> dict[str, int]:
        """Messages left in the stream and messages delivered but not acknowledged."""
        import nats

        async def state() -> dict[str, int]:
            nc = await nats.connect(self.nats_url)
            try:
                js = nc.jetstream()
                info = await js.stream_info(self.stream)
                out = {"messages": int(info.state.messages), "ack_pending": 0}
                try:
                    ci = await js.consumer_info(self.stream, "workers")
                    out["ack_pending"] = int(ci.num_ack_pending)
                    out["pending"] = int(ci.num_pending)
                except Exception:
                    pass
                return out
            finally:
                await nc.close()

        return asyncio.run(state())

    def wait_drained(self, timeout_s: float = 60) -> dict[str, int]:
        deadline = time.time() + timeout_s
        st = self.stream_state()
        while time.time() < deadline and st["messages"]:
            time.sleep(0.1)
            st = self.stream_state()
        return st

    def delete_stream(self) -> None:
        import nats

        async def delete() -> None:
            nc = await nats.connect(self.nats_url)
            try:
                await nc.jetstream().delete_stream(self.stream)
            except Exception:
                pass
            finally:
                await nc.close()

        asyncio.run(delete())


def write_config(tmp: Path, stream: str, **queue: Any) -> Path:
    settings = {"stream": stream, "subject_prefix": f"tctest.{stream.lower()}",
                "consumer": "workers", "ack_wait_s": 3, "fetch_batch": 8, **queue}
    lines = ["server:", "  ingest_workers: 0", "queue:"]
    lines += [f"  {k}: {v}" for k, v in settings.items()]
    path = tmp / "truecourse.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    if not _nats_up():
        msg = f"NATS with JetStream is not reachable at {NATS_URL}"
        if REQUIRE_SERVICES:
            pytest.fail(msg)
        pytest.skip(msg)
    made: list[tuple[Cluster, Any]] = []

    def make(**queue: Any) -> Cluster:
        stream = f"TCTEST_{uuid.uuid4().hex[:10].upper()}"
        db_cm = pg_database()
        db = db_cm.__enter__()
        c = Cluster(tmp_path, db, stream, write_config(tmp_path, stream, **queue))
        made.append((c, db_cm))
        return c

    yield make
    for c, db_cm in made:
        for w in c.workers:
            w.stop()
        for s in c.servers:
            s.stop()
        c.delete_stream()
        db_cm.__exit__(None, None, None)


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    return cluster_factory()


def spans_body(n: int, service: str = "svc", start_ns: int | None = None) -> bytes:
    """One OTLP protobuf body with ``n`` fresh spans."""
    base = start_ns or time.time_ns()
    return trace_request([span(f"op{i}", start_ns=base + i) for i in range(n)],
                         service=service).SerializeToString()


def post(server: ServerProcess, body: bytes, timeout_s: float = 30) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PB,
                      timeout=timeout_s)
