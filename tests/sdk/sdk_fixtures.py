"""Shared test types for the SDK tests (a module, not conftest, so tests can import them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import truecourse.sdk as sdk


def provider(service: str = "test-svc") -> TracerProvider:
    """A fresh provider whose resource names ``service`` (so joining it does not warn)."""
    return TracerProvider(resource=Resource.create({"service.name": service}))


@dataclass
class Traced:
    """What the ``traced`` fixture set up."""

    provider: TracerProvider
    exporter: InMemorySpanExporter
    handle: sdk.TrueCourseHandle


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    """Lowercased names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    """A real HTTP server; answers every request with ``status``/``reply``/``reply_headers``."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"{}"
    reply_headers: dict[str, str] = field(default_factory=dict)

    def respond(self, status: int, reply: Any = None, headers: dict[str, str] | None = None,
                ) -> None:
        self.status = status
        self.reply = reply if isinstance(reply, bytes) else json.dumps(reply or {}).encode()
        self.reply_headers = headers or {}
