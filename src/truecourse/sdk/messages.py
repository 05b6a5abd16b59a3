"""Normalize what an app passes as model input or output into GenAI convention messages.

The conventions' parts format is::

    [{"role": "user", "parts": [{"type": "text", "content": "..."}]}]

and output messages also carry ``finish_reason``. Accepted here, so apps can pass what their
client library gave them: a plain string; one message or a list of messages in the parts format,
the OpenAI chat format (``content`` string or content-part list, ``tool_calls``, ``role: tool``)
or the Anthropic format (``text`` / ``tool_use`` / ``tool_result`` blocks); OpenAI ``choices``
(``{"message": ..., "finish_reason": ...}``); and objects with ``model_dump()`` (pydantic
responses). Anything else becomes a text part holding ``str(value)``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Part = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Normalized:
    """Messages in the parts format, with the figures recorded even when content is not."""

    messages: list[Message]
    chars: int
    """Characters of text content (text parts only), the size kept when content is off."""
    finish_reasons: list[str]

    def to_json(self) -> str:
        """The messages as the compact JSON string ``gen_ai.*.messages`` attributes hold."""
        return json.dumps(self.messages, ensure_ascii=False, separators=(",", ":"), default=str)


def normalize_input(value: Any) -> Normalized:
    """Input messages; a bare string is a ``user`` message."""
    return _normalize(value, default_role="user", finish_reason=None)


def normalize_output(value: Any, finish_reason: str | None = None) -> Normalized:
    """Output messages; a bare string is an ``assistant`` message.

    ``finish_reason`` applies to every message that does not carry its own. When neither says,
    the message has no ``finish_reason`` rather than an invented one.
    """
    return _normalize(value, default_role="assistant", finish_reason=finish_reason)


def _normalize(value: Any, *, default_role: str, finish_reason: str | None) -> Normalized:
    items: Sequence[Any]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        items = [value]
    else:
        items = value
    messages = [_message(item, default_role, finish_reason) for item in items]
    chars = sum(
        len(p["content"]) for m in messages for p in m["parts"]
        if p.get("type") == "text" and isinstance(p.get("content"), str)
    )
    reasons = [m["finish_reason"] for m in messages if m.get("finish_reason")]
    return Normalized(messages=messages, chars=chars, finish_reasons=reasons)


def _message(item: Any, default_role: str, finish_reason: str | None) -> Message:
    if isinstance(item, str):
        msg: Message = {"role": default_role, "parts": [_text(item)]}
    else:
        raw = _as_mapping(item)
        if raw is None:
            msg = {"role": default_role, "parts": [_text(str(item))]}
        else:
            msg = _from_mapping(raw, default_role)
    if finish_reason is not None and not msg.get("finish_reason"):
        msg["finish_reason"] = finish_reason
    return msg


def _as_mapping(item: Any) -> Mapping[str, Any] | None:
    if isinstance(item, Mapping):
        return item
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dumped
    return None


def _from_mapping(raw: Mapping[str, Any], default_role: str) -> Message:
    if "message" in raw and "role" not in raw:  # an OpenAI choice
        inner = _as_mapping(raw["message"]) or {"content": str(raw["message"])}
        msg = _from_mapping(inner, default_role)
        if raw.get("finish_reason"):
            msg["finish_reason"] = str(raw["finish_reason"])
        return msg
    role = str(raw.get("role") or default_role)
    if "parts" in raw:
        parts = [dict(p) if isinstance(p, Mapping) else _text(str(p)) for p in raw["parts"]]
    else:
        parts = _content_parts(raw.get("content"))
        parts.extend(_tool_call_part(c) for c in raw.get("tool_calls") or ())
        if role == "tool" and raw.get("tool_call_id") is not None:
            content = raw.get("content")
            parts = [{"type": "tool_call_response", "id": str(raw["tool_call_id"]),
                      "response": content}]
    msg = {"role": role, "parts": parts}
    if raw.get("name"):
        msg["name"] = str(raw["name"])
    if raw.get("finish_reason"):
        msg["finish_reason"] = str(raw["finish_reason"])
    return msg


def _content_parts(content: Any) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text(content)]
    if isinstance(content, Sequence):
        return [_content_part(block) for block in content]
    return [_text(str(content))]


def _content_part(block: Any) -> Part:
    if isinstance(block, str):
        return _text(block)
    raw = _as_mapping(block)
    if raw is None:
        return _text(str(block))
    kind = raw.get("type")
    if kind == "text":
        return _text(str(raw.get("text", raw.get("content", ""))))
    if kind == "tool_use":  # Anthropic
        return {"type": "tool_call", "id": raw.get("id"), "name": raw.get("name"),
                "arguments": raw.get("input")}
    if kind == "tool_result":  # Anthropic
        return {"type": "tool_call_response", "id": raw.get("tool_use_id"),
                "response": raw.get("content")}
    return dict(raw)


def _tool_call_part(call: Any) -> Part:
    raw = _as_mapping(call) or {}
    function = _as_mapping(raw.get("function")) or raw
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # not JSON: keep the string the model produced
            arguments = json.loads(arguments)
    return {"type": "tool_call", "id": raw.get("id"), "name": function.get("name"),
            "arguments": arguments}


def _text(content: str) -> Part:
    return {"type": "text", "content": content}
