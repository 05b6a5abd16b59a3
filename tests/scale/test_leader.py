"""One leader for scheduled work, on real PostgreSQL advisory locks and real processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from truecourse.coord.leader import LeaderJob, LocalLeaderLock, PgLeaderLock, leader_lock, lock_key

from pg_support import ADMIN_URL as PG
from pg_support import require_postgres

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _pg_up() -> None:
    require_postgres()


def _name() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_exactly_one_of_two_nodes_leads_and_release_hands_over() -> None:
    name = _name()
    a, b = PgLeaderLock(PG, name), PgLeaderLock(PG, name)
    try:
        assert a.try_acquire() is True
        assert b.try_acquire() is False
        assert a.try_acquire() is True  # re-confirming keeps it
        a.release()
        assert b.try_acquire() is True
        assert a.try_acquire() is False
    finally:
        a.release()
        b.release()


def test_a_cut_session_loses_the_lock_and_the_other_node_takes_it() -> None:
    name = _name()
    a, b = PgLeaderLock(PG, name), PgLeaderLock(PG, name)
    try:
        assert a.try_acquire()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = %s", (f"truecourse-leader-{name}",))
        time.sleep(0.2)
        assert b.try_acquire() is True
        assert a.try_acquire() is False  # a notices it no longer holds it
    finally:
        a.release()
        b.release()


_HOLDER = """
import sys, time
from truecourse.coord.leader import PgLeaderLock
lock = PgLeaderLock(sys.argv[1], sys.argv[2])
assert lock.try_acquire()
print("leading", flush=True)
time.sleep(600)
"""


def test_a_node_killed_with_sigkill_hands_the_lock_over() -> None:
    name = _name()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, PG, name],
                              stdout=subprocess.PIPE, text=True)
    other = PgLeaderLock(PG, name)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        assert other.try_acquire() is False
        holder.kill()
        holder.wait(10)
        deadline = time.time() + 10
        while not other.try_acquire():
            assert time.time() < deadline, "the lock of a killed node was not released"
            time.sleep(0.1)
    finally:
        holder.kill()
        other.release()


def test_leader_job_runs_only_on_the_leader_and_moves_when_it_stops() -> None:
    name = _name()
    runs = {"a": 0, "b": 0}
    lock = threading.Lock()

    def count(node: str) -> None:
        with lock:
            runs[node] += 1

    a = LeaderJob(PgLeaderLock(PG, name), 0.05, lambda: count("a"), retry_s=0.05)
    b = LeaderJob(PgLeaderLock(PG, name), 0.05, lambda: count("b"), retry_s=0.05)
    a.start()
    time.sleep(0.5)
    b.start()
    time.sleep(0.5)
    try:
        assert a.leading and not b.leading
        assert runs["a"] > 3 and runs["b"] == 0
        a.shutdown()
        deadline = time.time() + 5
        while runs["b"] == 0:
            assert time.time() < deadline, "leadership did not move"
            time.sleep(0.05)
        assert b.leading
    finally:
        a.shutdown()
        b.shutdown()


def test_a_failing_job_run_does_not_end_the_schedule() -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    job = LeaderJob(LocalLeaderLock("local"), 0.02, flaky, retry_s=0.02)
    job.start()
    deadline = time.time() + 5
    while len(calls) < 3:
        assert time.time() < deadline
        time.sleep(0.02)
    job.shutdown()
    job.shutdown()  # twice is fine


def test_lock_choice_and_keys() -> None:
    assert isinstance(leader_lock("./x.duckdb", "rules"), LocalLeaderLock)
    assert isinstance(leader_lock(PG, "rules"), PgLeaderLock)
    assert lock_key("rules") == lock_key("rules") != lock_key("retention")
    assert -(2**63) <= lock_key("rules") < 2**63


def test_unreachable_database_is_not_leading() -> None:
    lock = PgLeaderLock("postgresql://postgres@127.0.0.1:1/test", _name(), connect_timeout_s=1)
    assert lock.try_acquire() is False
    lock.release()
