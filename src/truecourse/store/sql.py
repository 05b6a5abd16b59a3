"""SQL building shared by the SQL backends: filters, literal LIKE patterns, keyset paging.

Every list query pages by a key (newest first) instead of OFFSET, so a page is as cheap deep in
the data as at the top and rows arriving meanwhile neither repeat nor vanish between pages. The
cursor is the previous page's last key, base64 JSON, opaque to clients.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from truecourse.errors import InvalidInput
from truecourse.store.base import LogQuery, MetricQuery, Page, SpanQuery

MAX_LIMIT = 1000


class Where:
    """AND-ed conditions with their positional (``?``) parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equals(self, column: str, value: Any) -> None:
        """``column = value`` unless ``value`` is None (no filter)."""
        if value is not None:
            self.add(f"{column} = ?", value)

    def between(self, column: str, since: Any, until: Any) -> None:
        """``since <= column < until``, either bound optional."""
        if since is not None:
            self.add(f"{column} >= ?", since)
        if until is not None:
            self.add(f"{column} < ?", until)

    def contains_text(self, columns: Sequence[str], text: str | None) -> None:
        """Case-insensitive substring of any of ``columns``; ``%``, ``_``, ``\\`` literal."""
        if not text:
            return
        pattern = like_pattern(text)
        self.add("(" + " OR ".join(f"{c} ILIKE ? ESCAPE '\\'" for c in columns) + ")",
                 *([pattern] * len(columns)))

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE with the user's own ``%``, ``_`` and ``\\`` taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The key inside ``cursor``; ``InvalidInput`` for anything this server did not issue."""
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this server issued",
                           hint="pass next_cursor from the previous page unchanged") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidInput("cursor is not one this server issued",
                           hint="pass next_cursor from the previous page unchanged")
    return key


def keyset_page(
    run: Callable[[str, list[Any]], list[dict[str, Any]]],
    source: str,
    where: Where,
    key_exprs: Sequence[str],
    key_of: Callable[[dict[str, Any]], Sequence[Any]],
    cursor: str | None,
    limit: int,
) -> Page:
    """One page of ``SELECT * FROM source``, newest first by ``key_exprs``.

    ``key_of(row)`` gives a row's key values in the same order (what the next cursor holds).
    """
    if cursor:
        key = decode_cursor(cursor, len(key_exprs))
        where.add(f"({', '.join(key_exprs)}) < ({', '.join('?' * len(key_exprs))})", *key)
    limit = max(1, min(int(limit), MAX_LIMIT))
    order = ", ".join(f"{e} DESC" for e in key_exprs)
    rows = run(f"SELECT * FROM {source}{where.sql()} ORDER BY {order} LIMIT ?",
               [*where.params, limit + 1])
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, encode_cursor(*key_of(rows[-1])))


def span_where(q: SpanQuery) -> Where:
    """The WHERE clause of a span search (both backends)."""
    where = Where()
    for col in ("service", "env", "version", "model", "provider", "prompt_version",
                "operation", "trace_id"):
        where.equals(col, getattr(q, col))
    where.equals("status_code", q.status)
    where.between("start_time", q.since, q.until)
    where.contains_text(("name", "input_text", "output_text"), q.text)
    where.equals("project", q.project)
    return where


def log_where(q: LogQuery) -> Where:
    """The WHERE clause of a log search (both backends)."""
    where = Where()
    where.equals("service", q.service)
    if q.severity_min is not None:
        where.add("severity_number >= ?", q.severity_min)
    where.equals("trace_id", q.trace_id.lower() if q.trace_id else None)
    where.between("time", q.since, q.until)
    where.contains_text(("body",), q.text)
    where.equals("project", q.project)
    return where


def metric_where(q: MetricQuery) -> Where:
    """The WHERE clause of a metric-point search (both backends)."""
    where = Where()
    for col in ("name", "service", "kind", "project"):
        where.equals(col, getattr(q, col))
    where.between("time", q.since, q.until)
    return where
