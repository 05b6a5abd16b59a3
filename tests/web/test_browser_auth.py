"""The UI on a server with API keys, in a real browser: sign in at /login with a key, see only
the key's project, and act with an operate key (the action lands in the audit log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from web.test_browser import Tab, _need_browser, browser  # noqa: F401 - the browser fixture

from conftest import ServerProcess, start_server
from otlp_builders import span, trace_request

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _key(db: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "truecourse", "keys", "create", "--db", str(db),
                          "--json", *args], capture_output=True, text=True, timeout=120,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["key"])


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    _need_browser()
    tmp = tmp_path_factory.mktemp("keyed")
    db = tmp / "keyed.duckdb"
    subprocess.run([sys.executable, "-m", "truecourse", "projects", "create", "acme", "--db",
                    str(db)], check=True, capture_output=True, timeout=120)
    keys = {"admin": _key(db, "--scope", "admin", "--name", "ops"),
            "ingest": _key(db, "--project", "acme", "--scope", "ingest", "--name", "sender"),
            "read": _key(db, "--project", "acme", "--scope", "read", "--name", "viewer"),
            "operate": _key(db, "--project", "acme", "--scope", "operate", "--name", "oncall"),
            "other": _key(db, "--scope", "ingest", "--name", "default-sender")}
    server = start_server(tmp, db=db)
    for token, service in ((keys["ingest"], "acme-app"), (keys["other"], "default-app")):
        body = trace_request([span("GET /orders", start_ns=1_764_900_000 * 10**9)],
                             service=service).SerializeToString()
        r = httpx.post(f"{server.base_url}/v1/traces", content=body, timeout=30,
                       headers={"content-type": "application/x-protobuf",
                                "Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    try:
        yield server, keys
    finally:
        server.stop()


def _sign_in(tab: Tab, key: str, path: str) -> Any:
    page = tab.page
    page.goto(tab.base + path)
    assert "/login" in page.url
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_sign_in_shows_only_the_keys_project(browser: Any,  # noqa: F811
                                             keyed: tuple[ServerProcess, dict]) -> None:
    server, keys = keyed
    tab = Tab(browser, server.base_url)
    try:
        page = tab.page
        page.goto(server.base_url + "/login")
        page.fill("#key", keys["ingest"])
        page.click("button[type=submit]")
        assert "read needs scope" in page.inner_text("#login-error")
        page = _sign_in(tab, keys["read"], "/traces?since=2025-12-01T00:00:00Z")
        assert "/traces" in page.url and "/login" not in page.url
        text = page.inner_text("body")
        assert "acme-app" in text and "default-app" not in text
        assert "project: acme" in text
        tab.shot("login-traces")
    finally:
        tab.close()
    # the 401 of the sign-in attempt with a wrong key is the only error the page may log
    assert all("401" in e or "403" in e for e in tab.errors), tab.errors


def test_operate_key_creates_a_silence_in_the_ui_and_it_is_audited(
        browser: Any, keyed: tuple[ServerProcess, dict]) -> None:  # noqa: F811
    server, keys = keyed
    tab = Tab(browser, server.base_url)
    try:
        page = _sign_in(tab, keys["operate"], "/alerts")
        page.fill("#silence-form textarea[name=matchers]", "service=acme-app")
        page.fill("#silence-form input[name=created_by]", "oncall@example.com")
        page.fill("#silence-form input[name=comment]", "maintenance")
        with page.expect_navigation():
            page.click("#silence-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "maintenance" in page.inner_text("#silences-table")
    finally:
        tab.close()
    assert tab.errors == []
    audit = httpx.get(f"{server.base_url}/api/v1/admin/audit", timeout=30,
                      headers={"Authorization": f"Bearer {keys['admin']}"}).json()["entries"]
    [entry] = [e for e in audit if e["action"] == "silence.create"]
    assert entry["actor"].endswith("(oncall)") and entry["project"] == "acme"
    assert entry["details"]["matchers"] == ["service=acme-app"]
