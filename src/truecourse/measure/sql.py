"""The scorecard's SQL: one pass over the spans for span metrics, one per-trace pass for tasks.

Both queries group by the asked dimensions (plus a time bucket for a time series) and compute
only the aggregates the asked metrics need. Dialect differences (percentiles, integer
division, JSON) are confined to :class:`Dialect`; placeholders are ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from truecourse.measure.metrics import SUBJECTS
from truecourse.measure.query import MeasureQuery

__all__ = ["QUANTILES", "Dialect", "SqlPlan", "span_sql", "task_sql", "window_where"]

#: The latency percentiles, in the order the quantile aggregate returns them.
QUANTILES: dict[str, float] = {
    "latency_p50": 0.5, "latency_p90": 0.9, "latency_p95": 0.95, "latency_p99": 0.99,
}
BUCKET = "_bucket"


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between DuckDB and PostgreSQL."""

    name: str

    def quantiles(self, column: str, qs: Sequence[float], where: str, approx: bool) -> str:
        qlist = ", ".join(repr(q) for q in qs)
        if self.name == "postgresql":
            return (f"percentile_cont(ARRAY[{qlist}]) WITHIN GROUP (ORDER BY {column}) "
                    f"FILTER (WHERE {where})")
        fn = "approx_quantile" if approx else "quantile_cont"
        return f"{fn}({column}, [{qlist}]) FILTER (WHERE {where})"

    def bucket(self, column: str, step_ns: int) -> str:
        step = int(step_ns)
        if self.name == "postgresql":
            # PostgreSQL's integer / truncates toward zero; subtracting the floored remainder
            # aligns before-1970 times down as DuckDB's // does
            return f"({column} - ((({column}) % {step}) + {step}) % {step})"
        return f"({column} // {step}) * {step}"

    def json_text(self, column: str, key: str) -> str:
        if self.name == "postgresql":
            # json, not jsonb: parses only as far as the key and accepts \u0000 elsewhere
            return f"({column}::json ->> '{key}')"
        return f"json_extract_string({column}, '$.{key}')"


@dataclass
class SqlPlan:
    """A query and its parameters; ``columns`` are the aggregate output names, ``quantiles``
    the latency metrics the ``_q`` list column holds, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    quantiles: list[str] = field(default_factory=list)


def window_where(q: MeasureQuery, *, with_filters: bool = True) -> tuple[str, list[Any]]:
    """``q``'s window and (unless ``with_filters`` is False) its filters, as SQL and params."""
    clauses = ["start_time >= ?", "start_time < ?"]
    params: list[Any] = [q.window.since, q.window.until]
    if with_filters:
        for dim, value in q.filters.items():
            clauses.append(f"{dim} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def span_sql(q: MeasureQuery, needed: set[str], dialect: Dialect, *,
             score_columns: Sequence[str] = (), step_ns: int | None = None,
             approx_quantiles: bool = False, limit: int | None = None) -> SqlPlan:
    """The span-metric query for the aggregates in ``needed`` (metric names)."""
    subj = SUBJECTS[q.resolved_subject]
    llm, gen, tool, retr = (SUBJECTS[k] for k in ("llm", "gen", "tool", "retrieval"))
    aggs: dict[str, str] = {
        "requests": f"count(*) FILTER (WHERE {subj})",
        "errors": f"count(*) FILTER (WHERE {subj} AND status_code = 'error')",
        "latency_mean": f"avg(duration_ms) FILTER (WHERE {subj})",
        "llm_calls": f"count(*) FILTER (WHERE {llm})",
        "input_tokens": f"CAST(sum(input_tokens) FILTER (WHERE {llm}) AS BIGINT)",
        "output_tokens": f"CAST(sum(output_tokens) FILTER (WHERE {llm}) AS BIGINT)",
        "cost_usd": f"sum(cost_usd) FILTER (WHERE {llm})",
        "unpriced_calls": f"count(*) FILTER (WHERE {llm} AND cost_source = 'unknown_model')",
        "refusals": f"count(*) FILTER (WHERE {gen} AND refused)",
        "refusal_checked": f"count(refused) FILTER (WHERE {gen})",
        "tool_calls": f"count(*) FILTER (WHERE {tool})",
        "tool_failures": f"count(*) FILTER (WHERE {tool} AND NOT tool_ok)",
        "retrievals": f"count(*) FILTER (WHERE {retr})",
        "documents_per_retrieval": f"avg(retrieval_documents) FILTER (WHERE {retr})",
        "empty_retrievals": f"count(*) FILTER (WHERE {retr} AND retrieval_documents = 0)",
        "retrievals_counted": f"count(retrieval_documents) FILTER (WHERE {retr})",
    }
    for col in score_columns:
        aggs[f"{col}_mean"] = f"avg({col})"
    select: list[str] = []
    columns: list[str] = []
    for name, expr in aggs.items():
        if name in needed:
            select.append(f"{expr} AS {name}")
            columns.append(name)
    qnames = [name for name in QUANTILES if name in needed]
    qs = [QUANTILES[name] for name in qnames]
    if qs:
        select.append(f"{dialect.quantiles('duration_ms', qs, subj, approx_quantiles)} AS _q")
        columns.append("_q")
    keys = list(q.group_by)
    if step_ns is not None:
        keys.append(f"{dialect.bucket('start_unix_nano', step_ns)} AS {BUCKET}")
    where, params = window_where(q)
    if q.resolved_subject == "ai_calls":  # other spans have no AI dimension to group by
        where += f" AND {subj}"
    sql = f"SELECT {', '.join([*keys, *select]) or 'count(*) AS _rows'} FROM spans WHERE {where}"
    if keys:
        sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}"
        sql += " ORDER BY count(*) DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return SqlPlan(sql, params, columns, qnames)


