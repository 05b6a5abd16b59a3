"""The drift statistics: tests for small samples, distances for large ones, all vectorized.

Every function takes arrays (numpy, or counts over shared bins) and returns plain floats, so
each can be checked against a case with a known answer (``tests/drift/test_detectors.py``).

- numeric: :func:`ks_test` (two-sample Kolmogorov-Smirnov), :func:`wasserstein_normalized`
  (exact) and :func:`binned_wasserstein` (on a shared fine :class:`Grid`, for large windows),
  :func:`psi`;
- categorical and binned scores: :func:`chi2_test` (2 x k homogeneity), :func:`js_distance`
  (Jensen-Shannon distance, base 2, in [0, 1]), :func:`category_counts`;
- embeddings: :func:`mmd_test` (RBF-kernel MMD with a permutation p-value);
- many columns: :func:`benjamini_hochberg`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

_EPS = 1e-4  # PSI smoothing for empty bins, as most PSI implementations do


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (statistic D, two-sided p-value). Inputs without NaN."""
    with warnings.catch_warnings():
        # scipy falls back from the exact to the asymptotic p-value on ties and says so
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ks_2samp(reference, current)
    return float(res.statistic), float(res.pvalue)


def _scale(reference: np.ndarray, current: np.ndarray) -> float:
    sd = float(np.std(reference))
    if sd > 0:
        return sd
    pooled = float(np.std(np.concatenate([reference, current])))
    return pooled if pooled > 0 else 1.0


def wasserstein_normalized(reference: np.ndarray, current: np.ndarray) -> float:
    """Earth mover's distance divided by the reference standard deviation (exact, sorts).

    A mean shift of ``d`` reference standard deviations gives ``d``. When the reference is
    constant the pooled standard deviation is used instead (1 when both are constant).
    """
    w = stats.wasserstein_distance(reference, current)
    return float(w / _scale(reference, current))


@dataclass
class Grid:
    """Fine equal-width bins over a robust range of one numeric column, plus one overflow bin
    on each side: binning is arithmetic (O(n), no sort, no binary search), and each bin's mass
    sits at the pooled mean of the values in it, so distances between binned distributions
    stay within a fraction of a bin width of the exact ones inside the range."""

    lo: float
    width: float
    inner: int
    #: a random sample of the reference (quantiles for PSI deciles and display ranges)
    sample: np.ndarray

    @property
    def size(self) -> int:
        return self.inner + 2

    @classmethod
    def fit(cls, reference: np.ndarray, current: np.ndarray, inner: int = 2048,
            sample: int = 50_000, seed: int = 0) -> Grid:
        """Range = pooled 0.1 %-99.9 % quantiles of a sample of each side."""
        rng = np.random.default_rng(seed)
        ref_s = reference if len(reference) <= sample else \
            reference[rng.integers(0, len(reference), sample)]
        cur_s = current if len(current) <= sample else \
            current[rng.integers(0, len(current), sample)]
        lo, hi = np.quantile(np.concatenate([ref_s, cur_s]), [0.001, 0.999])
        lo, hi = float(lo), float(hi)
        if not hi > lo:
            lo, hi = lo - 0.5, lo + 0.5
        return cls(lo, (hi - lo) / inner, inner, ref_s)

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Bin of every value: 0 below the range, 1..inner inside, inner + 1 above."""
        c = np.floor((values - self.lo) / self.width)
        np.clip(c, -1, self.inner, out=c)
        return (c + 1).astype(np.intp)

    def locations(self, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """Each bin's pooled mean (its midpoint when empty); ascending by construction."""
        mid = self.lo + (np.arange(self.size) - 0.5) * self.width
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
        return np.where(counts > 0, mean, mid)

    def regroup(self, counts: np.ndarray, locations: np.ndarray, edges: np.ndarray,
                ) -> np.ndarray:
        """Fine counts summed into coarser bins with inner ``edges`` (by bin location)."""
        coarse = np.searchsorted(edges, locations, side="right")
        return np.bincount(coarse, weights=counts, minlength=len(edges) + 1)


