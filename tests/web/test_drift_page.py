"""The Drift page and On-call's drift card draw the stored drift reports of the range: the
features and drift shares on the page are those the drift API returns for the same range."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.drift import DriftReport, compare_frames, frame_from_arrow, save_report
from truecourse.runtime import Runtime

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RANGE = {"since": "2026-11-20T12:00:00Z", "until": "2026-11-20T14:00:00Z"}


def _table(rng: np.random.Generator, n: int, shift: float, mix: list[float]) -> pa.Table:
    return pa.table({
        "amount": rng.normal(shift, 1.0, n),
        "age": rng.normal(40.0, 8.0, n),
        "channel": rng.choice(["web", "app", "store"], n, p=mix).tolist(),
    })


def _report(model: str, shift: float, mix: list[float], at: datetime, seed: int) -> DriftReport:
    rng = np.random.default_rng(seed)
    ref = frame_from_arrow(_table(rng, 5000, 0.0, [0.5, 0.3, 0.2]))
    cur = frame_from_arrow(_table(rng, 5000, shift, mix))
    report = compare_frames(ref, cur, model=model)
    report.created_at = at
    return report


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("webdrift") / "drift.duckdb"
    rt = Runtime.build(parse_config("{}"), db=str(db))
    store = rt.store
    store.migrate()
    # fraud: stable an hour in, then its amount and channel mix drift
    save_report(store, _report("fraud", 0.0, [0.5, 0.3, 0.2], T0 + timedelta(minutes=30), 1))
    save_report(store, _report("fraud", 0.8, [0.2, 0.3, 0.5], T0 + timedelta(minutes=90), 2))
    # support-bot (an LLM service's report): stable
    save_report(store, _report("support-bot", 0.0, [0.5, 0.3, 0.2], T0 + timedelta(hours=1), 3))
    # outside the range: a drifted report a day earlier
    save_report(store, _report("old-model", 1.0, [0.1, 0.1, 0.8], T0 - timedelta(days=1), 4))
    with TestClient(create_app(rt)) as c:
        yield c


def _features(html: str) -> dict[tuple[str, str], str]:
    """(model, feature) -> 'drifted'|'stable' as the page shows it."""
    cards = re.findall(r'<figure class="card feature ([a-z]*)" data-feature="([^"]+)" '
                       r'data-model="([^"]*)"', html)
    return {(model, name): ("drifted" if cls == "drifted" else "stable")
            for cls, name, model in cards}


def test_page_shows_each_models_newest_report_of_the_range(client: TestClient) -> None:
    r = client.get("/drift", params=RANGE)
    assert r.status_code == 200, r.text
    html = r.text
    assert 'id="drift-unavailable"' not in html
    rows = re.findall(r'<tr data-model="([^"]+)">', html)
    assert rows == ["fraud", "support-bot"]  # old-model's report is outside the range
    api = client.get("/api/v1/drift/reports", params=RANGE).json()["reports"]
    assert {r["model"] for r in api} == {"fraud", "support-bot"}
    newest_fraud = next(r for r in api if r["model"] == "fraud")  # newest first
    shown = re.findall(r'<td class="num drift-share">([^<]*)</td>', html)
    assert shown[0] == f"{newest_fraud['drift_share'] * 100:.1f}%"
    doc = client.get(f"/api/v1/drift/reports/{newest_fraud['id']}").json()
    features = _features(html)
    # the fraud model's features are judged as its newest (drifted) report judged them
    assert {c["column"]: c["drifted"] for c in doc["columns"]} == {
        "amount": True, "age": False, "channel": True}
    assert features[("fraud", "amount")] == "drifted"
    assert features[("fraud", "channel")] == "drifted"
    assert features[("fraud", "age")] == "stable"
    assert features[("support-bot", "amount")] == "stable"
    assert "chart-drift-share" in html


def test_service_filter_narrows_to_that_services_reports(client: TestClient) -> None:
    html = client.get("/drift", params={**RANGE, "service": "support-bot"}).text
    assert re.findall(r'<tr data-model="([^"]+)">', html) == ["support-bot"]
    assert set(_features(html).values()) == {"stable"}


def test_a_range_without_reports_says_where_they_come_from(client: TestClient) -> None:
    html = client.get("/drift", params={"since": "2026-11-25T00:00:00Z",
                                        "until": "2026-11-25T01:00:00Z"}).text
    assert 'id="drift-unavailable"' in html and "drift.checks" in html


def test_oncall_lists_models_whose_newest_report_drifted(client: TestClient) -> None:
    html = client.get("/oncall", params=RANGE).text
    card = html.split('id="drift-findings"')[1].split("</section>")[0]
    assert re.findall(r'<tr data-model="([^"]+)">', card) == ["fraud"]
    assert "amount" in card and "channel" in card


def test_api_lists_reports_by_creation_time(client: TestClient) -> None:
    every = client.get("/api/v1/drift/reports").json()["reports"]
    assert len(every) == 4
    day_before = client.get("/api/v1/drift/reports",
                            params={"until": "2026-11-20T00:00:00Z"}).json()["reports"]
    assert [r["model"] for r in day_before] == ["old-model"]
    bad = client.get("/api/v1/drift/reports", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since='yesterday' is not a time" in bad.text
