"""Client-side masking: ``init(guard=...)`` masks spans before the exporter sees them — with an
in-memory exporter, and end to end through the real OTLP exporter to a real server whose own
guard is off (so only the client can have masked what the store holds)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import truecourse.sdk as sdk
from truecourse.errors import InvalidInput

from conftest import start_server
from sdk.sdk_fixtures import provider

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
TOKEN = "ghp_" + "aB3dE6gH9j" * 4


def _export(guard: object, **span_attrs: object) -> list[dict[str, object]]:
    exporter = InMemorySpanExporter()
    sdk.init("test-svc", tracer_provider=provider(), exporter=exporter, batch=False, guard=guard)
    with sdk.span("chat", operation="chat") as s:
        s.record_input(f"my card is {CARD}, mail {EMAIL}")
        for k, v in span_attrs.items():
            s.set_attribute(k, v)
    sdk.shutdown()
    [span] = exporter.get_finished_spans()
    return [dict(span.attributes or {}), [(e.name, dict(e.attributes or {}))
                                          for e in span.events]]


def test_guard_masks_attributes_and_adds_safety_events() -> None:
    attrs, events = _export(True, **{"user.email": EMAIL, "tags": ["ok", TOKEN], "n": 3})
    text = orjson.dumps([attrs, events]).decode()
    assert EMAIL not in text and CARD not in text and TOKEN not in text
    assert attrs["user.email"] == "<EMAIL>" and attrs["tags"] == ("ok", "<GITHUB_TOKEN>")
    assert attrs["n"] == 3
    assert "<CREDIT_CARD>" in str(attrs["gen_ai.input.messages"])
    safety = [a for name, a in events if name == "truecourse.safety"]
    assert {(a["safety.type"], a["safety.field"]) for a in safety} >= {
        ("EMAIL", "attributes.user.email"), ("GITHUB_TOKEN", "attributes.tags"),
        ("CREDIT_CARD", "attributes.gen_ai.input.messages")}


def test_guard_policies_apply_client_side() -> None:
    attrs, _ = _export({"fields": [{"field": "attributes.user.email", "action": "drop"}],
                        "actions": {"CREDIT_CARD": "partial"}}, **{"user.email": EMAIL})
    assert "user.email" not in attrs
    assert "****1111" in str(attrs["gen_ai.input.messages"])


def test_guard_off_by_default_and_on_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    attrs, _ = _export(None, **{"user.email": EMAIL})
    assert attrs["user.email"] == EMAIL
    monkeypatch.setenv("TRUECOURSE_GUARD", "1")
    attrs, _ = _export(None, **{"user.email": EMAIL})
    assert attrs["user.email"] == "<EMAIL>"


def test_invalid_guard_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"init\(guard=\.\.\.\) settings are invalid"):
        sdk.init("x", tracer_provider=provider(), exporter=InMemorySpanExporter(),
                 guard={"types": ["EMAL"]})


@pytest.mark.e2e
def test_sdk_masks_before_export_to_a_real_server(tmp_path: Path) -> None:
    config = tmp_path / "truecourse.yaml"
    config.write_text("pipeline:\n  processors:\n    - normalize\n"
                      "    - guard: {detect: false, injection: {enabled: false}}\n")
    server = start_server(tmp_path, "--config", str(config))
    app = textwrap.dedent(f"""
        import truecourse
        truecourse.init(service="guarded-app", endpoint="{server.base_url}", guard=True)
        with truecourse.span("chat", operation="chat") as s:
            s.record_input("card {CARD} and mail {EMAIL}")
            s.set_attribute("deploy.token", "{TOKEN}")
        truecourse.shutdown()
    """)
    try:
        done = subprocess.run([sys.executable, "-c", app], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        deadline = time.time() + 30
        import httpx

        while time.time() < deadline:
            items = httpx.get(f"{server.base_url}/api/v1/spans",
                              params={"service": "guarded-app"}, timeout=10).json()["items"]
            if items:
                break
            time.sleep(0.1)
    finally:
        server.stop()
    with duckdb.connect(str(server.db), read_only=True) as con:
        rows = con.execute("SELECT input_text, attributes, events FROM spans "
                           "WHERE service = 'guarded-app'").fetchall()
    assert len(rows) == 1
    stored = orjson.dumps(rows).decode()
    assert CARD not in stored and EMAIL not in stored and TOKEN not in stored
    input_text, attributes, events = rows[0]
    assert "<CREDIT_CARD>" in input_text and "<EMAIL>" in input_text
    assert orjson.loads(attributes)["deploy.token"] == "<GITHUB_TOKEN>"
    safety = [e["attributes"] for e in orjson.loads(events) if e["name"] == "truecourse.safety"]
    assert {a["safety.type"] for a in safety} == {"CREDIT_CARD", "EMAIL", "GITHUB_TOKEN"}
