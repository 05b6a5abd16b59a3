"""Governance end to end: keys made by the CLI, a real server bound beyond loopback, the real
OpenTelemetry exporter sending with ``OTEL_EXPORTER_OTLP_HEADERS``, isolation between projects,
erasure and retention counted before and after, and a tampered audit log caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from conftest import start_server
from otlp_builders import span, trace_request

pytestmark = pytest.mark.e2e


def _cli(*args: str, key: str | None = None, cwd: Path | None = None,
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("TRUECOURSE_API_KEY", None)
    if key:
        env["TRUECOURSE_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "truecourse", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _spans(base: str, key: str, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/spans", params={"limit": 1000, **params},
                  headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _wait(base: str, key: str, expect: int, **params: Any) -> list[dict[str, Any]]:
    deadline = time.time() + 30
    items: list[dict[str, Any]] = []
    while time.time() < deadline:
        items = _spans(base, key, **params)
        if len(items) >= expect:
            return items
        time.sleep(0.1)
    raise AssertionError(f"expected {expect} spans for {params}, got {len(items)}")


_APP = textwrap.dedent("""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export import SpanExportResult

    class Checked(OTLPSpanExporter):
        def export(self, spans):
            result = super().export(spans)
            print("EXPORT", result.name, flush=True)
            return result

    provider = TracerProvider(resource=Resource.create({"service.name": "{service}"}))
    provider.add_span_processor(SimpleSpanProcessor(Checked()))  # endpoint, headers: env
    tracer = provider.get_tracer("gov")
    for i in range(3):
        user = "u-erase" if i < 2 else "u-keep"
        with tracer.start_as_current_span("request", attributes={"enduser.id": user}):
            with tracer.start_as_current_span("chat") as llm:
                llm.set_attribute("gen_ai.operation.name", "chat")
                llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                llm.set_attribute("gen_ai.input.messages", '[{"role": "user", "parts": '
                                  '[{"type": "text", "content": "hello from %s"}]}]' % user)
    provider.shutdown()
