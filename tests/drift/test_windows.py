"""Reports over store windows on DuckDB and PostgreSQL: predictions (with labels) and LLM
spans, fixed and rolling references."""

from __future__ import annotations

from datetime import timedelta

import pytest

from truecourse.config.drift import DriftConfig, SpanAttributeFeature
from truecourse.drift.reports import get_report, list_reports, save_report
from truecourse.drift.sources import build_report
from truecourse.ingest.events import events_from_json
from truecourse.store.base import Store

from .data import DAY1, DAY2, llm_spans, predictions


def _w(day: object) -> str:
    start = day.isoformat()  # type: ignore[attr-defined]
    end = (day + timedelta(hours=1)).isoformat()  # type: ignore[operator]
    return f"{start}..{end}"


def test_prediction_windows_report_drift_and_performance(store: Store) -> None:
    import orjson

    ref, _ = predictions("fraud", DAY1, 1500, 1)
    cur, labels = predictions("fraud", DAY2, 1500, 2, shift=0.6)
    store.write([ref, cur])
    half = labels[: len(labels) // 2]
    store.write([events_from_json(orjson.dumps(half)).batch])
    report = build_report(store, _w(DAY1), _w(DAY2), DriftConfig(), model="fraud")
    doc = report.to_dict()
    by = {c["column"]: c for c in doc["columns"]}
    assert set(by) == {"amount", "country", "channel", "prediction", "score"}
    assert by["amount"]["drifted"] and by["amount"]["method"] == "wasserstein"
    assert not by["country"]["drifted"] and by["score"]["kind"] == "score"
    perf = doc["performance"]
    assert perf["predictions"] == 1500 and perf["labeled"] == 750
    assert perf["label_delay_s"]["median"] == pytest.approx(1800)
    realized = perf["realized"]
    assert 0.5 < realized["accuracy"] < 0.95 and realized["accuracy_se"] > 0
    est = perf["estimated"]
    assert est["method"] == "cbpe"
    assert abs(est["accuracy"] - realized["accuracy"]) < 4 * realized["accuracy_se"] + 0.03
    save_report(store, report)
    assert list_reports(store, model="fraud")[0]["id"] == report.id
    assert get_report(store, report.id)["drift_share"] == doc["drift_share"]


def test_rolling_reference_is_the_same_hours_a_day_earlier(store: Store) -> None:
    ref, _ = predictions("m", DAY1, 400, 1)
    cur, _ = predictions("m", DAY2, 400, 1, prefix="q")  # the same data a day later
    store.write([ref, cur])
    report = build_report(store, "rolling:1d", _w(DAY2), DriftConfig(), model="m")
    assert report.reference["rows"] == 400
    assert not report.drifted and report.drift_share == 0.0


def test_llm_span_features_report_drift_per_service(store: Store) -> None:
    store.write([llm_spans("bot", DAY1, 400, 1), llm_spans("bot", DAY2, 400, 2, longer=True)])
    cfg = DriftConfig(embeddings="hashed",
                      span_attributes=[SpanAttributeFeature(name="app.tier",
                                                            kind="categorical")])
    doc = build_report(store, _w(DAY1), _w(DAY2), cfg, service="bot").to_dict()
    by = {c["column"]: c for c in doc["columns"]}
    assert {"prompt_chars", "completion_chars", "input_tokens", "output_tokens", "model",
            "refused", "input_text", "retrieval_documents", "retrieval_top_score",
            "tool_name", "attr:app.tier"} <= set(by)
    assert by["prompt_chars"]["drifted"] and by["input_tokens"]["drifted"]
    assert by["input_text"]["method"] == "mmd" and by["input_text"]["drifted"]
    assert not by["retrieval_top_score"]["drifted"] and not by["tool_name"]["drifted"]
    assert by["retrieval_top_score"]["kind"] == "numeric"
    assert by["prompt_chars"]["n_reference"] == 400 and by["tool_name"]["n_reference"] == 100


def test_sketched_reference_matches_the_exact_verdicts(store: Store) -> None:
    from truecourse.drift.sketches import build_sketches

    for h in range(6):  # six hourly reference windows
        batch, _ = predictions("fraud", DAY1 + timedelta(hours=h), 800, 10 + h, prefix=f"h{h}")
        store.write([batch])
    cur, _ = predictions("fraud", DAY2, 3000, 2, shift=0.6)
    store.write([cur])
    assert build_sketches(store, "fraud", DAY1, DAY1 + timedelta(hours=6), 3600,
                          DriftConfig()) == 6
    ref_spec = f"{DAY1.isoformat()}..{(DAY1 + timedelta(hours=6)).isoformat()}"
    sketched = build_report(store, f"sketches:{ref_spec}", _w(DAY2), DriftConfig(),
                            model="fraud").to_dict()
    exact = build_report(store, ref_spec, _w(DAY2), DriftConfig(), model="fraud").to_dict()
    s_by = {c["column"]: c for c in sketched["columns"]}
    e_by = {c["column"]: c for c in exact["columns"]}
    assert sketched["reference"]["sketched"] and s_by["amount"]["n_reference"] == 4800
    for name in ("amount", "country", "channel", "score"):
        assert s_by[name]["drifted"] == e_by[name]["drifted"], name
    assert s_by["amount"]["drifted"]
    assert s_by["amount"]["statistic"] == pytest.approx(0.6, abs=0.08)
    assert s_by["amount"]["threshold_source"] in ("calibrated", "floor")
    assert s_by["country"]["statistic"] == pytest.approx(e_by["country"]["statistic"], abs=0.01)


def test_retried_predictions_are_stored_once(store: Store) -> None:
    batch, _ = predictions("fraud", DAY1, 50, 1)
    store.write([batch])
    store.write([batch])  # a client retry after a lost answer
    n = store.select("SELECT count(*) AS n FROM predictions").column("n")[0].as_py()
    assert n == 50 and store.counts()["predictions"] == 50
