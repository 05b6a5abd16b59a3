"""``feedback``: send a user's verdict on an answer to TrueCourse, linked to the answer's span.

The event is validated locally with the server's own schema
(:class:`truecourse.model.events.FeedbackEvent`) and sent as JSON to
``POST {endpoint}/api/v1/events``. Its id is generated here, so a retry after a
:class:`~truecourse.errors.RetryableError` stores the event once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from opentelemetry import trace as otel_trace

from truecourse.errors import InvalidInput, RetryableError
from truecourse.sdk.setup import (
    auth_headers,
    configured_settings,
    resolve_api_key,
    resolve_endpoint,
)

EVENTS_PATH = "/api/v1/events"


def feedback(
    trace_id: str | None = None,
    span_id: str | None = None,
    *,
    score: float | None = None,
    thumbs: Literal["up", "down"] | None = None,
    comment: str | None = None,
    correction: str | None = None,
    actor: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 5.0,
) -> str:
    """Send a feedback event and return its id once the server has stored it.

    Without ``trace_id`` and ``span_id`` the event links to the span the caller runs in. It
    needs at least one of ``score``, ``thumbs``, ``comment``, ``correction``. Service, env and
    version come from the last ``init``, even after ``shutdown``. The endpoint and key are the
    arguments, else that ``init``'s, else ``$TRUECOURSE_ENDPOINT`` / ``$TRUECOURSE_API_KEY``.
    Blocks for at most about ``timeout_s``.

    Raises :class:`~truecourse.errors.InvalidInput` when the event is invalid (checked before
    anything is sent) or the server answers 4xx (the message is the server's), and
    :class:`~truecourse.errors.RetryableError` when the server cannot be reached, times out, or
    answers 408, 429 or 5xx.
    """
    if trace_id is None and span_id is None:
        ctx = otel_trace.get_current_span().get_span_context()
        if ctx.is_valid:
            trace_id = otel_trace.format_trace_id(ctx.trace_id)
            span_id = otel_trace.format_span_id(ctx.span_id)
    settings = configured_settings()
    fields: dict[str, Any] = {
        "kind": "feedback", "trace_id": trace_id, "span_id": span_id, "score": score,
        "thumbs": thumbs, "comment": comment, "correction": correction, "actor": actor,
        "attributes": dict(attributes or {}),
    }
    if settings is not None:
        fields.update(service=settings.service, env=settings.env, version=settings.version)
    body = _validated(fields)

    base = settings.endpoint if endpoint is None and settings else resolve_endpoint(endpoint)
    key = settings.api_key if api_key is None and settings else resolve_api_key(api_key)
    url = f"{base}{EVENTS_PATH}"
    headers = {"User-Agent": "truecourse-sdk", **auth_headers(key)}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=timeout_s)
    except httpx.TransportError as exc:
        raise RetryableError(f"could not send feedback to {url}: {exc}",
                             hint="is the TrueCourse server running?") from exc
    return _accepted_id(response, url, body["id"])


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    """The event as the JSON body to send; InvalidInput naming each problem otherwise."""
    # Imported here: truecourse.model pulls in pyarrow, which `import truecourse` should not pay
    # for until feedback is actually sent.
    from pydantic import ValidationError
    from pydantic_core import PydanticSerializationError

    from truecourse.model.events import FeedbackEvent

    try:
        event = FeedbackEvent.model_validate({k: v for k, v in fields.items() if v is not None})
        return event.model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise InvalidInput(f"invalid feedback: {_describe(exc)}") from exc
    except PydanticSerializationError as exc:  # e.g. an attribute value JSON cannot hold
        raise InvalidInput(f"invalid feedback: {exc}") from exc


def _describe(exc: Any) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return "; ".join(problems)


def _accepted_id(response: httpx.Response, url: str, sent_id: str) -> str:
    status = response.status_code
    if response.is_success:
        ids = _json(response).get("ids")
        return str(ids[0]) if isinstance(ids, list) and ids else sent_id
    message = _server_message(response)
    if status in (408, 429) or status >= 500:
        raise RetryableError(f"TrueCourse could not take the feedback now ({status}): {message}",
                             retry_after_s=_retry_after(response))
    raise InvalidInput(f"TrueCourse rejected the feedback ({status} from {url}): {message}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _server_message(response: httpx.Response) -> str:
    data = _json(response)
    for key in ("detail", "message", "error"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:  # FastAPI's 422 list of problems
            return "; ".join(
                f"{'.'.join(str(p) for p in v.get('loc', ()))}: {v.get('msg')}"
                if isinstance(v, dict) else str(v) for v in value)
    return response.text.strip()[:1000] or response.reason_phrase


def _retry_after(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("Retry-After", "1")))
    except ValueError:  # an HTTP date: not worth parsing for a hint
        return 1
