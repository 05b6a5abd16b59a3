"""Significance tests: published and hand-computed answers, properties, and edge cases."""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.measure import significance
from truecourse.measure.significance import (
    MIN_SAMPLES,
    TestResult,
    bootstrap_mean,
    mann_whitney,
    test_for,
    two_proportions,
)

KNOWN = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "significance" / "known_answers.json")
    .read_text(encoding="utf-8")
)
MW_CASES = KNOWN["mann_whitney"]
PROPORTION_CASES = KNOWN["two_proportions"]
SAMPLE_TESTS: list[Callable[..., TestResult]] = [
    mann_whitney,
    lambda a, b, **kw: bootstrap_mean(a, b, n_resamples=300, **kw),
]
SAMPLE_IDS = ["mann_whitney", "bootstrap_mean"]


def _num(value: float | None) -> float:
    assert value is not None
    return value


def _exact_mann_whitney_p(a: list[float], b: list[float]) -> tuple[float, float]:
    """U of A and the exact two-sided p by enumerating every split of the pooled values."""
    pooled = a + b

    def u_of(first: tuple[float, ...], second: list[float]) -> float:
        return sum((x > y) + 0.5 * (x == y) for x in first for y in second)

    observed = u_of(tuple(a), b)
    null = []
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        first = tuple(pooled[i] for i in chosen)
        second = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        null.append(u_of(first, second))
    low = sum(u <= observed for u in null) / len(null)
    high = sum(u >= observed for u in null) / len(null)
    return observed, min(1.0, 2 * min(low, high))


def _fisher_p_by_enumeration(success_a: int, n_a: int, success_b: int, n_b: int) -> float:
    """Two-sided Fisher p: sum of hypergeometric tables no more likely than the observed one."""
    successes, total = success_a + success_b, n_a + n_b

    def prob(x: int) -> float:
        return math.comb(successes, x) * math.comb(total - successes, n_a - x) / math.comb(
            total, n_a
        )

    observed = prob(success_a)
    support = range(max(0, n_a - (total - successes)), min(successes, n_a) + 1)
    return min(1.0, sum(prob(x) for x in support if prob(x) <= observed * (1 + 1e-7)))


# --- Mann-Whitney ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", MW_CASES, ids=[c["name"] for c in MW_CASES])
def test_mann_whitney_known_answers(case: dict[str, Any]) -> None:
    result = mann_whitney(case["a"], case["b"])
    assert result.method == "mann_whitney"
    assert result.statistic == case["u_a"]
    assert result.p_value == pytest.approx(case["p_value"], abs=case["p_tolerance"])
    assert result.a == np.median(case["a"]) and result.b == np.median(case["b"])


@pytest.mark.parametrize("case", MW_CASES, ids=[c["name"] for c in MW_CASES])
def test_mann_whitney_p_matches_full_enumeration(case: dict[str, Any]) -> None:
    u_a, p_value = _exact_mann_whitney_p(case["a"], case["b"])
    result = mann_whitney(case["a"], case["b"])
    assert result.statistic == u_a
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


def test_mann_whitney_is_symmetric() -> None:
    case = MW_CASES[0]
    forward, backward = mann_whitney(case["a"], case["b"]), mann_whitney(case["b"], case["a"])
    assert backward.p_value == pytest.approx(forward.p_value)
    assert backward.delta == pytest.approx(-_num(forward.delta))
    assert backward.statistic == len(case["a"]) * len(case["b"]) - _num(forward.statistic)
    flipped = (-_num(forward.ci_high), -_num(forward.ci_low))
    assert (backward.ci_low, backward.ci_high) == pytest.approx(flipped)


def test_mann_whitney_identical_samples_give_p_near_one() -> None:
    sample = np.random.default_rng(1).lognormal(size=200)
    result = mann_whitney(sample, sample.copy())
    assert result.p_value == pytest.approx(1.0, abs=1e-3)
    assert not result.significant and result.delta == 0
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low <= 0 <= result.ci_high


def test_mann_whitney_detects_clear_shift_and_brackets_it() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(100, 10, size=900)
    b = rng.normal(110, 10, size=1000)
    result = mann_whitney(a, b)
    assert result.p_value is not None and result.p_value < 1e-6 and result.significant
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 10 < result.ci_high
    assert result.relative_delta == pytest.approx(_num(result.delta) / abs(_num(result.a)))


