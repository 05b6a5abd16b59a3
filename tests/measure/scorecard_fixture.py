"""A small fleet with known answers for the scorecard tests, built through the real ingest path.

Every span goes through OTLP protobuf -> :func:`truecourse.ingest.otlp.decode` ->
:class:`~truecourse.pipeline.normalize.NormalizeProcessor` (semantic conventions, catalog prices)
-> :class:`~truecourse.store.duckdb.DuckDBStore`; feedback through
:func:`~truecourse.ingest.events.events_from_json`. Nothing is written to a table by hand.

The fleet, with ``T0 = 2024-01-01T00:00:00Z`` (durations in ms, cost from the shipped catalog)::

    trace svc         start   root       children
    A     chat-api    T0+60s  100 ok     handle_ticket; chat gpt-4o v7 (80ms, 1000 in incl. 400
                                         cache read, 200 out); tool web_search ok
    B     chat-api    T0+120s 200 ok     handle_ticket; chat gpt-4o v8 (150ms, 2000/500);
                                         tool web_search error
    C     chat-api    T0+180s 300 error  handle_ticket; chat claude-3-5-haiku v8 (250ms, error,
                                         10000 in incl. 3000 cache read + 2000 cache write, 1000)
    D     chat-api    T0+240s 400 ok     chat claude-3-5-haiku v7 (350ms, 100/10) answering
                                         "I'm sorry, but I can't help with that."
    E     search-api  T0+300s  50 ok     retrieval of 3 documents; chat gpt-4o v7 (30ms, 500/100)
    F     search-api  T0+360s 150 ok     retrieval of 0 documents; chat gpt-4o v8 (120ms, 300/0)
                                         with finish reason content_filter
    G     search-api  T0+420s 250 ok     retrieval without a count; chat my-local-llm (200ms,
                                         50/20, not in the catalog); tool calculator ok
    OLD   chat-api    T0-1s   1000 error (outside the window)
    LATE  chat-api    T0+3600s 1000 error (at ``until``: outside the window)

Feedback: A thumbs up; B thumbs down with a correction; D score 0.9; E score 0.8 and a
correction with no score; G a thumbs down linked by span id only; one for an unknown trace.
Child spans start 1 ms after their root, in the order listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from truecourse.ingest.events import events_from_json
from truecourse.ingest.otlp import decode
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store.duckdb import DuckDBStore

from otlp_builders import span, trace_request

__all__ = ["T0", "T0_NS", "Fleet", "build_fleet", "trace_id"]

PB = "application/x-protobuf"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 10**9
MS = 1_000_000
SERVER, INTERNAL, CLIENT = 2, 1, 3
OK, ERROR = 0, 2


def trace_id(name: str) -> bytes:
    """A fixed 16-byte trace id per fixture trace name."""
    return name.encode().ljust(16, b"\x00")[:16]


def _span_id(trace: str, i: int) -> bytes:
    return (trace.encode()[:6] + bytes([0, i])).ljust(8, b"\x01")


def _chat(model: str, tokens_in: int, tokens_out: int, *, provider: str | None = None,
          prompt_version: str | None = None, cache_read: int | None = None,
          cache_write: int | None = None, answer: str | None = None,
          finish_reason: str | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out,
    }
    if provider:
        attrs["gen_ai.provider.name"] = provider
    if prompt_version:
        attrs["truecourse.prompt_version"] = prompt_version
    if cache_read is not None:
        attrs["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if cache_write is not None:
        attrs["gen_ai.usage.cache_creation.input_tokens"] = cache_write
    if answer is not None:
        attrs["gen_ai.output.messages"] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": answer}],
              "finish_reason": "stop"}])
    if finish_reason is not None:
        attrs["gen_ai.response.finish_reasons"] = [finish_reason]
    return attrs


def _tool(name: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}


def _retrieval(documents: int | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "retrieval",
                             "gen_ai.retrieval.index.version": "idx-1"}
    if documents is not None:
        attrs["gen_ai.retrieval.query.text"] = "refund policy"
        if documents:
            attrs["gen_ai.retrieval.documents"] = json.dumps(
                [{"id": f"doc-{i}", "content": f"text {i}"} for i in range(documents)])
    return attrs


# (name, attributes, duration ms, status, kind) of each child, per trace.
_Child = tuple[str, dict[str, Any] | None, float, int, int]


@dataclass(frozen=True)
class _Trace:
    name: str
    service: str
    offset_s: int
    root_ms: float
    root_status: int
    children: list[_Child] = field(default_factory=list)


TRACES: tuple[_Trace, ...] = (
    _Trace("A", "chat-api", 60, 100, OK, [
        ("handle_ticket", None, 95, OK, INTERNAL),
        ("chat gpt-4o", _chat("gpt-4o", 1000, 200, provider="openai", prompt_version="v7",
                              cache_read=400), 80, OK, CLIENT),
        ("execute_tool web_search", _tool("web_search"), 10, OK, INTERNAL),
    ]),
    _Trace("B", "chat-api", 120, 200, OK, [
        ("handle_ticket", None, 195, OK, INTERNAL),
        ("chat gpt-4o", _chat("gpt-4o", 2000, 500, provider="openai", prompt_version="v8"),
         150, OK, CLIENT),
        ("execute_tool web_search", _tool("web_search"), 20, ERROR, INTERNAL),
    ]),
    _Trace("C", "chat-api", 180, 300, ERROR, [
        ("handle_ticket", None, 295, OK, INTERNAL),
        ("chat claude", _chat("claude-3-5-haiku", 10000, 1000, provider="anthropic",
                              prompt_version="v8", cache_read=3000, cache_write=2000),
         250, ERROR, CLIENT),
    ]),
    _Trace("D", "chat-api", 240, 400, OK, [
        ("chat claude", _chat("claude-3-5-haiku", 100, 10, provider="anthropic",
                              prompt_version="v7",
                              answer="I'm sorry, but I can't help with that."), 350, OK, CLIENT),
    ]),
    _Trace("E", "search-api", 300, 50, OK, [
        ("retrieval", _retrieval(3), 5, OK, CLIENT),
        ("chat gpt-4o", _chat("gpt-4o", 500, 100, provider="openai", prompt_version="v7"),
         30, OK, CLIENT),
    ]),
    _Trace("F", "search-api", 360, 150, OK, [
        ("retrieval", _retrieval(0), 5, OK, CLIENT),
        ("chat gpt-4o", _chat("gpt-4o", 300, 0, provider="openai", prompt_version="v8",
                              finish_reason="content_filter"), 120, OK, CLIENT),
    ]),
    _Trace("G", "search-api", 420, 250, OK, [
        ("retrieval", _retrieval(None), 5, OK, CLIENT),
        ("chat local", _chat("my-local-llm", 50, 20), 200, OK, CLIENT),
        ("execute_tool calculator", _tool("calculator"), 1, OK, INTERNAL),
    ]),
    _Trace("OLD", "chat-api", -1, 1000, ERROR),
    _Trace("LATE", "chat-api", 3600, 1000, ERROR),
)


@dataclass
class Fleet:
    """The store holding the fleet, and the ids a test needs to refer to its rows."""

    store: DuckDBStore
    trace_ids: dict[str, str]
    span_ids: dict[tuple[str, int], str]


def _request(t: _Trace) -> bytes:
    tid = trace_id(t.name)
    root_id = _span_id(t.name, 0)
    start = T0_NS + t.offset_s * 10**9
    route = "POST /chat" if t.service == "chat-api" else "GET /search"
    spans = [span(route, trace_id=tid, span_id=root_id, start_ns=start,
                  dur_ns=int(t.root_ms * MS), status=t.root_status, kind=SERVER)]
    for i, (name, attrs, ms, status, kind) in enumerate(t.children, start=1):
        spans.append(span(name, trace_id=tid, span_id=_span_id(t.name, i), parent=root_id,
                          attrs=attrs, start_ns=start + i * MS, dur_ns=int(ms * MS),
                          status=status, kind=kind))
    return trace_request(spans, service=t.service, env="prod", version="1.0").SerializeToString()


def _feedback(trace_ids: dict[str, str], span_ids: dict[tuple[str, int], str]) -> bytes:
    at = (T0 + timedelta(hours=2)).isoformat()
    events = [
        {"kind": "feedback", "id": "fb-a", "time": at, "trace_id": trace_ids["A"],
         "thumbs": "up"},
        {"kind": "feedback", "id": "fb-b", "time": at, "trace_id": trace_ids["B"],
         "thumbs": "down", "correction": "Use the v2 refund endpoint."},
        {"kind": "feedback", "id": "fb-d", "time": at, "trace_id": trace_ids["D"], "score": 0.9},
        {"kind": "feedback", "id": "fb-e1", "time": at, "trace_id": trace_ids["E"],
         "score": 0.8},
        {"kind": "feedback", "id": "fb-e2", "time": at, "trace_id": trace_ids["E"],
         "comment": "close", "correction": "42 days"},
        {"kind": "feedback", "id": "fb-g", "time": at, "span_id": span_ids[("G", 2)],
         "thumbs": "down"},
        {"kind": "feedback", "id": "fb-orphan", "time": at, "trace_id": "f" * 32,
         "thumbs": "down", "correction": "not ours"},
    ]
    return json.dumps(events).encode()


def build_fleet(path: str | Path = ":memory:") -> Fleet:
    """A migrated DuckDB store at ``path`` holding the fleet and its feedback."""
    store = DuckDBStore(path)
    store.migrate()
    normalize = NormalizeProcessor()
    batches = [normalize.process(decode("traces", _request(t), PB, None, 8 << 20).batch)
               for t in TRACES]
    trace_ids = {t.name: trace_id(t.name).hex() for t in TRACES}
    span_ids = {(t.name, i): _span_id(t.name, i).hex()
                for t in TRACES for i in range(len(t.children) + 1)}
    events = events_from_json(_feedback(trace_ids, span_ids))
    assert not events.rejected, events.rejected
    store.write([*batches, events.batch])
    return Fleet(store, trace_ids, span_ids)
