"""Realized metrics and CBPE, checked against the ground truth of NannyML's example data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from truecourse.drift.performance import cbpe, classification_metrics, regression_metrics

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "nannyml_synthetic_car_loan.parquet"


def test_classification_metrics_known_answer() -> None:
    y_true = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    y_pred = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4)
    assert m["accuracy_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 8))
    multi = classification_metrics(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]))
    assert multi["averaging"] == "macro" and multi["accuracy"] == pytest.approx(0.75)


def test_regression_mae_known_answer() -> None:
    m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert m["mae"] == pytest.approx(1.0) and m["mae_se"] == pytest.approx(1 / np.sqrt(3))


def test_cbpe_of_perfectly_calibrated_scores_matches_the_expectation() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 2, 40_000)
    y = (rng.random(40_000) < p).astype(int)
    est = cbpe(p[:20_000], y[:20_000], p[20_000:])
    real = classification_metrics(y[20_000:], (p[20_000:] >= 0.5).astype(int))
    assert est["accuracy"] == pytest.approx(real["accuracy"], abs=3 * est["accuracy_se"] + 0.005)


def test_cbpe_tracks_the_ground_truth_of_nannyml_synthetic_car_loan() -> None:
    """Calibrated on NannyML's reference period, CBPE estimates each 5,000-row chunk of the
    analysis period, whose accuracy drops from about 0.94 to 0.91 halfway."""
    t = pq.read_table(FIXTURE)
    ref = t.filter(pc.equal(t["split"], "reference"))
    ana = t.filter(pc.equal(t["split"], "analysis"))
    rs = ref["y_pred_proba"].to_numpy().astype(float)
    ry = ref["y_true"].to_numpy().astype(int)
    s = ana["y_pred_proba"].to_numpy().astype(float)
    yp = ana["y_pred"].to_numpy().astype(int)
    yt = ana["y_true"].to_numpy().astype(int)
    estimates, realized = [], []
    for i in range(0, len(s), 5000):
        est = cbpe(rs, ry, s[i:i + 5000], y_pred=yp[i:i + 5000])
        real = classification_metrics(yt[i:i + 5000], yp[i:i + 5000])
        assert abs(est["accuracy"] - real["accuracy"]) <= 3 * est["accuracy_se"] + 0.002, i
        assert abs(est["precision"] - real["precision"]) < 0.03, i
        assert abs(est["recall"] - real["recall"]) < 0.03, i
        estimates.append(est["accuracy"])
        realized.append(real["accuracy"])
    assert len(estimates) == 10
    drop_est = np.mean(estimates[:5]) - np.mean(estimates[5:])
    drop_real = np.mean(realized[:5]) - np.mean(realized[5:])
    assert drop_real > 0.02 and drop_est == pytest.approx(drop_real, abs=0.01)
