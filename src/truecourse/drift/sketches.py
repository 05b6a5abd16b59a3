"""Mergeable per-window sketches, so a month of reference never rescans raw rows.

Each window (e.g. one hour) of a model's predictions is summarized once per column: numeric
columns by an Apache DataSketches KLL sketch (k = 200: rank error about 1.3 %), categorical
columns by a frequent-items sketch (1,024 counters: exact below ~750 distinct values). Sketches
of any run of windows merge into one reference. The reference side of a report can then be
``sketches:SINCE..UNTIL``; the current window is still read exactly.

With sketches the detectors work on the sketch's CDF: Wasserstein on a 512-bin grid (or KS
against the sketch's CDF for small current windows), Jensen-Shannon / chi-square over the
sketched categories plus an "other" bucket; the calibration chunks are the windows themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from truecourse.config.drift import DriftConfig
from truecourse.drift import detectors as det
from truecourse.drift.frame import DriftFrame
from truecourse.drift.judge import NOT_ENOUGH_DATA, ColumnResult, categorical_histogram, decide
from truecourse.drift.quality import Finding, unseen_finding
from truecourse.drift.report import DriftReport, _drift_finding
from truecourse.store.base import Store

KLL_K = 200
FREQ_LG_MAX = 10
_GRID = 512


@dataclass
class ColumnSketch:
    """One column of one window: its kind, non-null and null counts, and the sketch."""

    column: str
    kind: str
    rows: int
    nulls: int
    sketch: Any  # kll_doubles_sketch | frequent_strings_sketch

    def serialize(self) -> bytes:
        return bytes(self.sketch.serialize())

    @classmethod
    def load(cls, column: str, kind: str, rows: int, nulls: int, data: bytes) -> ColumnSketch:
        if kind == "numeric":
            return cls(column, kind, rows, nulls, ds.kll_doubles_sketch.deserialize(data))
        return cls(column, kind, rows, nulls, ds.frequent_strings_sketch.deserialize(data))


def sketch_frame(frame: DriftFrame) -> dict[str, ColumnSketch]:
    """Sketch every column of ``frame`` (numbers in one vectorized update; categories by their
    value counts, one update per distinct value)."""
    out: dict[str, ColumnSketch] = {}
    for name, col in frame.columns.items():
        if col.numeric is not None:
            finite = col.numeric[np.isfinite(col.numeric)]
            kll = ds.kll_doubles_sketch(KLL_K)
            if len(finite):
                kll.update(finite)
            out[name] = ColumnSketch(name, "numeric", len(finite), col.rows - len(finite), kll)
        else:
            assert col.categorical is not None
            freq = ds.frequent_strings_sketch(FREQ_LG_MAX)
            counts = pc.value_counts(col.categorical.drop_null())
            for value, n in zip(counts.field("values").to_pylist(),
                                counts.field("counts").to_pylist(), strict=True):
                freq.update(str(value), int(n))
            nn = col.rows - col.categorical.null_count
            out[name] = ColumnSketch(name, "categorical", nn, col.categorical.null_count, freq)
    return out


def save_window(store: Store, model: str, since: Any, until: Any,
                sketches: dict[str, ColumnSketch]) -> int:
    """Replace the sketches of ``model``'s window starting at ``since``; rows written."""
    statements: list[tuple[str, list[Any]]] = [(
        "DELETE FROM drift_sketches WHERE model = ? AND window_start = ?", [model, since])]
    for s in sketches.values():
        statements.append((
            'INSERT INTO drift_sketches (model, window_start, window_end, "column", kind, rows, '
            "sketch) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [model, since, until, s.column, s.kind, s.rows, s.serialize()]))
    store.execute(statements)
    return len(sketches)


def build_sketches(store: Store, model: str, since: Any, until: Any, step_s: int,
                   cfg: DriftConfig) -> int:
    """Sketch every ``step_s`` window of ``model``'s predictions in [since, until); the number
    of windows sketched (empty windows are skipped). Idempotent: a window is replaced."""
    from datetime import timedelta

    from truecourse.drift.sources import TimeWindow, prediction_window

    done = 0
    start = since
    while start < until:
        end = min(start + timedelta(seconds=step_s), until)
        frame = prediction_window(store, model, TimeWindow(start, end), cfg)
        if frame.rows:
            save_window(store, model, start, end, sketch_frame(frame))
            done += 1
        start = end
    return done


def load_windows(store: Store, model: str, since: Any, until: Any,
                 ) -> dict[str, list[ColumnSketch]]:
    """The stored window sketches of ``model`` whose windows start in [since, until)."""
    rows = store.select(
        'SELECT "column", kind, rows, sketch FROM drift_sketches WHERE model = ? AND '
        "window_start >= ? AND window_start < ? ORDER BY window_start", [model, since, until])
    out: dict[str, list[ColumnSketch]] = {}
    for r in rows.to_pylist():
        out.setdefault(r["column"], []).append(
            ColumnSketch.load(r["column"], r["kind"], int(r["rows"]), 0, bytes(r["sketch"])))
    return out


def _merge(windows: list[ColumnSketch]) -> Any:
    first = windows[0]
    merged = (ds.kll_doubles_sketch(KLL_K) if first.kind == "numeric"
              else ds.frequent_strings_sketch(FREQ_LG_MAX))
    for w in windows:
        merged.merge(w.sketch)
    return merged


def _chunk_null(dists: list[float], chunk_rows: list[int], n_ref: int, n_cur: int,
                ) -> tuple[float, float, float] | None:
    """(mean, sd, scale) of window-vs-whole distances; a window is part of the whole, so its
    no-drift noise goes like sqrt(1/c - 1/N)."""
    if len(dists) < 3:
        return None
    c = float(np.mean(chunk_rows))
    inner = 1 / c - 1 / n_ref
    if inner <= 0:
        return None
    scale = math.sqrt((1 / n_cur + 1 / n_ref) / inner)
    return float(np.mean(dists)), float(np.std(dists, ddof=1)), scale


def judge_numeric_sketch(name: str, windows: list[ColumnSketch], current: np.ndarray,
                         cfg: DriftConfig) -> ColumnResult:
    """A numeric column: reference from merged KLL sketches, current exact."""
    ref = _merge(windows)
    cur = current[np.isfinite(current)]
    n_ref = int(ref.n)
    res = ColumnResult(name, "numeric", n_reference=n_ref, n_current=len(cur))
    if n_ref < cfg.min_samples or len(cur) < cfg.min_samples:
        res.status = NOT_ENOUGH_DATA
        res.message = (f"not enough data: {n_ref} reference and {len(cur)} current values, "
                       f"at least {cfg.min_samples} needed on each side")
        return res
    q_lo, q_hi, q16, q84 = ref.get_quantiles([0.001, 0.999, 0.1587, 0.8413])
    c_lo, c_hi = np.quantile(cur, [0.001, 0.999])
    lo, hi = min(q_lo, c_lo), max(q_hi, c_hi)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    width = (hi - lo) / _GRID
    edges = lo + width * np.arange(_GRID + 1)
    grid = det.Grid(lo, width, _GRID, np.asarray(ref.get_quantiles(
        list(np.linspace(0.0005, 0.9995, 2000)))))
    vmin = min(float(ref.get_min_value()), float(cur.min()))
    vmax = max(float(ref.get_max_value()), float(cur.max()))
    loc = np.concatenate([[(vmin + lo) / 2], (edges[:-1] + edges[1:]) / 2, [(hi + vmax) / 2]])

    def counts_of(sketch: Any, n: int) -> np.ndarray:
        cdf = np.asarray(sketch.get_cdf(list(edges)))
        return np.diff(np.concatenate([[0.0], cdf])) * n

    ref_counts = counts_of(ref, n_ref)
    cur_counts = np.bincount(grid.codes(cur), minlength=grid.size).astype(float)
    sd = (q84 - q16) / 2 if q84 > q16 else max(float(np.std(cur)), 1.0)
    deciles = np.unique(np.asarray(ref.get_quantiles(list(np.linspace(0.1, 0.9, 9)))))
    res.psi = det.psi_from_counts(grid.regroup(ref_counts, loc, deciles),
                                  grid.regroup(cur_counts, loc, deciles))
    d_lo, d_hi = ref.get_quantiles([0.005, 0.995])
    if not d_hi > d_lo:
        d_lo, d_hi = d_lo - 0.5, d_hi + 0.5
    shown = np.linspace(d_lo, d_hi, cfg.histogram_bins + 1)
    res.histogram = {"type": "numeric", "edges": [float(e) for e in shown],
                     "reference": grid.regroup(ref_counts, loc, shown[1:-1]).round().astype(int)
                     .tolist(),
                     "current": grid.regroup(cur_counts, loc, shown[1:-1]).astype(int).tolist()}
    usable = [w for w in windows if w.rows >= cfg.min_chunk_rows]
    dists = [float(det.binned_wasserstein(counts_of(w.sketch, w.rows), ref_counts, loc) / sd)
             for w in usable]
    res.null = _chunk_null(dists, [w.rows for w in usable], n_ref, len(cur))
    if res.null is not None:
        res.stderr = res.null[1] * res.null[2]
    if min(n_ref, len(cur)) > cfg.large_sample:
        res.method = "wasserstein"
        res.statistic = float(det.binned_wasserstein(ref_counts, cur_counts, loc) / sd)
        res.floor = cfg.wasserstein_threshold
    else:
        xs = np.sort(cur)
        f_ref = np.asarray(ref.get_cdf(list(xs)))[:-1]
        n = len(xs)
        f_cur = np.arange(1, n + 1) / n
        d = float(max(np.max(np.abs(f_ref - f_cur)), np.max(np.abs(f_ref - (f_cur - 1 / n)))))
        n_eff = max(round(n * n_ref / (n + n_ref)), 1)
        res.method = "ks"
        res.statistic, res.p_value = d, float(stats.kstwo.sf(d, n_eff))
    res.message = f"reference from {len(windows)} window sketches (KLL k={KLL_K})"
    return res


def judge_categorical_sketch(name: str, windows: list[ColumnSketch], current: pa.Array,
                             cfg: DriftConfig) -> ColumnResult:
    """A categorical column: reference from merged frequent-items sketches, current exact."""
    ref = _merge(windows)
    n_ref = int(ref.total_weight)
    items = ref.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    cats = [str(i[0]) for i in items]
    index = {c: i for i, c in enumerate(cats)}
    ref_counts = np.array([float(i[1]) for i in items] + [0.0])
    ref_counts[-1] = max(n_ref - ref_counts[:-1].sum(), 0.0)
    vc = pc.value_counts(pc.cast(current, pa.string()).drop_null())
    cur_vals = [str(v) for v in vc.field("values").to_pylist()]
    cur_n = np.asarray(vc.field("counts").to_pylist(), dtype=float)
    cur_counts = np.zeros(len(cats) + 1)
    unseen = 0.0
    for v, n in zip(cur_vals, cur_n, strict=True):
        j = index.get(v)
        if j is None:
            cur_counts[-1] += n
            unseen += n
        else:
            cur_counts[j] += n
    n_cur = int(cur_n.sum())
    res = ColumnResult(name, "categorical", n_reference=n_ref, n_current=n_cur)
    if n_ref < cfg.min_samples or n_cur < cfg.min_samples:
        res.status = NOT_ENOUGH_DATA
        res.message = (f"not enough data: {n_ref} reference and {n_cur} current values, "
                       f"at least {cfg.min_samples} needed on each side")
        return res
    res.unseen_share = unseen / n_cur if n_cur else None
    res.psi = det.psi_from_counts(ref_counts, cur_counts)
    res.histogram = categorical_histogram([*cats, "(not in the sketch)"],
                                          ref_counts.round().astype(int),
                                          cur_counts.astype(int), cfg.histogram_bins)
    usable = [w for w in windows if w.rows >= cfg.min_chunk_rows]
    dists = []
    for w in usable:
        wc = np.array([float(w.sketch.get_estimate(c)) for c in cats] + [0.0])
        wc[-1] = max(w.rows - wc[:-1].sum(), 0.0)
        dists.append(float(det.js_distance(wc, ref_counts)))
    res.null = _chunk_null(dists, [w.rows for w in usable], n_ref, n_cur)
    if res.null is not None:
        res.stderr = res.null[1] * res.null[2]
    if min(n_ref, n_cur) > cfg.large_sample:
        res.method = "jensen_shannon"
        res.statistic = float(det.js_distance(ref_counts, cur_counts))
        res.floor = cfg.js_threshold
    else:
        res.method = "chi_square"
        res.statistic, res.p_value = det.chi2_test(ref_counts, cur_counts)
    res.message = f"reference from {len(windows)} window sketches (frequent items)"
    return res


def compare_with_sketches(windows: dict[str, list[ColumnSketch]], current: DriftFrame,
                          cfg: DriftConfig, *, model: str | None, source: str,
                          ) -> DriftReport:
    """A report of ``current`` against a sketched reference (same decisions as
    :func:`~truecourse.drift.report.compare_frames`)."""
    ref_rows = max((sum(w.rows for w in ws) for ws in windows.values()), default=0)
    report = DriftReport(model=model, reference={"source": source, "rows": ref_rows,
                                                 "sketched": True},
                         current={"source": current.source, "rows": current.rows},
                         settings=cfg.model_dump(include={"alpha", "min_samples",
                                                          "large_sample"}))
    if not windows:
        report.findings.append(Finding(
            "no_shared_columns", severity="error",
            message=f"no window sketches for {model} in {source}; build them with "
                    "`truecourse drift sketch` or POST /api/v1/drift/sketches"))
    for name, ws in windows.items():
        col = current.columns.get(name)
        if col is None:
            report.findings.append(Finding("column_missing", column=name,
                                           message=f"column {name!r} is in the reference "
                                                   "but not in the current data"))
            continue
        kind = ws[0].kind
        if col.kind != kind:
            report.findings.append(Finding(
                "type_changed", column=name, severity="error",
                message=f"column {name!r} changed type: {kind} in the reference, {col.kind} "
                        "now"))
            report.columns.append(ColumnResult(name, kind, status="skipped",
                                               message="type changed"))
            continue
        if kind == "numeric":
            assert col.numeric is not None
            report.columns.append(judge_numeric_sketch(name, ws, col.numeric, cfg))
        else:
            assert col.categorical is not None
            report.columns.append(judge_categorical_sketch(name, ws, col.categorical, cfg))
    for name in current.columns:
        if name not in windows and windows:
            report.findings.append(Finding("column_added", column=name, severity="info",
                                           message=f"column {name!r} is new: not in the "
                                                   "reference, so it is not compared"))
    decide(report.columns, cfg)
    for res in report.columns:
        finding = unseen_finding(res.column, res.unseen_share, cfg)
        if finding:
            report.findings.append(finding)
        if res.drifted:
            report.findings.append(_drift_finding(res))
    return report
