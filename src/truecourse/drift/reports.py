"""Stored drift reports: kept as JSON per model, listed and fetched by the API and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from truecourse.drift.report import DriftReport
from truecourse.errors import NotFound
from truecourse.store.base import Store


def save_report(store: Store, report: DriftReport) -> None:
    """Keep ``report`` (its JSON form: summaries and histograms, never raw rows)."""
    doc = report.to_dict()
    store.execute([(
        "INSERT INTO drift_reports (id, model, created_at, status, drift_share, report) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [report.id, report.model, report.created_at, doc["status"], doc["drift_share"],
         orjson.dumps(doc).decode()])])


def list_reports(store: Store, model: str | None = None, limit: int = 50,
                 since: datetime | None = None, until: datetime | None = None,
                 ) -> list[dict[str, Any]]:
    """Report summaries, newest first; ``since``/``until`` bound ``created_at``
    (``since <= created_at < until``)."""
    where, params = _where(model, since, until)
    rows = store.select(f"SELECT id, model, created_at, status, drift_share FROM drift_reports "
                        f"{where} ORDER BY created_at DESC LIMIT {int(limit)}", params)
    return list(rows.to_pylist())


def latest_reports(store: Store, since: datetime | None = None, until: datetime | None = None,
                   model: str | None = None) -> list[dict[str, Any]]:
    """The newest stored report of each model created in ``[since, until)``, as full JSON
    documents, by model name. One query; the page and the On-call view read these."""
    where, params = _where(model, since, until)
    rows = store.select(
        f"SELECT r.report FROM drift_reports r JOIN (SELECT model, max(created_at) AS newest "
        f"FROM drift_reports {where} GROUP BY model) n "
        f"ON r.model = n.model AND r.created_at = n.newest ORDER BY r.model", params)
    docs: dict[str, dict[str, Any]] = {}
    for text in rows.column("report").to_pylist():
        doc: dict[str, Any] = orjson.loads(text)
        docs.setdefault(doc["model"], doc)  # two reports at the same instant: keep one
    return list(docs.values())


def _where(model: str | None, since: datetime | None, until: datetime | None,
           ) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (("model = ?", model), ("created_at >= ?", since),
                          ("created_at < ?", until)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def get_report(store: Store, report_id: str) -> dict[str, Any]:
    """One stored report's JSON; ``NotFound`` when unknown."""
    rows = store.select("SELECT report FROM drift_reports WHERE id = ?", [report_id])
    if rows.num_rows == 0:
        raise NotFound(f"no drift report {report_id!r}",
                       hint="list them with GET /api/v1/drift/reports")
    doc: dict[str, Any] = orjson.loads(rows.column("report")[0].as_py())
    return doc