def test_mann_whitney_all_equal_values() -> None:
    result = mann_whitney([3.0] * 8, [3.0] * 6)
    assert result.p_value == 1.0 and not result.significant
    assert result.delta == 0 and result.note == "all values are equal"


def test_mann_whitney_constant_but_different_sides() -> None:
    result = mann_whitney([1.0] * 20, [2.0] * 20)
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.delta == 1.0


def test_mann_whitney_subsamples_huge_inputs_deterministically() -> None:
    rng = np.random.default_rng(3)
    a = rng.lognormal(size=250_000)
    b = rng.lognormal(size=210_000) * 1.02
    first, second = mann_whitney(a, b), mann_whitney(a, b)
    assert first == second
    assert first.note is not None and "subsample" in first.note
    assert first.n_a == 250_000 and first.a == np.median(a)
    assert first.ci_low is None and first.ci_high is None


# --- two proportions --------------------------------------------------------------------------


@pytest.mark.parametrize("case", PROPORTION_CASES, ids=[c["name"] for c in PROPORTION_CASES])
def test_two_proportions_known_answers(case: dict[str, Any]) -> None:
    counts = (case["success_a"], case["n_a"], case["success_b"], case["n_b"])
    result = two_proportions(*counts)
    assert result.method == case["method"]
    assert result.a == counts[0] / counts[1] and result.b == counts[2] / counts[3]
    if "z" in case:
        assert result.statistic == pytest.approx(case["z"], rel=1e-9)
    if "p_value" in case:
        assert result.p_value == pytest.approx(case["p_value"], rel=1e-9)
    if "ci" in case:
        assert (result.ci_low, result.ci_high) == pytest.approx(case["ci"], abs=5e-5)
    if result.method == "fisher_exact":
        assert result.statistic is None
        assert result.p_value == pytest.approx(_fisher_p_by_enumeration(*counts), rel=1e-9)


def test_two_proportions_z_by_hand() -> None:
    pooled = 105 / 200
    z = (0.45 - 0.60) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    result = two_proportions(45, 100, 60, 100)
    assert result.statistic == pytest.approx(z) == pytest.approx(-2.12398, abs=1e-5)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert result.significant and result.delta == pytest.approx(0.15)
    assert result.relative_delta == pytest.approx(0.15 / 0.45)


def test_two_proportions_is_symmetric() -> None:
    forward, backward = two_proportions(45, 100, 60, 100), two_proportions(60, 100, 45, 100)
    assert backward.p_value == pytest.approx(forward.p_value)
    assert backward.statistic == pytest.approx(-_num(forward.statistic))
    flipped = (-_num(forward.ci_high), -_num(forward.ci_low))
    assert (backward.ci_low, backward.ci_high) == pytest.approx(flipped)


@pytest.mark.parametrize(("n_a", "n_b"), [(0, 10), (10, 0), (0, 0)])
def test_two_proportions_without_trials(n_a: int, n_b: int) -> None:
    result = two_proportions(0, n_a, min(3, n_b), n_b)
    assert result.p_value is None and not result.significant
    assert result.note is not None and "no trials" in result.note
    assert result.delta is None and (result.n_a, result.n_b) == (n_a, n_b)


def test_two_proportions_zero_rate_on_a_gives_no_relative_delta() -> None:
    result = two_proportions(0, 200, 4, 200)
    assert result.a == 0 and result.relative_delta is None and result.delta == 0.02


@pytest.mark.parametrize("counts", [(11, 10, 1, 10), (-1, 10, 1, 10), (1, -1, 1, 10)])
def test_two_proportions_rejects_impossible_counts(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.n_"):
        two_proportions(*counts)


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_ci_contains_known_shift() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(5.0, 2.0, size=2000), rng.normal(5.5, 2.0, size=2000)
    result = bootstrap_mean(a, b)
    assert result.method == "bootstrap_mean"
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 0.5 < result.ci_high
    assert result.ci_low < _num(result.delta) < result.ci_high
    assert result.delta == pytest.approx(b.mean() - a.mean())
    assert result.p_value is not None and result.p_value < 0.01 and result.significant


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(size=300), rng.exponential(size=400)
    assert bootstrap_mean(a, b, seed=7) == bootstrap_mean(a, b, seed=7)
    assert bootstrap_mean(a, b, seed=7).ci_low != bootstrap_mean(a, b, seed=8).ci_low


def test_bootstrap_p_large_without_shift() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(size=500)
    assert bootstrap_mean(a, rng.permutation(a)).p_value == pytest.approx(1.0, abs=0.05)
    result = bootstrap_mean(a, rng.normal(size=500))
    assert result.p_value is not None and result.p_value > 0.2 and not result.significant


def test_bootstrap_false_positive_rate_is_near_alpha() -> None:
    rng = np.random.default_rng(8)
    hits = sum(
        bootstrap_mean(rng.normal(size=200), rng.normal(size=200), n_resamples=400, seed=i)
        .significant
        for i in range(400)
    )
    # 5% of 400 is 20; a one-sided (halved) p would give about 40, a doubled p about 3.
    assert 8 <= hits <= 34


def test_bootstrap_memory_is_bounded_for_large_inputs() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=100_000), rng.normal(0.02, size=100_000)
    tracemalloc.start()
    try:
        result = bootstrap_mean(a, b, n_resamples=200)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20  # unchunked, 200 x 100k resamples would need over 300 MiB
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < _num(result.delta) < result.ci_high


