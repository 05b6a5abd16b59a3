"""Erasure on request: remove everything recorded about one user, conversation or trace.

::

    result = erase(store, user_id="u-1234", actor="dpo@acme")       # every project
    result = erase(store, conversation_id="c-77", project="acme", actor="admin")
    result.rows     # {"spans": 12, "logs": 3, "events": 1}
    result.matched  # False when nothing matched (the request is still audited)

**What a selector picks.** Exactly one of:

- ``trace_id``: that trace (32 hex characters, any case).
- ``conversation_id``: every span whose ``conversation_id`` column is the value (ingest fills it
  from ``gen_ai.conversation.id``, ``session.id`` and the Traceloop association properties).
- ``user_id``: every span whose attributes or resource carry the value under one of
  :data:`USER_ID_KEYS`: ``user.id`` (OpenTelemetry semantic conventions, OpenInference),
  ``enduser.id`` (the older OpenTelemetry key, which the demo simulator sends on its request
  spans), ``langfuse.user.id`` and ``traceloop.association.properties.user_id``. Numbers match
  their text (``user.id: 42`` matches ``"42"``).

**What goes.** Text a user typed reaches every span of the request (the retrieval query, the tool
call, the model call), so erasure takes the whole *trace* of every picked span: all spans of
those traces, then

- logs whose ``trace_id`` is one of those traces, and logs whose attributes or resource carry
  the user id (user selector) or conversation id (conversation selector, same keys as ingest);
- events whose ``trace_id`` is one of those traces (feedback, labels), and events that name the
  user (user selector: ``actor`` is the id or ``user:<id>``, or the event's ``attributes``
  carry it under a user-id key) or the conversation (``attributes`` under a conversation key).

Metric points, predictions and drift aggregates are not searched: they carry no per-user or
per-conversation fields by design. With ``project`` only that project's rows are searched and
removed; without it, every project's.

**Atomic and audited.** The deletes and one audit entry (action ``erasure``) commit in ONE
transaction: both land or neither does. The entry records who asked (``actor``), when, the
selector kind, the project, the rows removed per table and whether anything matched. (The rows are
counted just before that transaction; should matching rows arrive in between, they are removed
too and a second entry, ``erasure.recount``, records what the transaction removed.) It keeps the
selector value only as its SHA-256 (``selector_sha256``): the audit log is append-only and
hash-chained, so an identifier written there could never be erased itself. Whoever holds the
identifier can recompute the hash to show the request was carried out; note that a short or
guessable identifier can be found again from an unsalted hash by trying candidates. A selector
that matches nothing is audited all the same and the result says so.

Errors: ``InvalidInput`` for no selector, more than one, an empty value or a malformed trace
id; ``NotFound`` for an unknown ``project``; ``StoreUnavailable`` when the store cannot be
written (then nothing was removed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from truecourse.errors import InvalidInput
from truecourse.governance import audit
from truecourse.governance.keys import require_project
from truecourse.ingest.semconv_keys import KEYS
from truecourse.store import Store

__all__ = ["CONVERSATION_ID_KEYS", "SELECTORS", "USER_ID_KEYS", "ErasureResult", "erase"]

#: The attribute keys (span and log attributes or resource, event attributes) that name a user.
USER_ID_KEYS: tuple[str, ...] = ("user.id", "enduser.id", "langfuse.user.id",
                                 "traceloop.association.properties.user_id")
#: The attribute keys that name a conversation: the ones ingest reads ``conversation_id`` from.
CONVERSATION_ID_KEYS: tuple[str, ...] = KEYS["conversation_id"]
SELECTORS = ("user_id", "conversation_id", "trace_id")
#: Tables in the order they are deleted from: spans last, as the others' conditions read them.
TABLES = ("logs", "events", "spans")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# characters JSON text may escape: a value without them appears verbatim in the stored JSON
_PLAIN = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class ErasureResult:
    """What :func:`erase` removed: rows per table (``logs``, ``events``, ``spans``), whether
    anything matched, a one-line ``message`` and the ``audit_seq`` of the entry recording it."""

    selector: str
    value: str
    project: str | None
    rows: dict[str, int] = field(default_factory=dict)
    audit_seq: int = 0

    @property
    def matched(self) -> bool:
        return any(self.rows.values())

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def message(self) -> str:
        where = f" in project {self.project!r}" if self.project else ""
        if not self.matched:
            return f"nothing matched {self.selector} {self.value!r}{where}"
        parts = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        return f"erased {self.selector} {self.value!r}{where}: {parts}"

    def to_dict(self) -> dict[str, Any]:
        return {"selector": self.selector, "value": self.value, "project": self.project,
                "rows": dict(self.rows), "total": self.total, "matched": self.matched,
                "message": self.message, "audit_seq": self.audit_seq}


def selector_hash(value: str) -> str:
    """The SHA-256 (hex) of a selector value, as the audit entry keeps it."""
    return hashlib.sha256(value.encode()).hexdigest()


def erase(store: Store, *, user_id: str | None = None, conversation_id: str | None = None,
          trace_id: str | None = None, project: str | None = None,
          actor: str) -> ErasureResult:
    """Remove the spans, logs and events of one user, conversation or trace (see the module
    docstring for exactly which), audited in the same transaction.

    Cost: one scan of spans (of logs and events too for a user or conversation selector); the
    trace lookups use the ``trace_id`` indexes.
    """
    kind, value = _selector(user_id=user_id, conversation_id=conversation_id,
                            trace_id=trace_id)
    if project is not None:
        require_project(store, project)
    if not actor or not actor.strip():
        raise InvalidInput("erasure needs an actor: who asked for it",
                           hint="pass the requesting person or key name as actor")
    statements = _statements(store.dialect, kind, value, project)
    # the entry's hash covers its details, so the counts it records are taken just before the
    # transaction; rows that arrive in between are removed too, and then a second entry
    # (``erasure.recount``) records the rows the transaction actually removed
    counted = {table: _count(store, sql, params)
               for table, (sql, params) in zip(TABLES, statements, strict=True)}
    details: dict[str, Any] = {"selector": kind, "selector_sha256": selector_hash(value),
                               "rows": counted, "matched": any(counted.values())}
    entry, counts = audit.record(store, actor, "erasure", project=project, target=kind,
                                 details=details, with_statements=statements)
    rows = dict(zip(TABLES, counts, strict=True))
    if rows != counted:
        audit.record(store, actor, "erasure.recount", project=project, target=kind,
                     details={"of_seq": entry.seq, "rows": rows})
    return ErasureResult(kind, value, project, rows, entry.seq)


def _count(store: Store, delete_sql: str, params: list[Any]) -> int:
    sql = delete_sql.replace("DELETE FROM", "SELECT count(*) AS n FROM", 1)
    return int(store.select(sql, params).column("n")[0].as_py())


def _selector(**given: str | None) -> tuple[str, str]:
    chosen = {k: v for k, v in given.items() if v is not None}
    if len(chosen) != 1:
        what = "no selector" if not chosen else f"{len(chosen)} selectors ({', '.join(chosen)})"
        raise InvalidInput(f"erasure needs exactly one selector, got {what}",
                           hint="pass one of user_id, conversation_id or trace_id")
    kind, value = next(iter(chosen.items()))
    assert value is not None
    if not value.strip():
        raise InvalidInput(f"erasure {kind} is empty",
                           hint=f"pass the {kind} whose records are to be removed")
    if kind == "trace_id":
        value = value.strip().lower()
        if not _TRACE_ID.match(value):
            raise InvalidInput(f"erasure trace_id {given['trace_id']!r} is not a trace id",
                               hint="a trace id is 32 hexadecimal characters, e.g. "
                                    "4bf92f3577b34da6a3ce929d0e0e4736")
    return kind, value


def _json_key(dialect: str, column: str, key: str, *, nested: str | None = None) -> str:
    """SQL for the text of ``key`` in the JSON text ``column`` (under object ``nested``)."""
    if dialect == "postgresql":
        path = f" -> '{nested}'" if nested else ""
        return f"(NULLIF({column}, '')::json{path} ->> '{key}')"
    prefix = f"$.{nested}." if nested else "$."
    return f"json_extract_string({column}, '{prefix}\"{key}\"')"


def _carries(dialect: str, columns: tuple[str, ...], keys: tuple[str, ...], value: str,
             *, nested: str | None = None) -> tuple[str, list[Any]]:
    """A condition true when one of ``columns`` (JSON text) holds ``value`` under a key."""
    tests = [f"{_json_key(dialect, c, k, nested=nested)} = ?" for c in columns for k in keys]
    params: list[Any] = [value] * len(tests)
    sql = "(" + " OR ".join(tests) + ")"
    if _PLAIN.match(value):
        # a cheap substring test first: JSON holds such a value verbatim, so it only skips rows
        # that cannot match, sparing the JSON parsing of nearly every row
        hay = " OR ".join(f"strpos({c}, ?) > 0" for c in columns)
        sql = f"(({hay}) AND {sql})"
        params = [value] * len(columns) + params
    return sql, params


def _statements(dialect: str, kind: str, value: str,
                project: str | None) -> list[tuple[str, list[Any]]]:
    """The deletes, in :data:`TABLES` order."""
    scope, scope_params = ("project = ? AND ", [project]) if project is not None else ("", [])
    # the traces to remove, as a subquery over spans (read before spans are deleted)
    if kind == "trace_id":
        traces, trace_params = "?", [value]
    elif kind == "conversation_id":
        traces = f"SELECT trace_id FROM spans WHERE {scope}conversation_id = ?"
        trace_params = [*scope_params, value]
    else:
        picked, picked_params = _carries(dialect, ("attributes", "resource"), USER_ID_KEYS, value)
        traces = f"SELECT trace_id FROM spans WHERE {scope}{picked}"
        trace_params = [*scope_params, *picked_params]

    log_extra, event_extra = "", ""
    log_params: list[Any] = []
    event_params: list[Any] = []
    if kind == "user_id":
        cond, log_params = _carries(dialect, ("attributes", "resource"), USER_ID_KEYS, value)
        log_extra = f" OR {cond}"
        cond, attr_params = _carries(dialect, ("payload",), USER_ID_KEYS, value,
                                     nested="attributes")
        event_extra = f" OR actor = ? OR actor = ? OR {cond}"
        event_params = [value, f"user:{value}", *attr_params]
    elif kind == "conversation_id":
        cond, log_params = _carries(dialect, ("attributes", "resource"),
                                    CONVERSATION_ID_KEYS, value)
        log_extra = f" OR {cond}"
        cond, event_params = _carries(dialect, ("payload",), CONVERSATION_ID_KEYS, value,
                                      nested="attributes")
        event_extra = f" OR {cond}"

    return [
        (f"DELETE FROM logs WHERE {scope}(trace_id IN ({traces}){log_extra})",
         [*scope_params, *trace_params, *log_params]),
        (f"DELETE FROM events WHERE {scope}(trace_id IN ({traces}){event_extra})",
         [*scope_params, *trace_params, *event_params]),
        (f"DELETE FROM spans WHERE {scope}trace_id IN ({traces})",
         [*scope_params, *trace_params]),
    ]
