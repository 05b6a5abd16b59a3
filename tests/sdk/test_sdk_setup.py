"""``init`` / ``shutdown``: providers joined or created, idempotence, env fallbacks, export.

The global OpenTelemetry provider can be set once per process, so the tests that need the global
provider run in a fresh interpreter; the rest pass ``tracer_provider=`` explicitly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import truecourse.sdk as sdk
from truecourse.errors import InvalidInput

from sdk.sdk_fixtures import RecordingServer, provider


def names(exporter: InMemorySpanExporter) -> list[str]:
    return [s.name for s in exporter.get_finished_spans()]


def test_init_twice_with_the_same_arguments_adds_nothing() -> None:
    tp, mem = provider(), InMemorySpanExporter()
    first = sdk.init("test-svc", tracer_provider=tp, exporter=mem, batch=False)
    second = sdk.init("test-svc", tracer_provider=tp, exporter=mem, batch=False)
    third = sdk.init("test-svc", exporter=mem, batch=False)  # no provider: keep the current one
    assert first is second is third
    with sdk.span("once"):
        pass
    assert names(mem) == ["once"]


def test_init_with_new_arguments_replaces_the_processor() -> None:
    tp, old, new = provider(), InMemorySpanExporter(), InMemorySpanExporter()
    first = sdk.init("test-svc", tracer_provider=tp, exporter=old, batch=True)
    with sdk.span("before"):
        pass
    second = sdk.init("test-svc", tracer_provider=tp, exporter=new, batch=False)
    with sdk.span("after"):
        pass
    assert names(old) == ["before"]  # flushed when replaced, and nothing since
    assert names(new) == ["after"]
    assert not first.active and second.active
    assert sdk.current_handle() is second


def test_shutdown_flushes_and_detaches_only_truecourse() -> None:
    tp, theirs, ours = provider(), InMemorySpanExporter(), InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(theirs))
    handle = sdk.init("test-svc", tracer_provider=tp, exporter=ours, batch=True)
    with sdk.span("pending"):
        pass
    sdk.shutdown()
    assert names(ours) == ["pending"]
    assert not handle.active and sdk.current_handle() is None

    with tp.get_tracer("app").start_as_current_span("later"):
        pass
    assert names(theirs) == ["pending", "later"]
    assert names(ours) == ["pending"]
    sdk.shutdown()  # safe twice
    handle.shutdown()  # and through a stale handle


def test_reinit_after_shutdown_exports_again_once() -> None:
    tp, first, second = provider(), InMemorySpanExporter(), InMemorySpanExporter()
    sdk.init("test-svc", tracer_provider=tp, exporter=first, batch=False)
    sdk.shutdown()
    sdk.init("test-svc", tracer_provider=tp, exporter=second, batch=False)
    with sdk.span("x"):
        pass
    assert names(first) == [] and names(second) == ["x"]


def test_handle_is_a_context_manager() -> None:
    mem = InMemorySpanExporter()
    with sdk.init("test-svc", tracer_provider=provider(), exporter=mem) as handle:
        with sdk.span("inside"):
            pass
        assert handle.active
    assert not handle.active
    assert names(mem) == ["inside"]


def test_joining_a_provider_with_another_service_warns_once() -> None:
    tp = provider("their-svc")
    with pytest.warns(UserWarning, match="service.name is 'their-svc'"):
        handle = sdk.init("our-svc", tracer_provider=tp, exporter=InMemorySpanExporter())
    assert handle.joined
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sdk.init("our-svc", tracer_provider=tp, exporter=InMemorySpanExporter())


def test_a_provider_that_takes_no_processors_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot take span processors"):
        sdk.init("svc", tracer_provider=object())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"service": ""}, "needs a service name"),
    ({"service": "s", "endpoint": "127.0.0.1:4318"}, "not an http"),
    ({"service": "s", "endpoint": "ftp://host"}, "not an http"),
    ({"service": "s", "endpoint": "http://host:4318/v1/traces"}, "names a route"),
])
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sdk.init(**kwargs, tracer_provider=provider())
    assert sdk.current_handle() is None


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUECOURSE_ENDPOINT", "https://tc.example:9000/")
    monkeypatch.setenv("TRUECOURSE_API_KEY", "env-key")
    monkeypatch.setenv("TRUECOURSE_ENV", "staging")
    monkeypatch.setenv("TRUECOURSE_VERSION", "1.4.0")
    settings = sdk.init("svc", tracer_provider=provider("svc"),
                        exporter=InMemorySpanExporter()).settings
    assert (settings.endpoint, settings.api_key, settings.env, settings.version) == (
        "https://tc.example:9000", "env-key", "staging", "1.4.0")
    assert "env-key" not in repr(settings)

    settings = sdk.init("svc", endpoint="http://other:1", api_key="arg-key", env="prod",
                        version="2", tracer_provider=provider("svc"),
                        exporter=InMemorySpanExporter()).settings
    assert (settings.endpoint, settings.api_key, settings.env, settings.version) == (
        "http://other:1", "arg-key", "prod", "2")


def test_defaults_without_environment() -> None:
    settings = sdk.init("svc", tracer_provider=provider("svc"),
                        exporter=InMemorySpanExporter()).settings
    assert settings.endpoint == sdk.DEFAULT_ENDPOINT == "http://127.0.0.1:4318"
    assert (settings.api_key, settings.env, settings.version) == (None, None, None)
    assert settings.batch and settings.capture_content


def test_spans_reach_a_real_otlp_endpoint(server: RecordingServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server.respond(200, b"", {"Content-Type": "application/x-protobuf"})
    monkeypatch.setenv("TRUECOURSE_ENDPOINT", server.url)
    monkeypatch.setenv("TRUECOURSE_API_KEY", "s3cret")
    sdk.init("svc", tracer_provider=provider("svc"), batch=False)
    with sdk.span("answer", operation="chat", model="gpt-4o") as s:
        s.record_usage(input_tokens=5)

    (request,) = server.requests
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["content-type"] == "application/x-protobuf"
    body = ExportTraceServiceRequest.FromString(request.body)
    (span,) = body.resource_spans[0].scope_spans[0].spans
    assert span.name == "answer"
    assert f"{int.from_bytes(span.trace_id, 'big'):032x}" == s.trace_id
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["gen_ai.request.model"].string_value == "gpt-4o"
    assert attrs["gen_ai.usage.input_tokens"].int_value == 5
    scope = body.resource_spans[0].scope_spans[0].scope
    assert scope.name == "truecourse.sdk"


def run_fresh(code: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRUECOURSE_")}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, env=full_env, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


PRELUDE = """
import json, warnings
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import truecourse.sdk as sdk
from truecourse.errors import InvalidInput
names = lambda exp: [s.name for s in exp.get_finished_spans()]
"""


def test_joins_a_global_provider_the_app_set_up() -> None:
    out = run_fresh(PRELUDE + """
