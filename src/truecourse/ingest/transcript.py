"""Messages, documents and tool calls rendered as the text of ``input_text`` / ``output_text``.

Every convention's message shape is understood: GenAI parts (``{"role", "parts": [...]}``),
OpenAI chat (``content``, ``tool_calls``, ``function_call``, ``refusal``), Anthropic content
blocks (``text``, ``tool_use``, ``thinking``), request/response bodies (``messages`` /
``choices``) and plain strings, each possibly JSON-encoded. A message becomes one
``role: content`` line; reasoning is left out, other media become ``[image image/png]``
placeholders. While rendering, a :class:`Transcript` records the finish reasons and refusals it
meets. Text is cut to :data:`TEXT_LIMIT_BYTES` UTF-8 bytes, and rendering stops early once past
it. Nothing here raises for any input value.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

from truecourse.ingest.coerce import as_float, as_str, parse_json, to_json

__all__ = [
    "TEXT_LIMIT_BYTES", "Transcript", "add_message", "add_payload", "cap", "document_line",
    "documents_text", "io_value_text", "plain_text",
]

#: ``input_text`` / ``output_text`` are cut to this many UTF-8 bytes, marker included.
TEXT_LIMIT_BYTES = 32 * 1024
_TRUNCATED = "…[truncated]"
_TRUNCATED_BYTES = len(_TRUNCATED.encode())

# A dict with one of these keys is rendered as a message.
_MESSAGE_FIELDS = frozenset({
    "role", "parts", "content", "message", "tool_calls", "function_call", "refusal",
})


def cap(text: str) -> str:
    """``text`` cut to :data:`TEXT_LIMIT_BYTES` UTF-8 bytes with a trailing marker."""
    if len(text) <= TEXT_LIMIT_BYTES // 4:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= TEXT_LIMIT_BYTES:
        return text
    return encoded[: TEXT_LIMIT_BYTES - _TRUNCATED_BYTES].decode("utf-8", "ignore") + _TRUNCATED


class Transcript:
    """Lines of ``role: content`` plus the finish reasons and refusals seen while rendering."""

    __slots__ = ("lines", "reasons", "refused", "size")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.reasons: list[str] = []
        self.refused = False
        self.size = 0

    def add(self, line: str) -> None:
        if self.size <= TEXT_LIMIT_BYTES:  # past the cap the rest would be cut anyway
            self.lines.append(line)
            self.size += len(line) + 1

    def text(self) -> str | None:
        return cap("\n".join(self.lines)) if self.lines else None


def _tool_call_text(call: Any) -> str | None:
    """``[tool_call name(args)]`` for a GenAI part, an OpenAI tool call or an Anthropic tool_use."""
    if not isinstance(call, dict):
        return None
    function = call.get("function")
    spec = function if isinstance(function, dict) else call
    name = as_str(spec.get("name")) or "?"
    arguments = spec.get("arguments")
    if arguments is None:
        arguments = spec.get("input", spec.get("args"))
    if arguments is None:
        args = ""
    elif isinstance(arguments, str):
        args = arguments
    else:
        args = to_json(arguments)
    return f"[tool_call {name}({args})]"


def _part_text(part: Any, transcript: Transcript) -> str | None:
    """The readable text of one message part (GenAI, OpenAI or Anthropic shape)."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind in ("tool_call", "tool_use", "function_call", "function"):
        return _tool_call_text(part)
    if kind in ("reasoning", "thinking", "redacted_thinking"):
        return None
    if kind == "refusal":
        transcript.refused = True
    for field in ("content", "text", "refusal", "response", "result"):
        value = part.get(field)
        if isinstance(value, str):
            return value
        if value is not None and kind in ("tool_call_response", "tool_result"):
            return to_json(value)
    if isinstance(kind, str) and kind not in ("text", "refusal"):
        detail = part.get("mime_type") or part.get("modality")
        return f"[{kind} {detail}]" if isinstance(detail, str) else f"[{kind}]"
    return None


def _content_pieces(content: Any, transcript: Transcript, pieces: list[str]) -> None:
    """Append the text of a message's content (a string, a part, or a list of parts)."""
    if isinstance(content, str):
        parsed = parse_json(content) if content[:1] == "[" else None
        if isinstance(parsed, list) and parsed and all(
            isinstance(p, dict) and "type" in p for p in parsed
        ):
            content = parsed
        else:
            if content:
                pieces.append(content)
            return
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                text = part.get("content")
                if isinstance(text, str):  # the common case, without the general dispatch
                    if text:
                        pieces.append(text)
                    continue
            text = _part_text(part, transcript)
            if text:
                pieces.append(text)
    elif isinstance(content, dict):
        text = _part_text(content, transcript)
        if text:
            pieces.append(text)


