"""Fixtures for the SDK tests: an initialized SDK over an in-memory exporter, and a real HTTP
server on 127.0.0.1 that records what it is sent and answers what the test tells it to."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import truecourse.sdk as sdk
import truecourse.sdk.setup as sdk_setup

from sdk.sdk_fixtures import Recorded, RecordingServer, Traced, provider


@pytest.fixture(autouse=True)
def _fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sdk_setup._state, "settings", None)  # no init remembered from before
    for name in ("TRUECOURSE_ENDPOINT", "TRUECOURSE_API_KEY", "TRUECOURSE_ENV",
                 "TRUECOURSE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    yield
    sdk.shutdown()


@pytest.fixture
def traced() -> Iterator[Traced]:
    """The SDK initialized on a fresh provider that exports each span as it ends."""
    tp = provider()
    exporter = InMemorySpanExporter()
    handle = sdk.init("test-svc", tracer_provider=tp, exporter=exporter, batch=False)
    yield Traced(tp, exporter, handle)
    sdk.shutdown()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    state = RecordingServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Recorded("POST", self.path, headers, self.rfile.read(length)))
            self.send_response(state.status)
            for k, v in {"Content-Type": "application/json", **state.reply_headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
