"""The audit log: append-only and hash-chained, so an edited, removed or reordered entry shows.

Each entry holds ``seq`` (1, 2, 3, ... with no gaps), when, who (``actor``), what (``action``,
e.g. ``key.create``), the project and target it concerns, a JSON ``details`` object, the hash of
the entry before it (``prev_hash``; 64 zeros for the first) and its own ``hash``: SHA-256 over a
canonical JSON of every other field. :func:`verify` recomputes the chain and names the first
entry that breaks it. Deleting entries from the *end* leaves a valid shorter chain; compare the
head with one kept elsewhere (``truecourse audit verify --expect-head SEQ:HASH``, or an export)
to catch that.

Appends from several processes (PostgreSQL) race for the next ``seq``; the primary key makes
the loser fail and retry on the new tail, so the chain never forks.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from truecourse.errors import InvalidInput, StoreUnavailable
from truecourse.store import Store

GENESIS = "0" * 64
_ATTEMPTS = 200
_COLUMNS = ("seq", "time", "actor", "action", "project", "target", "details", "prev_hash", "hash")
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class AuditEntry:
    """One audit record as stored."""

    seq: int
    time: datetime
    actor: str
    action: str
    project: str | None
    target: str | None
    details: str  # JSON text, hashed as stored
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this entry's fields give (equal to :attr:`hash` unless it was edited)."""
        return entry_hash(self.seq, self.time, self.actor, self.action, self.project,
                          self.target, self.details, self.prev_hash)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time.isoformat(), "actor": self.actor,
                "action": self.action, "project": self.project, "target": self.target,
                "details": orjson.loads(self.details), "prev_hash": self.prev_hash,
                "hash": self.hash}


def _micros(t: datetime) -> int:
    return round(t.timestamp() * 1_000_000)


def entry_hash(seq: int, time: datetime, actor: str, action: str, project: str | None,
               target: str | None, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields (time as epoch microseconds)."""
    doc = [seq, _micros(time), actor, action, project, target, details, prev_hash]
    return hashlib.sha256(orjson.dumps(doc)).hexdigest()


def _lock_for(store: Store) -> threading.Lock:
    # one per store object: threads sharing a store take turns; other stores (other nodes)
    # race and the primary key on seq decides
    with _locks_guard:
        return _locks.setdefault(id(store), threading.Lock())


def _tail(store: Store) -> tuple[int, str]:
    rows = store.select("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").to_pylist()
    return (int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else (0, GENESIS)


def _is_conflict(exc: StoreUnavailable) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("duplicate", "unique", "primary key", "constraint"))


def record(store: Store, actor: str, action: str, *, project: str | None = None,
           target: str | None = None, details: Mapping[str, Any] | None = None,
           with_statements: Sequence[tuple[str, Sequence[Any]]] = (),
           now: datetime | None = None) -> tuple[AuditEntry, list[int]]:
    """Append one entry, in ONE transaction with ``with_statements`` (the change it records:
    both land or neither does); returns the entry and the row counts of those statements.

    Raises ``StoreUnavailable`` when the store cannot be written.
    """
    text = orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode()
    lock = _lock_for(store)
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, 0.002 * min(attempt, 25)))  # jitter: let one win
        with lock:
            seq, prev = _tail(store)
            t = (now or datetime.now(UTC)).astimezone(UTC)
            entry = AuditEntry(seq + 1, t, actor, action, project, target, text, prev,
                               entry_hash(seq + 1, t, actor, action, project, target, text,
                                          prev))
            insert = ("INSERT INTO audit_log (seq, time, actor, action, project, target, "
                      "details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [entry.seq, entry.time, actor, action, project, target, text, prev,
                       entry.hash])
            try:
                counts = store.execute([*with_statements, insert])
            except StoreUnavailable as exc:
                if _is_conflict(exc) and attempt < _ATTEMPTS - 1:
                    continue  # another process appended first: chain onto its entry
                raise
        return entry, counts[:-1]
    raise StoreUnavailable("could not append to the audit log: too many concurrent writers")


def entries(store: Store, *, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
    """Entries with ``seq > since_seq`` in order (all of them unless ``limit``)."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM audit_log WHERE seq > ? ORDER BY seq"
    params: list[Any] = [since_seq]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_entry(r) for r in store.select(sql, params).to_pylist()]


def _entry(r: Mapping[str, Any]) -> AuditEntry:
    t = r["time"]
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return AuditEntry(int(r["seq"]), t, r["actor"] or "", r["action"] or "", r["project"],
                      r["target"], r["details"] or "{}", r["prev_hash"] or "", r["hash"] or "")


def _pages(store: Store, page: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        batch = entries(store, since_seq=last, limit=page)
        yield from batch
        if len(batch) < page:
            return
        last = batch[-1].seq


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`verify`: ``ok``, how many entries were checked, the head, and
    for a broken chain the first bad entry's ``seq`` and why."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify(store: Store, *, expect_head: str | None = None) -> Verdict:
    """Recompute the chain; the first entry that is edited, missing or out of order.

    ``expect_head`` (``SEQ:HASH`` from an earlier verify or export) also catches entries cut
    from the end. Raises ``InvalidInput`` for a malformed ``expect_head``.
    """
    want: tuple[int, str] | None = None
    if expect_head is not None:
        seq_text, _, hash_text = expect_head.partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
            raise InvalidInput(f"--expect-head {expect_head!r} is not SEQ:HASH",
                               hint="pass the head an earlier `truecourse audit verify` "
                                    "printed, e.g. 42:3f9a...(64 hex characters)")
        want = (int(seq_text), hash_text.lower())
    prev_seq, prev_hash, n = 0, GENESIS, 0
    seen: dict[int, str] = {}
    for e in _pages(store):
        n += 1
        if e.seq != prev_seq + 1:
            missing = (f"entry {prev_seq + 1} is missing" if e.seq > prev_seq + 1
                       else f"entry {e.seq} is out of order")
            return Verdict(False, n, prev_seq, prev_hash, prev_seq + 1,
                           f"{missing} (the chain jumps from {prev_seq} to {e.seq}): "
                           "entries were removed or reordered")
        if e.expected_hash() != e.hash:
            return Verdict(False, n, prev_seq, prev_hash, e.seq,
                           f"entry {e.seq} ({e.action} by {e.actor}) does not match its hash: "
                           "it was edited")
        if e.prev_hash != prev_hash:
            return Verdict(False, n, prev_seq, prev_hash, e.seq,
                           f"entry {e.seq} does not follow entry {prev_seq}: its prev_hash is "
                           "not that entry's hash (entries were removed, inserted or "
                           "reordered)")
        if want is not None and e.seq == want[0]:
            seen[e.seq] = e.hash
        prev_seq, prev_hash = e.seq, e.hash
    if want is not None:
        if prev_seq < want[0]:
            return Verdict(False, n, prev_seq, prev_hash, prev_seq + 1,
                           f"the log ends at entry {prev_seq} but the expected head is entry "
                           f"{want[0]}: entries were cut from the end")
        if seen.get(want[0]) != want[1]:
            return Verdict(False, n, prev_seq, prev_hash, want[0],
                           f"entry {want[0]} does not have the expected head hash: the log was "
                           "rewritten")
    return Verdict(True, n, prev_seq, prev_hash)


def export_lines(store: Store) -> Iterator[bytes]:
    """Every entry as one JSON line (``details`` decoded), in order."""
    for e in _pages(store):
        yield orjson.dumps(e.to_dict()) + b"\n"
