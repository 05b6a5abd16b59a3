"""The UI in a real browser: Debian's Chromium driven by Playwright against a real server
filled by a seeded simulator run (see :mod:`sim_server`).

Every page loads without console errors and is captured (screenshots under
``$TRUECOURSE_ARTIFACTS``, default ``tmp/artifacts/web``; ``TRUECOURSE_UPDATE_SCREENSHOTS=1``
also refreshes ``docs/screenshots/``); the numbers on the page are the API's for the same range;
filters change the URL and the data; a silence created and expired in the UI is what the API
lists. Chromium missing: skipped, or failed with ``TRUECOURSE_REQUIRE_SERVICES=1`` (CI installs
it in ``.ci/run``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from web.sim_server import FilledServer, start_filled_server

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("TRUECOURSE_CHROMIUM", "/usr/bin/chromium")
REQUIRE = os.environ.get("TRUECOURSE_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TRUECOURSE_ARTIFACTS", ROOT / "tmp" / "artifacts")) / "web"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
UPDATE_DOCS = os.environ.get("TRUECOURSE_UPDATE_SCREENSHOTS") == "1"


def _need_browser() -> Any:
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "the playwright package is not installed (pip install -e '.[test]')"
    if why is None and not Path(CHROMIUM).exists():
        why = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if why is not None:
        if REQUIRE:
            pytest.fail(why + "; TRUECOURSE_REQUIRE_SERVICES=1 needs it")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilledServer]:
    _need_browser()
    fs = start_filled_server(tmp_path_factory.mktemp("sim"))
    try:
        yield fs
    finally:
        fs.server.stop()


class Tab:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser: Any, base: str, **context: Any) -> None:
        self.ctx = browser.new_context(viewport=context.pop("viewport", {"width": 1440,
                                                                          "height": 900}),
                                       **context)
        self.page = self.ctx.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed {r.url}"))

    def open(self, path: str, **params: str) -> Any:
        url = self.base + path + (("&" if "?" in path else "?") + urlencode(params)
                                  if params else "")
        r = self.page.goto(url)
        assert r is not None and r.status == 200, f"{url}: {r.status if r else None}"
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        if UPDATE_DOCS:
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_SHOTS / path.name)
        return path

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.page.url).query)

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def tab(browser: Any, filled: FilledServer) -> Iterator[Tab]:
    t = Tab(browser, filled.url)
    yield t
    t.close()
    assert t.errors == [], "the browser reported errors"


def api(filled: FilledServer, path: str, **params: Any) -> Any:
    r = httpx.get(filled.url + path, params=params, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def number(raw: str | None) -> float | None:
    return None if raw in (None, "", "None") else float(raw)


def a_trace(filled: FilledServer) -> str:
    """A support-assistant trace with a retrieval, a chat call and feedback."""
    events = api(filled, "/api/v1/events", kind="feedback", service="support-assistant",
                 limit=50, **filled.range_params())["items"]
    assert events, "the simulated users left feedback"
    return str(events[0]["trace_id"])


def test_every_page_loads_without_errors_and_is_captured(tab: Tab, filled: FilledServer) -> None:
    rng = filled.range_params()
    pages = {
        "overview": ("/", {}), "oncall": ("/oncall", {}), "services": ("/services", {}),
        "service": ("/services/support-assistant", {}),
        "models": ("/models", {"dimension": "prompt_version", "a": "support-v12",
                               "b": "support-v13"}),
        "traces": ("/traces", {"service": "support-assistant"}),
        "trace": (f"/traces/{a_trace(filled)}", {}),
        "alerts": ("/alerts", {}), "drift": ("/drift", {}),
    }
    charts = {"overview": 3, "oncall": 1, "service": 2}
    for name, (path, params) in pages.items():
        page = tab.open(path, **rng, **params)
        assert page.locator("h1").first.is_visible(), name
        assert page.locator("nav a.active").count() == 1, name
        if name in charts:  # uPlot drew every chart (a canvas each)
            assert page.locator(".chart canvas").count() == charts[name], name
        tab.shot(name, full_page=name != "traces")  # a long list: the first screen is enough
        assert tab.errors == [], f"{name}: {tab.errors}"


def test_overview_numbers_equal_the_api(tab: Tab, filled: FilledServer) -> None:
    rng = filled.range_params()
    page = tab.open("/", **rng)
    metrics = "requests,availability,latency_p95,cost_usd,task_completion_rate"
    total = api(filled, "/api/v1/scorecard", metrics=metrics, **rng)["groups"][0]["metrics"]
    for name in metrics.split(","):
        raw = page.locator(f"#totals [data-metric={name}]").get_attribute("data-value")
        assert number(raw) == pytest.approx(total[name]), name
    assert page.locator("#totals [data-metric=requests]").inner_text() == \
        f"{total['requests'] / 1000:.1f}k"
    per = api(filled, "/api/v1/scorecard", metrics=metrics, group_by="service", **rng)
    rows = page.locator("#services-table tbody tr")
    assert rows.count() == len(per["groups"]) == 8
    for i, g in enumerate(per["groups"]):
        row = rows.nth(i)
        assert row.get_attribute("data-service") == g["group"]["service"]
        for name in ("requests", "availability", "latency_p95"):
            raw = row.locator(f"[data-metric={name}]").get_attribute("data-value")
            assert number(raw) == pytest.approx(g["metrics"][name]), (g["group"], name)
    firing = api(filled, "/api/v1/alerts", status="firing")["count"]
    assert number(page.locator("#totals [data-metric=open_alerts]")
                  .get_attribute("data-value")) == firing


def test_oncall_shows_the_engines_groups_and_the_slo_burn(tab: Tab, filled: FilledServer) -> None:
    rng = filled.range_params()
    page = tab.open("/oncall", **rng)
    groups = api(filled, "/api/v1/alerts/groups")["items"]
    assert [g.get_attribute("data-group") for g in page.locator("#groups .group").all()] == \
        [g["key"] for g in groups]
    shown = page.locator("#groups .group [data-metric=group_alerts]").all()
    assert [number(n.get_attribute("data-value")) for n in shown] == \
        [len(g["alerts"]) for g in groups]
    slos = api(filled, "/api/v1/slo")["items"]
    for s in slos:
        cell = page.locator(f'tr[data-slo="{s["name"]}"] [data-metric=sli]')
        assert number(cell.get_attribute("data-value")) == pytest.approx(s["sli"])
    # the prompt rollout is on the change list and on the chart's time axis
    assert "support-v13" in page.locator("#changes").inner_text()


def test_range_and_filters_change_the_url_and_the_data(tab: Tab, filled: FilledServer) -> None:
    rng = filled.range_params()
    page = tab.open("/", **rng)
    all_requests = number(page.locator("#totals [data-metric=requests]")
                          .get_attribute("data-value"))
    page.fill("input[name=service]", "support-assistant")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert tab.query()["service"] == ["support-assistant"]
    assert tab.query()["since"] == [rng["since"]], "the range survives the filter"
    assert page.locator("#services-table tbody tr").count() == 1
    one = api(filled, "/api/v1/scorecard", metrics="requests", service="support-assistant",
              **rng)["groups"][0]["metrics"]["requests"]
    shown = number(page.locator("#totals [data-metric=requests]").get_attribute("data-value"))
    assert shown == one and shown is not None and all_requests is not None
    assert shown < all_requests
    # the navigation keeps the filter: the traces page opens filtered
    page.click("nav >> text=Traces")
    page.wait_for_load_state("networkidle")
    assert tab.query()["service"] == ["support-assistant"]
    services = {c.inner_text() for c in page.locator("#spans-table tbody tr td:nth-child(2)")
                .all()}
    assert services == {"support-assistant"}
    # a span filter: only tool calls
    page.select_option("select[name=operation]", "tool")
    page.click("#span-search button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert tab.query()["operation"] == ["tool"]
    ops = {c.inner_text() for c in page.locator("#spans-table tbody tr td:nth-child(4)").all()}
    assert ops == {"tool"}
    # a preset range is a relative link
    page.click("a[data-range='6h']")
    page.wait_for_load_state("networkidle")
    assert tab.query()["since"] == ["6h"] and "until" not in tab.query()
    # auto-refresh is in the URL too
    with page.expect_navigation():
        page.select_option("select[name=refresh]", "1m")
    page.wait_for_load_state("networkidle")
    assert tab.query()["refresh"] == ["1m"]
    assert page.locator("body").get_attribute("data-refresh") == "60"


def test_a_silence_created_in_the_ui_is_in_the_api(tab: Tab, filled: FilledServer) -> None:
    page = tab.open("/alerts")
    first = page.locator("#alerts-table tbody tr[data-status=firing]").first
    fingerprint = first.get_attribute("data-fingerprint")
    first.locator("[data-action=prefill-silence]").click()
    matchers = page.input_value("#silence-form textarea[name=matchers]")
    assert matchers.startswith("alertname=")
    page.fill("#silence-form input[name=created_by]", "oncall@example.com")
    page.fill("#silence-form input[name=comment]", "investigating, INC-42")
    page.select_option("#silence-form select[name=duration]", "1h")
    with page.expect_navigation():
        page.click("#silence-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    silences = api(filled, "/api/v1/silences", status="active")["items"]
    mine = [s for s in silences if s["comment"] == "investigating, INC-42"]
    assert len(mine) == 1
    assert mine[0]["matchers"] == matchers.splitlines()
    assert mine[0]["created_by"] == "oncall@example.com"
    row = page.locator(f'tr[data-silence="{mine[0]["id"]}"]')
    assert row.is_visible()
    # the alert it matches is now shown as silenced, as the API says
    alert = next(a for a in api(filled, "/api/v1/alerts")["items"]
                 if a["fingerprint"] == fingerprint)
    assert alert["silenced_by"] == [mine[0]["id"]]
    assert "silenced" in page.locator(f'tr[data-fingerprint="{fingerprint}"]').inner_text()
    tab.shot("alerts-silenced")
    # expire it from the UI
    with page.expect_navigation():
        row.locator("[data-action=expire]").click()
    page.wait_for_load_state("networkidle")
    [s] = [s for s in api(filled, "/api/v1/silences")["items"] if s["id"] == mine[0]["id"]]
    assert s["status"] == "expired"
    # a bad matcher is refused with the API's message, and nothing is created
    page.fill("#silence-form textarea[name=matchers]", "service=~(unclosed")
    page.fill("#silence-form input[name=created_by]", "oncall@example.com")
    page.click("#silence-form button[type=submit]")
    page.wait_for_selector("#silence-error:not(:empty)")
    assert "matchers[0]" in page.inner_text("#silence-error")
    # Chromium logs the refused request itself; that 400 is the expected answer
    assert [e for e in tab.errors if "400 (Bad Request)" in e] != []
    tab.errors = [e for e in tab.errors if "400 (Bad Request)" not in e]
    assert len(api(filled, "/api/v1/silences")["items"]) == len(silences)
    # acknowledge
    page.fill("#ack-by", "oncall@example.com")
    with page.expect_navigation():
        page.locator(f'tr[data-fingerprint="{fingerprint}"] [data-action=ack]').click()
    page.wait_for_load_state("networkidle")
    alert = next(a for a in api(filled, "/api/v1/alerts")["items"]
                 if a["fingerprint"] == fingerprint)
    assert alert["acknowledged_by"] == "oncall@example.com"


def test_trace_waterfall_and_span_details(tab: Tab, filled: FilledServer) -> None:
    tid = a_trace(filled)
    page = tab.open(f"/traces/{tid}", **filled.range_params())
    tree = api(filled, f"/api/v1/traces/{tid}")
    rows = page.locator("#waterfall .wf-row")
    assert rows.count() == tree["span_count"]
    chat = page.locator("#waterfall .wf-row", has=page.locator(".badge.op-chat")).first
    span_id = chat.get_attribute("data-span")
    chat.click()
    detail = page.locator(f"#detail-{span_id}")
    assert detail.is_visible()
    assert re.search(r"\d+ in · \d+ out", detail.locator("[data-field=tokens]").inner_text())
    assert detail.locator("[data-field=cost]").inner_text().startswith("$")
    assert detail.locator("[data-field=input]").inner_text().strip()
    assert page.locator(".span-details .detail:visible").count() == 1
    retrieval = page.locator("#waterfall .wf-row", has=page.locator(".badge.op-retrieval")).first
    retrieval.click()
    docs = page.locator(f"#detail-{retrieval.get_attribute('data-span')} [data-field=documents]")
    assert docs.locator("tbody tr").count() >= 1
    assert "feedback" in page.locator("#feedback").inner_text()
    tab.shot("trace-details")


def test_dark_scheme_and_laptop_width(browser: Any, filled: FilledServer) -> None:
    for name, kw in {"overview-dark": {"color_scheme": "dark"},
                     "oncall-dark": {"color_scheme": "dark"},
                     "overview-laptop": {"viewport": {"width": 1280, "height": 800}}}.items():
        t = Tab(browser, filled.url, **kw)
        try:
            page = t.open("/" if name.startswith("overview") else "/oncall",
                          **filled.range_params())
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            dark = bg == "rgb(13, 17, 23)"
            assert dark == ("dark" in name), (name, bg)
            overflow = page.evaluate("document.documentElement.scrollWidth"
                                     " - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"
            t.shot(name)
            assert t.errors == [], t.errors
        finally:
            t.close()


def test_missing_chromium_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    import web.test_browser as me

    monkeypatch.setattr(me, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setattr(me, "REQUIRE", True)
    with pytest.raises(pytest.fail.Exception, match="Chromium not found"):
        me._need_browser()
    monkeypatch.setattr(me, "REQUIRE", False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        me._need_browser()
