"""``truecourse.feedback`` against a real HTTP server: the body sent and the error mapping."""

from __future__ import annotations

import socket

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import truecourse.sdk as sdk
from truecourse.errors import InvalidInput, RetryableError

from sdk.sdk_fixtures import RecordingServer, provider

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


def test_posts_a_validated_feedback_event(server: RecordingServer) -> None:
    server.respond(200, {"accepted": 1, "ids": ["server-id"]})
    event_id = sdk.feedback(TRACE.upper(), SPAN, score=0.2, thumbs="down", comment="wrong",
                            correction="30 days", actor="user-9", endpoint=server.url)
    assert event_id == "server-id"
    (request,) = server.requests
    assert request.path == "/api/v1/events"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    body = request.json()
    assert body["kind"] == "feedback"
    assert (body["trace_id"], body["span_id"]) == (TRACE, SPAN)
    assert (body["score"], body["thumbs"], body["comment"], body["correction"], body["actor"]) == (
        0.2, "down", "wrong", "30 days", "user-9")
    assert len(body["id"]) == 32 and body["time"].endswith("Z")
    assert "service" not in body  # not initialized: nothing invented


def test_uses_the_current_span_and_init_settings(server: RecordingServer) -> None:
    sdk.init("bot", endpoint=server.url, api_key="k1", env="prod", version="3",
             tracer_provider=provider("bot"), exporter=InMemorySpanExporter(), batch=False)
    server.respond(200, {"accepted": 1, "ids": []})
    with sdk.span("answer", operation="chat") as s:
        event_id = sdk.feedback(thumbs="up")
    body = server.requests[0].json()
    assert event_id == body["id"]  # the server returned no ids: ours is the id
    assert (body["trace_id"], body["span_id"]) == (s.trace_id, s.span_id)
    assert (body["service"], body["env"], body["version"]) == ("bot", "prod", "3")
    assert server.requests[0].headers["authorization"] == "Bearer k1"


def test_after_shutdown_init_settings_still_apply(server: RecordingServer) -> None:
    sdk.init("bot", endpoint=server.url, api_key="k2", tracer_provider=provider("bot"),
             exporter=InMemorySpanExporter())
    sdk.shutdown()
    sdk.feedback(TRACE, comment="late")
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer k2"
    assert request.json()["service"] == "bot"


def test_environment_endpoint_and_key(server: RecordingServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUECOURSE_ENDPOINT", server.url)
    monkeypatch.setenv("TRUECOURSE_API_KEY", "env-key")
    sdk.feedback(trace_id=TRACE, score=4)
    assert server.requests[0].headers["authorization"] == "Bearer env-key"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trace_id": TRACE}, "at least one of score, thumbs"),
    ({"score": 1.0}, "must link to a trace_id or span_id"),
    ({"trace_id": "xyz", "score": 1.0}, "trace_id: trace_id must be 32 hex"),
    ({"trace_id": TRACE, "thumbs": "sideways"}, "thumbs"),
    ({"trace_id": TRACE, "score": 1.0, "attributes": {"x": object()}}, "serialize"),
])
def test_invalid_feedback_is_refused_before_sending(server: RecordingServer,
                                                    kwargs: dict[str, object],
                                                    message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sdk.feedback(**kwargs, endpoint=server.url)  # type: ignore[arg-type]
    assert server.requests == []


def test_a_4xx_is_invalid_input_with_the_server_message(server: RecordingServer) -> None:
    server.respond(400, {"detail": "unknown trace"})
    with pytest.raises(InvalidInput, match=r"\(400 from .*\): unknown trace"):
        sdk.feedback(TRACE, score=1, endpoint=server.url)


def test_fastapi_422_details_are_joined(server: RecordingServer) -> None:
    server.respond(422, {"detail": [{"loc": ["body", "score"], "msg": "too big"}]})
    with pytest.raises(InvalidInput, match=r"body\.score: too big"):
        sdk.feedback(TRACE, score=1, endpoint=server.url)


def test_401_is_invalid_input(server: RecordingServer) -> None:
    server.respond(401, b"missing API key")
    with pytest.raises(InvalidInput, match="missing API key"):
        sdk.feedback(TRACE, score=1, endpoint=server.url)


@pytest.mark.parametrize("status", [503, 500, 429])
def test_5xx_and_429_are_retryable(server: RecordingServer, status: int) -> None:
    server.respond(status, {"message": "queue full"}, {"Retry-After": "7"})
    with pytest.raises(RetryableError, match="queue full") as info:
        sdk.feedback(TRACE, score=1, endpoint=server.url)
    assert info.value.retry_after_s == 7


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError, match="could not send feedback") as info:
        sdk.feedback(TRACE, score=1, endpoint=f"http://127.0.0.1:{port}", timeout_s=2)
    assert info.value.__cause__ is not None


def test_each_call_is_a_new_event(server: RecordingServer) -> None:
    server.respond(200, {"accepted": 1, "ids": ["a"]})
    first = sdk.feedback(TRACE, score=1, endpoint=server.url)
    second = sdk.feedback(TRACE, score=1, endpoint=server.url)
    ids = [r.json()["id"] for r in server.requests]
    assert first == second == "a"
    assert ids[0] != ids[1]
