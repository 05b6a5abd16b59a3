"""Retention: delete what outlived its time to live, per project and kind of record.

::

    result = run_retention(store, config.retention, now=datetime.now(UTC))
    preview_retention(store, config.retention, now=...)   # the same counts, nothing removed
    result.removed     # {"acme": {"spans": 1200, "text": 80}, "default": {...}, "*": {...}}
    job = RetentionJob(store, config.retention, RetentionMetrics(metrics.registry))
    job.start()        # on the leader, every `retention.interval`
    job.shutdown()     # safe to call twice and before start

**Which TTL applies.** Each project in the ``projects`` table gets ``retention.projects[name]``
where given, kind by kind, and ``retention.defaults`` for the kinds it leaves out. Rows whose
project is not in the table (or NULL) get ``defaults``; they are counted under the project
``(unlisted)``. A kind with no TTL is kept forever; with no TTL at all nothing runs and nothing is
audited.

**What expiry does** (a row expires when its time is strictly before ``now - TTL``):

- ``text``: spans' ``input_text`` and ``output_text`` and logs' ``body`` are set to NULL (spans by
  ``start_time``, logs by ``time``); the rest of the row stays, so SLIs, cost and traces still
  work. Only rows that still hold text, and that the same run does not delete, count. Raw
  text that instrumentations also left in span attributes (``gen_ai.prompt.*``, ...) and in
  event payloads (feedback comments) is *not* cleared by this kind; the ``spans`` and
  ``events`` TTLs remove it with the row.
- ``spans`` (``start_time``), ``logs`` (``time``), ``metric_points`` (``time``), ``events``
  (``time``), ``predictions`` (``time``): the rows are deleted.
- ``aggregates``: stored drift reports (``created_at``) and drift sketches (``window_end``) are
  deleted. These tables have no project column, so only ``defaults.aggregates`` applies; a
  project's own ``aggregates`` entry is ignored, and each run says so in ``notes``. They are
  counted under the project ``*``.

**Atomic and audited.** One run's updates and deletes commit in ONE transaction together with one
audit entry (action ``retention.run``, stamped with the wall clock; details: the run's ``now``,
from which every cutoff is taken, and rows per project and kind).
Cost: one indexed range scan per table, project and kind; a first run over a large backlog
deletes it all in that one transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from truecourse.config.detect import parse_duration
from truecourse.config.governance import RetentionConfig
from truecourse.coord.leader import LeaderJob, LeaderLock, leader_lock
from truecourse.governance import audit
from truecourse.store import Store

__all__ = ["AGGREGATES", "UNLISTED", "RetentionJob", "RetentionMetrics", "RetentionResult",
           "preview_retention", "run_retention"]

log = logging.getLogger(__name__)

#: The project label of rows whose project is not in the ``projects`` table.
UNLISTED = "(unlisted)"
#: The project label of the aggregates, which belong to no project.
AGGREGATES = "*"
#: Deleting kinds: table and time column.
_DELETES: dict[str, tuple[str, str]] = {
    "spans": ("spans", "start_time"),
    "logs": ("logs", "time"),
    "metric_points": ("metric_points", "time"),
    "events": ("events", "time"),
    "predictions": ("predictions", "time"),
}
#: ``text``: table, time column, the text columns cleared.
_TEXT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("spans", "start_time", ("input_text", "output_text")),
    ("logs", "time", ("body",)),
)
_AGGREGATE_TABLES: tuple[tuple[str, str], ...] = (("drift_reports", "created_at"),
                                                  ("drift_sketches", "window_end"))


@dataclass(frozen=True)
class RetentionResult:
    """One run: rows removed (or, for ``text``, cleared) per project and kind, when it ran,
    the ``audit_seq`` of its entry (0 when nothing was configured), and ``notes`` on config
    that could not apply."""

    now: datetime
    removed: dict[str, dict[str, int]] = field(default_factory=dict)
    audit_seq: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ran(self) -> bool:
        """False when no TTL applied, so nothing was looked at."""
        return self.audit_seq > 0

    @property
    def total(self) -> int:
        return sum(n for kinds in self.removed.values() for n in kinds.values())

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "removed": self.removed, "total": self.total,
                "audit_seq": self.audit_seq, "notes": list(self.notes)}


@dataclass(frozen=True)
class _Step:
    """One statement of a run: ``sql`` changes the rows of ``table`` that ``where`` picks."""

    project: str
    kind: str
    table: str
    sql: str
    where: str
    params: list[Any]

    @property
    def count_sql(self) -> str:
        return f"SELECT count(*) AS n FROM {self.table} WHERE {self.where}"


def _scope(project: str, listed: list[str]) -> tuple[str, list[Any]]:
    if project != UNLISTED:
        return "project = ?", [project]
    if not listed:
        return "TRUE", []
    marks = ", ".join("?" * len(listed))
    return f"(project IS NULL OR project NOT IN ({marks}))", list(listed)


def _steps(project: str, ttls: dict[str, int], listed: list[str],
           now: datetime) -> list[_Step]:
    scope, scope_params = _scope(project, listed)
    steps: list[_Step] = []
    if "text" in ttls:
        cutoff = now - timedelta(seconds=ttls["text"])
        for table, time_col, cols in _TEXT:
            sets = ", ".join(f"{c} = NULL" for c in cols)
            held = " OR ".join(f"{c} IS NOT NULL" for c in cols)
            where = f"{scope} AND {time_col} < ? AND ({held})"
            params = [*scope_params, cutoff]
            if table in ttls:  # rows this run deletes are not counted as cleared too
                where += f" AND {time_col} >= ?"
                params.append(now - timedelta(seconds=ttls[table]))
            steps.append(_Step(project, "text", table, f"UPDATE {table} SET {sets} WHERE {where}",
                               where, params))
    for kind, (table, time_col) in _DELETES.items():
        if kind in ttls:
            where = f"{scope} AND {time_col} < ?"
            steps.append(_Step(project, kind, table, f"DELETE FROM {table} WHERE {where}",
                               where, [*scope_params, now - timedelta(seconds=ttls[kind])]))
    return steps


def _plan(config: RetentionConfig, projects: list[str],
         now: datetime) -> tuple[list[_Step], list[str]]:
    """The statements of one run over ``projects`` (the ``projects`` table's names), and the
    notes on settings that cannot apply."""
    listed = sorted(set(projects))
    steps: list[_Step] = []
    for project in [*listed, UNLISTED]:
        ttls = config.ttls(project) if project != UNLISTED else config.defaults.seconds()
        ttls.pop("aggregates", None)
        steps += _steps(project, ttls, listed, now)
    aggregates = config.defaults.seconds().get("aggregates")
    if aggregates is not None:
        cutoff = now - timedelta(seconds=aggregates)
        for table, time_col in _AGGREGATE_TABLES:
            steps.append(_Step(AGGREGATES, "aggregates", table,
                               f"DELETE FROM {table} WHERE {time_col} < ?", f"{time_col} < ?",
                               [cutoff]))
    notes = [f"retention.projects.{name}.aggregates is ignored: drift reports and sketches "
             "belong to no project, so only retention.defaults.aggregates applies"
             for name, ttls in sorted(config.projects.items()) if ttls.aggregates is not None]
    return steps, notes


def run_retention(store: Store, config: RetentionConfig, *, now: datetime,
                  actor: str = "retention") -> RetentionResult:
    """Clear or delete every record past its TTL (see the module docstring), in one
    transaction with its audit entry; what was removed per project and kind.

    Raises ``StoreUnavailable`` when the store cannot be read or written (then nothing was
    removed) and ``ValueError`` for a naive ``now``.
    """
    now = _aware(now, "run_retention")
    if not config.enabled:
        return RetentionResult(now)
    steps, notes = _plan(config, _projects(store), now)
    for note in notes:
        log.warning("%s", note)
    # the entry's hash covers its details, so the counts it records are taken just before the
    # transaction (same cutoffs); should expired rows arrive in between (late data), they go
    # too, and a second entry (``retention.recount``) records what the transaction removed
    counted = _by_project(steps, [_count(store, s) for s in steps])
    details: dict[str, Any] = {"now": now.isoformat(), "removed": counted, "notes": notes}
    entry, counts = audit.record(store, actor, "retention.run", details=details,
                                 with_statements=[(s.sql, s.params) for s in steps])
    removed = _by_project(steps, counts)
    if removed != counted:
        audit.record(store, actor, "retention.recount",
                     details={"of_seq": entry.seq, "removed": removed})
    return RetentionResult(now, removed, entry.seq, tuple(notes))


def _by_project(steps: list[_Step], counts: list[int]) -> dict[str, dict[str, int]]:
    """Counts per project and kind (rows of unlisted projects only when there were some)."""
    out: dict[str, dict[str, int]] = {}
    for s, n in zip(steps, counts, strict=True):
        if s.project == UNLISTED and n == 0:
            continue
        kinds = out.setdefault(s.project, {})
        kinds[s.kind] = kinds.get(s.kind, 0) + n
    return out


def preview_retention(store: Store, config: RetentionConfig, *,
                      now: datetime) -> RetentionResult:
    """What :func:`run_retention` would remove at ``now``, removing nothing and recording
    nothing (``audit_seq`` 0). Same errors as :func:`run_retention`."""
    now = _aware(now, "preview_retention")
    if not config.enabled:
        return RetentionResult(now)
    steps, notes = _plan(config, _projects(store), now)
    return RetentionResult(now, _by_project(steps, [_count(store, s) for s in steps]), 0,
                           tuple(notes))


def _aware(now: datetime, caller: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"{caller} needs an aware `now` (e.g. datetime.now(UTC))")
    return now.astimezone(UTC)


def _projects(store: Store) -> list[str]:
    return [str(n) for n in store.select("SELECT name FROM projects").column("name").to_pylist()]


def _count(store: Store, step: _Step) -> int:
    return int(store.select(step.count_sql, step.params).column("n")[0].as_py())


class RetentionMetrics:
    """``truecourse_retention_rows_removed_total{project,kind}``, ``..._runs_total``,
    ``..._failures_total`` and ``..._last_run_timestamp_seconds`` (the last successful run),
    on ``registry`` (the server's, :attr:`PipelineMetrics.registry`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.removed = Counter("truecourse_retention_rows_removed_total",
                               "Rows deleted (for kind text: rows whose text was cleared) by "
                               "retention, by project and kind.", ["project", "kind"],
                               registry=r)
        self.runs = Counter("truecourse_retention_runs_total",
                            "Retention runs that committed.", registry=r)
        self.failures = Counter("truecourse_retention_failures_total",
                                "Retention runs that failed (nothing was removed).", registry=r)
        self.last_run = Gauge("truecourse_retention_last_run_timestamp_seconds",
                              "Unix time of the last retention run that committed.", registry=r)

    def observe(self, result: RetentionResult) -> None:
        """Count one committed run (a run with nothing configured counts as none)."""
        if not result.ran:
            return
        for project, kinds in result.removed.items():
            for kind, n in kinds.items():
                self.removed.labels(project=project, kind=kind).inc(n)
        self.runs.inc()
        self.last_run.set(result.now.timestamp())


class RetentionJob:
    """Runs :func:`run_retention` every ``config.interval`` on the leader (lock
    ``retention``: one node per cluster) and feeds ``metrics``.

    ``start`` does nothing when no TTL is configured; ``start`` and ``shutdown`` are safe to
    call twice, and ``shutdown`` before ``start``. ``clock`` gives "now" (the wall clock by
    default); ``lock`` replaces the store's leader lock (tests).
    """

    def __init__(self, store: Store, config: RetentionConfig,
                 metrics: RetentionMetrics | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 lock: LeaderLock | None = None) -> None:
        self.store = store
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.last: RetentionResult | None = None
        self._run_lock = threading.Lock()
        interval_s = float(parse_duration(config.interval))
        self.job = LeaderJob(lock or leader_lock(getattr(store, "dsn", store.url), "retention"),
                             interval_s, self.run_once, "retention",
                             retry_s=min(5.0, interval_s))

    def run_once(self, now: datetime | None = None) -> RetentionResult:
        """One run now (also what the schedule calls); failures are counted and re-raised."""
        with self._run_lock:
            try:
                result = run_retention(self.store, self.config, now=now or self.clock())
            except Exception:
                if self.metrics is not None:
                    self.metrics.failures.inc()
                raise
            if self.metrics is not None:
                self.metrics.observe(result)
            self.last = result
            return result

    def start(self) -> None:
        if self.config.enabled:
            self.job.start()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.job.shutdown(timeout_s)
