"""A drift report: every shared column judged, corrected across columns, quality findings, the
drift share of the model, and the alerts it implies.

``compare_frames`` is the one entry point the API, the CLI and the benchmark call; bad input
(no shared columns, a column changing type, all-null columns) becomes findings while every
other column is still judged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from truecourse.config.drift import DriftConfig
from truecourse.drift.frame import DriftColumn, DriftFrame
from truecourse.drift.judge import (
    ColumnResult,
    decide,
    judge_categorical,
    judge_numeric,
    judge_scores,
)
from truecourse.drift.quality import Finding, column_findings, schema_findings, unseen_finding
from truecourse.drift.text import judge_text
from truecourse.model.alerts import Alert


@dataclass
class DriftReport:
    """The verdict for one model (or service) on one current window against one reference."""

    model: str | None
    reference: dict[str, Any]
    current: dict[str, Any]
    columns: list[ColumnResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    performance: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def judged(self) -> list[ColumnResult]:
        return [c for c in self.columns if c.status == "ok"]

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float | None:
        """Drifted columns / judged columns: the model drift rate KPI (None if none judged)."""
        judged = self.judged
        return len(self.drifted_columns) / len(judged) if judged else None

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_columns)

    @property
    def status(self) -> str:
        if not self.judged:
            no_rows = any(f.check == "no_data" for f in self.findings)
            return "not_enough_data" if self.columns or no_rows else "no_comparable_columns"
        return "drift" if self.drifted else "no_drift"

    def to_dict(self) -> dict[str, Any]:
        """The stored and served JSON: summaries and histograms, never raw rows."""
        return {
            "id": self.id, "model": self.model, "created_at": self.created_at.isoformat(),
            "status": self.status, "drifted": self.drifted, "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns, "columns_judged": len(self.judged),
            "reference": self.reference, "current": self.current,
            "columns": [c.to_dict() for c in self.columns],
            "findings": [f.to_dict() for f in self.findings],
            "performance": self.performance, "settings": self.settings,
        }

    def alerts(self, now: datetime | None = None) -> list[Alert]:
        """Firing alerts for the alerting engine: one ``ModelDrift`` when any column drifted
        and one ``DataQuality`` per error-level finding; none when all is well."""
        now = now or self.created_at
        subject = self.model or "unknown"
        out = []
        if self.drifted:
            share = self.drift_share or 0.0
            out.append(Alert(
                labels={"alertname": "ModelDrift", "model": subject, "severity": "ticket"},
                starts_at=now, source="drift", value=share,
                annotations={"summary": f"{subject}: {len(self.drifted_columns)} of "
                                        f"{len(self.judged)} columns drifted ({share:.0%})",
                             "columns": ", ".join(self.drifted_columns[:20])},
                evidence=f"/api/v1/drift/reports/{self.id}"))
        for f in self.findings:
            if f.severity == "error" and f.check != "drift":
                out.append(Alert(
                    labels={"alertname": "DataQuality", "model": subject, "check": f.check,
                            "column": f.column or "", "severity": "ticket"},
                    starts_at=now, source="drift", value=f.value,
                    annotations={"summary": f.message},
                    evidence=f"/api/v1/drift/reports/{self.id}"))
        return out


def compare_frames(reference: DriftFrame, current: DriftFrame, cfg: DriftConfig | None = None,
                   *, model: str | None = None, score_columns: Sequence[str] = (),
                   text_columns: Sequence[str] = (), ignore: Sequence[str] = (),
                   overlapping_checks: int = 1) -> DriftReport:
    """Judge every column the two sides share (the detector by type and size, see
    :mod:`truecourse.drift.judge`), add quality findings, and decide across columns.

    ``score_columns`` are prediction scores (Jensen-Shannon on binned scores); ``text_columns``
    are free text (embedding MMD); ``ignore`` are ids and timestamps not to judge. Never raises
    for data problems: they become findings and the remaining columns are still judged.

    ``overlapping_checks`` is how many scheduled checks see any one row (window length / check
    interval, see :func:`overlapping_checks`): alpha is divided by it, so the expected number
    of false alarms per window length stays at most alpha however often the check runs.
    """
    cfg = cfg or DriftConfig()
    if overlapping_checks > 1:
        cfg = cfg.model_copy(update={"alpha": cfg.alpha / overlapping_checks})
    report = DriftReport(
        model=model, reference={"source": reference.source, "rows": reference.rows},
        current={"source": current.source, "rows": current.rows},
        settings={**cfg.model_dump(include={"alpha", "min_samples", "large_sample",
                                            "wasserstein_threshold", "js_threshold",
                                            "calibration_chunks", "embeddings"}),
                  "overlapping_checks": overlapping_checks})
    skip = set(ignore)
    ref_frame = _without(reference, skip)
    cur_frame = _without(current, skip)
    empty = [side for side, f in (("reference", ref_frame), ("current", cur_frame))
             if f.rows == 0]
    if empty:
        report.findings.append(Finding(
            "no_data", message=f"the {' and the '.join(empty)} data has no rows: nothing to "
                               "compare (check the window, the model or service name)"))
        return report
    report.findings.extend(schema_findings(ref_frame, cur_frame))
    for name in ref_frame.columns:
        if name not in cur_frame.columns:
            continue
        ref_col, cur_col = ref_frame.columns[name], cur_frame.columns[name]
        if ref_col.kind != cur_col.kind:
            report.columns.append(ColumnResult(
                name, ref_col.kind, status="skipped",
                message=f"type changed: {ref_col.kind} in the reference, {cur_col.kind} now"))
            continue
        report.findings.extend(column_findings(ref_col, cur_col, cfg))
        report.columns.append(_judge(ref_col, cur_col, cfg, name in score_columns,
                                     name in text_columns))
    decide(report.columns, cfg)
    for res in report.columns:
        finding = unseen_finding(res.column, res.unseen_share, cfg)
        if finding:
            report.findings.append(finding)
        if res.drifted:
            report.findings.append(_drift_finding(res))
    return report


def overlapping_checks(window_s: float, interval_s: float | None) -> int:
    """How many checks of a ``window_s`` window run every ``interval_s`` share a row:
    ceil(window / interval), 1 when the check is not repeated or windows do not overlap."""
    if not interval_s or interval_s >= window_s:
        return 1
    return int(-(-window_s // interval_s))


def _judge(ref: DriftColumn, cur: DriftColumn, cfg: DriftConfig, is_score: bool,
           is_text: bool) -> ColumnResult:
    if is_score and ref.numeric is not None and cur.numeric is not None:
        return judge_scores(ref.name, ref.numeric, cur.numeric, cfg)
    if is_text and ref.categorical is not None and cur.categorical is not None:
        return judge_text(ref.name, ref.categorical, cur.categorical, cfg)
    if ref.kind == "numeric":
        return judge_numeric(ref, cur, cfg)
    return judge_categorical(ref, cur, cfg)


def _without(frame: DriftFrame, skip: set[str]) -> DriftFrame:
    if not skip:
        return frame
    return DriftFrame({k: v for k, v in frame.columns.items() if k not in skip}, frame.rows,
                      {k: v for k, v in frame.unsupported.items() if k not in skip},
                      frame.source)


def _drift_finding(res: ColumnResult) -> Finding:
    assert res.statistic is not None
    if res.q_value is not None:
        how = f"{res.method} p={res.p_value:.3g}, BH q={res.q_value:.3g} <= {res.threshold:g}"
    else:
        how = (f"{res.method} {res.statistic:.3f} > threshold {res.threshold:.3f} "
               f"({res.threshold_source})")
    return Finding("drift", column=res.column, value=res.statistic,
                   message=f"{res.kind} column {res.column!r} drifted: {how}")


def frame_values(frame: DriftFrame, name: str) -> np.ndarray | None:
    """The numeric values of ``name`` (None when absent or categorical)."""
    col = frame.columns.get(name)
    return col.numeric if col is not None else None
