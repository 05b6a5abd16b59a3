"""Drift and data quality: compare what production sees now with a reference.

::

    from truecourse.drift import compare_frames, frame_from_arrow, read_path

    report = compare_frames(frame_from_arrow(read_path("ref.parquet")),
                            frame_from_arrow(read_path("now.parquet")), model="fraud")
    report.to_dict()     # per column: method, statistic, p-value or distance, threshold, drifted
    report.alerts()      # ModelDrift / DataQuality alerts for the alerting engine

Names are imported lazily so ``import truecourse.drift`` stays cheap for the API server.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DriftColumn": "frame", "DriftFrame": "frame", "frame_from_arrow": "frame",
    "read_table": "frame", "read_path": "frame",
    "ColumnResult": "judge", "decide": "judge",
    "DriftReport": "report", "compare_frames": "report",
    "Finding": "quality",
    "render_html": "html",
    "ks_test": "detectors", "wasserstein_normalized": "detectors", "psi": "detectors",
    "chi2_test": "detectors", "js_distance": "detectors", "mmd_test": "detectors",
    "benjamini_hochberg": "detectors",
    "hashed_ngrams": "text", "judge_text": "text",
    "build_report": "sources", "parse_window": "sources",
    "save_report": "reports", "list_reports": "reports", "get_report": "reports",
    "latest_reports": "reports",
    "save_baseline": "baselines", "load_baseline": "baselines",
    "predictions_from_json": "predictions",
    "cbpe": "performance", "window_performance": "performance",
    "build_sketches": "sketches", "compare_with_sketches": "sketches",
    "DriftChecks": "schedule",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'truecourse.drift' has no attribute {name!r}")
    return getattr(importlib.import_module(f"truecourse.drift.{module}"), name)