def add_message(message: Any, role: str | None, transcript: Transcript) -> None:
    """Render one message dict (any convention's shape) as a ``role: content`` line."""
    if not isinstance(message, dict):
        if isinstance(message, str) and message:
            transcript.add(f"{role}: {message}" if role else message)
        return
    own_role = message.get("role")
    parts = message.get("parts")
    content = message.get("content")
    reason = message.get("finish_reason")
    if isinstance(own_role, str) and own_role:
        role = own_role
    pieces: list[str] = []
    if type(parts) is list:  # GenAI parts, the common case: the loop of _content_pieces inlined
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text":
                text = part.get("content")
                if isinstance(text, str):
                    if text:
                        pieces.append(text)
                    continue
            text = _part_text(part, transcript)
            if text:
                pieces.append(text)
    elif parts is not None:
        _content_pieces(parts, transcript, pieces)
    if content is not None:
        _content_pieces(content, transcript, pieces)
    common = (
        (own_role is not None) + (parts is not None) + (content is not None) + (reason is not None)
    )
    if len(message) > common:
        _add_other_fields(message, role, transcript, pieces)
    if reason is not None:
        text = as_str(reason)
        if text:
            transcript.reasons.append(text)
    if pieces and transcript.size <= TEXT_LIMIT_BYTES:  # as Transcript.add, inlined
        body = "\n".join(pieces)
        line = f"{role}: {body}" if role else body
        transcript.lines.append(line)
        transcript.size += len(line) + 1


def _add_other_fields(
    message: dict[str, Any], role: str | None, transcript: Transcript, pieces: list[str]
) -> None:
    """The less common message fields: a nested message, a refusal, tool and function calls."""
    inner = message.get("message")
    if isinstance(inner, dict) and not isinstance(inner.get("message"), dict):  # bounded depth
        add_message(inner, role, transcript)
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        transcript.refused = True
        pieces.append(refusal)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            text = _tool_call_text(call)
            if text:
                pieces.append(text)
    function_call = message.get("function_call")
    if isinstance(function_call, dict):
        text = _tool_call_text(function_call)
        if text:
            pieces.append(text)


def add_payload(value: Any, role: str | None, transcript: Transcript) -> None:
    """Render a message list, a single message, a request/response body or plain text."""
    if isinstance(value, str):
        parsed = parse_json(value)
        if parsed is None:
            if value:
                transcript.add(f"{role}: {value}" if role else value)
            return
        before = len(transcript.lines)
        if type(parsed) is list:
            _add_messages(parsed, role, transcript)
        else:
            add_payload(parsed, role, transcript)
        if len(transcript.lines) == before and value:
            transcript.add(value)
        return
    if isinstance(value, list):
        _add_messages(value, role, transcript)
        return
    if isinstance(value, dict):
        for key in ("messages", "choices"):
            inner = value.get(key)
            if isinstance(inner, list):
                _add_messages(inner, role, transcript)
                return
        if not _MESSAGE_FIELDS.isdisjoint(value):
            add_message(value, role, transcript)
        return
    text = as_str(value)
    if text:
        transcript.add(text)


def _add_messages(messages: list[Any], role: str | None, transcript: Transcript) -> None:
    """Render each message of a list (a JSON string item is parsed), until past the cap."""
    for item in messages:
        if transcript.size > TEXT_LIMIT_BYTES:
            break
        if isinstance(item, str):
            parsed = parse_json(item)
            add_message(parsed if isinstance(parsed, dict) else item, role, transcript)
        else:
            add_message(item, role, transcript)


def plain_text(value: Any) -> str | None:
    """A raw input/output value as text: strings as they are, structures as compact JSON."""
    if isinstance(value, str):
        return cap(value) if value else None
    if isinstance(value, (bytes, bytearray)):
        return cap(value.decode("utf-8", "replace")) if value else None
    if value is None or isinstance(value, bool):
        return None
    return cap(to_json(value)) if isinstance(value, (list, dict)) else as_str(value)


def io_value_text(value: Any) -> str | None:
    """OpenInference ``input.value`` / ``output.value``: chat bodies rendered, others raw."""
    if isinstance(value, str) and ('"messages"' in value or '"choices"' in value):
        transcript = Transcript()
        parsed = parse_json(value)
        if isinstance(parsed, dict):
            add_payload(parsed, None, transcript)
            text = transcript.text()
            if text:
                return text
    return plain_text(value)


def document_line(doc_id: Any, score: Any, content: Any, position: int) -> str | None:
    """``[id] score=0.9: content`` for one retrieved document (id and score optional)."""
    # Exact str ids and float scores, the common case, skip the general coercion.
    if type(doc_id) is not str:
        doc_id = as_str(doc_id)
    elif not doc_id:
        doc_id = None
    if type(score) is not float:
        score = as_float(score)
    elif not isfinite(score):
        score = None
    text = content if isinstance(content, str) and content else None
    if score is None:
        if doc_id is None:
            return text
        return f"[{doc_id}]: {text}" if text else f"[{doc_id}]"
    header = f"[{doc_id if doc_id is not None else position}] score={score:g}"
    return f"{header}: {text}" if text else header


def documents_text(docs: Any) -> str | None:
    """Retrieved documents, one line each, from a list of dicts (or its JSON)."""
    if isinstance(docs, str):
        docs = parse_json(docs)
    if not isinstance(docs, list):
        return None
    transcript = Transcript()
    for position, doc in enumerate(docs):
        if isinstance(doc, str):
            transcript.add(doc)
        elif isinstance(doc, dict):
            line = document_line(doc.get("id"), doc.get("score"), doc.get("content"), position)
            if line:
                transcript.add(line)
    return transcript.text()
