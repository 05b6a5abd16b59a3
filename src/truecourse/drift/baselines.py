"""Uploaded reference baselines: a Parquet or CSV file kept in the store for a model.

The file is validated (readable, not empty) before it is kept; it is stored as uploaded (at
most the server's body limit) and parsed again when a report uses it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from truecourse.drift.frame import DriftFrame, detect_format, frame_from_arrow, read_table
from truecourse.errors import NotFound
from truecourse.store.base import Store


def save_baseline(store: Store, data: bytes, *, model: str, name: str = "baseline",
                  ) -> dict[str, Any]:
    """Validate and keep a baseline; its summary (id, model, rows, columns).

    Raises ``InvalidInput`` when the file is empty or not Parquet/CSV.
    """
    fmt = detect_format(data, name)
    table = read_table(data, name=name, fmt=fmt)
    info = {"id": uuid.uuid4().hex[:16], "model": model, "name": name,
            "created_at": datetime.now(UTC), "format": fmt, "rows": table.num_rows,
            "columns": table.column_names}
    store.execute([(
        "INSERT INTO drift_baselines (id, model, name, created_at, format, rows, columns, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [info["id"], model, name, info["created_at"], fmt, table.num_rows,
         orjson.dumps(table.column_names).decode(), data])])
    return info


def list_baselines(store: Store, model: str | None = None) -> list[dict[str, Any]]:
    """Baselines (without their data), newest first."""
    where, params = ("WHERE model = ?", [model]) if model else ("", [])
    rows = store.select(f"SELECT id, model, name, created_at, format, rows, columns "
                        f"FROM drift_baselines {where} ORDER BY created_at DESC", params)
    out = rows.to_pylist()
    for r in out:
        r["columns"] = orjson.loads(r["columns"])
    return out


def load_baseline(store: Store, baseline_id: str) -> tuple[dict[str, Any], DriftFrame]:
    """A stored baseline's summary and its typed columns; ``NotFound`` when unknown."""
    rows = store.select("SELECT id, model, name, format, data FROM drift_baselines "
                        "WHERE id = ?", [baseline_id]).to_pylist()
    if not rows:
        raise NotFound(f"no baseline {baseline_id!r}",
                       hint="list them with GET /api/v1/drift/baselines")
    row = rows[0]
    table = read_table(bytes(row["data"]), name=row["name"], fmt=row["format"])
    info = {k: row[k] for k in ("id", "model", "name")}
    return info, frame_from_arrow(table, source=f"baseline:{row['id']} ({row['name']})")