def binned_wasserstein(counts_a: np.ndarray, counts_b: np.ndarray, centers: np.ndarray,
                       ) -> np.ndarray:
    """Wasserstein-1 distance between histograms over the same bins (mass at ``centers``).

    ``counts_a``/``counts_b`` are (..., B) arrays, so many chunk pairs compute at once; the
    result is the distance for each leading index.
    """
    fa = np.cumsum(counts_a, axis=-1) / np.maximum(counts_a.sum(axis=-1, keepdims=True), 1)
    fb = np.cumsum(counts_b, axis=-1) / np.maximum(counts_b.sum(axis=-1, keepdims=True), 1)
    gaps = np.diff(centers)
    return np.asarray(np.abs(fa - fb)[..., :-1] @ gaps)


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index over the reference's deciles (``n_bins`` quantile bins)."""
    sample = reference if len(reference) <= 200_000 else reference[:: len(reference) // 200_000]
    edges = np.unique(np.quantile(sample, np.linspace(0, 1, n_bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"),
                             minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"),
                             minlength=len(edges) + 1)
    return psi_from_counts(ref_counts, cur_counts)


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI = sum((c - r) * ln(c / r)) over bins of proportions (empty bins smoothed)."""
    r = np.maximum(ref_counts / max(ref_counts.sum(), 1), _EPS)
    c = np.maximum(cur_counts / max(cur_counts.sum(), 1), _EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def _encoded(values: pa.Array) -> tuple[list[str], np.ndarray]:
    """(categories, codes with -1 for null) of a string or dictionary-of-string array."""
    enc = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
    cats = [str(v) for v in enc.dictionary.to_pylist()]
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return cats, codes


def category_counts(reference: pa.Array, current: pa.Array,
                    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared category codes of two string (or dictionary) arrays, nulls dropped.

    Returns (categories, reference codes, current codes, reference counts, current counts);
    codes index ``categories``. Each side is dictionary-encoded once (dictionary arrays as
    they are) and the current side's codes remapped through a lookup table: no per-row Python.
    """
    ref_cats, ref_codes = _encoded(reference)
    cur_cats, cur_codes = _encoded(current)
    index = {c: i for i, c in enumerate(ref_cats)}
    categories = list(ref_cats)
    lookup = np.empty(len(cur_cats) + 1, dtype=np.int64)
    for j, c in enumerate(cur_cats):
        if c not in index:
            index[c] = len(categories)
            categories.append(c)
        lookup[j] = index[c]
    lookup[-1] = -1  # code -1 (null) maps to -1
    cur_codes = lookup[cur_codes]
    if len(set(ref_cats)) < len(ref_cats):  # a dictionary with repeated values: merge them
        ref_codes = np.array([index[c] for c in ref_cats] + [-1], dtype=np.int64)[ref_codes]
    ref_codes, cur_codes = ref_codes[ref_codes >= 0], cur_codes[cur_codes >= 0]
    k = len(categories)
    return (categories, ref_codes, cur_codes, np.bincount(ref_codes, minlength=k),
            np.bincount(cur_codes, minlength=k))


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table (categories seen in either side).

    (statistic, p-value); one category in total gives (0, 1): nothing can differ.
    """
    keep = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return 0.0, 1.0
    res = stats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


def js_distance(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2, 0 = same, 1 = disjoint) between count vectors over
    the same categories; (..., K) arrays give one distance per leading index."""
    p = counts_a / np.maximum(counts_a.sum(axis=-1, keepdims=True), 1)
    q = counts_b / np.maximum(counts_b.sum(axis=-1, keepdims=True), 1)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=-1)
    return np.sqrt(np.maximum((kl_p + kl_q) / 2, 0.0))


def _rbf_gram(z: np.ndarray, bandwidth: float) -> np.ndarray:
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    return np.asarray(np.exp(-d2 / (2 * bandwidth**2)))


def median_bandwidth(z: np.ndarray) -> float:
    """The median pairwise distance (the usual RBF bandwidth heuristic)."""
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    upper = d2[np.triu_indices(len(z), k=1)]
    med = float(np.sqrt(np.median(upper))) if upper.size else 1.0
    return med if med > 0 else 1.0


def mmd2_from_gram(gram: np.ndarray, n_x: int) -> float:
    """Biased MMD² estimate of the first ``n_x`` rows vs the rest of a Gram matrix."""
    kxx = gram[:n_x, :n_x].mean()
    kyy = gram[n_x:, n_x:].mean()
    kxy = gram[:n_x, n_x:].mean()
    return float(kxx + kyy - 2 * kxy)


def mmd_test(x: np.ndarray, y: np.ndarray, *, permutations: int = 200, max_rows: int = 500,
             seed: int = 0) -> tuple[float, float, float]:
    """Maximum mean discrepancy between two sets of vectors with an RBF kernel (median
    bandwidth) and a permutation p-value.

    Returns (MMD², p-value, bandwidth). Each side is subsampled to ``max_rows`` (the Gram matrix
    is quadratic); the permutations reuse one Gram matrix, so the cost is
    O((n_x + n_y)² · (dim + permutations)).
    """
    rng = np.random.default_rng(seed)
    if len(x) > max_rows:
        x = x[rng.choice(len(x), max_rows, replace=False)]
    if len(y) > max_rows:
        y = y[rng.choice(len(y), max_rows, replace=False)]
    z = np.vstack([x, y]).astype(np.float64)
    bw = median_bandwidth(z)
    gram = _rbf_gram(z, bw)
    n_x, n = len(x), len(z)
    observed = mmd2_from_gram(gram, n_x)
    # every permutation at once: indicator vectors turn the block means into quadratic forms
    perms = np.argsort(rng.random((permutations, n)), axis=1)
    ind = np.zeros((permutations, n))
    np.put_along_axis(ind, perms[:, :n_x], 1.0, axis=1)
    other = 1.0 - ind
    kxx = np.einsum("pi,ij,pj->p", ind, gram, ind) / n_x**2
    kyy = np.einsum("pi,ij,pj->p", other, gram, other) / (n - n_x) ** 2
    kxy = np.einsum("pi,ij,pj->p", ind, gram, other) / (n_x * (n - n_x))
    null = kxx + kyy - 2 * kxy
    p_value = (1 + int(np.sum(null >= observed - 1e-12))) / (permutations + 1)
    return observed, float(p_value), bw


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    Rejecting where q <= alpha controls the false discovery rate at alpha across the family;
    when no column drifted at all it also bounds the chance of any false alarm by alpha.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
