"""An SLO's SLI as SQL: the total (subject, service, conditions) and the good predicate, and
the one per-minute query that counts both.

The query reads ``[since, until)`` once and returns one row per minute that has spans:
``minute`` (Unix nanoseconds of the minute's start), ``total`` and ``good``. Cost: one pass
over the window's spans of the SLO's subject (DuckDB prunes by ``start_time`` zone maps,
PostgreSQL by the ``start_time`` index).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from truecourse.config.detect import Condition, SloConfig
from truecourse.measure.metrics import SUBJECTS
from truecourse.measure.sql import Dialect

__all__ = ["MINUTE_NS", "condition_sql", "minute_counts_sql"]

MINUTE_NS = 60 * 1_000_000_000

_COMPARE = {"==": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def condition_sql(conds: Sequence[Condition]) -> tuple[str, list[Any]]:
    """``conds`` ANDed as SQL with ``?`` parameters; ``TRUE`` for none.

    Field names were checked against the span columns (or the ``*_score`` pattern) by the
    config, so they are spliced in as identifiers; values are always parameters.
    """
    parts: list[str] = []
    params: list[Any] = []
    for c in conds:
        f = c.field
        if c.op == "is_null":
            parts.append(f"{f} IS NULL")
        elif c.op == "not_null":
            parts.append(f"{f} IS NOT NULL")
        elif c.op == "!=":
            parts.append(f"{f} IS DISTINCT FROM ?")
            params.append(c.value)
        elif c.op in ("in", "not_in"):
            marks = ", ".join("?" for _ in c.value)
            if c.op == "in":
                parts.append(f"{f} IN ({marks})")
            else:  # a missing value is not in the list
                parts.append(f"({f} IS NULL OR {f} NOT IN ({marks}))")
            params += list(c.value)
        else:
            parts.append(f"{f} {_COMPARE[c.op]} ?")
            params.append(c.value)
    return (" AND ".join(f"({p})" for p in parts) or "TRUE"), params


def total_sql(slo: SloConfig) -> tuple[str, list[Any]]:
    """The predicate of the SLO's total: subject, service and ``where``."""
    parts: list[str] = []
    params: list[Any] = []
    if slo.subject != "all":
        parts.append(SUBJECTS[slo.subject])
    if slo.service is not None:
        parts.append("service = ?")
        params.append(slo.service)
    if slo.where:
        sql, p = condition_sql(slo.where)
        parts.append(sql)
        params += p
    return " AND ".join(parts) or "TRUE", params


def minute_counts_sql(slo: SloConfig, dialect: Dialect, since: datetime,
                      until: datetime) -> tuple[str, list[Any]]:
    """The per-minute (total, good) counts of ``slo`` over ``[since, until)``."""
    total, tparams = total_sql(slo)
    good, gparams = condition_sql(slo.good)
    minute = dialect.bucket("start_unix_nano", MINUTE_NS)
    sql = (f"SELECT {minute} AS minute, count(*) AS total, "
           f"count(*) FILTER (WHERE {good}) AS good FROM spans "
           f"WHERE start_time >= ? AND start_time < ? AND {total} GROUP BY 1")
    # placeholders in text order: the FILTER's, then the window's, then the total's
    return sql, [*gparams, since, until, *tparams]
