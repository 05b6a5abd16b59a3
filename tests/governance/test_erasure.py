"""Erasure on request, on DuckDB and PostgreSQL: exactly the selected user's, conversation's or
trace's spans, logs and events go (whole traces), nothing else; every request is audited in the
same transaction, without the identifier itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from truecourse.errors import InvalidInput, NotFound
from truecourse.governance import audit, create_project
from truecourse.governance.erasure import USER_ID_KEYS, erase, selector_hash
from truecourse.store import Store

WriteRows = Callable[[str, Sequence[Mapping[str, Any]]], None]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _tid(n: int) -> str:
    return f"{n:032x}"


def _span(trace: int, span: int, *, project: str = "default", attrs: dict[str, Any] | None = None,
          resource: dict[str, Any] | None = None, conversation: str | None = None,
          text: str | None = None) -> dict[str, Any]:
    return {"trace_id": _tid(trace), "span_id": f"{trace:08x}{span:08x}", "name": "op",
            "start_time": T0 + timedelta(seconds=trace), "start_unix_nano": trace,
            "service": "support", "conversation_id": conversation, "input_text": text,
            "attributes": orjson.dumps(attrs or {}).decode(),
            "resource": orjson.dumps(resource or {"service.name": "support"}).decode(),
            "project": project}


def _log(key: str, trace: int | None, *, project: str = "default",
         attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"time": T0, "time_unix_nano": 0, "body": key, "service": "support",
            "trace_id": _tid(trace) if trace is not None else None,
            "attributes": orjson.dumps(attrs or {}).decode(), "resource": "{}",
            "project": project}


def _event(key: str, trace: int | None, *, project: str = "default", actor: str | None = None,
           attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": key, "time": T0, "kind": "feedback", "service": "support",
            "trace_id": _tid(trace) if trace is not None else None, "actor": actor, "score": 1.0,
            "payload": orjson.dumps({"attributes": attrs or {}}).decode(), "project": project}


@pytest.fixture
def world(governed_store: Store, write_rows: WriteRows) -> Store:
    """Traces of several users, conversations and projects, with their logs and events.

    trace 1 (default): user u-1 on the root (enduser.id), conversation c-1; a child without
    either; trace 2 (default): user u-1 in the resource (user.id, as a number-free string);
    trace 3 (default): user u-2, conversation c-2; trace 4 (acme): user u-1; trace 5
    (default): user u-10 (a longer id containing u-1); trace 6 (default): user 42 as a number.
    """
    create_project(governed_store, "acme", actor="test")
    write_rows("spans", [
        _span(1, 1, attrs={"enduser.id": "u-1"}, conversation="c-1", text="my address is ..."),
        _span(1, 2, text="tool call with the address"),
        _span(2, 1, resource={"service.name": "support", "user.id": "u-1"}),
        _span(2, 2),
        _span(3, 1, attrs={"user.id": "u-2"}, conversation="c-2"),
        _span(3, 2),
        _span(4, 1, project="acme", attrs={"langfuse.user.id": "u-1"}, conversation="c-1"),
        _span(5, 1, attrs={"enduser.id": "u-10", "note": "u-1"}),
        _span(6, 1, attrs={"user.id": 42}),
    ])
    write_rows("logs", [
        _log("l-t1", 1), _log("l-t2", 2), _log("l-t3", 3), _log("l-t4", 4, project="acme"),
        _log("l-user", None, attrs={"enduser.id": "u-1"}),
        _log("l-conv", None, attrs={"session.id": "c-1"}),
        _log("l-other", None, attrs={"enduser.id": "u-2"}),
    ])
    write_rows("events", [
        _event("e-t1", 1, actor="user:c-1"), _event("e-t3", 3),
        _event("e-t4", 4, project="acme"),
        _event("e-actor", None, actor="u-1"), _event("e-actor-prefixed", None, actor="user:u-1"),
        _event("e-attr", None, attrs={"user.id": "u-1"}),
        _event("e-conv", None, attrs={"gen_ai.conversation.id": "c-1"}),
        _event("e-other", None, actor="u-2"),
    ])
    return governed_store


def _left(store: Store) -> dict[str, set[str]]:
    """What is stored: span ids, log bodies, event ids."""
    def col(sql: str) -> set[str]:
        return {str(v) for v in store.select(sql).column(0).to_pylist()}
    return {"spans": col("SELECT span_id FROM spans"), "logs": col("SELECT body FROM logs"),
            "events": col("SELECT id FROM events")}


def _spans(*keys: tuple[int, int]) -> set[str]:
    return {f"{t:08x}{s:08x}" for t, s in keys}


ALL_SPANS = _spans((1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (5, 1), (6, 1))
ALL_LOGS = {"l-t1", "l-t2", "l-t3", "l-t4", "l-user", "l-conv", "l-other"}
ALL_EVENTS = {"e-t1", "e-t3", "e-t4", "e-actor", "e-actor-prefixed", "e-attr", "e-conv",
              "e-other"}


def test_the_world_is_as_written(world: Store) -> None:
    assert _left(world) == {"spans": ALL_SPANS, "logs": ALL_LOGS, "events": ALL_EVENTS}


def test_user_erasure_removes_whole_traces_logs_and_events_in_every_project(
        world: Store) -> None:
    result = erase(world, user_id="u-1", actor="dpo@example.com")
    gone_spans = _spans((1, 1), (1, 2), (2, 1), (2, 2), (4, 1))
    gone_logs = {"l-t1", "l-t2", "l-t4", "l-user"}
    gone_events = {"e-t1", "e-t4", "e-actor", "e-actor-prefixed", "e-attr"}
    assert _left(world) == {"spans": ALL_SPANS - gone_spans, "logs": ALL_LOGS - gone_logs,
                            "events": ALL_EVENTS - gone_events}
    assert result.rows == {"logs": 4, "events": 5, "spans": 5}
    assert result.matched and result.total == 14
    assert result.message == "erased user_id 'u-1': 4 logs, 5 events, 5 spans"


def test_user_erasure_scoped_to_a_project_leaves_the_others(world: Store) -> None:
    result = erase(world, user_id="u-1", project="acme", actor="admin")
    assert result.rows == {"logs": 1, "events": 1, "spans": 1}
    assert _left(world) == {"spans": ALL_SPANS - _spans((4, 1)), "logs": ALL_LOGS - {"l-t4"},
                            "events": ALL_EVENTS - {"e-t4"}}


def test_numeric_user_id_matches_its_text(world: Store) -> None:
    result = erase(world, user_id="42", actor="admin")
    assert result.rows == {"logs": 0, "events": 0, "spans": 1}
    assert _left(world)["spans"] == ALL_SPANS - _spans((6, 1))


@pytest.mark.parametrize("key", USER_ID_KEYS)
def test_every_user_id_key_is_honoured_in_attributes_and_resource(
        governed_store: Store, write_rows: WriteRows, key: str) -> None:
    write_rows("spans", [_span(1, 1, attrs={key: "u-9"}),
                         _span(2, 1, resource={key: "u-9"}),
                         _span(3, 1, attrs={key: "u-99"})])
    result = erase(governed_store, user_id="u-9", actor="admin")
    assert result.rows["spans"] == 2
    assert _left(governed_store)["spans"] == _spans((3, 1))


def test_conversation_erasure(world: Store) -> None:
    result = erase(world, conversation_id="c-1", actor="admin")
    # trace 1 (both spans: the child has no conversation id) and acme's trace 4
    gone_spans = _spans((1, 1), (1, 2), (4, 1))
    assert _left(world) == {"spans": ALL_SPANS - gone_spans,
                            "logs": ALL_LOGS - {"l-t1", "l-t4", "l-conv"},
                            "events": ALL_EVENTS - {"e-t1", "e-t4", "e-conv"}}
    assert result.rows == {"logs": 3, "events": 3, "spans": 3}


def test_trace_erasure_takes_any_case(world: Store) -> None:
    result = erase(world, trace_id=_tid(3).upper(), actor="admin")
    assert result.rows == {"logs": 1, "events": 1, "spans": 2}
    assert _left(world) == {"spans": ALL_SPANS - _spans((3, 1), (3, 2)),
                            "logs": ALL_LOGS - {"l-t3"}, "events": ALL_EVENTS - {"e-t3"}}


def test_erasure_is_audited_with_the_identifier_hashed(world: Store) -> None:
    erase(world, user_id="u-1", actor="dpo@example.com")
    (entry,) = audit.entries(world, since_seq=1)  # entry 1: create_project
    assert (entry.actor, entry.action, entry.target, entry.project) == (
        "dpo@example.com", "erasure", "user_id", None)
    assert orjson.loads(entry.details) == {
        "selector": "user_id", "selector_sha256": selector_hash("u-1"),
        "rows": {"logs": 4, "events": 5, "spans": 5}, "matched": True}
    assert "u-1" not in entry.details
    assert audit.verify(world).ok


def test_selector_matching_nothing_is_audited_and_says_so(world: Store) -> None:
    result = erase(world, user_id="nobody", project="acme", actor="admin")
    assert not result.matched
    assert result.rows == {"logs": 0, "events": 0, "spans": 0}
    assert result.message == "nothing matched user_id 'nobody' in project 'acme'"
    assert result.to_dict()["matched"] is False
    (entry,) = audit.entries(world, since_seq=1)
    assert entry.seq == result.audit_seq
    assert entry.project == "acme"
    assert orjson.loads(entry.details)["matched"] is False
    assert _left(world) == {"spans": ALL_SPANS, "logs": ALL_LOGS, "events": ALL_EVENTS}
    assert audit.verify(world).ok


def test_failed_erasure_removes_nothing_and_records_nothing(world: Store) -> None:
    # a broken statement in the same transaction: the deletes roll back with the audit entry
    from truecourse.errors import StoreUnavailable
    from truecourse.governance import erasure

    broken = erasure._statements(world.dialect, "user_id", "u-1", None)
    broken.append(("DELETE FROM no_such_table", []))
    with pytest.raises(StoreUnavailable):
        audit.record(world, "admin", "erasure", with_statements=broken)
    assert _left(world) == {"spans": ALL_SPANS, "logs": ALL_LOGS, "events": ALL_EVENTS}
    assert audit.entries(world, since_seq=1) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "erasure needs exactly one selector, got no selector (pass one of user_id, "
         "conversation_id or trace_id)"),
    ({"user_id": "u-1", "trace_id": "0" * 32},
     "erasure needs exactly one selector, got 2 selectors (user_id, trace_id) (pass one of "
     "user_id, conversation_id or trace_id)"),
    ({"conversation_id": "  "},
     "erasure conversation_id is empty (pass the conversation_id whose records are to be "
     "removed)"),
    ({"trace_id": "abc"},
     "erasure trace_id 'abc' is not a trace id (a trace id is 32 hexadecimal characters, e.g. "
     "4bf92f3577b34da6a3ce929d0e0e4736)"),
])
def test_bad_selectors(world: Store, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        erase(world, actor="admin", **kwargs)
    assert str(caught.value) == message
    assert audit.entries(world, since_seq=1) == []


def test_missing_actor(world: Store) -> None:
    with pytest.raises(InvalidInput, match="erasure needs an actor"):
        erase(world, user_id="u-1", actor=" ")


def test_unknown_project(world: Store) -> None:
    with pytest.raises(NotFound) as caught:
        erase(world, user_id="u-1", project="acm", actor="admin")
    assert str(caught.value).startswith("unknown project 'acm' (known projects: acme, default;")
    assert _left(world)["spans"] == ALL_SPANS
