"""Each detector against a case with a known answer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from truecourse.drift import detectors as det


def test_ks_on_disjoint_samples_has_the_exact_permutation_p_value() -> None:
    d, p = det.ks_test(np.arange(1.0, 6.0), np.arange(6.0, 11.0))
    assert d == 1.0
    assert p == pytest.approx(2 / 252)  # 2 of the C(10, 5) splits are this extreme


def test_normalized_wasserstein_of_a_shifted_copy_is_the_shift_in_sd() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, 2000)
    assert det.wasserstein_normalized(x, x + 0.5 * x.std()) == pytest.approx(0.5)
    assert det.wasserstein_normalized(x, x) == 0.0


def test_constant_reference_uses_the_pooled_scale() -> None:
    ref = np.zeros(100)
    cur = np.ones(100)
    assert det.wasserstein_normalized(ref, cur) == pytest.approx(1 / 0.5)


def test_binned_wasserstein_matches_scipy_within_one_percent_of_sd() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 200_000), rng.normal(0.3, 1.4, 150_000)
    grid = det.Grid.fit(a, b)
    ca = np.bincount(grid.codes(a), minlength=grid.size)
    cb = np.bincount(grid.codes(b), minlength=grid.size)
    sums = (np.bincount(grid.codes(a), weights=a, minlength=grid.size)
            + np.bincount(grid.codes(b), weights=b, minlength=grid.size))
    got = float(det.binned_wasserstein(ca, cb, grid.locations(ca + cb, sums)))
    assert got == pytest.approx(stats.wasserstein_distance(a, b), abs=0.01)


def test_psi_of_known_proportions() -> None:
    expected = (0.25 - 0.5) * np.log(0.5) + (0.75 - 0.5) * np.log(1.5)
    assert det.psi_from_counts(np.array([50, 50]), np.array([25, 75])) == \
        pytest.approx(expected)
    assert det.psi_from_counts(np.array([10, 30]), np.array([20, 60])) == pytest.approx(0.0)


def test_chi_square_of_a_known_table() -> None:
    stat, p = det.chi2_test(np.array([10, 20]), np.array([20, 10]))
    assert stat == pytest.approx(100 / 15)
    assert p == pytest.approx(stats.chi2.sf(100 / 15, 1))
    assert det.chi2_test(np.array([5]), np.array([7])) == (0.0, 1.0)


def test_jensen_shannon_known_values_and_scipy() -> None:
    assert float(det.js_distance(np.array([3, 0]), np.array([0, 4]))) == pytest.approx(1.0)
    assert float(det.js_distance(np.array([3, 1]), np.array([6, 2]))) == pytest.approx(0.0)
    got = float(det.js_distance(np.array([1, 0]), np.array([1, 1])))
    assert got == pytest.approx(jensenshannon([1, 0], [0.5, 0.5], base=2))
    batch = det.js_distance(np.array([[1, 0], [1, 1]]), np.array([[1, 1], [1, 1]]))
    assert batch.shape == (2,) and batch[1] == pytest.approx(0.0)


def test_category_counts_share_codes_and_drop_nulls() -> None:
    cats, rc, cc, rn, cn = det.category_counts(pa.array(["a", "b", None, "a"]),
                                               pa.array(["b", "c", "c"]))
    assert cats == ["a", "b", "c"]
    assert rn.tolist() == [2, 1, 0] and cn.tolist() == [0, 1, 2]
    assert len(rc) == 3 and len(cc) == 3


def test_category_counts_of_dictionary_arrays_with_different_dictionaries() -> None:
    ref = pa.array(["x", "y", "x", None]).dictionary_encode()
    cur = pa.DictionaryArray.from_arrays(pa.array([0, 1, 1, 2]), pa.array(["z", "y", "x"]))
    cats, _, cc, rn, cn = det.category_counts(ref, cur)
    assert cats == ["x", "y", "z"]
    assert rn.tolist() == [2, 1, 0] and cn.tolist() == [1, 2, 1]
    assert sorted(cc.tolist()) == [0, 1, 1, 2]


def test_mmd_of_identical_sets_is_zero_and_of_separated_clusters_significant() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (60, 4))
    mmd2, p, _ = det.mmd_test(x, x.copy(), permutations=99)
    assert mmd2 == pytest.approx(0.0, abs=1e-12) and p > 0.5
    mmd2, p, _ = det.mmd_test(x, rng.normal(2, 1, (60, 4)), permutations=99)
    assert mmd2 > 0.1 and p == pytest.approx(1 / 100)


def test_mmd_block_means_match_the_definition() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(7, 2))
    gram = np.exp(-np.sum((z[:, None] - z[None]) ** 2, axis=2) / 2)
    n_x = 3
    direct = (sum(gram[i, j] for i in range(3) for j in range(3)) / 9
              + sum(gram[i, j] for i in range(3, 7) for j in range(3, 7)) / 16
              - 2 * sum(gram[i, j] for i in range(3) for j in range(3, 7)) / 12)
    assert det.mmd2_from_gram(gram, n_x) == pytest.approx(direct)


def test_benjamini_hochberg_matches_the_textbook_and_scipy() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    q = det.benjamini_hochberg(p)
    assert q.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert q.tolist() == pytest.approx(stats.false_discovery_control(p).tolist())
    assert det.benjamini_hochberg(np.array([])).size == 0


def test_public_surface_resolves() -> None:
    import truecourse.drift as drift

    assert drift.__all__ == sorted(drift.__all__)
    for name in drift.__all__:
        assert getattr(drift, name) is not None, name
    with pytest.raises(AttributeError):
        _ = drift.no_such_name  # type: ignore[attr-defined]