def test_bootstrap_all_equal_values() -> None:
    result = bootstrap_mean([2.0] * 6, [2.0] * 9)
    assert result.p_value == 1.0 and (result.ci_low, result.ci_high) == (0.0, 0.0)


def test_bootstrap_rejects_no_resamples() -> None:
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_mean([1.0] * 5, [2.0] * 5, n_resamples=0)


# --- shared edge cases ----------------------------------------------------------------------


@pytest.mark.parametrize("run", SAMPLE_TESTS, ids=SAMPLE_IDS)
def test_empty_inputs_never_raise(run: Callable[..., TestResult]) -> None:
    result = run([], np.array([]))
    assert (result.n_a, result.n_b, result.a, result.b, result.delta) == (0, 0, None, None, None)
    assert result.p_value is None and not result.significant
    assert result.note == f"too few samples: need at least {MIN_SAMPLES} per side, got 0 and 0"


@pytest.mark.parametrize("run", SAMPLE_TESTS, ids=SAMPLE_IDS)
def test_too_few_samples_gives_no_p_value(run: Callable[..., TestResult]) -> None:
    result = run([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert result.p_value is None and not result.significant
    assert result.a == 2.5 and result.delta is not None and result.delta > 0
    assert result.note is not None and "too few samples" in result.note
    assert run([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]).p_value is not None


@pytest.mark.parametrize("run", SAMPLE_TESTS, ids=SAMPLE_IDS)
def test_non_finite_values_are_dropped(run: Callable[..., TestResult]) -> None:
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    dirty = run([*a, math.nan, math.inf], [math.nan, *b])
    clean = run(a, b)
    assert (dirty.n_a, dirty.n_b) == (6, 6)
    assert dirty.p_value == clean.p_value and dirty.delta == clean.delta
    assert dirty.note == "dropped non-finite values: 2 from A, 1 from B"


@pytest.mark.parametrize("run", SAMPLE_TESTS, ids=SAMPLE_IDS)
def test_rejects_alpha_outside_unit_interval(run: Callable[..., TestResult]) -> None:
    with pytest.raises(ValueError, match="alpha"):
        run([1.0] * 5, [2.0] * 5, alpha=0.0)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=12),
    b=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=12),
)
def test_sample_tests_never_raise_and_serialize_strictly(a: list[float], b: list[float]) -> None:
    for run in SAMPLE_TESTS:
        result = run(a, b)
        json.dumps(result.to_dict(), allow_nan=False)
        assert result.significant == (result.p_value is not None and result.p_value < 0.05)


def test_to_dict_has_only_plain_values() -> None:
    record = bootstrap_mean(np.arange(10.0), np.arange(10.0) + 1, n_resamples=50).to_dict()
    assert {type(value) for value in record.values()} <= {float, int, bool, str, type(None)}
    assert record["method"] == "bootstrap_mean" and record["n_a"] == 10
    assert json.loads(json.dumps(record, allow_nan=False)) == record


# --- dispatch and public surface ------------------------------------------------------------


def test_test_for_dispatches_by_metric_kind() -> None:
    assert test_for("latency") is mann_whitney
    assert test_for("rate") is two_proportions
    assert test_for("mean") is bootstrap_mean


def test_test_for_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match=r"allowed: latency, mean, rate.*did you mean 'rate'"):
        test_for("rates")


def test_public_surface_is_curated() -> None:
    assert all(hasattr(significance, name) for name in significance.__all__)
    assert sorted(significance.__all__) == significance.__all__
