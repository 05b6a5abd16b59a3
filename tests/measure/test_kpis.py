"""Operational KPIs: hand-computed fixtures, window edges, undefined values, bad records, docs."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.errors import InvalidInput
from truecourse.measure import kpi_records, kpis
from truecourse.measure.kpis import (
    KPI_DEFINITIONS,
    ActionRecord,
    AlertRecord,
    Change,
    DriftCheck,
    Incident,
    KpiRecords,
    KpiResult,
    alert_noise_reduction,
    autonomy_score,
    change_failure_rate,
    compute_all,
    cost_per_incident,
    incident_recurrence_rate,
    load_records,
    model_drift_rate,
    mttd,
    mttr,
    parse_records,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "kpis"
CASE_FILES = sorted(FIXTURES.glob("case_*.json"))
DOC = ROOT / "docs" / "kpis.md"
T0 = datetime(2025, 1, 6, tzinfo=UTC)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _cases() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, case) for path in CASE_FILES
            for case in json.loads(path.read_text(encoding="utf-8"))["_cases"]]


def _incident(id: str, start: datetime, detect_min: float = 5, resolve_min: float | None = 60,
              **kw: Any) -> Incident:
    resolved = start + timedelta(minutes=resolve_min) if resolve_min is not None else None
    return Incident(id, "chat", start, start + timedelta(minutes=detect_min),
                    resolved_at=resolved, **kw)


# --- fixtures with hand-computed answers -----------------------------------------------------


@pytest.mark.parametrize(("path", "case"), _cases(),
                         ids=[f"{p.stem}:{c['name']}" for p, c in _cases()])
def test_fixture_case(path: Path, case: dict[str, Any]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    params = document.get("_parameters", {})
    records = load_records(path)
    results = compute_all(
        records, _ts(case["since"]), _ts(case["until"]),
        hourly_rate_usd=params["hourly_rate_usd"],
        recurrence_lookback=timedelta(days=params.get("recurrence_lookback_days", 30)),
        change_attribution=timedelta(hours=params.get("change_attribution_hours", 24)))
    expected = case["expected"]
    assert set(expected) == set(KPI_DEFINITIONS), "a case must state every KPI"
    for name, want in expected.items():
        got = results[name]
        assert want["how"], f"{name}: explain how the expected value was computed"
        assert got.name == name and got.unit == KPI_DEFINITIONS[name].unit
        assert got.samples == want["samples"], name
        if want["value"] is None:
            assert got.value is None, name
            assert got.undefined_reason, f"{name}: an undefined KPI says why"
        else:
            assert got.value == pytest.approx(want["value"], rel=1e-12), name
            assert got.undefined_reason is None
        for side in ("numerator", "denominator"):
            if side in want:
                assert getattr(got, side) == pytest.approx(want[side], rel=1e-12), (name, side)
        if "details" in want:
            assert set(got.details) == set(want["details"]), name
            for key, value in want["details"].items():
                assert got.details[key] == pytest.approx(value, rel=1e-12), (name, key)


def test_fixtures_cover_defined_and_undefined_values_of_every_kpi() -> None:
    defined: set[str] = set()
    undefined: set[str] = set()
    for _path, case in _cases():
        for name, want in case["expected"].items():
            (undefined if want["value"] is None else defined).add(name)
    assert defined == undefined == set(KPI_DEFINITIONS)


def test_compute_all_returns_the_registry_in_order_and_serializes() -> None:
    results = compute_all(load_records(FIXTURES / "case_week.json"), T0, T0 + timedelta(days=7),
                          hourly_rate_usd=150)
    assert list(results) == list(KPI_DEFINITIONS)
    doc = json.loads(json.dumps({name: r.to_dict() for name, r in results.items()}))
    assert doc["mttd"] == {"name": "mttd", "value": 2724.0, "unit": "seconds", "samples": 5,
                           "numerator": 13620.0, "denominator": 5.0,
                           "details": {"median": 600.0, "p90": 10800.0},
                           "undefined_reason": None}
    assert doc["cost_per_incident"]["unit"] == "usd_per_incident"


def test_kpi_results_are_frozen() -> None:
    result = mttd([], T0, T0 + timedelta(days=1))
    assert isinstance(result, KpiResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 1.0  # type: ignore[misc]
    assert result.to_dict()["undefined_reason"] == "no incident has detected_at in the window"


# --- definitions in detail -------------------------------------------------------------------


def test_mttr_is_measured_from_impact_start_not_detection() -> None:
    late = _incident("i1", T0, detect_min=30, resolve_min=40)
    assert mttr([late], T0, T0 + timedelta(days=1)).value == 40 * 60
    assert mttd([late], T0, T0 + timedelta(days=1)).value == 30 * 60


def test_incident_found_after_it_ended_is_counted() -> None:
    found_late = _incident("i1", T0, detect_min=90, resolve_min=10)
    assert mttr([found_late], T0, T0 + timedelta(days=1)).value == 600


def test_p90_is_the_nearest_rank_sample() -> None:
    incidents = [_incident(f"i{n}", T0 + timedelta(hours=n), detect_min=n) for n in range(1, 11)]
    result = mttd(incidents, T0, T0 + timedelta(days=1))
    assert result.details == {"median": 5.5 * 60, "p90": 9 * 60}
    assert mttd(incidents[:1], T0, T0 + timedelta(days=1)).details == {"median": 60, "p90": 60}


def test_adjacent_windows_split_records_without_overlap() -> None:
    checks = [DriftCheck("m", T0 + timedelta(hours=h), h % 3 == 0) for h in range(48)]
    day1 = model_drift_rate(checks, T0, T0 + timedelta(days=1))
    day2 = model_drift_rate(checks, T0 + timedelta(days=1), T0 + timedelta(days=2))
    both = model_drift_rate(checks, T0, T0 + timedelta(days=2))
    assert day1.samples == day2.samples == 24
    assert day1.numerator + day2.numerator == both.numerator == 16


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 72 * 60), st.integers(0, 300), st.booleans()),
                max_size=40),
       st.integers(1, 72 * 60 - 1))
def test_any_cut_of_a_window_adds_up(rows: list[tuple[int, int, bool]], cut_min: int) -> None:
    incidents = [_incident(f"i{n}", T0 + timedelta(minutes=start), detect_min=delay)
                 for n, (start, delay, _) in enumerate(rows)]
    alerts = [AlertRecord(f"a{n}", "fp", T0 + timedelta(minutes=start), notified)
              for n, (start, _, notified) in enumerate(rows)]
    end, cut = T0 + timedelta(minutes=72 * 60 + 301), T0 + timedelta(minutes=cut_min)
    measured: list[tuple[Any, list[Any]]] = [(mttd, incidents), (alert_noise_reduction, alerts)]
    for kpi, records in measured:
        whole, left, right = (kpi(records, a, b) for a, b in ((T0, end), (T0, cut), (cut, end)))
        assert left.samples + right.samples == whole.samples == len(rows)
        assert left.numerator + right.numerator == pytest.approx(whole.numerator)
        assert (whole.value is None) == (whole.samples == 0)
        if whole.value is not None and kpi is alert_noise_reduction:
            assert 0.0 <= whole.value <= 1.0


def test_recurrence_lookback_edges_and_parameter() -> None:
    first = _incident("i1", T0 - timedelta(days=30), fingerprint="fp")
    again = _incident("i2", T0, fingerprint="fp")
    same_time = _incident("i3", T0 + timedelta(days=2), fingerprint="other")
    twin = _incident("i4", T0 + timedelta(days=2), fingerprint="other")
    window = (T0, T0 + timedelta(days=7))
    result = incident_recurrence_rate([first, again, same_time, twin], *window)
    assert (result.numerator, result.denominator) == (1, 3)  # i2 only; i3/i4 started together
    shorter = incident_recurrence_rate([first, again], *window, lookback=timedelta(days=29))
    assert shorter.value == 0.0


def test_change_failure_rate_kinds_and_attribution() -> None:
    changes = [Change("c1", "deploy", "chat", T0), Change("c2", "prompt", "chat", T0),
               Change("c3", "deploy", "chat", T0 + timedelta(hours=1))]
    incidents = [_incident("i1", T0 + timedelta(hours=30), cause_change_id="c2")]
    window = (T0, T0 + timedelta(days=1))
    assert change_failure_rate(changes, incidents, *window).value == 0.0
    wide = change_failure_rate(changes, incidents, *window, attribution=timedelta(hours=48))
    assert (wide.numerator, wide.denominator) == (1, 3)
    deploys = change_failure_rate(changes, incidents, *window, kinds=["deploy"],
                                  attribution=timedelta(hours=48))
    assert (deploys.numerator, deploys.denominator) == (0, 2)
    with pytest.raises(InvalidInput, match="did you mean 'deploy'"):
        change_failure_rate(changes, incidents, *window, kinds=["deploys"])
    with pytest.raises(InvalidInput, match="not the string 'deploy'"):
        change_failure_rate(changes, incidents, *window, kinds="deploy")


def test_incident_blamed_on_a_later_change_is_refused() -> None:
    changes = [Change("c1", "deploy", "chat", T0 + timedelta(hours=2))]
    incidents = [_incident("i7", T0 + timedelta(hours=1), cause_change_id="c1")]
    with pytest.raises(InvalidInput, match=r"incident 'i7': cause_change_id 'c1'.*after"):
        change_failure_rate(changes, incidents, T0, T0 + timedelta(days=1))


def test_cost_per_incident_rate_is_a_required_valid_parameter() -> None:
    incidents = [_incident("i1", T0, responder_hours=1.5, extra_model_cost_usd=2,
                           assistant_cost_usd=0.25)]
    window = (T0, T0 + timedelta(days=1))
    assert cost_per_incident(incidents, *window, hourly_rate_usd=100).value == 152.25
    assert cost_per_incident(incidents, *window, hourly_rate_usd=0).value == 2.25
    for bad in (-1, float("nan"), float("inf"), True):
        with pytest.raises(InvalidInput, match="hourly_rate_usd"):
            cost_per_incident(incidents, *window, hourly_rate_usd=bad)


def test_autonomy_score_weights() -> None:
    actions = [ActionRecord("a1", "ai", "high", T0, decision="allowed", decided_at=T0,
                            executed_by="auto", verified=True),
               ActionRecord("a2", "ai", "low", T0, decision="approved", decided_at=T0,
                            executed_by="auto", verified=True)]
    window = (T0, T0 + timedelta(days=1))
    assert autonomy_score(actions, *window).value == pytest.approx(4 / 5)
    even = {"low": 1.0, "medium": 1.0, "high": 1.0}
    assert autonomy_score(actions, *window, risk_weights=even).value == 0.5
    for weights, message in (({"low": 1, "medium": 2}, "no weight for risk 'high'"),
                             ({**even, "hihg": 1}, "did you mean 'high'"),
                             ({**even, "low": 0}, r"risk_weights\['low'\] must be a positive")):
        with pytest.raises(InvalidInput, match=message):
            autonomy_score(actions, *window, risk_weights=weights)


def test_drift_rate_for_one_model() -> None:
    checks = [DriftCheck("a", T0, True), DriftCheck("b", T0, False), DriftCheck("b", T0, True)]
    window = (T0, T0 + timedelta(days=1))
    assert model_drift_rate(checks, *window, model="b").details == {"b": 0.5}
    missing = model_drift_rate(checks, *window, model="c")
    assert missing.value is None and missing.undefined_reason is not None
    assert "model 'c'" in missing.undefined_reason


# --- windows and records ---------------------------------------------------------------------


@pytest.mark.parametrize(("since", "until", "message"), [
    (T0, T0, "is not before until"),
    (T0 + timedelta(days=1), T0, "is not before until"),
    (datetime(2025, 1, 6), T0 + timedelta(days=1), "since must be a datetime with a UTC offset"),
    (T0, "2025-01-07", "until must be a datetime with a UTC offset"),
])
def test_bad_windows_are_refused(since: Any, until: Any, message: str) -> None:
    for kpi in (mttd, alert_noise_reduction, model_drift_rate):
        with pytest.raises(InvalidInput, match=message):
            kpi([], since, until)


def test_records_normalize_offsets_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    incident = Incident("i1", "chat", datetime(2025, 1, 6, 12, tzinfo=plus_two),
                        datetime(2025, 1, 6, 10, 30, tzinfo=UTC))
    assert incident.started_at == datetime(2025, 1, 6, 10, tzinfo=UTC)
    assert incident.started_at.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        incident.service = "x"  # type: ignore[misc]


def test_invalid_records_built_in_code_name_the_record_and_field() -> None:
    with pytest.raises(InvalidInput, match=r"incident 'i1': resolved_at .* before started_at"):
        Incident("i1", "chat", T0, T0, resolved_at=T0 - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match=r"action 'a1': unknown risk 'hgh' — did you mean"):
        ActionRecord("a1", "ai", "hgh", T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"change 'c1': at must be a datetime"):
        Change("c1", "deploy", "chat", "2025-01-06")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="incident id 'i1' appears more than once"):
        mttd([_incident("i1", T0), _incident("i1", T0)], T0, T0 + timedelta(days=1))
    with pytest.raises(InvalidInput, match="incidents holds a Change"):
        KpiRecords(incidents=(Change("c1", "deploy", "chat", T0),))  # type: ignore[arg-type]


def _invalid_cases() -> list[dict[str, Any]]:
    document = json.loads((FIXTURES / "invalid_records.json").read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = document["cases"]
    return cases


@pytest.mark.parametrize("case", _invalid_cases(), ids=[c["name"] for c in _invalid_cases()])
def test_invalid_records_are_refused_with_a_precise_message(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_records(case["records"], source="bad.json")
    for needed in case["error"]:
        assert needed in str(caught.value), (needed, str(caught.value))


def test_load_records_reports_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read KPI records file"):
        load_records(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"incidents": [\n  {"id": "i1",}\n]}', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"broken\.json:2:\d+: not valid JSON"):
        load_records(broken)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInput, match="cannot read KPI records file"):
        load_records(binary)


def test_load_records_ignores_annotations_and_reads_every_section(tmp_path: Path) -> None:
    records = load_records(FIXTURES / "case_week.json")
    assert (len(records.incidents), len(records.alerts), len(records.changes),
            len(records.actions), len(records.drift_checks)) == (9, 11, 8, 12, 9)
    empty = tmp_path / "empty.json"
    empty.write_text('{"description": "nothing yet", "_note": 1}', encoding="utf-8")
    assert load_records(empty) == KpiRecords()


# --- registry, docs and public surface -------------------------------------------------------


def _doc_sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### `([a-z_]+)` — .*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_kpi_is_documented_with_its_formula() -> None:
    sections = _doc_sections()
    assert list(sections) == list(KPI_DEFINITIONS), "docs/kpis.md: one section per KPI, in order"
    text = DOC.read_text(encoding="utf-8")
    for name, definition in KPI_DEFINITIONS.items():
        assert f"### `{name}` — {definition.title}\n" in text
        body = sections[name]
        assert f"Formula: `{definition.formula}`" in body, f"docs/kpis.md: {name} formula"
        better = "Lower is better" if definition.lower_is_better else "Higher is better"
        assert f"Unit: {definition.unit}. {better}. Fed by: {definition.fed_by}." in body, name


def test_registry_entries_are_consistent() -> None:
    for name, definition in KPI_DEFINITIONS.items():
        assert definition.name == name
        assert definition.unit in ("seconds", "ratio", "usd_per_incident")
        assert "[since, until)" in definition.formula
        assert callable(getattr(kpis, name))


@pytest.mark.parametrize("module", [kpis, kpi_records])
def test_public_surface(module: Any) -> None:
    assert sorted(module.__all__) == sorted(set(module.__all__))
    for name in module.__all__:
        assert hasattr(module, name), name
