"""The PostgreSQL store: one writer connection, a small pool of readers, binary COPY writes.

``write``, ``write_once``, ``update_spans`` and ``migrate`` share one connection behind a lock
(one transaction each); reads take a connection of their own from a pool, so API requests never
wait on the writer and see only committed data. Batches are written with ``COPY ... FROM STDIN
(FORMAT binary)`` built from whole Arrow columns (:mod:`truecourse.store.pg_arrow`).

Connections are made on demand with a short ``connect_timeout``. A connection that breaks is
closed, never reused; the next call connects again, so the store recovers on its own once
PostgreSQL is back. While it is unreachable every call raises ``StoreUnavailable`` naming the
URL (password masked), what failed and what to check.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from truecourse.errors import InvalidInput, StoreUnavailable
from truecourse.model import ARROW_SCHEMAS, TABLE_COLUMNS, ArrowBatch, Batch
from truecourse.store.base import EventQuery, LogQuery, MetricQuery, Page, SpanQuery
from truecourse.store.migrate import migrations
from truecourse.store.pg_arrow import arrow_table, copy_chunks
from truecourse.store.pg_connect import (
    CONNECT_TIMEOUT_S,
    Connector,
    ReaderPool,
    is_broken,
    pyformat,
    reason,
)
from truecourse.store.sql import (
    MAX_LIMIT,
    Where,
    decode_cursor,
    encode_cursor,
    keyset_page,
    log_where,
    metric_where,
    span_where,
)

__all__ = ["PostgresStore"]

T = TypeVar("T")

_JSON_COLUMNS = {t: {c.name for c in cols if c.json} for t, cols in TABLE_COLUMNS.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ``pg_advisory_xact_lock`` key held while migrating ("tc-migr" in ASCII).
_MIGRATE_LOCK = 0x74632D6D69677200
#: The tie-break of rows of one instant (see ``PostgresStore._newest_rows``).
_ROW_HASH = 'md5(_r::text) COLLATE "C"'


class PostgresStore:
    """``Store`` on a PostgreSQL database named by a ``postgresql://`` URL.

    ``pool_size`` bounds the read connections; the writer holds one more. The constructor
    connects once and raises ``StoreUnavailable`` when the server cannot be reached.
    """

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8, pool_wait_s: float = 30.0,
                 connect_timeout_s: int = CONNECT_TIMEOUT_S) -> None:
        self._connector = Connector(url, connect_timeout_s)
        self.url = self._connector.url
        #: the URL with its password, for components that open their own connection (the
        #: leader lock); never print it — ``url`` is the masked form
        self.dsn = url
        self._lock = threading.Lock()
        self._writer: psycopg.Connection[Any] | None = None
        self._pool = ReaderPool(lambda: self._connect(autocommit=True), pool_size, pool_wait_s)
        self._closed = False
        with self._lock:
            self._writer_conn()

    # -- connections ---------------------------------------------------------------------------

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreUnavailable(f"the store on {self.url} is closed")
        return self._connector.connect(autocommit=autocommit)

    def _writer_conn(self) -> psycopg.Connection[Any]:
        """The writer connection, connected again if it broke (call with the lock held)."""
        if self._writer is not None and is_broken(self._writer):
            self._writer.close()
            self._writer = None
        if self._writer is None:
            self._writer = self._connect(autocommit=False)
        return self._writer

    def _failure(self, what: str, exc: psycopg.Error,
                 conn: psycopg.Connection[Any] | None) -> StoreUnavailable:
        if conn is not None and is_broken(conn):
            return StoreUnavailable(
                f"{what} {self.url} failed: lost the connection ({reason(exc)})",
                hint="check the server is running; the next call connects again")
        return StoreUnavailable(f"{what} {self.url} failed: {exc}")

    def _transaction(self, what: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` in one writer transaction and commit; durable when this returns.

        A connection found broken before the commit is replaced and ``work`` retried once
        (nothing of it was committed); a failed commit is not retried.
        """
        with self._lock:
            for attempt in (1, 2):
                conn = self._writer_conn()
                try:
                    result = work(conn)
                except psycopg.Error as exc:
                    if is_broken(conn) and attempt == 1:
                        continue
                    _rollback(conn)
                    raise self._failure(what, exc, conn) from exc
                except BaseException:
                    _rollback(conn)
                    raise
                try:
                    conn.commit()
                except psycopg.Error as exc:
                    _rollback(conn)
                    raise self._failure(f"{what} (at commit)", exc, conn) from exc
                return result
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` on a pooled read connection; once more on a new one if a reused
        connection turns out to be dead."""
        for attempt in (1, 2):
            try:
                conn, reused = self._pool.acquire()
            except TimeoutError as exc:
                raise StoreUnavailable(f"query on {self.url} failed: {exc}",
                                       hint="raise the pool size or lower the load") from exc
            try:
                return work(conn)
            except psycopg.Error as exc:
                if is_broken(conn) and reused and attempt == 1:
                    continue
                raise self._failure("query on", exc, conn) from exc
            finally:
                self._pool.release(conn)
        raise AssertionError("unreachable")

    # -- schema --------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply pending migrations, each in a transaction under an advisory lock, so two
        processes starting together migrate once. Refuses a database newer than this code."""
        known = migrations("postgresql")

        def step(conn: psycopg.Connection[Any]) -> tuple[int, bool]:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATE_LOCK])
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
                         "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > len(known):
                raise StoreUnavailable(
                    f"database {self.url} has schema version {current}, this TrueCourse knows "
                    f"{len(known)}", hint="upgrade TrueCourse or use another --db")
            if current == len(known):
                return current, False
            m = known[current]
            try:
                conn.execute(m.sql.encode())
            except psycopg.Error as exc:
                if is_broken(conn):
                    raise
                raise StoreUnavailable(f"migration {m.version} ({m.name}) failed: {exc}") from exc
            conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, now())",
                         [m.version, m.name])
            return m.version, True

        while True:
            version, applied = self._transaction("migration of", step)
            if not applied:
                return version

    def table_columns(self, table: str) -> dict[str, str]:
        """Each column of ``table`` with its SQL type (``TEXT``, ``DOUBLE PRECISION``, ...),
        in table order; empty for an unknown table."""
        rows = self._rows(
            "SELECT a.attname AS name, upper(format_type(a.atttypid, a.atttypmod)) AS type "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass(?::text) AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum", [table], "columns")
        return {r["name"]: r["type"] for r in rows}

    # -- writes --------------------------------------------------------------------------------

    def write(self, batches: Sequence[Batch | ArrowBatch]) -> None:
        tables = _tables(batches)
        if not tables:
            return
        try:
            self._transaction("write to", lambda conn: _copy_tables(conn, tables))
        except StoreUnavailable as exc:
            if not _rejected_nul(exc):
                raise
            clean = {t: _without_nul(a) for t, a in tables.items()}
            self._transaction("write to", lambda conn: _copy_tables(conn, clean))

    def write_once(self, keyed: Sequence[tuple[str, Sequence[Batch | ArrowBatch]]]) -> set[str]:
        """See :meth:`truecourse.store.base.Store.write_once`: the ledger insert decides which
        keys are new (a key another transaction holds uncommitted makes this one wait)."""
        first: dict[str, Sequence[Batch | ArrowBatch]] = {}
        for key, batches in keyed:
            first.setdefault(key, batches)
        if not first:
            return set()
        prepared = {key: _tables(batches) for key, batches in first.items()}

        def work(conn: psycopg.Connection[Any]) -> set[str]:
            rows = conn.execute(
                "INSERT INTO ingest_ledger (key, committed_at) "
                "SELECT k, now() FROM unnest(%s::text[]) AS k ORDER BY k "
                "ON CONFLICT (key) DO NOTHING RETURNING key", [sorted(first)]).fetchall()
            new = {r[0] for r in rows}
            by_table: dict[str, list[pa.Table]] = {}
            for key in first:
                if key in new:
                    for table, arrow in prepared[key].items():
                        by_table.setdefault(table, []).append(arrow)
            _copy_tables(conn, {t: pa.concat_tables(g) for t, g in by_table.items()})
            return set(first) - new

        try:
            return self._transaction("write to", work)
        except StoreUnavailable as exc:
            if not _rejected_nul(exc):
                raise
            prepared.update({k: {t: _without_nul(a) for t, a in v.items()}
                             for k, v in prepared.items()})
            return self._transaction("write to", work)

    def prune_ledger(self, older_than: datetime) -> int:
        def work(conn: psycopg.Connection[Any]) -> int:
            cur = conn.execute("DELETE FROM ingest_ledger WHERE committed_at < %s",
                               [older_than])
            return int(cur.rowcount)

        return self._transaction("prune of", work)

    def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Write statements (``?`` placeholders) in one transaction; rows affected by each."""
        def work(conn: psycopg.Connection[Any]) -> list[int]:
            counts = []
            for sql, params in statements:
                cur = conn.execute(pyformat(sql).encode(), list(params))
                counts.append(int(cur.rowcount))
            return counts

        return self._transaction("write to", work)

    def update_spans(self, updates: pa.Table) -> int:
        """Set columns of stored spans, matched by ``(trace_id, span_id)``; returns rows updated.

        ``updates`` holds ``trace_id``, ``span_id`` and the span columns to set. One
        transaction: the updates are copied into a temporary table and joined.
        """
        keys = {"trace_id", "span_id"}
        cols = [c for c in updates.column_names if c not in keys]
        schema = ARROW_SCHEMAS["spans"]
        bad = [c for c in cols if c not in schema.names] + sorted(keys - set(updates.column_names))
        if bad or not cols:
            raise ValueError(f"update_spans needs trace_id, span_id and span columns, not {bad}")
        names = ["trace_id", "span_id", *cols]
        arrow = updates.select(names).cast(pa.schema([schema.field(n) for n in names]))
        listed = ", ".join(names)
        sets = ", ".join(f"{c} = u.{c}" for c in cols)

        def work(conn: psycopg.Connection[Any]) -> int:
            conn.execute(f"CREATE TEMP TABLE _tc_updates ON COMMIT DROP AS SELECT {listed} "
                         "FROM spans WITH NO DATA")
            _copy(conn, "_tc_updates", arrow)
            if arrow.num_rows > 1000:
                conn.execute("ANALYZE _tc_updates")
            cur = conn.execute(f"UPDATE spans SET {sets} FROM _tc_updates u "
                               "WHERE spans.trace_id = u.trace_id AND spans.span_id = u.span_id")
            return int(cur.rowcount)

        return self._transaction("update of", work)

    def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL checkpoints on its own."""

    # -- reads ---------------------------------------------------------------------------------

    def select(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run one read-only query (``?`` placeholders) on a pooled connection; the result as
        an Arrow table (see :func:`truecourse.store.pg_arrow.arrow_table` for the types)."""
        def work(conn: psycopg.Connection[Any]) -> pa.Table:
            with conn.cursor() as cur:
                cur.execute(pyformat(sql).encode(), list(params))
                if cur.description is None:
                    return pa.table({})
                names = [d.name for d in cur.description]
                oids = [d.type_code for d in cur.description]
                return arrow_table(names, oids, cur.fetchall())

        return self._read(work)

    def _rows(self, sql: str, params: Sequence[Any], table: str) -> list[dict[str, Any]]:
        """Rows as dicts, ``table``'s JSON columns decoded."""
        def work(conn: psycopg.Connection[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
            with conn.cursor() as cur:
                cur.execute(pyformat(sql).encode(), list(params))
                assert cur.description is not None
                return [d.name for d in cur.description], cur.fetchall()

        names, rows = self._read(work)
        json_cols = [n for n in names if n in _JSON_COLUMNS.get(table, ())]
        out = []
        for r in rows:
            d = dict(zip(names, r, strict=True))
            for k in json_cols:
                v = d[k]
                if isinstance(v, str):
                    d[k] = orjson.loads(v)
            out.append(d)
        return out

    def _runner(self, table: str) -> Callable[[str, list[Any]], list[dict[str, Any]]]:
        return lambda sql, params: self._rows(sql, params, table)

    def spans(self, q: SpanQuery) -> Page:
        return keyset_page(self._runner("spans"), "spans", span_where(q),
                           ("start_unix_nano", "span_id"),
                           lambda r: (r["start_unix_nano"], r["span_id"]), q.cursor, q.limit)

    def trace(self, trace_id: str, project: str | None = None) -> list[dict[str, Any]]:
        if project is not None:
            return self._rows("SELECT * FROM spans WHERE trace_id = ? AND project = ? ORDER BY "
                              "start_unix_nano, span_id", [trace_id.lower(), project], "spans")
        return self._rows("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_unix_nano, "
                          "span_id", [trace_id.lower()], "spans")

    def services(self, since: datetime | None = None,
                 project: str | None = None) -> list[dict[str, Any]]:
        conds = ["start_time >= ?"] * bool(since) + ["project = ?"] * bool(project)
        params = [v for v in (since, project) if v]
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = f"""
            SELECT service, env,
                   count(*) AS span_count,
                   count(*) FILTER (WHERE status_code = 'error') AS error_count,
                   count(DISTINCT trace_id) AS trace_count,
                   array_agg(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL)
                       AS models,
                   array_agg(DISTINCT version ORDER BY version)
                       FILTER (WHERE version IS NOT NULL) AS versions,
                   min(team) AS team, min(owner) AS owner,
                   sum(input_tokens)::bigint AS input_tokens,
                   sum(output_tokens)::bigint AS output_tokens,
                   sum(cost_usd) AS cost_usd,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
                   min(start_time) AS first_seen, max(start_time) AS last_seen
            FROM spans {where}
            GROUP BY service, env
            ORDER BY service COLLATE "C" NULLS LAST, env COLLATE "C" NULLS LAST"""
        rows = self._rows(sql, params, "services")
        for r in rows:
            r["models"] = r["models"] or []
            r["versions"] = r["versions"] or []
        return rows

    def logs(self, q: LogQuery) -> Page:
        return self._newest_rows("logs", log_where(q), q.cursor, q.limit)

    def metric_points(self, q: MetricQuery) -> Page:
        return self._newest_rows("metric_points", metric_where(q), q.cursor, q.limit)

    def _newest_rows(self, table: str, where: Where, cursor: str | None, limit: int) -> Page:
        """A page of a table keyed by ``time_unix_nano``, newest first.

        Records of one instant are common and PostgreSQL has no stable row number, so ties
        are ordered by the md5 of the whole row. Rows with equal time and hash are identical;
        the cursor counts how many of those the pages so far returned, and the next page skips
        that many (OFFSET), so paging loses and repeats nothing, exact duplicates included.
        """
        seen = 0
        key: tuple[int, str] | None = None
        if cursor:
            t, h, seen = decode_cursor(cursor, 3)
            if not (isinstance(t, int) and isinstance(h, str) and isinstance(seen, int)):
                raise InvalidInput("cursor is not one this server issued",
                                   hint="pass next_cursor from the previous page unchanged")
            key = (t, h)
            where.add("time_unix_nano <= ?", t)
            where.add(f"(time_unix_nano < ? OR {_ROW_HASH} <= ?)", t, h)
        limit = max(1, min(int(limit), MAX_LIMIT))
        rows = self._rows(
            f"SELECT _r.*, {_ROW_HASH} AS _key FROM {table} _r{where.sql()} "
            "ORDER BY time_unix_nano DESC, _key DESC LIMIT ? OFFSET ?",
            [*where.params, limit + 1, seen], table)
        more = len(rows) > limit
        rows = rows[:limit]
        keys = [(r["time_unix_nano"], r.pop("_key")) for r in rows]
        if not more:
            return Page(rows, None)
        last = keys[-1]
        run = 0
        while run < len(keys) and keys[-1 - run] == last:
            run += 1
        if run == len(keys) and last == key:
            run += seen
        return Page(rows, encode_cursor(last[0], last[1], run))

    def events(self, q: EventQuery) -> Page:
        where = Where()
        for col in ("kind", "service", "trace_id", "project"):
            where.equals(col, getattr(q, col))
        where.between("time", q.since, q.until)
        if q.cursor:
            us, event_id = decode_cursor(q.cursor, 2)
            if not (isinstance(us, int) and isinstance(event_id, str)):
                raise InvalidInput("cursor is not one this server issued",
                                   hint="pass next_cursor from the previous page unchanged")
            # the cursor holds Unix microseconds, as DuckDB's does; compared as a timestamp so
            # the index on time serves the order
            where.add("(time, id) < (?, ?)", _EPOCH + timedelta(microseconds=us), event_id)
        return keyset_page(self._runner("events"), "events", where, ("time", "id"),
                           lambda r: ((r["time"] - _EPOCH) // timedelta(microseconds=1),
                                      r["id"]), None, q.limit)

    def counts(self) -> dict[str, int]:
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in TABLE_COLUMNS)
        [row] = self._rows(sql, [], "counts")
        return {t: int(row[t]) for t in TABLE_COLUMNS}

    def ping(self) -> None:
        self._rows("SELECT 1 AS ok", [], "ping")

    def close(self) -> None:
        """Close every connection; safe to call twice. Later calls raise StoreUnavailable."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self._pool.close()


def _rollback(conn: psycopg.Connection[Any]) -> None:
    """End a failed transaction; a broken connection has nothing left to roll back."""
    if not is_broken(conn):
        with contextlib.suppress(psycopg.Error):
            conn.rollback()


# -- COPY --------------------------------------------------------------------------------------

def _tables(batches: Sequence[Batch | ArrowBatch]) -> dict[str, pa.Table]:
    """The batches as one Arrow table per table name, in the canonical column types."""
    by_table: dict[str, list[pa.Table]] = {}
    for b in batches:
        if len(b):
            by_table.setdefault(b.table, []).append(b.to_arrow())
    out = {}
    for table, group in by_table.items():
        arrow = group[0] if len(group) == 1 else pa.concat_tables(group)
        schema = ARROW_SCHEMAS[table]
        out[table] = arrow if arrow.schema.equals(schema) else arrow.cast(schema)
    return out


def _rejected_nul(exc: StoreUnavailable) -> bool:
    """PostgreSQL text cannot hold U+0000 (DuckDB's can): the write failed on one."""
    cause = exc.__cause__
    return isinstance(cause, psycopg.errors.CharacterNotInRepertoire) and "0x00" in str(cause)


def _without_nul(arrow: pa.Table) -> pa.Table:
    """``arrow`` with U+0000 in its strings replaced by U+FFFD."""
    for i, field in enumerate(arrow.schema):
        if pa.types.is_string(field.type):
            fixed = pc.replace_substring(arrow.column(i), "\x00", "\ufffd")
            arrow = arrow.set_column(i, field, fixed)
    return arrow


def _copy(conn: psycopg.Connection[Any], table: str, arrow: pa.Table) -> None:
    columns = ", ".join(arrow.column_names)
    with conn.cursor() as cur, cur.copy(
            f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)".encode()) as copy:
        for chunk in copy_chunks(arrow):
            copy.write(memoryview(chunk))


def _copy_tables(conn: psycopg.Connection[Any], tables: dict[str, pa.Table]) -> None:
    """COPY each table in; events and predictions through a temporary table so a retried id
    is ignored."""
    for table, arrow in tables.items():
        if table not in ("events", "predictions"):
            _copy(conn, table, arrow)
            continue
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _tc_{table} (LIKE {table}) "
                     "ON COMMIT DELETE ROWS")
        _copy(conn, f"_tc_{table}", arrow)
        conn.execute(f"INSERT INTO {table} SELECT * FROM _tc_{table} ON CONFLICT (id) DO NOTHING")
