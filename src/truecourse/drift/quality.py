"""Data-quality findings: completeness, NaN/inf, schema (type, range, categories), and columns
that appear or disappear between the reference and the current window.

The reference is the schema: its columns, their kinds, its numeric ranges and its categories.
Each problem is a :class:`Finding`; none of them stops the rest of the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from truecourse.config.drift import DriftConfig
from truecourse.drift.frame import DriftColumn, DriftFrame


@dataclass(frozen=True)
class Finding:
    """One thing a person should know: a drifted column or a data-quality problem."""

    check: str
    message: str
    column: str | None = None
    severity: str = "warning"  # info | warning | error
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def completeness(col: DriftColumn) -> float:
    """Share of non-null (and, for numbers, finite) values; 0 for an empty column."""
    if col.rows == 0:
        return 0.0
    if col.numeric is not None:
        return float(np.count_nonzero(np.isfinite(col.numeric)) / col.rows)
    return col.non_null() / col.rows


def schema_findings(ref: DriftFrame, cur: DriftFrame) -> list[Finding]:
    """Columns missing, added, changing kind, or of a type drift cannot judge."""
    out: list[Finding] = []
    ref_names = set(ref.columns) | set(ref.unsupported)
    cur_names = set(cur.columns) | set(cur.unsupported)
    shared = ref_names & cur_names
    if not shared:
        out.append(Finding(
            "no_shared_columns", severity="error",
            message=f"reference ({_few(ref_names)}) and current ({_few(cur_names)}) have no "
                    "column in common: nothing can be compared; check that both come from the "
                    "same model or feature set"))
    for name in sorted(ref_names - cur_names):
        out.append(Finding("column_missing", column=name,
                           message=f"column {name!r} is in the reference but not in the current "
                                   "data"))
    for name in sorted(cur_names - ref_names):
        out.append(Finding("column_added", column=name, severity="info",
                           message=f"column {name!r} is new: not in the reference, so it is not "
                                   "compared"))
    for side, frame in (("reference", ref), ("current", cur)):
        for name, why in sorted(frame.unsupported.items()):
            out.append(Finding("unsupported_type", column=name, severity="info",
                               message=f"{side} column {name!r} is not compared: {why}"))
    for name in sorted(set(ref.columns) & set(cur.columns)):
        rk, ck = ref.columns[name].kind, cur.columns[name].kind
        if rk != ck:
            out.append(Finding(
                "type_changed", column=name, severity="error",
                message=f"column {name!r} changed type: {rk} in the reference, {ck} now; it is "
                        "not compared until producer and reference agree"))
    return out


def column_findings(ref: DriftColumn, cur: DriftColumn, cfg: DriftConfig) -> list[Finding]:
    """Completeness, all-null, NaN/inf and range findings of one shared column of one kind."""
    out: list[Finding] = []
    name = ref.name
    ref_c, cur_c = completeness(ref), completeness(cur)
    if cur.rows and cur_c == 0:
        out.append(Finding("all_null", column=name, severity="error", value=0.0,
                           message=f"column {name!r} is null in all {cur.rows} current rows"))
    elif ref.rows and ref_c == 0:
        out.append(Finding("all_null", column=name, severity="warning", value=0.0,
                           message=f"column {name!r} is null in all {ref.rows} reference rows: "
                                   "no baseline to compare with"))
    elif ref_c - cur_c > cfg.completeness_drop:
        out.append(Finding("completeness", column=name, value=cur_c,
                           message=f"column {name!r} is {cur_c:.1%} complete, was {ref_c:.1%} "
                                   "in the reference"))
    if cur.numeric is not None and ref.numeric is not None:
        nan = int(np.count_nonzero(np.isnan(cur.numeric)))
        inf = int(np.count_nonzero(np.isinf(cur.numeric)))
        if inf:
            out.append(Finding("nan_inf", column=name, value=float(inf),
                               message=f"column {name!r} has {inf} infinite values (and {nan} "
                                       "NaN/null) in the current data"))
        r = ref.numeric[np.isfinite(ref.numeric)]
        c = cur.numeric[np.isfinite(cur.numeric)]
        if len(r) and len(c):
            lo, hi = float(r.min()), float(r.max())
            outside = float(np.count_nonzero((c < lo) | (c > hi)) / len(c))
            if outside > cfg.out_of_range_share:
                out.append(Finding(
                    "out_of_range", column=name, value=outside,
                    message=f"{outside:.1%} of {name!r} is outside the reference range "
                            f"[{lo:g}, {hi:g}]"))
    return out


def unseen_finding(name: str, share: float | None, cfg: DriftConfig) -> Finding | None:
    """A new-category finding when ``share`` of current values was never in the reference."""
    if share is None or share <= cfg.unseen_share:
        return None
    return Finding("new_categories", column=name, value=share,
                   message=f"{share:.1%} of {name!r} is in categories the reference never had")


def _few(names: set[str], n: int = 5) -> str:
    shown = sorted(names)[:n]
    more = f", +{len(names) - n} more" if len(names) > n else ""
    return ", ".join(shown) + more if shown else "no columns"
