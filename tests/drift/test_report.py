"""Reports: detector choice by type and size, thresholds, corrections, bad input as findings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from truecourse.config.drift import DriftConfig
from truecourse.drift import compare_frames, frame_from_arrow
from truecourse.drift.html import render_html
from truecourse.drift.judge import ColumnResult, decide


def _frame(n: int, seed: int, shift: float = 0.0, **extra: pa.Array) -> object:
    rng = np.random.default_rng(seed)
    cols = {"x": rng.normal(shift, 1, n), "y": rng.normal(0, 1, n),
            "c": pa.array(rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]))}
    cols.update(extra)
    return frame_from_arrow(pa.table(cols), source=f"seed{seed}")


def _col(report: object, name: str) -> dict:
    return next(c for c in report.to_dict()["columns"] if c["column"] == name)  # type: ignore[attr-defined]


def test_small_samples_use_tests_and_large_use_calibrated_distances() -> None:
    small = compare_frames(_frame(300, 1), _frame(300, 2, shift=1.0))
    assert _col(small, "x")["method"] == "ks" and _col(small, "x")["drifted"]
    assert _col(small, "c")["method"] == "chi_square"
    assert _col(small, "x")["threshold_source"] == "alpha"
    assert _col(small, "x")["q_value"] >= _col(small, "x")["p_value"]
    large = compare_frames(_frame(20_000, 1), _frame(5_000, 2, shift=0.2))
    x = _col(large, "x")
    assert x["method"] == "wasserstein" and x["drifted"]
    assert x["statistic"] == pytest.approx(0.2, abs=0.05)
    assert x["threshold"] >= 0.1 and x["threshold_source"] in ("floor", "calibrated")
    assert x["stderr"] is not None and x["stderr"] < 0.05
    assert _col(large, "c")["method"] == "jensen_shannon"
    assert not _col(large, "y")["drifted"] and not _col(large, "c")["drifted"]
    assert large.drift_share == pytest.approx(1 / 3)


def test_calibrated_threshold_rises_above_the_floor_when_the_reference_is_noisy() -> None:
    cfg = DriftConfig(large_sample=100, wasserstein_threshold=0.01)
    rep = compare_frames(_frame(2000, 1), _frame(2000, 2), cfg)
    x = _col(rep, "x")
    assert x["threshold_source"] == "calibrated" and x["threshold"] > 0.01
    assert not x["drifted"]


def test_reference_too_small_to_chunk_uses_the_fallback_threshold() -> None:
    cfg = DriftConfig(large_sample=100, min_chunk_rows=1000)
    rep = compare_frames(_frame(1500, 1), _frame(1500, 2), cfg)
    assert _col(rep, "x")["threshold_source"] == "fallback"
    assert _col(rep, "x")["threshold"] == cfg.wasserstein_threshold


def test_decide_applies_benjamini_hochberg_across_test_columns() -> None:
    cols = [ColumnResult(f"c{i}", "numeric", method="ks", statistic=0.1, p_value=p)
            for i, p in enumerate([0.01, 0.04, 0.03, 0.005])]
    decide(cols, DriftConfig(alpha=0.03))
    assert [c.drifted for c in cols] == [True, False, False, True]
    assert cols[0].q_value == pytest.approx(0.02)


def test_not_enough_data_instead_of_a_guess() -> None:
    rep = compare_frames(_frame(10, 1), _frame(500, 2))
    assert {c["status"] for c in rep.to_dict()["columns"]} == {"not_enough_data"}
    assert "at least 30" in _col(rep, "x")["message"]
    assert rep.status == "not_enough_data" and rep.drift_share is None and not rep.drifted


def test_no_shared_columns_is_a_clear_error_finding() -> None:
    a = frame_from_arrow(pa.table({"a": [1.0, 2.0]}))
    b = frame_from_arrow(pa.table({"b": ["x", "y"]}))
    rep = compare_frames(a, b)
    doc = rep.to_dict()
    assert doc["status"] == "no_comparable_columns"
    err = [f for f in doc["findings"] if f["check"] == "no_shared_columns"]
    assert err and "no column in common" in err[0]["message"]
    assert any(a.labels["check"] == "no_shared_columns" for a in rep.alerts())


def test_type_change_is_reported_and_other_columns_still_judged() -> None:
    n = 400
    rng = np.random.default_rng(5)
    ref = frame_from_arrow(pa.table({"age": rng.normal(40, 5, n), "x": rng.normal(0, 1, n)}))
    cur = frame_from_arrow(pa.table({"age": pa.array([str(v) + "y" for v in range(n)]),
                                     "x": rng.normal(2, 1, n)}))
    doc = compare_frames(ref, cur).to_dict()
    age = next(c for c in doc["columns"] if c["column"] == "age")
    assert age["status"] == "skipped" and "type changed" in age["message"]
    assert any(f["check"] == "type_changed" and f["column"] == "age" for f in doc["findings"])
    x = next(c for c in doc["columns"] if c["column"] == "x")
    assert x["status"] == "ok" and x["drifted"]


def test_all_null_column_is_a_finding_and_other_columns_are_judged() -> None:
    n = 400
    rng = np.random.default_rng(6)
    ref = frame_from_arrow(pa.table({"z": rng.normal(0, 1, n), "x": rng.normal(0, 1, n)}))
    cur = frame_from_arrow(pa.table({"z": pa.nulls(n, pa.float64()),
                                     "x": rng.normal(0, 1, n)}))
    doc = compare_frames(ref, cur).to_dict()
    z = next(c for c in doc["columns"] if c["column"] == "z")
    assert z["status"] == "not_enough_data"
    assert any(f["check"] == "all_null" and f["severity"] == "error" for f in doc["findings"])
    assert next(c for c in doc["columns"] if c["column"] == "x")["status"] == "ok"


def test_quality_findings_completeness_range_nan_inf_new_categories_and_columns() -> None:
    n = 1000
    rng = np.random.default_rng(7)
    ref = frame_from_arrow(pa.table({
        "v": rng.uniform(0, 1, n), "c": pa.array(rng.choice(["a", "b"], n)),
        "gone": rng.normal(0, 1, n)}))
    v = rng.uniform(0, 1.2, n)
    v[:200] = np.nan
    v[200:205] = np.inf
    cur = frame_from_arrow(pa.table({
        "v": v, "c": pa.array(rng.choice(["a", "b", "new"], n)), "added": np.ones(n)}))
    doc = compare_frames(ref, cur).to_dict()
    checks = {(f["check"], f.get("column")) for f in doc["findings"]}
    assert {("completeness", "v"), ("nan_inf", "v"), ("out_of_range", "v"),
            ("new_categories", "c"), ("column_missing", "gone"),
            ("column_added", "added")} <= checks
    c = next(c for c in doc["columns"] if c["column"] == "c")
    assert c["unseen_share"] == pytest.approx(1 / 3, abs=0.05)


def test_report_json_has_histograms_not_rows_and_alerts_name_the_model() -> None:
    rep = compare_frames(_frame(3000, 1), _frame(3000, 2, shift=1.0), model="fraud")
    doc = rep.to_dict()
    x = next(c for c in doc["columns"] if c["column"] == "x")
    hist = x["histogram"]
    assert len(hist["reference"]) == 20 and sum(hist["reference"]) == 3000
    assert sum(hist["current"]) == 3000
    c = next(c for c in doc["columns"] if c["column"] == "c")
    assert set(c["histogram"]["categories"]) == {"a", "b", "c"}
    alerts = rep.alerts()
    assert alerts[0].labels["alertname"] == "ModelDrift" and alerts[0].labels["model"] == "fraud"
    assert alerts[0].source == "drift" and rep.id in (alerts[0].evidence or "")


def test_html_report_is_self_contained_and_escapes_names() -> None:
    n = 500
    rng = np.random.default_rng(8)
    evil = "<script>alert(1)</script>"
    ref = frame_from_arrow(pa.table({evil: rng.normal(0, 1, n)}))
    cur = frame_from_arrow(pa.table({evil: rng.normal(1, 1, n)}))
    page = render_html(compare_frames(ref, cur, model="m").to_dict())
    assert "<svg" in page and "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_prediction_scores_use_jensen_shannon_on_bins() -> None:
    rng = np.random.default_rng(9)
    ref = frame_from_arrow(pa.table({"score": rng.beta(2, 5, 5000)}))
    cur = frame_from_arrow(pa.table({"score": rng.beta(5, 2, 5000)}))
    rep = compare_frames(ref, cur, score_columns=["score"])
    s = _col(rep, "score")
    assert s["kind"] == "score" and s["method"] == "jensen_shannon" and s["drifted"]


def test_text_columns_use_embedding_mmd() -> None:
    ref_texts = [f"where is my order number {i}" for i in range(200)]
    cur_texts = [f"Kündigung des Vertrags bitte sofort {i}" for i in range(200)]
    ref = frame_from_arrow(pa.table({"q": pa.array(ref_texts)}))
    cur = frame_from_arrow(pa.table({"q": pa.array(cur_texts)}))
    same = frame_from_arrow(pa.table({"q": pa.array(list(reversed(ref_texts)))}))
    cfg = DriftConfig(embeddings="hashed")
    shifted = _col(compare_frames(ref, cur, cfg, text_columns=["q"]), "q")
    assert shifted["method"] == "mmd" and shifted["drifted"]
    assert not _col(compare_frames(ref, same, cfg, text_columns=["q"]), "q")["drifted"]


def test_overlapping_checks_share_alpha() -> None:
    from truecourse.drift.report import overlapping_checks

    assert overlapping_checks(3600, 300) == 12
    assert overlapping_checks(3600, 3600) == 1 and overlapping_checks(3600, None) == 1
    assert overlapping_checks(3600, 7 * 60) == 9
    rep = compare_frames(_frame(300, 1), _frame(300, 2), overlapping_checks=12)
    assert rep.settings["alpha"] == pytest.approx(0.05 / 12)
    assert rep.settings["overlapping_checks"] == 12
    assert all(c["threshold"] == pytest.approx(0.05 / 12) for c in rep.to_dict()["columns"])
