"""End to end: real OpenTelemetry SDK exporters and the TrueCourse SDK against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx
import pytest

from conftest import ServerProcess

pytestmark = pytest.mark.e2e


def wait_for_spans(base: str, expect: int, **params: Any) -> list[dict[str, Any]]:
    deadline = time.time() + 30
    items: list[dict[str, Any]] = []
    while time.time() < deadline:
        items = httpx.get(f"{base}/api/v1/spans", params=params, timeout=10).json()["items"]
        if len(items) >= expect:
            return items
        time.sleep(0.1)
    raise AssertionError(f"expected {expect} spans for {params}, got {items}")


def test_plain_opentelemetry_sdk_app(server: ServerProcess) -> None:
    """An app instrumented with nothing but the OTel SDK and its OTLP/HTTP exporter."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({
        "service.name": "plain-otel-app", "deployment.environment.name": "staging",
        "service.version": "3.1.0"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{server.base_url}/v1/traces")))
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("handle_request") as root:
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.usage.input_tokens", 321)
            llm.set_attribute("gen_ai.usage.output_tokens", 42)
            llm.set_attribute("llm.prompt_template.version", "support-v7")
            llm.set_attribute("gen_ai.input.messages", json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}]))
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush(10_000)
    provider.shutdown()

    [chat] = wait_for_spans(server.base_url, 1, service="plain-otel-app", operation="chat")
    assert chat["model"] == "gpt-4o-mini" and chat["provider"] == "openai"
    assert (chat["input_tokens"], chat["output_tokens"]) == (321, 42)
    assert chat["prompt_version"] == "support-v7"
    assert chat["env"] == "staging" and chat["version"] == "3.1.0"
    assert "Where is my order?" in chat["input_text"]

    tree = httpx.get(f"{server.base_url}/api/v1/traces/{trace_id}", timeout=10).json()
    assert tree["span_count"] == 2
    assert tree["roots"][0]["name"] == "handle_request"
    assert tree["roots"][0]["children"][0]["name"] == "chat gpt-4o-mini"

    # and the CLI shows the same through the API
    out = subprocess.run(
        [sys.executable, "-m", "truecourse", "spans", "--url", server.base_url,
         "--service", "plain-otel-app", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["items"]
    assert {r["name"] for r in rows} == {"handle_request", "chat gpt-4o-mini"}
    table = subprocess.run(
        [sys.executable, "-m", "truecourse", "spans", "--url", server.base_url,
         "--model", "gpt-4o-mini"], capture_output=True, text=True, timeout=60,
        env={"COLUMNS": "200", "PATH": ""})
    assert table.returncode == 0, table.stderr
    assert "gpt-4o-mini" in table.stdout and "321/42" in table.stdout


def test_truecourse_sdk_app_with_feedback(server: ServerProcess) -> None:
    """An app using truecourse.init / span / trace / feedback, in its own process."""
    app = textwrap.dedent(f"""
        import truecourse

        truecourse.init(service="sdk-app", endpoint="{server.base_url}", env="prod",
                        version="9.9.9")

        @truecourse.trace(name="answer", operation="agent")
        def answer(question):
            with truecourse.span("chat claude", operation="chat", provider="anthropic",
                                 model="claude-sonnet-4", prompt_version="qa-v3") as s:
                s.record_input(question)
                s.record_output("Your order ships tomorrow.", finish_reason="stop")
                s.record_usage(input_tokens=55, output_tokens=7)
            with truecourse.span("lookup_order", operation="tool", tool_name="orders.get") as t:
                t.record_tool_call("orders.get", arguments={{"id": 1}}, result={{"ok": True}})
            return truecourse.current_trace_id()

        trace_id = answer("Where is my order?")
        truecourse.shutdown()
        event_id = truecourse.feedback(trace_id=trace_id, thumbs="down",
                                       comment="wrong order", correction="It shipped today.")
        print(trace_id, event_id)
    """)
    done = subprocess.run([sys.executable, "-c", app], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    trace_id, event_id = done.stdout.split()

    spans = wait_for_spans(server.base_url, 3, service="sdk-app")
    by_name = {s["name"]: s for s in spans}
    chat = by_name["chat claude"]
    assert chat["model"] == "claude-sonnet-4" and chat["provider"] == "anthropic"
    assert (chat["input_tokens"], chat["output_tokens"]) == (55, 7)
    assert chat["prompt_version"] == "qa-v3" and chat["operation"] == "chat"
    assert "ships tomorrow" in chat["output_text"]
    assert chat["env"] == "prod" and chat["version"] == "9.9.9"
    assert by_name["lookup_order"]["tool_name"] == "orders.get"
    assert by_name["lookup_order"]["tool_ok"] is True
    assert by_name["answer"]["operation"] == "agent"

    events = httpx.get(f"{server.base_url}/api/v1/events",
                       params={"kind": "feedback", "trace_id": trace_id}, timeout=10).json()
    [fb] = events["items"]
    assert fb["id"] == event_id and fb["score"] == 0.0
    assert fb["payload"]["correction"] == "It shipped today."