theirs = InMemorySpanExporter()
app_provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
app_provider.add_span_processor(SimpleSpanProcessor(theirs))
trace.set_tracer_provider(app_provider)
ours = InMemorySpanExporter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    handle = sdk.init("bot", env="prod", exporter=ours, batch=False)
with sdk.span("answer", operation="chat", model="m"):
    with trace.get_tracer("app").start_as_current_span("app-child"):
        pass
sdk.shutdown()
with sdk.span("after-shutdown"):
    pass
print(json.dumps({
    "joined": handle.joined,
    "same_provider": trace.get_tracer_provider() is app_provider,
    "resource_service": app_provider.resource.attributes["service.name"],
    "theirs": names(theirs), "ours": names(ours),
    "warnings": [str(w.message) for w in caught],
}))
""")
    assert out["joined"] is True
    assert out["same_provider"] is True
    assert out["resource_service"] == "app"
    assert out["theirs"] == ["app-child", "answer", "after-shutdown"]
    assert out["ours"] == ["app-child", "answer"]
    assert len(out["warnings"]) == 1 and "'app'" in out["warnings"][0]


def test_creates_and_sets_the_global_provider_when_none_is_set() -> None:
    out = run_fresh(PRELUDE + """
mem = InMemorySpanExporter()
first = sdk.init("bot", resource_attributes={"team": "search"}, exporter=mem, batch=False)
provider = trace.get_tracer_provider()
again = sdk.init("bot", resource_attributes={"team": "search"}, exporter=mem, batch=False)
try:
    sdk.init("other-bot", exporter=mem, batch=False)
    conflict = None
except InvalidInput as exc:
    conflict = str(exc)
with trace.get_tracer("any").start_as_current_span("via-global"):
    pass
mem2 = InMemorySpanExporter()
changed = sdk.init("bot", resource_attributes={"team": "search"}, exporter=mem2,
                   capture_content=False, batch=False)
with sdk.span("after-change"):
    pass
print(json.dumps({
    "joined": first.joined, "idempotent": first is again,
    "is_sdk": isinstance(provider, TracerProvider), "owned": provider is first.tracer_provider,
    "resource": {k: v for k, v in provider.resource.attributes.items()
                 if not k.startswith(("telemetry.", "service.instance"))},
    "conflict": conflict, "changed_active": changed.active and not first.active,
    "spans": names(mem), "spans2": names(mem2),
}))
""", env={"TRUECOURSE_ENV": "canary", "TRUECOURSE_VERSION": "7.1"})
    assert out["joined"] is False
    assert out["idempotent"] is True
    assert out["is_sdk"] is True and out["owned"] is True
    assert out["resource"] == {
        "service.name": "bot", "team": "search", "deployment.environment.name": "canary",
        "deployment.environment": "canary", "service.version": "7.1"}
    assert out["conflict"] is not None and "cannot change its resource" in out["conflict"]
    assert out["changed_active"] is True
    assert out["spans"] == ["via-global"]
    assert out["spans2"] == ["after-change"]


def test_importing_the_sdk_stays_light() -> None:
    out = run_fresh("""
import json, sys
import truecourse.sdk
heavy = sorted(m for m in ("pyarrow", "duckdb", "fastapi", "numpy", "uvicorn")
               if m in sys.modules)
print(json.dumps({"heavy": heavy}))
""")
    assert out["heavy"] == []
