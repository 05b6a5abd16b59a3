"""One column's verdict: the detector chosen by type and sample size, its threshold, and the
reference-vs-current histogram summary.

Detector choice (``DriftConfig.large_sample`` = L, values per side after dropping nulls):

====================  ==========================  ===================================
column                both sides > L              otherwise
====================  ==========================  ===================================
numeric               normalized Wasserstein      Kolmogorov-Smirnov test
categorical           Jensen-Shannon distance     chi-square test (2 x k)
prediction score      Jensen-Shannon on 10 bins   Jensen-Shannon on 10 bins
====================  ==========================  ===================================

Distance thresholds are calibrated from the reference itself: it is cut into ``k`` chunks
(in row order, i.e. time order for windows), each chunk is compared with the rest of the
reference, and the spread of those no-drift distances, rescaled from the chunk sizes to the
current window's size, gives ``threshold = scale * (mean + z * sd)`` with ``z`` the
Bonferroni quantile for the report's distance columns. The configured floor
(``wasserstein_threshold``, ``js_threshold``) keeps trivially small shifts from counting on huge
windows and is the whole threshold when the reference is too small to cut (the fallback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from truecourse.config.drift import DriftConfig
from truecourse.drift import detectors as det
from truecourse.drift.frame import DriftColumn

NOT_ENOUGH_DATA = "not_enough_data"


@dataclass
class ColumnResult:
    """The verdict on one column; ``to_dict`` is its JSON form in a report."""

    column: str
    kind: str  # numeric | categorical | score | embedding
    status: str = "ok"  # ok | not_enough_data | skipped
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    q_value: float | None = None  # Benjamini-Hochberg adjusted, test-based columns only
    threshold: float | None = None
    threshold_source: str | None = None  # alpha | calibrated | fallback
    drifted: bool = False
    stderr: float | None = None
    psi: float | None = None
    unseen_share: float | None = None
    n_reference: int = 0
    n_current: int = 0
    message: str | None = None
    histogram: dict[str, Any] | None = None
    #: the no-drift spread from reference chunks: (mean, sd, scale) -- turned into a threshold
    #: once the report knows how many distance columns share the false-alarm budget
    null: tuple[float, float, float] | None = field(default=None, repr=False)
    floor: float | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.column, "kind": self.kind, "status": self.status,
            "method": self.method, "statistic": _num(self.statistic),
            "p_value": _num(self.p_value), "q_value": _num(self.q_value),
            "threshold": _num(self.threshold), "threshold_source": self.threshold_source,
            "drifted": self.drifted, "stderr": _num(self.stderr), "psi": _num(self.psi),
            "n_reference": self.n_reference, "n_current": self.n_current,
        }
        if self.unseen_share is not None:
            out["unseen_share"] = _num(self.unseen_share)
        if self.message:
            out["message"] = self.message
        if self.histogram is not None:
            out["histogram"] = self.histogram
        return out


def _num(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return float(v)


def _chunk_ids(n: int, k: int) -> np.ndarray:
    return (np.arange(n, dtype=np.int64) * k) // n


def _null_spread(chunk_stats: np.ndarray, chunk_rows: float, n_ref: int, n_cur: int,
                 ) -> tuple[float, float, float]:
    """(mean, sd, scale) of no-drift distances, scale mapping chunk-vs-rest sizes to
    current-vs-reference sizes (distances under no drift shrink like 1/sqrt(n))."""
    rest = max(n_ref - chunk_rows, 1.0)
    scale = math.sqrt((1 / n_cur + 1 / n_ref) / (1 / chunk_rows + 1 / rest))
    return float(chunk_stats.mean()), float(chunk_stats.std(ddof=1)), scale


def _chunks(n_ref: int, cfg: DriftConfig) -> int:
    return min(cfg.calibration_chunks, n_ref // cfg.min_chunk_rows)


def judge_numeric(ref_col: DriftColumn, cur_col: DriftColumn, cfg: DriftConfig) -> ColumnResult:
    """KS (small) or normalized Wasserstein (large) plus PSI and the histogram summary.

    Everything but the KS test comes from one arithmetic binning of each side on a shared
    fine grid (:class:`~truecourse.drift.detectors.Grid`): O(n), no sort of the full column.
    """
    assert ref_col.numeric is not None and cur_col.numeric is not None
    ref = ref_col.numeric[np.isfinite(ref_col.numeric)]
    cur = cur_col.numeric[np.isfinite(cur_col.numeric)]
    res = ColumnResult(ref_col.name, "numeric", n_reference=len(ref), n_current=len(cur))
    if len(ref) < cfg.min_samples or len(cur) < cfg.min_samples:
        return _not_enough(res, cfg)
    grid = det.Grid.fit(ref, cur)
    nb = grid.size
    ref_codes, cur_codes = grid.codes(ref), grid.codes(cur)
    ref_counts = np.bincount(ref_codes, minlength=nb)
    cur_counts = np.bincount(cur_codes, minlength=nb)
    sums = (np.bincount(ref_codes, weights=ref, minlength=nb)
            + np.bincount(cur_codes, weights=cur, minlength=nb))
    loc = grid.locations(ref_counts + cur_counts, sums)
    deciles = np.unique(np.quantile(grid.sample, np.linspace(0, 1, cfg.psi_bins + 1)[1:-1]))
    res.psi = det.psi_from_counts(grid.regroup(ref_counts, loc, deciles),
                                  grid.regroup(cur_counts, loc, deciles))
    res.histogram = _grid_histogram(grid, ref_counts, cur_counts, loc, cfg.histogram_bins)
    scale_sd = det._scale(ref, cur)
    k = _chunks(len(ref), cfg)
    if k >= 3:
        per_chunk = np.bincount(_chunk_ids(len(ref), k) * nb + ref_codes,
                                minlength=k * nb).reshape(k, nb)
        rest = ref_counts - per_chunk
        dists = det.binned_wasserstein(per_chunk, rest, loc) / scale_sd
        res.null = _null_spread(dists, len(ref) / k, len(ref), len(cur))
        res.stderr = res.null[1] * res.null[2]
    if min(len(ref), len(cur)) > cfg.large_sample:
        res.method = "wasserstein"
        res.statistic = float(det.binned_wasserstein(ref_counts, cur_counts, loc) / scale_sd)
        res.floor = cfg.wasserstein_threshold
    else:
        res.method = "ks"
        res.statistic, res.p_value = det.ks_test(ref, cur)
    return res


def _grid_histogram(grid: det.Grid, ref_counts: np.ndarray, cur_counts: np.ndarray,
                    loc: np.ndarray, n_bins: int) -> dict[str, Any]:
    lo, hi = np.quantile(grid.sample, [0.005, 0.995])
    if hi <= lo:
        lo, hi = float(lo) - 0.5, float(hi) + 0.5
    edges = np.linspace(lo, hi, n_bins + 1)
    inner = edges[1:-1]
    return {"type": "numeric", "edges": [float(e) for e in edges],
            "reference": grid.regroup(ref_counts, loc, inner).astype(int).tolist(),
            "current": grid.regroup(cur_counts, loc, inner).astype(int).tolist()}


def judge_categorical(ref_col: DriftColumn, cur_col: DriftColumn, cfg: DriftConfig,
                      ) -> ColumnResult:
    """Chi-square (small) or Jensen-Shannon (large), the share of never-seen categories, PSI
    over categories and the top-category histogram."""
    assert ref_col.categorical is not None and cur_col.categorical is not None
    cats, ref_codes, _, ref_counts, cur_counts = det.category_counts(
        ref_col.categorical, cur_col.categorical)
    res = ColumnResult(ref_col.name, "categorical", n_reference=int(ref_counts.sum()),
                       n_current=int(cur_counts.sum()))
    if res.n_reference < cfg.min_samples or res.n_current < cfg.min_samples:
        return _not_enough(res, cfg)
    unseen = (ref_counts == 0) & (cur_counts > 0)
    res.unseen_share = float(cur_counts[unseen].sum() / max(res.n_current, 1))
    res.psi = det.psi_from_counts(ref_counts, cur_counts)
    res.histogram = categorical_histogram(cats, ref_counts, cur_counts, cfg.histogram_bins)
    _calibrate_counts(res, ref_codes, len(cats), cfg)
    if min(res.n_reference, res.n_current) > cfg.large_sample:
        res.method = "jensen_shannon"
        res.statistic = float(det.js_distance(ref_counts, cur_counts))
        res.floor = cfg.js_threshold
    else:
        res.method = "chi_square"
        res.statistic, res.p_value = det.chi2_test(ref_counts, cur_counts)
    return res


def judge_scores(name: str, ref: np.ndarray, cur: np.ndarray, cfg: DriftConfig,
                 n_bins: int = 10) -> ColumnResult:
    """Jensen-Shannon distance between prediction-score distributions on ``n_bins`` bins
    (equal width on [0, 1] for probabilities, else reference deciles)."""
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    res = ColumnResult(name, "score", n_reference=len(ref), n_current=len(cur))
    if len(ref) < cfg.min_samples or len(cur) < cfg.min_samples:
        return _not_enough(res, cfg)
    if ref.min() >= 0 and ref.max() <= 1 and cur.min() >= 0 and cur.max() <= 1:
        edges = np.linspace(0, 1, n_bins + 1)[1:-1]
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1]))
    ref_codes = np.searchsorted(edges, ref, side="right")
    cur_codes = np.searchsorted(edges, cur, side="right")
    nb = len(edges) + 1
    ref_counts = np.bincount(ref_codes, minlength=nb)
    cur_counts = np.bincount(cur_codes, minlength=nb)
    res.method = "jensen_shannon"
    res.statistic = float(det.js_distance(ref_counts, cur_counts))
    res.psi = det.psi_from_counts(ref_counts, cur_counts)
    res.floor = cfg.js_threshold
    res.histogram = numeric_histogram(ref, cur, cfg.histogram_bins)
    _calibrate_counts(res, ref_codes, nb, cfg)
    return res


def _calibrate_counts(res: ColumnResult, ref_codes: np.ndarray, k_cats: int,
                      cfg: DriftConfig) -> None:
    k = _chunks(len(ref_codes), cfg)
    if k < 3 or k_cats < 1:
        return
    per_chunk = np.bincount(_chunk_ids(len(ref_codes), k) * k_cats + ref_codes,
                            minlength=k * k_cats).reshape(k, k_cats)
    rest = per_chunk.sum(axis=0) - per_chunk
    dists = det.js_distance(per_chunk, rest)
    res.null = _null_spread(dists, len(ref_codes) / k, res.n_reference, res.n_current)
    res.stderr = res.null[1] * res.null[2]


def _not_enough(res: ColumnResult, cfg: DriftConfig) -> ColumnResult:
    res.status = NOT_ENOUGH_DATA
    res.message = (f"not enough data: {res.n_reference} reference and {res.n_current} current "
                   f"values, at least {cfg.min_samples} needed on each side")
    return res


def decide(results: list[ColumnResult], cfg: DriftConfig) -> None:
    """Set ``drifted``, ``threshold`` and ``q_value`` across one report's columns.

    Test-based columns: Benjamini-Hochberg across them, drifted when q <= alpha. Distance
    columns: threshold = max(floor, calibrated), the calibration at the Bonferroni quantile
    z = Phi^-1(1 - alpha / m) for the m distance columns, so under no drift the chance that
    any of them fires is at most alpha.
    """
    tested = [r for r in results if r.status == "ok" and r.p_value is not None
              and r.method in ("ks", "chi_square", "mmd")]
    if tested:
        q = det.benjamini_hochberg(np.array([r.p_value for r in tested]))
        for r, qv in zip(tested, q, strict=True):
            r.q_value = float(qv)
            r.threshold = cfg.alpha
            r.threshold_source = "alpha"
            r.drifted = bool(qv <= cfg.alpha)
    distances = [r for r in results if r.status == "ok" and r.floor is not None]
    if distances:
        z = float(stats.norm.ppf(1 - cfg.alpha / len(distances)))
        for r in distances:
            assert r.floor is not None and r.statistic is not None
            threshold, source = r.floor, "fallback"
            if r.null is not None:
                mean, sd, scale = r.null
                calibrated = scale * (mean + z * sd)
                if calibrated > r.floor:
                    threshold, source = calibrated, "calibrated"
                else:
                    source = "floor"
            r.threshold = float(threshold)
            r.threshold_source = source
            r.drifted = bool(r.statistic > threshold)


def numeric_histogram(ref: np.ndarray, cur: np.ndarray, n_bins: int) -> dict[str, Any]:
    """Counts of both sides over shared equal-width bins spanning the reference's 0.5-99.5 %
    range (values beyond go to the outer bins): a summary, never the rows."""
    lo, hi = np.quantile(ref, [0.005, 0.995]) if len(ref) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = float(lo) - 0.5, float(hi) + 0.5
    edges = np.linspace(lo, hi, n_bins + 1)
    ref_counts = np.bincount(np.clip(np.searchsorted(edges, ref, side="right") - 1, 0,
                                     n_bins - 1), minlength=n_bins)
    cur_counts = np.bincount(np.clip(np.searchsorted(edges, cur, side="right") - 1, 0,
                                     n_bins - 1), minlength=n_bins)
    return {"type": "numeric", "edges": [float(e) for e in edges],
            "reference": ref_counts.tolist(), "current": cur_counts.tolist()}


def categorical_histogram(cats: list[str], ref_counts: np.ndarray, cur_counts: np.ndarray,
                          top: int) -> dict[str, Any]:
    """Counts of the ``top`` most frequent categories (both sides together) and the rest."""
    order = np.argsort(-(ref_counts + cur_counts), kind="stable")
    keep = order[:top]
    out = {"type": "categorical", "categories": [cats[i] for i in keep],
           "reference": ref_counts[keep].tolist(), "current": cur_counts[keep].tolist()}
    if len(order) > top:
        rest = order[top:]
        out["other"] = {"reference": int(ref_counts[rest].sum()),
                        "current": int(cur_counts[rest].sum())}
    return out