def task_sql(q: MeasureQuery, needed: set[str], dialect: Dialect, *,
             task_span_names: Sequence[str] = (), negative_below: float = 0.5,
             step_ns: int | None = None, limit: int | None = None) -> SqlPlan:
    """The per-trace task query: tasks, completion, cost, and the feedback joined to them.

    A task is a trace, judged by its root span; with ``task_span_names``, a trace holding a span
    of one of those names, judged by that span. A task's dimensions come from its root (or task)
    span, else from any span of the trace that has one; filters apply to those task values.
    Feedback joins by ``trace_id`` only: feedback naming just a span is not counted.
    """
    names = list(task_span_names)
    if names:
        marks = ", ".join("?" for _ in names)
        root = f"(name IN ({marks}))"
    else:
        root = "(parent_span_id IS NULL)"
    root_params = list(names)
    llm = SUBJECTS["llm"]
    dims = list(q.group_by) + [d for d in q.filters if d not in q.group_by]
    dim_cols = [f"coalesce(min({d}) FILTER (WHERE {root}), min({d})) AS {d}" for d in dims]
    params: list[Any] = []
    for _ in dims:
        params += root_params
    t_cols = [
        "trace_id", *dim_cols,
        f"bool_or({root} AND status_code = 'error') AS failed",
        "bool_or(coalesce(refused, false)) AS refused",
        f"sum(cost_usd) FILTER (WHERE {llm}) AS cost",
    ]
    params += root_params
    if step_ns is not None:
        t_cols.append("min(start_unix_nano) AS start_unix_nano")
    where, wparams = window_where(q, with_filters=False)
    params += wparams
    having = ""
    if names:
        having = f" HAVING count(*) FILTER (WHERE {root}) > 0"
        params += root_params
    correction = dialect.json_text("payload", "correction")
    f_sql = (
        "SELECT trace_id, sum(score) AS score_sum, count(score) AS scored, "
        "bool_or(score < ?) AS negative, "
        f"count(*) FILTER (WHERE {correction} IS NOT NULL) AS corrections "
        "FROM events WHERE kind = 'feedback' AND trace_id IN (SELECT trace_id FROM t) "
        "GROUP BY trace_id")
    params.append(negative_below)
    keys = list(q.group_by)
    if step_ns is not None:
        keys.append(f"{dialect.bucket('t.start_unix_nano', step_ns)} AS {BUCKET}")
    aggs = {
        "tasks": "count(*)",
        "completed_tasks": "count(*) FILTER (WHERE NOT t.failed AND NOT t.refused "
                           "AND NOT coalesce(f.negative, false))",
        "task_cost_usd": "sum(t.cost)",
        "feedback_tasks": "count(f.trace_id)",
        "feedback_score_mean": "sum(f.score_sum) / nullif(sum(f.scored), 0)",
        "negative_feedback_tasks": "count(*) FILTER (WHERE f.negative)",
        "corrections": "CAST(coalesce(sum(f.corrections), 0) AS BIGINT)",
    }
    columns = [n for n in aggs if n in needed] or ["tasks"]
    select = [*keys, *(f"{aggs[n]} AS {n}" for n in columns)]
    filt = " AND ".join(f"t.{d} = ?" for d in q.filters)
    params += list(q.filters.values())
    sql = (f"WITH t AS (SELECT {', '.join(t_cols)} FROM spans WHERE {where} "
           f"GROUP BY trace_id{having}), f AS ({f_sql}) "
           f"SELECT {', '.join(select)} FROM t LEFT JOIN f ON f.trace_id = t.trace_id"
           + (f" WHERE {filt}" if filt else ""))
    if keys:
        sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return SqlPlan(sql, params, columns)
