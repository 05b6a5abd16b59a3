"""One leader for scheduled work: PostgreSQL advisory locks, and a job that runs only on it.

::

    lock = leader_lock(store.url, "rules")       # PgLeaderLock, or LocalLeaderLock for DuckDB
    job = LeaderJob(lock, interval_s=30, fn=evaluate_rules, name="rules")
    job.start()      # a thread: try to lead, run fn every interval while leading
    job.shutdown()   # stop and release the lock; safe to call twice and before start

The lock is a session-level ``pg_try_advisory_lock`` held by a connection of its own. PostgreSQL
releases it when that session ends, so a node that dies (even ``kill -9``) hands leadership over:
another node's next attempt takes it. Before each run the leader confirms it still holds the lock
(its connection may have been cut); a node that cannot confirm stops running the job. The gap in
which two nodes might both believe they lead is bounded by one interval, so jobs must be
idempotent (evaluate, prune, expire), which every scheduled job in TrueCourse is.

An embedded DuckDB store has one writing process by construction, so its lock always leads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from truecourse.errors import StoreUnavailable

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    """Who runs a named periodic job now."""

    name: str

    def try_acquire(self) -> bool:
        """True when this process holds the lock now (taking it if free); never blocks long."""
        ...

    def release(self) -> None:
        """Give the lock up (safe when not held, and twice)."""
        ...


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of a job name (stable across processes)."""
    digest = hashlib.blake2b(f"truecourse:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LocalLeaderLock:
    """The lock of a single-process store: always held."""

    def __init__(self, name: str) -> None:
        self.name = name

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


class PgLeaderLock:
    """A session advisory lock on a dedicated PostgreSQL connection."""

    def __init__(self, url: str, name: str, *, connect_timeout_s: int = 5) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self.connect_timeout_s = connect_timeout_s
        self._conn: object | None = None
        self._held = False

    def _connect(self) -> object:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True,
                                   connect_timeout=self.connect_timeout_s,
                                   application_name=f"truecourse-leader-{self.name}")
        except psycopg.Error as exc:
            raise StoreUnavailable(f"leader lock {self.name!r}: cannot connect to PostgreSQL: "
                                   f"{exc}") from exc

    def try_acquire(self) -> bool:
        import psycopg

        try:
            if self._conn is None:
                self._conn = self._connect()
                self._held = False
            conn = self._conn
            if self._held:
                # still ours? the session may have been cut and the lock taken by another node
                row = conn.execute(  # type: ignore[attr-defined]
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objid = (%s::bigint & 4294967295)::oid "
                    "AND classid = ((%s::bigint >> 32) & 4294967295)::oid",
                    (self.key, self.key)).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    return True
            row = conn.execute("SELECT pg_try_advisory_lock(%s)",  # type: ignore[attr-defined]
                               (self.key,)).fetchone()
            self._held = bool(row and row[0])
            return self._held
        except (psycopg.Error, StoreUnavailable) as exc:
            if self._held:
                log.warning("leader lock %r lost: %s", self.name, exc)
            self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()  # type: ignore[attr-defined]

    def release(self) -> None:
        if self._conn is not None and self._held:
            with contextlib.suppress(Exception):
                self._conn.execute("SELECT pg_advisory_unlock(%s)",  # type: ignore[attr-defined]
                                   (self.key,))
        self._drop()


def leader_lock(store_url: str, name: str) -> LeaderLock:
    """The lock for ``name`` on the store at ``store_url`` (PostgreSQL URL or DuckDB path)."""
    if store_url.startswith(("postgresql://", "postgres://")):
        return PgLeaderLock(store_url, name)
    return LocalLeaderLock(name)


class LeaderJob:
    """Run ``fn`` every ``interval_s`` on whichever node holds ``lock`` (a daemon thread)."""

    def __init__(self, lock: LeaderLock, interval_s: float, fn: Callable[[], object],
                 name: str | None = None, *, retry_s: float | None = None) -> None:
        self.lock = lock
        self.interval_s = interval_s
        self.retry_s = retry_s if retry_s is not None else min(interval_s, 5.0)
        self.fn = fn
        self.name = name or lock.name
        self.runs = 0
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=f"leader-{self.name}",
                                            daemon=True)
            self._thread.start()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout_s)
        self.lock.release()
        self.leading = False

    def _loop(self) -> None:
        next_run = 0.0
        while not self._stop.is_set():
            leading = self.lock.try_acquire()
            if leading != self.leading:
                log.info("%s leadership of %r", "took" if leading else "do not hold", self.name)
            self.leading = leading
            if not leading:
                self._stop.wait(self.retry_s)
                continue
            now = time.monotonic()
            if now >= next_run:
                try:
                    self.fn()
                    self.runs += 1
                except Exception:  # one failed run must not end the schedule
                    log.exception("leader job %r failed", self.name)
                next_run = now + self.interval_s
            self._stop.wait(max(0.0, min(self.retry_s, next_run - time.monotonic())))
