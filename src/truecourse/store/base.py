"""The ``Store`` interface every backend implements, and the query value objects.

Contract: ``write`` commits all given batches in one transaction and returns only once they are
durable (a crash after it returns loses nothing); ``write_once`` does the same for keyed batches
and skips keys an earlier call committed. Reads may run concurrently with the writer on
other threads and see only committed data. Backends raise ``StoreUnavailable`` when the database
cannot be opened or written, and ``InvalidInput`` for a malformed query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from truecourse.model import ArrowBatch, Batch


@dataclass(frozen=True)
class SpanQuery:
    """Filters for span search; every given filter must match (AND)."""

    service: str | None = None
    env: str | None = None
    version: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_version: str | None = None
    operation: str | None = None
    status: str | None = None  # unset | ok | error
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # case-insensitive substring of name, input_text or output_text
    project: str | None = None  # only this project's rows (None: every project)
    limit: int = 100
    cursor: str | None = None  # opaque, from the previous page's next_cursor


@dataclass(frozen=True)
class LogQuery:
    service: str | None = None
    severity_min: int | None = None
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    project: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class MetricQuery:
    name: str | None = None
    service: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    project: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class EventQuery:
    kind: str | None = None
    service: str | None = None
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    project: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass
class Page:
    """One page of rows (dicts, JSON columns decoded) and the cursor of the next page."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


class Store(Protocol):
    """Where telemetry, events and their derived records live."""

    url: str
    #: SQL dialect of :meth:`select`: ``duckdb`` or ``postgresql``.
    dialect: str

    def select(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run one read-only query (``?`` placeholders); the result as an Arrow table.

        Domain packages (measure, drift) build aggregate SQL for :attr:`dialect` and run it
        here; raises ``StoreUnavailable`` when the query cannot run.
        """
        ...

    def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run write statements (``?`` placeholders) in ONE transaction; rows affected by each.

        For the small state tables of the domain packages (alerts, silences, deliveries; later
        keys and the audit log), written a few rows at a time — never telemetry, which goes
        through :meth:`write`. Durable when it returns; raises ``StoreUnavailable``.
        """
        ...

    def update_spans(self, updates: pa.Table) -> int:
        """Set span columns by ``(trace_id, span_id)`` in one transaction; rows updated."""
        ...

    def table_columns(self, table: str) -> dict[str, str]:
        """Each column of ``table`` and its SQL type, in table order."""
        ...

    def migrate(self) -> int:
        """Apply pending schema migrations; return the schema version now in force."""
        ...

    def write(self, batches: Sequence[Batch | ArrowBatch]) -> None:
        """Append all batches in one transaction; durable when this returns."""
        ...

    def write_once(self, keyed: Sequence[tuple[str, Sequence[Batch | ArrowBatch]]]) -> set[str]:
        """Commit, in ONE transaction, the batches of every key not committed before, and
        record those keys in the ``ingest_ledger`` table (key, committed_at).

        Returns the keys skipped because an earlier transaction had committed them. A key
        given twice in one call is written once. Two concurrent callers with the same key: one
        writes, the other waits for its commit and skips it (if the first rolls back, the
        second writes). Durable when it returns; on an error nothing of the call is kept.
        The ingest workers use it for at-least-once delivery without duplicates (key =
        ``"<stream>:<sequence>"``).
        """
        ...

    def prune_ledger(self, older_than: datetime) -> int:
        """Delete the ledger keys committed before ``older_than``; returns the rows deleted.

        A message redelivered after its key was pruned is written again: keep keys longer
        than the ingest log can redeliver.
        """
        ...

    def checkpoint(self) -> None:
        """Make committed data cheap to recover (DuckDB: fold the log into the file).

        Called by the writer when idle; a backend with nothing to do returns at once.
        """
        ...

    def spans(self, q: SpanQuery) -> Page: ...

    def trace(self, trace_id: str, project: str | None = None) -> list[dict[str, Any]]:
        """All spans of one trace (of ``project`` when given), ordered by start time (empty
        when unknown)."""
        ...

    def services(self, since: datetime | None = None,
                 project: str | None = None) -> list[dict[str, Any]]:
        """One summary row per (service, env) (of ``project`` when given): span and error
        counts, models, last seen."""
        ...

    def logs(self, q: LogQuery) -> Page: ...

    def metric_points(self, q: MetricQuery) -> Page: ...

    def events(self, q: EventQuery) -> Page: ...

    def counts(self) -> dict[str, int]:
        """Row count per table."""
        ...

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the store cannot answer a trivial query."""
        ...

    def close(self) -> None:
        """Release connections; safe to call twice."""
        ...
