"""Keys, projects and the audit chain on both backends; concurrent appends from two
"nodes" (two PostgreSQL stores) never fork the chain."""

from __future__ import annotations

import threading

import pytest

from truecourse.errors import InvalidInput, NotFound
from truecourse.governance import (
    Gatekeeper,
    TokenBucket,
    audit,
    create_key,
    create_project,
    has_admin_key,
    list_keys,
    revoke_key,
)
from truecourse.store import Store
from truecourse.store.postgres import PostgresStore


def test_keys_are_stored_hashed_and_checked(governed_store: Store) -> None:
    s = governed_store
    assert not has_admin_key(s)
    key, token = create_key(s, project="default", scope="admin", name="ops", actor="t")
    assert has_admin_key(s)
    assert token.startswith(f"tc_{key.id}_") and len(token) == 3 + 12 + 1 + 43
    row = s.select("SELECT * FROM api_keys").to_pylist()[0]
    assert token.split("_", 2)[2] not in str(row) and len(row["secret_sha256"]) == 64
    gate = Gatekeeper(s)
    assert gate.authenticate(f"Bearer {token}").key_id == key.id
    revoke_key(s, token, actor="t")  # the whole key pasted: its id is used, never echoed
    assert [k.active for k in list_keys(s)] == [False]
    assert not has_admin_key(s)
    with pytest.raises(NotFound, match="unknown project 'nope'"):
        create_key(s, project="nope", scope="read", name="x", actor="t")
    with pytest.raises(InvalidInput, match="unknown scope 'writer'"):
        create_key(s, project="default", scope="writer", name="x", actor="t")
    with pytest.raises(InvalidInput, match="--name"):
        create_key(s, project="default", scope="read", name=" ", actor="t")
    with pytest.raises(InvalidInput, match="--rate 0"):
        create_key(s, project="default", scope="ingest", name="x", actor="t", rate_per_s=0)
    with pytest.raises(InvalidInput, match="not valid"):
        create_project(s, "Has Spaces", actor="t")
    assert [e.action for e in audit.entries(s)] == ["key.create", "key.revoke"]
    assert audit.verify(s).ok


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.take() == 0.0
    now[0] = 100.0  # never above the burst
    assert [bucket.take() == 0.0 for _ in range(4)] == [True, True, True, False]


def test_reordered_entries_are_caught(governed_store: Store) -> None:
    s = governed_store
    for i in range(5):
        audit.record(s, "t", "test", target=str(i))
    # swap the contents of entries 2 and 3 (keeping their seq numbers)
    rows = {r["seq"]: r for r in s.select("SELECT * FROM audit_log").to_pylist()}
    for seq, other in ((2, 3), (3, 2)):
        o = rows[other]
        s.execute([("UPDATE audit_log SET target = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [o["target"], o["prev_hash"], o["hash"], seq])])
    verdict = audit.verify(s)
    assert not verdict.ok and verdict.bad_seq == 2


@pytest.mark.services
def test_two_nodes_appending_at_once_keep_one_chain(pg_url: str) -> None:
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    first.execute([("DELETE FROM audit_log", [])])
    errors: list[BaseException] = []

    def append(store: Store, node: str) -> None:
        try:
            for i in range(40):
                audit.record(store, node, "test.append", target=str(i))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(st, n))
               for st, n in ((first, "node-a"), (second, "node-b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        verdict = audit.verify(first)
        assert verdict.ok and verdict.checked == 80
        actors = [e.actor for e in audit.entries(first)]
        assert actors.count("node-a") == 40 and actors.count("node-b") == 40
    finally:
        first.close()
        second.close()
