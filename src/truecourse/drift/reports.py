"""Stored drift reports: kept as JSON per model, listed and fetched by the API and the CLI."""

from __future__ import annotations

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
                 ) -> list[dict[str, Any]]:
    """Report summaries, newest first."""
    where, params = ("WHERE model = ?", [model]) if model else ("", [])
    rows = store.select(f"SELECT id, model, created_at, status, drift_share FROM drift_reports "
                        f"{where} ORDER BY created_at DESC LIMIT {int(limit)}", params)
    return list(rows.to_pylist())


def get_report(store: Store, report_id: str) -> dict[str, Any]:
    """One stored report's JSON; ``NotFound`` when unknown."""
    rows = store.select("SELECT report FROM drift_reports WHERE id = ?", [report_id])
    if rows.num_rows == 0:
        raise NotFound(f"no drift report {report_id!r}",
                       hint="list them with GET /api/v1/drift/reports")
    doc: dict[str, Any] = orjson.loads(rows.column("report")[0].as_py())
    return doc
