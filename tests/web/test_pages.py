"""Each page's HTML through the ASGI app (TestClient) on the scorecard fixture fleet: the
numbers on the page are the API's numbers for the same range, and bad input gets the error
page with the right status and a message that says how to fix it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from measure.scorecard_fixture import T0, Fleet, build_fleet
from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.runtime import Runtime

SINCE = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
UNTIL = (T0 + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
RANGE = {"since": SINCE, "until": UNTIL}
CONFIG = """
catalog:
  services:
    chat-api: {owner: alice@example.com, team: assistants, tier: 1, oncall: assistants-pager,
               dependencies: [search-api, openai]}
    search-api: {owner: bob@example.com, team: search, tier: 2}
detect:
  slos:
    - name: chat-api-availability
      service: chat-api
      objective: 0.99
      good: [{field: status_code, op: '!=', value: error}]
"""


@pytest.fixture(scope="module")
def fleet_and_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet,
                                                                                 TestClient]]:
    db = tmp_path_factory.mktemp("web") / "fleet.duckdb"
    fleet = build_fleet(db)
    fleet.store.close()
    rt = Runtime.build(parse_config(CONFIG), db=str(db))
    with TestClient(create_app(rt)) as client:
        yield fleet, client


@pytest.fixture
def client(fleet_and_client: tuple[Fleet, TestClient]) -> TestClient:
    return fleet_and_client[1]


def values(html: str, metric: str) -> list[str]:
    """The raw ``data-value`` of every element showing ``metric``, in page order."""
    return re.findall(rf'data-metric="{metric}" data-value="([^"]*)"', html)


def as_number(raw: str) -> float | None:
    return None if raw in ("None", "") else float(raw)


def api(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("path", ["/", "/oncall", "/services", "/services/chat-api", "/models",
                                  "/traces", "/alerts", "/drift"])
def test_every_page_renders_in_the_layout(client: TestClient, path: str) -> None:
    r = client.get(path, params=RANGE)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<nav class="nav">' in html and "/static/app.js" in html
    # every nav link keeps the range: a link is the view
    assert f'href="/traces?since={SINCE.replace(":", "%3A")}' in html
    assert "https://" not in html.split("<main")[0], "no CDN in the page head"


def test_overview_numbers_are_the_api_scorecard(client: TestClient) -> None:
    html = client.get("/", params=RANGE).text
    metrics = ("requests,availability,latency_p95,cost_usd,cost_per_completed_task,"
               "task_completion_rate,negative_feedback_rate")
    total = api(client, "/api/v1/scorecard", metrics=metrics, **RANGE)["groups"][0]["metrics"]
    per = api(client, "/api/v1/scorecard", metrics=metrics, group_by="service", **RANGE)
    assert as_number(values(html, "requests")[0]) == total["requests"] == 7
    assert as_number(values(html, "latency_p95")[0]) == pytest.approx(total["latency_p95"])
    # the service table, in the API's order
    rows = re.findall(r'<tr data-service="([^"]+)">', html)
    assert rows == [g["group"]["service"] for g in per["groups"]] == ["chat-api", "search-api"]
    for i, g in enumerate(per["groups"], start=1):
        for name in ("requests", "availability", "cost_usd"):
            assert as_number(values(html, name)[i]) == pytest.approx(g["metrics"][name])
    # SLO budget of chat-api is drawn next to it; none for search-api
    assert "no SLO" in html and 'title="chat-api-availability' in html


def test_filters_change_the_data(client: TestClient) -> None:
    html = client.get("/", params={**RANGE, "service": "search-api"}).text
    assert re.findall(r'<tr data-service="([^"]+)">', html) == ["search-api"]
    assert as_number(values(html, "requests")[0]) == 3
    # links keep the filter
    assert "service=search-api" in re.search(r'href="(/oncall[^"]*)"', html).group(1)


def test_models_scorecard_and_compare_with_significance(client: TestClient) -> None:
    html = client.get("/models", params={**RANGE, "dimension": "prompt_version", "a": "v7",
                                         "b": "v8"}).text
    card = api(client, "/api/v1/scorecard", group_by="model,prompt_version",
               metrics="requests", **RANGE)
    assert len(re.findall(r'<tr data-group="', html)) == len(card["groups"])
    cmp = api(client, "/api/v1/compare", dimension="prompt_version", a="v7", b="v8", **RANGE)
    rows = dict(re.findall(r'data-metric-row="([^"]+)" data-verdict="([^"]+)"', html))
    api_verdicts = {m["name"]: m["verdict"] for m in cmp["metrics"]}
    assert rows and all(api_verdicts[k] == v for k, v in rows.items())


def test_traces_list_and_waterfall_with_genai_fields_and_feedback(
        fleet_and_client: tuple[Fleet, TestClient]) -> None:
    fleet, client = fleet_and_client
    html = client.get("/traces", params={**RANGE, "operation": "chat"}).text
    api_spans = api(client, "/api/v1/spans", operation="chat", limit=50, **RANGE)["items"]
    assert re.findall(r'<tr data-span="([^"]+)"', html) == [s["span_id"] for s in api_spans]
    tid = fleet.trace_ids["B"]
    html = client.get(f"/traces/{tid}", params=RANGE).text
    tree = api(client, f"/api/v1/traces/{tid}")
    assert as_number(values(html, "span_count")[0]) == tree["span_count"]
    assert 'data-field="tokens">2000 in · 500 out' in html
    assert 'data-field="tool">web_search · failed' in html
    assert "Linked feedback" in html and "thumbs down" in html


def test_services_catalog_and_graph(client: TestClient) -> None:
    html = client.get("/services", params=RANGE).text
    assert 'data-node="openai"' in html and 'data-node="chat-api"' in html
    assert "alice@example.com" in html and "assistants-pager" in html
    html = client.get("/services/chat-api", params=RANGE).text
    card = api(client, "/api/v1/scorecard", service="chat-api", metrics="requests,error_rate",
               **RANGE)["groups"][0]["metrics"]
    assert as_number(values(html, "requests")[0]) == card["requests"]
    assert as_number(values(html, "error_rate")[0]) == pytest.approx(card["error_rate"])


def test_alerts_page_lists_silences_from_the_api(client: TestClient) -> None:
    r = client.post("/api/v1/silences", json={"matchers": ["service=chat-api"],
                                              "duration": "1h", "created_by": "carol"})
    assert r.status_code == 201
    sid = r.json()["id"]
    html = client.get("/alerts").text
    assert f'data-silence="{sid}"' in html and "service=chat-api" in html
    client.delete(f"/api/v1/silences/{sid}")
    html = client.get("/alerts", params={"silences": "expired"}).text
    assert f'data-silence="{sid}"' in html and "sil-expired" in html


def test_drift_page_without_reports_says_where_they_come_from(client: TestClient) -> None:
    html = client.get("/drift", params=RANGE).text
    assert 'id="drift-unavailable"' in html and "drift.checks" in html


@pytest.mark.parametrize(("path", "params", "status", "message"), [
    ("/", {"since": "yesterday"}, 400, "since=&#39;yesterday&#39; is not a time"),
    ("/", {"since": "1h", "until": "2h"}, 400, "the time window is inverted"),
    ("/", {"refresh": "10s"}, 400, "refresh=&#39;10s&#39; is not valid"),
    ("/traces", {"operation": "chatt"}, 400, "did you mean &#39;chat&#39;?"),
    ("/traces/abc", {}, 400, "is not 32 hex characters"),
    ("/traces/" + "0" * 32, {}, 404, "not found"),
    ("/services/nope", {}, 404, "not in the catalog"),
    ("/models", {"dimension": "prompt_version", "a": "v7", "b": "v7"}, 400, "both"),
    ("/alerts", {"status": "open"}, 400, "status=&#39;open&#39; is not valid"),
])
def test_bad_input_gets_the_error_page(client: TestClient, path: str, params: dict[str, str],
                                       status: int, message: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert message in r.text
    assert '<nav class="nav">' in r.text, "the layout stays, so the user can navigate away"


def test_static_assets_ship_with_the_package(client: TestClient) -> None:
    for asset in ("app.css", "app.js", "favicon.svg", "vendor/uPlot.iife.min.js",
                  "vendor/uPlot.min.css", "vendor/uPlot.LICENSE"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and r.content, asset
    assert "MIT" in client.get("/static/vendor/uPlot.LICENSE").text


def test_telemetry_text_is_data_not_markup(client: TestClient) -> None:
    """An external alert's text and links are shown, never run: no script, no javascript:."""
    body = {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": "Evil<script>x()</script>",
                                       "service": "chat-api"},
        "annotations": {"summary": "<img src=x onerror=alert(1)>"},
        "startsAt": "2026-11-01T00:00:00Z", "generatorURL": "javascript:alert(1)"}]}
    r = client.post("/api/v1/alerts/alertmanager", json=body)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    for path in ("/alerts", "/oncall"):
        html = client.get(path).text
        assert "Evil&lt;script&gt;" in html or path == "/oncall"
        assert "<script>x()" not in html and "<img src=x" not in html
        assert "javascript:alert" not in html


def test_an_empty_server_renders_every_page(tmp_path: Path) -> None:
    """A fresh install: no spans, no catalog, no SLOs — every page says so instead of failing."""
    rt = Runtime.build(parse_config(""), db=str(tmp_path / "empty.duckdb"))
    with TestClient(create_app(rt)) as c:
        for path in ("/", "/oncall", "/services", "/models", "/traces", "/alerts", "/drift"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[:500])
        assert "No requests in this range" in c.get("/").text
        assert "Nothing is firing" in c.get("/oncall").text
        assert "No SLOs configured" in c.get("/oncall").text
        assert "No spans match" in c.get("/traces").text
