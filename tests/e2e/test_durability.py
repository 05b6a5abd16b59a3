"""A 200 means durable: acknowledged spans survive ``kill -9`` of the server process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from truecourse.store import DuckDBStore

from conftest import start_server
from otlp_builders import span, trace_request

pytestmark = pytest.mark.e2e


def _sender(base: str, acked: set[str], stop: threading.Event, per_batch: int = 200) -> None:
    i = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            spans = [span(f"b{i}-{j}") for j in range(per_batch)]
            body = trace_request(spans).SerializeToString()
            try:
                r = client.post(f"{base}/v1/traces", content=body,
                                headers={"Content-Type": "application/x-protobuf"})
            except httpx.HTTPError:
                return  # the server is gone: this batch was never acknowledged
            if r.status_code == 200:
                acked.update(s.span_id.hex() for s in spans)
            i += 1


def _stored_span_ids(db: Path) -> set[str]:
    store = DuckDBStore(db)
    try:
        rows = store._query("SELECT span_id FROM spans", [], "spans")
    finally:
        store.close()
    return {r["span_id"] for r in rows}


def test_acknowledged_spans_survive_kill_9(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    acked: set[str] = set()
    stop = threading.Event()
    senders = [threading.Thread(target=_sender, args=(srv.base_url, acked, stop))
               for _ in range(3)]
    for t in senders:
        t.start()
    deadline = time.time() + 60
    while len(acked) < 3000 and time.time() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 3000, "the server acknowledged too little before the kill"
    workers = psutil.Process(srv.proc.pid).children(recursive=True)
    assert workers, "expected ingest worker processes"
    os.kill(srv.proc.pid, signal.SIGKILL)  # mid-stream: senders still have requests in flight
    srv.proc.wait(10)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"worker processes outlived the killed server: {alive}"
    stop.set()
    for t in senders:
        t.join(30)
    snapshot = set(acked)

    stored = _stored_span_ids(srv.db)
    missing = snapshot - stored
    assert not missing, f"{len(missing)} acknowledged spans lost after kill -9"

    # and the server starts again on the same file and serves what it had
    again = start_server(tmp_path, db=srv.db)
    try:
        r = httpx.get(f"{again.base_url}/api/v1/services", timeout=10).json()
        assert sum(s["span_count"] for s in r["items"]) >= len(snapshot)
    finally:
        again.stop()


def test_sigterm_drains_before_exit(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    acked: set[str] = set()
    stop = threading.Event()
    sender = threading.Thread(target=_sender, args=(srv.base_url, acked, stop))
    sender.start()
    while len(acked) < 1000:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGTERM)
    # uvicorn drains, then re-raises the signal it caught: a clean SIGTERM exit
    assert srv.proc.wait(60) in (0, -signal.SIGTERM)
    stop.set()
    sender.join(30)
    assert set(acked) <= _stored_span_ids(srv.db)