""")


def _run_app(base: str, key: str, service: str, tmp: Path) -> str:
    """A separate app process using only the OTel SDK, configured by the standard env vars."""
    script = tmp / f"app_{service}.py"
    script.write_text(_APP.replace("{service}", service))
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": base,
           "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{key}"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_keys_isolation_erasure_retention_and_audit(tmp_path: Path) -> None:
    db = tmp_path / "gov.duckdb"
    # the first admin key, made on the store before any server runs
    admin = _json(_cli("keys", "create", "--db", str(db), "--scope", "admin", "--name", "ops",
                       "--json"))["key"]
    assert _cli("projects", "create", "acme", "--db", str(db)).returncode == 0
    config = tmp_path / "truecourse.yaml"
    config.write_text("auth:\n  key_cache_s: 0.5\nretention:\n  interval: 1h\n  defaults:\n"
                      "    spans: 400d\n    text: 30d\n")
    server = start_server(tmp_path, "--host", "0.0.0.0", "--config", str(config), db=db)
    base = server.base_url
    try:
        # keys for senders and readers, through the running server's admin API
        make = {}
        for project, scope in (("acme", "ingest"), ("acme", "read"), ("default", "ingest"),
                               ("default", "read")):
            make[f"{scope}:{project}"] = _json(_cli(
                "keys", "create", "--url", base, "--project", project, "--scope", scope,
                "--name", f"{scope}-{project}", "--json", key=admin))["key"]
        r = _cli("keys", "create", "--url", base, "--project", "nope", "--scope", "read",
                 "--name", "x", key=admin)
        assert r.returncode == 2 and "unknown project 'nope'" in r.stderr
        r = _cli("keys", "list", "--url", base, key=make["read:acme"])
        assert r.returncode == 2 and "403" in r.stderr and "admin needs scope 'admin'" in r.stderr

        # the real OTel exporter, configured only by OTEL_EXPORTER_OTLP_* variables
        out = _run_app(base, make["ingest:acme"], "acme-app", tmp_path)
        assert out.count("EXPORT SUCCESS") == 6
        _run_app(base, make["ingest:default"], "default-app", tmp_path)
        refused = _run_app(base, make["read:acme"], "read-key-app", tmp_path)
        assert "EXPORT FAILURE" in refused and "EXPORT SUCCESS" not in refused

        acme = _wait(base, make["read:acme"], 6)
        assert {s["service"] for s in acme} == {"acme-app"}
        default = _wait(base, make["read:default"], 6)
        assert {s["service"] for s in default} == {"default-app"}
        assert _spans(base, admin, service="read-key-app", project="acme") == []
        r = httpx.get(f"{base}/api/v1/spans", params={"project": "acme"},
                      headers={"Authorization": f"Bearer {make['read:default']}"}, timeout=10)
        assert r.status_code == 403

        # erasure: u-erase's two traces (4 spans) in acme go, everything else stays
        r = _cli("erase", "--user-id", "u-erase", "--project", "acme", "--url", base, "--json",
                 key=admin)
        erased = _json(r)
        assert erased["rows"]["spans"] == 4 and erased["matched"]
        left = _spans(base, make["read:acme"])
        assert len(left) == 2 and all("u-erase" not in (s["input_text"] or "") for s in left)
        assert len(_spans(base, make["read:default"])) == 6
        nothing = _json(_cli("erase", "--trace-id", "0" * 32, "--url", base, "--json",
                             key=admin))
        assert not nothing["matched"] and nothing["total"] == 0 and "nothing matched" in \
            nothing["message"]

        # retention: spans older than 400 days go, new ones stay; /metrics says how many
        old = trace_request([span("old-1"), span("old-2"), span("old-3")], service="acme-app")
        r = httpx.post(f"{base}/v1/traces", content=old.SerializeToString(), timeout=10,
                       headers={"content-type": "application/x-protobuf",
                                "Authorization": f"Bearer {make['ingest:acme']}"})
        assert r.status_code == 200
        _wait(base, make["read:acme"], 5)
        dry = _json(_cli("retention", "run", "--dry-run", "--url", base, "--json", key=admin))
        assert dry["removed"]["acme"]["spans"] == 3 and dry["dry_run"]
        assert len(_spans(base, make["read:acme"])) == 5
        ran = _json(_cli("retention", "run", "--url", base, "--json", key=admin))
        assert ran["removed"]["acme"]["spans"] == 3 and ran["audit_seq"] > 0
        assert {s["name"] for s in _spans(base, make["read:acme"])} == {"request", "chat"}
        assert len(_spans(base, make["read:default"])) == 6
        metrics = httpx.get(f"{base}/metrics", timeout=10,
                            headers={"Authorization": f"Bearer {admin}"}).text
        assert 'truecourse_retention_rows_removed_total{kind="spans",project="acme"} 3.0' \
            in metrics

        verified = _cli("audit", "verify", "--url", base, key=admin)
        assert verified.returncode == 0 and "audit log intact" in verified.stdout
        exported = _cli("audit", "export", "--url", base, key=admin)
        actions = [json.loads(line)["action"] for line in exported.stdout.splitlines()]
        assert actions[:3] == ["key.create", "project.create", "config.load"]
        assert actions.count("key.create") == 5 and actions.count("erasure") == 2
        assert "retention.run" in actions
    finally:
        server.stop()

    # with the server stopped: edit one entry in the file, and verify names it
    con = duckdb.connect(str(db))
    con.execute("UPDATE audit_log SET actor = 'someone-else' WHERE action = 'erasure'")
    seq = con.execute("SELECT min(seq) FROM audit_log WHERE action = 'erasure'").fetchone()
    con.close()
    assert seq is not None
    broken = _cli("audit", "verify", "--db", str(db))
    assert broken.returncode == 1
    assert f"audit log BROKEN at entry {seq[0]}" in broken.stderr and "edited" in broken.stderr
