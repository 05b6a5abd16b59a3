"""Scale-out on real processes: serve --queue → NATS JetStream → truecourse worker → PostgreSQL.

Every test runs on its own stream and its own database. The failure tests kill processes at
exact points (``TRUECOURSE_FAULT_PAUSE``) and then check the one property that matters: every
span whose request was answered 200 is stored exactly once.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import PB, Cluster, post, spans_body
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def test_batches_flow_through_the_queue_to_two_workers_once(cluster: Cluster) -> None:
    server = cluster.server()
    cluster.worker()
    watched = cluster.worker("--metrics-port", "0")
    bodies = [spans_body(50, service=f"svc{i % 3}") for i in range(20)]
    for body in bodies:
        r = post(server, body)
        assert r.status_code == 200, r.text
    assert cluster.wait_spans(1000) == (1000, 1000)
    st = cluster.wait_drained()
    assert st["messages"] == 0
    # the API of the ingest node reads what the workers wrote
    page = httpx.get(f"{server.base_url}/api/v1/spans", params={"service": "svc1",
                                                                 "limit": 1000}).json()
    assert len(page["items"]) == 7 * 50
    # a sender's retry of the same bytes is stored once (JetStream's duplicate window)
    assert post(server, bodies[0]).status_code == 200
    time.sleep(1.0)
    cluster.wait_drained()
    assert cluster.span_counts() == (1000, 1000)
    # the worker's own Prometheus series
    url = re.search(r"metrics on (http://\S+/metrics)", watched.text())
    assert url, watched.text()
    text = httpx.get(url.group(1)).text
    written = re.search(r"^truecourse_worker_rows_written_total (\S+)$", text, re.M)
    assert written and 0 < float(written.group(1)) <= 1000
    assert re.search(r"^truecourse_worker_store_failing 0\.0$", text, re.M)


def test_events_go_through_the_queue(cluster: Cluster) -> None:
    server = cluster.server()
    cluster.worker()
    ev = {"kind": "deploy", "service": "checkout", "version": "2.1", "id": "dep-1"}
    for _ in range(2):  # the retried event id is stored once
        r = httpx.post(f"{server.base_url}/api/v1/events", json=ev, timeout=30)
        assert r.status_code == 200, r.text
    deadline = time.time() + 30
    while time.time() < deadline and not cluster.sql("SELECT id FROM events"):
        time.sleep(0.1)
    cluster.wait_drained()
    assert cluster.sql("SELECT id, kind, service FROM events") == [("dep-1", "deploy",
                                                                     "checkout")]


def test_full_stream_answers_503_with_retry_after_and_loses_nothing(
        cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(max_bytes=60_000)
    server = cluster.server()
    accepted, full = 0, None
    for _ in range(200):
        r = post(server, spans_body(40))
        if r.status_code == 503:
            full = r
            break
        assert r.status_code == 200, r.text
        accepted += 40
    assert full is not None, "the stream never filled"
    assert full.headers["Retry-After"] == "1"
    assert "full" in full.text
    assert accepted > 0
    cluster.worker()
    assert cluster.wait_spans(accepted) == (accepted, accepted)
    cluster.wait_drained()
    assert post(server, spans_body(40)).status_code == 200  # room again once drained
    assert cluster.wait_spans(accepted + 40) == (accepted + 40, accepted + 40)


def test_kill_9_worker_before_its_commit_another_worker_stores_every_span_once(
        cluster: Cluster) -> None:
    server = cluster.server()
    doomed = cluster.worker(env={"TRUECOURSE_FAULT_PAUSE": "worker.before_commit=60"})
    for _ in range(5):
        assert post(server, spans_body(100)).status_code == 200
    doomed.wait_for("fault point worker.before_commit reached")
    doomed.kill9()
    assert cluster.span_counts() == (0, 0)  # nothing was committed
    cluster.worker()
    assert cluster.wait_spans(500) == (500, 500)
    cluster.wait_drained()
    time.sleep(0.5)
    assert cluster.span_counts() == (500, 500)


def test_kill_9_worker_after_commit_before_ack_redelivery_adds_no_duplicates(
        cluster: Cluster) -> None:
    server = cluster.server()
    doomed = cluster.worker(env={"TRUECOURSE_FAULT_PAUSE": "worker.after_commit=60"})
    for _ in range(3):
        assert post(server, spans_body(100)).status_code == 200
    doomed.wait_for("fault point worker.after_commit reached")
    committed = cluster.span_counts()
    assert committed[0] > 0
    doomed.kill9()
    survivor = cluster.worker()
    st = cluster.wait_drained()  # the unacknowledged messages come back after ack_wait (3 s)
    assert st["messages"] == 0
    assert cluster.span_counts() == (300, 300)
    survivor.stop()
    assert "stopped after" in survivor.text()


def test_kill_9_server_between_jetstream_ack_and_answer_loses_nothing(
        cluster: Cluster, tmp_path: Path) -> None:
    doomed = cluster.server(env={"TRUECOURSE_FAULT_PAUSE": "server.after_publish=60"})
    body = spans_body(200)
    result: dict[str, object] = {}

    def send() -> None:
        try:
            result["status"] = post(doomed, body, timeout_s=60).status_code
        except httpx.HTTPError as exc:
            result["error"] = exc

    t = threading.Thread(target=send)
    t.start()
    deadline = time.time() + 30
    while "fault point server.after_publish" not in doomed.log.read_text(errors="replace"):
        assert time.time() < deadline, doomed.log.read_text()
        time.sleep(0.05)
    doomed.proc.kill()
    doomed.proc.wait(10)
    t.join(30)
    assert "error" in result  # the sender never got its answer, so it will retry
    # the retry reaches a healthy ingest node: JetStream already holds the batch
    healthy = cluster.server()
    assert post(healthy, body).status_code == 200
    cluster.worker()
    assert cluster.wait_spans(200) == (200, 200)
    cluster.wait_drained()
    time.sleep(0.5)
    assert cluster.span_counts() == (200, 200)


def test_postgresql_down_workers_retry_ack_nothing_then_drain(cluster: Cluster) -> None:
    host, port = cluster.db.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port))
    try:
        via_proxy = cluster.db.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        server = cluster.server()
        worker = cluster.worker(db=via_proxy)
        assert post(server, spans_body(100)).status_code == 200
        assert cluster.wait_spans(100) == (100, 100)
        proxy.cut()  # PostgreSQL "stops" for the worker
        for _ in range(4):  # ingest goes on: the stream absorbs the backlog
            assert post(server, spans_body(100)).status_code == 200
        worker.wait_for("write of .* failed", timeout_s=30)
        time.sleep(4)  # longer than ack_wait: the worker must keep the messages, not ack them
        st = cluster.stream_state()
        assert st["messages"] == 4  # nothing acknowledged that was not written
        assert cluster.span_counts() == (100, 100)
        proxy.restore()
        assert cluster.wait_spans(500, timeout_s=60) == (500, 500)
        assert cluster.wait_drained()["messages"] == 0
        time.sleep(0.5)
        assert cluster.span_counts() == (500, 500)
    finally:
        proxy.close()


def test_sigterm_finishes_the_batch_in_hand_and_exits_0(cluster: Cluster) -> None:
    server = cluster.server()
    worker = cluster.worker(env={"TRUECOURSE_FAULT_PAUSE": "worker.before_commit=2"})
    assert post(server, spans_body(100)).status_code == 200
    worker.wait_for("fault point worker.before_commit reached")
    assert worker.stop() == 0
    assert cluster.span_counts() == (100, 100)
    assert cluster.stream_state()["messages"] == 0


def test_sigterm_on_an_ingest_node_answers_the_request_in_flight(cluster: Cluster) -> None:
    server = cluster.server(env={"TRUECOURSE_FAULT_PAUSE": "server.after_publish=2"})
    result: dict[str, int] = {}
    t = threading.Thread(target=lambda: result.update(
        status=post(server, spans_body(40), timeout_s=60).status_code))
    t.start()
    deadline = time.time() + 30
    while "fault point server.after_publish" not in server.log.read_text(errors="replace"):
        assert time.time() < deadline, server.log.read_text()
        time.sleep(0.05)
    server.proc.terminate()
    t.join(60)
    assert result == {"status": 200}
    # uvicorn re-raises the signal after its graceful shutdown: "killed by SIGTERM", cleanly
    assert server.proc.wait(30) in (0, -15)
    assert "Traceback" not in server.log.read_text(errors="replace")
    cluster.worker()
    assert cluster.wait_spans(40) == (40, 40)


def test_unreadable_message_is_terminated_and_the_rest_flows(cluster: Cluster) -> None:
    import asyncio

    import nats

    server = cluster.server()

    async def publish_garbage() -> None:
        nc = await nats.connect(cluster.nats_url)
        js = nc.jetstream()
        await js.publish(f"tctest.{cluster.stream.lower()}.spans", b"not arrow",
                         headers={"Tc-Table": "spans", "Tc-Format": "arrow-ipc-lz4-1"})
        await nc.close()

    asyncio.run(publish_garbage())
    assert post(server, spans_body(30)).status_code == 200
    worker = cluster.worker()
    assert cluster.wait_spans(30) == (30, 30)
    worker.wait_for("dropping unreadable queue message")
    assert cluster.wait_drained()["messages"] == 0


def test_readyz_reports_an_unreachable_queue(cluster: Cluster) -> None:
    proxy = TcpProxy("127.0.0.1", 4222)
    try:
        server = cluster.server(queue=f"nats://127.0.0.1:{proxy.port}")
        assert httpx.get(f"{server.base_url}/readyz").status_code == 200
        proxy.cut()
        deadline = time.time() + 20
        r = httpx.get(f"{server.base_url}/readyz", timeout=10)
        while r.status_code == 200 and time.time() < deadline:
            time.sleep(0.2)
            r = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert r.status_code == 503
        assert any(p.startswith("queue:") for p in r.json()["problems"])
        # while the queue is away, a batch gets 503, never a silent 200
        resp = httpx.post(f"{server.base_url}/v1/traces", content=spans_body(5), headers=PB,
                          timeout=30)
        assert resp.status_code == 503
        proxy.restore()
        deadline = time.time() + 30
        while httpx.get(f"{server.base_url}/readyz", timeout=10).status_code != 200:
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        proxy.close()


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "truecourse", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_start_up_errors_name_what_is_unreachable(cluster: Cluster, tmp_path: Path) -> None:
    r = _run_cli("serve", "--queue", "nats://127.0.0.1:1", "--db", cluster.db, "--port", "0",
                 cwd=tmp_path)
    assert r.returncode == 75, r.stderr
    assert "cannot connect to NATS at nats://127.0.0.1:1" in r.stderr
    assert "hint:" in r.stderr
    r = _run_cli("serve", "--queue", cluster.nats_url, "--db", str(tmp_path / "x.duckdb"),
                 "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and "postgresql://" in r.stderr
    r = _run_cli("worker", "--queue", cluster.nats_url, "--db",
                 "postgresql://tc:secret@127.0.0.1:1/test", "--config", str(cluster.config),
                 cwd=tmp_path)
    assert r.returncode == 75, r.stderr
    assert "127.0.0.1:1" in r.stderr and "secret" not in r.stderr
    r = _run_cli("serve", "--db", "postgresql://tc:secret@127.0.0.1:1/test", "--port", "0",
                 cwd=tmp_path)
    assert r.returncode == 75, r.stderr
    assert "cannot connect to PostgreSQL at postgresql://tc:***@127.0.0.1:1/test" in r.stderr
    r = _run_cli("worker", "--db", cluster.db, cwd=tmp_path)
    assert r.returncode == 2 and "--queue" in r.stderr
    r = _run_cli("worker", "--queue", "redis://x", "--db", cluster.db, cwd=tmp_path)
    assert r.returncode == 2 and "nats://" in r.stderr


def test_serve_directly_on_postgresql_and_readyz_follows_the_store(tmp_path: Path) -> None:
    from conftest import start_server
    from pg_support import pg_database

    with pg_database() as db:
        host, port = db.split("@", 1)[1].split("/", 1)[0].split(":")
        proxy = TcpProxy(host, int(port))
        server = None
        try:
            server = start_server(tmp_path, db=db.replace(f"{host}:{port}",  # type: ignore[arg-type]
                                                          f"127.0.0.1:{proxy.port}"))
            r = httpx.post(f"{server.base_url}/v1/traces", content=spans_body(25), headers=PB,
                           timeout=30)
            assert r.status_code == 200, r.text
            page = httpx.get(f"{server.base_url}/api/v1/spans", params={"limit": 100}).json()
            assert len(page["items"]) == 25
            proxy.cut()
            r = httpx.get(f"{server.base_url}/readyz", timeout=30)
            assert r.status_code == 503
            assert any(p.startswith("store:") for p in r.json()["problems"])
            r = httpx.post(f"{server.base_url}/v1/traces", content=spans_body(5), headers=PB,
                           timeout=30)
            assert r.status_code == 503 and r.headers.get("Retry-After")
            proxy.restore()
            deadline = time.time() + 30
            while httpx.get(f"{server.base_url}/readyz", timeout=30).status_code != 200:
                assert time.time() < deadline, server.log.read_text()
                time.sleep(0.2)
            r = httpx.post(f"{server.base_url}/v1/traces", content=spans_body(5), headers=PB,
                           timeout=30)
            assert r.status_code == 200
        finally:
            if server is not None:
                server.stop()
            proxy.close()
