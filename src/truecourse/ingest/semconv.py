"""Semantic-convention mapping: one span's attributes to the AI columns of the span table.

Three conventions are understood, so instrumented apps work unchanged:

- OpenTelemetry GenAI (``gen_ai.*``), current (``gen_ai.input.messages`` with parts,
  ``gen_ai.provider.name``) and legacy (``gen_ai.system``, ``gen_ai.prompt`` /
  ``gen_ai.completion``, content events, per-message events, ``gen_ai.evaluation.result``);
- OpenInference (``openinference.span.kind``, ``llm.*``, ``input.value``, ``retrieval.*``);
- OpenLLMetry (``traceloop.*``, ``llm.request.type``, ``llm.usage.*``, flattened
  ``gen_ai.prompt.{i}`` / ``gen_ai.completion.{i}``).

:func:`map_span` is pure and never raises for any attribute value: a wrong-typed or garbled
attribute is ignored and the next source is tried. It runs once per span on the ingest hot path,
so a span without any AI attribute costs one pass over its keys, and an AI span one more pass
that looks each key up in one table: work after that grows with the keys present, not with the
number of conventions understood.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

__all__ = ["AI_COLUMNS", "TEXT_LIMIT_BYTES", "map_span"]

#: The span columns :func:`map_span` may fill, named as in ``SPAN_COLUMNS``.
AI_COLUMNS: tuple[str, ...] = (
    "operation", "provider", "model", "input_tokens", "output_tokens", "total_tokens",
    "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd",
    "prompt_version", "index_version", "tool_name", "tool_ok", "refused", "finish_reasons",
    "conversation_id", "agent_name", "input_text", "output_text", "evaluations",
)

#: ``input_text`` / ``output_text`` are cut to this many UTF-8 bytes, marker included.
TEXT_LIMIT_BYTES = 32 * 1024
_TRUNCATED = "…[truncated]"
_TRUNCATED_BYTES = len(_TRUNCATED.encode())
_INT64_MAX = 2**63 - 1

# A key with one of these prefixes makes a span an AI span. ``session.``, ``tool.``, ``input.``
# and friends are read too, but alone they are common on plain web spans and prove nothing.
_SIGNAL_PREFIXES = (
    "gen_ai.", "llm.", "openinference.", "traceloop.", "retrieval.", "embedding.", "reranker.",
    "truecourse.prompt_version", "truecourse.index_version", "truecourse.refused",
    "truecourse.cost_usd",
)
# Families of flattened indexed keys, ``<a>.<family>.<index>.<field...>``, keyed by family
# (the family names are unique across conventions); plus any ``gen_ai.retrieval.*`` key.
_FLAT_FAMILIES = frozenset({
    "prompt", "completion", "input_messages", "output_messages", "prompts", "completions",
    "documents", "output_documents", "embeddings",
})
_SLOW_PREFIXES = (
    "gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
    "llm.prompts.", "llm.completions.", "retrieval.documents.", "reranker.output_documents.",
    "embedding.embeddings.", "gen_ai.retrieval.",
)

# Each field is read from its keys in priority order: the first usable value wins.
_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kind", ("gen_ai.operation.name", "openinference.span.kind", "llm.request.type",
              "traceloop.span.kind")),
    ("provider", ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system",
                  "llm.vendor")),
    ("model", ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
               "llm.response.model", "llm.request.model", "embedding.model_name",
               "reranker.model_name")),
    ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                      "llm.token_count.prompt", "llm.usage.prompt_tokens")),
    ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                       "llm.token_count.completion", "llm.usage.completion_tokens")),
    ("total_tokens", ("gen_ai.usage.total_tokens", "llm.token_count.total",
                      "llm.usage.total_tokens")),
    ("cache_read_tokens", ("gen_ai.usage.cache_read.input_tokens",
                           "gen_ai.usage.cache_read_input_tokens",
                           "llm.token_count.prompt_details.cache_read",
                           "llm.usage.cache_read_input_tokens")),
    ("cache_creation_tokens", ("gen_ai.usage.cache_creation.input_tokens",
                               "gen_ai.usage.cache_creation_input_tokens",
                               "llm.token_count.prompt_details.cache_write",
                               "llm.usage.cache_creation_input_tokens")),
    ("reasoning_tokens", ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                          "llm.token_count.completion_details.reasoning",
                          "llm.usage.reasoning_tokens")),
    ("cost_usd", ("llm.cost.total", "gen_ai.usage.cost", "gen_ai.usage.cost_usd",
                  "gen_ai.cost.usd", "truecourse.cost_usd")),
    ("cost_parts", ("llm.cost.prompt", "llm.cost.completion")),
    ("prompt_version", ("llm.prompt_template.version", "gen_ai.prompt.version",
                        "traceloop.prompt.version", "truecourse.prompt_version",
                        "prompt.version")),
    ("index_version", ("truecourse.index_version", "gen_ai.retrieval.index.version",
                       "retrieval.index_version")),
    ("conversation_id", ("gen_ai.conversation.id", "session.id",
                         "traceloop.association.properties.session_id",
                         "traceloop.association.properties.conversation_id")),
    ("tool_name", ("gen_ai.tool.name", "tool.name", "tool_call.function.name")),
    ("agent_name", ("gen_ai.agent.name", "agent.name")),
    ("entity", ("traceloop.entity.name",)),
    ("error", ("error.type",)),
    ("refused", ("truecourse.refused",)),
    ("finish_reasons", ("gen_ai.response.finish_reasons",)),
    ("evaluation", ("gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
                    "gen_ai.evaluation.score.label", "gen_ai.evaluation.explanation")),
    ("input_messages", ("gen_ai.input.messages", "gen_ai.system_instructions")),
    ("output_messages", ("gen_ai.output.messages",)),
    ("tool_arguments", ("gen_ai.tool.call.arguments",)),
    ("tool_result", ("gen_ai.tool.call.result",)),
    ("query", ("gen_ai.retrieval.query.text", "reranker.query")),
    ("documents", ("gen_ai.retrieval.documents",)),
    ("legacy_prompt", ("gen_ai.prompt",)),
    ("legacy_completion", ("gen_ai.completion",)),
    ("prompt_list", ("llm.prompts",)),
    ("entity_input", ("traceloop.entity.input",)),
    ("entity_output", ("traceloop.entity.output",)),
    ("input_value", ("input.value",)),
    ("output_value", ("output.value",)),
)
_KEYS: dict[str, tuple[str, ...]] = dict(_SOURCES)
_FIELD_OF: dict[str, str] = {key: field for field, keys in _SOURCES for key in keys}

_GENAI_OPERATIONS = {
    "chat": "chat", "text_completion": "completion", "completion": "completion",
    "generate_content": "chat", "embeddings": "embeddings", "embedding": "embeddings",
    "execute_tool": "tool", "invoke_agent": "agent", "create_agent": "agent",
    "retrieval": "retrieval", "retrieve": "retrieval", "rerank": "retrieval",
}
_KINDS: dict[str, dict[str, str]] = {
    "gen_ai.operation.name": _GENAI_OPERATIONS,
    "openinference.span.kind": {
        "llm": "chat", "embedding": "embeddings", "tool": "tool", "retriever": "retrieval",
        "reranker": "retrieval", "agent": "agent", "chain": "other", "guardrail": "other",
        "evaluator": "other", "unknown": "other", "prompt": "other",
    },
    "llm.request.type": {
        "chat": "chat", "completion": "completion", "embedding": "embeddings",
        "embeddings": "embeddings", "rerank": "retrieval",
    },
    "traceloop.span.kind": {
        "workflow": "other", "task": "other", "agent": "agent", "tool": "tool",
        "unknown": "other",
    },
}
# Finish reasons that mean the model (or its provider's filter) declined to answer.
_REFUSAL_REASONS = frozenset({
    "content_filter", "refusal", "content_filtered", "safety", "prohibited_content",
    "blocklist", "spii",
})
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
}

# A dict with one of these keys is rendered as a message.
_MESSAGE_FIELDS = frozenset({
    "role", "parts", "content", "message", "tool_calls", "function_call", "refusal",
})

_Get = Callable[[str], Any]
_Flat = dict[str, dict[int, dict[str, Any]]]
_SMALL_INDEXES = {str(i): i for i in range(256)}


# --- value coercion: each returns None for a value it cannot use, never raises -------------


def _as_int(value: Any) -> int | None:
    """A non-negative int64 from an int, a whole float or a numeric string; else None."""
    if type(value) is int:
        result = value
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        result = int(value)
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value)
        except ValueError:
            number = _as_float(value)
            if number is None or not number.is_integer():
                return None
            result = int(number)
    else:
        return None
    return result if 0 <= result <= _INT64_MAX else None


def _as_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            result = float(value)
        except (ValueError, OverflowError):
            return None
        return result if math.isfinite(result) else None
    return None


def _as_str(value: Any) -> str | None:
    """A non-empty str from a str or a number (ids and versions are sometimes ints)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _as_bool(value: Any) -> bool | None:
    """A bool from a bool, 0/1 or "true"/"false"; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        return None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _dumps(value: Any) -> str:
    """Compact JSON for a structured value; ``str()`` when it will not encode."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return str(value)
    except RecursionError:
        return "[unrenderable value]"


def _loads(text: str) -> Any:
    """``text`` parsed as JSON when it looks like an object or array; else None."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return orjson.loads(stripped)
    except (ValueError, TypeError, RecursionError):
        return None


def _cap(text: str) -> str:
    """``text`` cut to :data:`TEXT_LIMIT_BYTES` UTF-8 bytes with a trailing marker."""
    if len(text) <= TEXT_LIMIT_BYTES // 4:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= TEXT_LIMIT_BYTES:
        return text
    return encoded[: TEXT_LIMIT_BYTES - _TRUNCATED_BYTES].decode("utf-8", "ignore") + _TRUNCATED


# --- rendering messages and documents as text ------------------------------------------------


class _Transcript:
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
        return _cap("\n".join(self.lines)) if self.lines else None


def _tool_call_text(call: Any) -> str | None:
    """``[tool_call name(args)]`` for a GenAI part, an OpenAI tool call or an Anthropic tool_use."""
    if not isinstance(call, dict):
        return None
    function = call.get("function")
    spec = function if isinstance(function, dict) else call
    name = _as_str(spec.get("name")) or "?"
    arguments = spec.get("arguments")
    if arguments is None:
        arguments = spec.get("input", spec.get("args"))
    if arguments is None:
        args = ""
    elif isinstance(arguments, str):
        args = arguments
    else:
        args = _dumps(arguments)
    return f"[tool_call {name}({args})]"


def _part_text(part: Any, transcript: _Transcript) -> str | None:
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
            return _dumps(value)
    if isinstance(kind, str) and kind not in ("text", "refusal"):
        detail = part.get("mime_type") or part.get("modality")
        return f"[{kind} {detail}]" if isinstance(detail, str) else f"[{kind}]"
    return None


def _content_pieces(content: Any, transcript: _Transcript, pieces: list[str]) -> None:
    """Append the text of a message's content (a string, a part, or a list of parts)."""
    if isinstance(content, str):
        parsed = _loads(content) if content[:1] == "[" else None
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


def _add_message(message: Any, role: str | None, transcript: _Transcript) -> None:
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
    if parts is not None:
        _content_pieces(parts, transcript, pieces)
    if content is not None:
        _content_pieces(content, transcript, pieces)
    common = (
        (own_role is not None) + (parts is not None) + (content is not None) + (reason is not None)
    )
    if len(message) > common:
        _add_other_fields(message, role, transcript, pieces)
    if reason is not None:
        text = _as_str(reason)
        if text:
            transcript.reasons.append(text)
    if pieces:
        body = "\n".join(pieces)
        transcript.add(f"{role}: {body}" if role else body)


def _add_other_fields(
    message: dict[str, Any], role: str | None, transcript: _Transcript, pieces: list[str]
) -> None:
    """The less common message fields: a nested message, a refusal, tool and function calls."""
    inner = message.get("message")
    if isinstance(inner, dict) and not isinstance(inner.get("message"), dict):  # bounded depth
        _add_message(inner, role, transcript)
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


def _add_payload(value: Any, role: str | None, transcript: _Transcript) -> None:
    """Render a message list, a single message, a request/response body or plain text."""
    if isinstance(value, str):
        parsed = _loads(value)
        if parsed is None:
            if value:
                transcript.add(f"{role}: {value}" if role else value)
            return
        before = len(transcript.lines)
        _add_payload(parsed, role, transcript)
        if len(transcript.lines) == before and value:
            transcript.add(value)
        return
    if isinstance(value, list):
        for item in value:
            if transcript.size > TEXT_LIMIT_BYTES:
                break
            if isinstance(item, str):
                parsed = _loads(item)
                _add_message(parsed if isinstance(parsed, dict) else item, role, transcript)
            else:
                _add_message(item, role, transcript)
        return
    if isinstance(value, dict):
        for key in ("messages", "choices"):
            inner = value.get(key)
            if isinstance(inner, list):
                _add_payload(inner, role, transcript)
                return
        if not _MESSAGE_FIELDS.isdisjoint(value):
            _add_message(value, role, transcript)
        return
    text = _as_str(value)
    if text:
        transcript.add(text)


def _plain(value: Any) -> str | None:
    """A raw input/output value as text: strings as they are, structures as compact JSON."""
    if isinstance(value, str):
        return _cap(value) if value else None
    if isinstance(value, (bytes, bytearray)):
        return _cap(value.decode("utf-8", "replace")) if value else None
    if value is None or isinstance(value, bool):
        return None
    return _cap(_dumps(value)) if isinstance(value, (list, dict)) else _as_str(value)


def _io_value(value: Any) -> str | None:
    """OpenInference ``input.value`` / ``output.value``: chat bodies rendered, others raw."""
    if isinstance(value, str) and ('"messages"' in value or '"choices"' in value):
        transcript = _Transcript()
        parsed = _loads(value)
        if isinstance(parsed, dict):
            _add_payload(parsed, None, transcript)
            text = transcript.text()
            if text:
                return text
    return _plain(value)


def _document_line(doc: dict[str, Any], position: int) -> str | None:
    """``[id] score=0.9: content`` for one retrieved document."""
    doc_id = _as_str(doc.get("id"))
    score = _as_float(doc.get("score"))
    content = doc.get("content")
    text = content if isinstance(content, str) and content else None
    if doc_id is None and score is None:
        return text
    header = f"[{doc_id if doc_id is not None else position}]"
    if score is not None:
        header += f" score={score:g}"
    return f"{header}: {text}" if text else header


def _documents_text(docs: Any) -> str | None:
    """Retrieved documents, one line each, from a list of dicts (or its JSON)."""
    if isinstance(docs, str):
        docs = _loads(docs)
    if not isinstance(docs, list):
        return None
    transcript = _Transcript()
    for position, doc in enumerate(docs):
        if isinstance(doc, str):
            transcript.add(doc)
        elif isinstance(doc, dict):
            line = _document_line(doc, position)
            if line:
                transcript.add(line)
    return transcript.text()


# --- flattened indexed keys ------------------------------------------------------------------


def _index(text: str) -> int | None:
    """A flattened key's index segment as an int, or None when it is not one."""
    index = _SMALL_INDEXES.get(text)
    if index is None and text.isdigit():
        index = int(text)
    return index


def _ordered(entries: dict[int, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The entries of a flattened family in numeric index order (10 after 9)."""
    if not entries:
        return []
    if len(entries) == 1:
        return list(entries.values())
    return list(map(entries.__getitem__, sorted(entries)))


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """One flattened message's fields rebuilt as a message dict.

    Understands OpenLLMetry (``role``, ``content``, ``tool_calls.{j}.name``, ``finish_reason``)
    and OpenInference (``message.role``, ``message.contents.{j}.message_content.text``,
    ``message.tool_calls.{j}.tool_call.function.name``).
    """
    message: dict[str, Any] = {}
    calls: dict[int, dict[str, Any]] | None = None
    contents: dict[int, dict[str, Any]] | None = None
    for field, value in fields.items():
        if field.startswith("message."):
            field = field[8:]
        if "." not in field:
            message[field] = value
            continue
        head, index_text, sub = field.split(".", 2) if field.count(".") >= 2 else (field, "", "")
        if head == "tool_calls":
            index = _index(index_text)
            if index is not None:
                if calls is None:
                    calls = {}
                call = calls.get(index)
                if call is None:
                    call = calls[index] = {}
                call[sub.removeprefix("tool_call.function.")] = value
        elif head == "contents":
            index = _index(index_text)
            if index is not None and sub in ("message_content.text", "message_content.type"):
                if contents is None:
                    contents = {}
                contents.setdefault(index, {})[sub[16:]] = value
        elif field.startswith("function_call."):
            message.setdefault("function_call", {})[field[14:]] = value
    if "function_call_name" in message:
        message["function_call"] = {
            "name": message.pop("function_call_name"),
            "arguments": message.pop("function_call_arguments_json", None),
        }
    if calls:
        message["tool_calls"] = _ordered(calls)
    if contents:
        message["parts"] = [
            {"type": "text", "content": part["text"]}
            if isinstance(part.get("text"), str)
            else {"type": _as_str(part.get("type")) or "content"}
            for part in _ordered(contents)
        ]
    return message


def _flat_messages(flat: _Flat, families: tuple[str, ...]) -> _Transcript | None:
    """A transcript of the first flattened message family present."""
    for family in families:
        entries = flat.get(family)
        if not entries:
            continue
        transcript = _Transcript()
        for fields in _ordered(entries):
            role = fields.get("role", fields.get("message.role"))
            content = fields.get("content", fields.get("message.content"))
            if (
                len(fields) == (role is not None) + (content is not None)
                and isinstance(content, str)
                and content[:1] != "["
            ):  # a plain text message: the common case, without rebuilding a message dict
                if content:
                    transcript.add(f"{role}: {content}" if isinstance(role, str) else content)
            else:
                _add_message(_nest(fields), None, transcript)
        if transcript.lines or transcript.reasons or transcript.refused:
            return transcript
    return None


def _flat_documents(flat: _Flat, family: str) -> str | None:
    """OpenInference ``<family>.{i}.document.{id,score,content}`` as document lines."""
    docs = [
        {"id": f.get("document.id"), "score": f.get("document.score"),
         "content": f.get("document.content")}
        for f in _ordered(flat.get(family))
    ]
    return _documents_text(docs) if docs else None


# --- span events -----------------------------------------------------------------------------


def _evaluation(get: _Get) -> dict[str, Any] | None:
    """One ``{name, score, label, explanation}`` result from ``gen_ai.evaluation.*`` keys."""
    result: dict[str, Any] = {}
    name = _as_str(get("gen_ai.evaluation.name"))
    if name is not None:
        result["name"] = name
    score = _as_float(get("gen_ai.evaluation.score.value"))
    if score is not None:
        result["score"] = score
    label = _as_str(get("gen_ai.evaluation.score.label"))
    if label is not None:
        result["label"] = label
    explanation = _as_str(get("gen_ai.evaluation.explanation"))
    if explanation is not None:
        result["explanation"] = explanation
    return result or None


def _event_body(body: dict[str, Any]) -> Any:
    """The content of a per-message event, wherever the instrumentation put it."""
    for key in ("message", "content", "body", "gen_ai.event.content"):
        value = body.get(key)
        if value is not None:
            return value
    return None


class _EventContent:
    """What span events say: content for the fallbacks, evaluations, finish reasons."""

    __slots__ = ("details", "evaluations", "input", "output")

    def __init__(self, events: Sequence[Any]) -> None:
        self.input = _Transcript()
        self.output = _Transcript()
        self.evaluations: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        for event in events:
            try:
                name, body = event
            except (TypeError, ValueError):
                continue
            if not isinstance(name, str) or not name.startswith("gen_ai."):
                continue
            if not isinstance(body, dict):
                if not isinstance(body, Mapping):
                    continue
                body = dict(body)
            self._read(name, body)

    def _read(self, name: str, body: dict[str, Any]) -> None:
        if name == "gen_ai.evaluation.result":
            evaluation = _evaluation(body.get)
            if evaluation:
                self.evaluations.append(evaluation)
        elif name == "gen_ai.content.prompt":
            _add_payload(body.get("gen_ai.prompt"), None, self.input)
        elif name == "gen_ai.content.completion":
            _add_payload(body.get("gen_ai.completion"), None, self.output)
        elif name in _MESSAGE_EVENTS:
            role = _as_str(body.get("role")) or _MESSAGE_EVENTS[name]
            _add_payload(_event_body(body), role, self.input)
        elif name == "gen_ai.choice":
            before = len(self.output.reasons)
            _add_payload(_event_body(body), "assistant", self.output)
            reason = _as_str(body.get("finish_reason"))
            if reason and len(self.output.reasons) == before:
                self.output.reasons.append(reason)
        elif name == "gen_ai.client.inference.operation.details":
            self.details = body


def _has_ai_event(events: Sequence[Any]) -> bool:
    """Whether any event is a ``gen_ai.*`` event (which makes a span an AI span)."""
    for event in events:
        try:
            name = event[0]
        except (TypeError, IndexError, KeyError):
            continue
        if isinstance(name, str) and name.startswith("gen_ai."):
            return True
    return False


# --- the mapping -----------------------------------------------------------------------------


# Columns filled straight from their field's first usable value, with its converter.
_OPTIONAL_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "cache_read_tokens": _as_int, "cache_creation_tokens": _as_int, "reasoning_tokens": _as_int,
    "cost_usd": _as_float, "prompt_version": _as_str, "index_version": _as_str,
    "conversation_id": _as_str, "tool_name": _as_str, "agent_name": _as_str,
}


class _Span:
    """One span's attributes indexed by field: the fields present and the flattened families.

    Built in one pass over the keys; every lookup afterwards is gated on presence, so the fields
    a span does not carry cost nothing. Rendering the output records the finish reasons and
    refusals it meets in ``reasons`` / ``refused``.
    """

    __slots__ = ("flat", "get", "present", "reasons", "refused", "retrieval")

    def __init__(self, attrs: Mapping[str, Any]) -> None:
        self.get: _Get = attrs.get
        self.present: set[str] = set()
        self.flat: _Flat = {}
        self.retrieval = False
        self.reasons: list[str] = []
        self.refused = False
        flat = self.flat
        field_of = _FIELD_OF
        add = self.present.add
        for key, value in attrs.items():
            field = field_of.get(key)
            if field is not None:
                add(field)
            elif key.startswith(_SLOW_PREFIXES):
                parts = key.split(".", 3)
                if len(parts) == 4 and parts[1] in _FLAT_FAMILIES:
                    index = _SMALL_INDEXES.get(parts[2])
                    if index is None:
                        if not parts[2].isdigit():
                            continue
                        index = int(parts[2])
                    entries = flat.get(parts[1])
                    if entries is None:
                        entries = flat[parts[1]] = {}
                    fields = entries.get(index)
                    if fields is None:
                        fields = entries[index] = {}
                    fields[parts[3]] = value
                elif parts[1] == "retrieval":
                    self.retrieval = True
        if flat:
            add("flat")
        if "query" in self.present or "documents" in self.present:
            self.retrieval = True

    def pick(self, field: str, convert: Callable[[Any], Any]) -> Any:
        """The first usable value of ``field``'s keys, converted; None when none is usable."""
        get = self.get
        for key in _KEYS[field]:
            value = get(key)
            if value is not None:
                result = convert(value)
                if result is not None:
                    return result
        return None

    def value(self, field: str) -> Any:
        """The raw value of a single-key field."""
        return self.get(_KEYS[field][0])

    def take(self, transcript: _Transcript | None) -> str | None:
        """The transcript's text, keeping the finish reasons and refusals it found."""
        if transcript is None:
            return None
        self.reasons.extend(transcript.reasons)
        self.refused = self.refused or transcript.refused
        return transcript.text()


def _operation(name: str, span: _Span) -> str:
    """The operation: an explicit kind in any convention, else a guess, else ``other``."""
    if "kind" in span.present:
        for key in _KEYS["kind"]:
            value = span.get(key)
            if isinstance(value, str):
                operation = _KINDS[key].get(value.strip().lower())
                if operation:
                    return operation
    if span.retrieval or span.get("gen_ai.retrieval.index.version") is not None:
        return "retrieval"
    if isinstance(name, str):
        guess = _GENAI_OPERATIONS.get(name.partition(" ")[0])
        if guess:
            return guess
    # Legacy GenAI spans (before gen_ai.operation.name) that report a model call.
    if span.get("gen_ai.request.model") is not None and (
        "input_tokens" in span.present
        or "legacy_prompt" in span.present
        or "legacy_completion" in span.present
    ):
        return "chat"
    return "other"


def _finish_reasons(value: Any) -> list[str]:
    """Finish reasons from a list, a JSON array string or a comma-separated string."""
    if isinstance(value, str):
        parsed = _loads(value)
        value = parsed if isinstance(parsed, list) else value.split(",")
    if not isinstance(value, (list, tuple)):
        return []
    reasons = []
    for item in value:
        text = _as_str(item)
        if text and text.strip():
            reasons.append(text.strip())
    return reasons


def _genai_messages(get: _Get, key: str, system: bool) -> _Transcript | None:
    """GenAI ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (+ system instructions)."""
    messages = get(key)
    instructions = get("gen_ai.system_instructions") if system else None
    if messages is None and instructions is None:
        return None
    transcript = _Transcript()
    if instructions is not None:
        parsed = _loads(instructions) if isinstance(instructions, str) else instructions
        if parsed is None:
            _add_message(instructions, "system", transcript)
        else:
            _add_message({"parts": parsed}, "system", transcript)
    if messages is not None:
        _add_payload(messages, None, transcript)
    return transcript


def _payload_text(value: Any) -> _Transcript:
    """A transcript of a legacy ``gen_ai.prompt`` / ``gen_ai.completion`` value."""
    transcript = _Transcript()
    _add_payload(value, None, transcript)
    return transcript


# Text sources in priority order, one renderer per field: the first non-empty text wins.


def _input_messages(span: _Span) -> str | None:
    transcript = _genai_messages(span.get, "gen_ai.input.messages", True)
    return transcript.text() if transcript is not None else None


def _input_flat(span: _Span) -> str | None:
    transcript = _flat_messages(span.flat, ("prompt", "input_messages", "prompts"))
    if transcript is not None and transcript.lines:
        return transcript.text()
    texts = [
        f["embedding.text"] for f in _ordered(span.flat.get("embeddings"))
        if isinstance(f.get("embedding.text"), str)
    ]
    return _cap("\n".join(texts)) if texts else None


def _prompt_list(span: _Span) -> str | None:
    prompts = span.value("prompt_list")
    texts = [p for p in prompts if isinstance(p, str)] if isinstance(prompts, list) else []
    return _cap("\n".join(texts)) if texts else None


def _output_messages(span: _Span) -> str | None:
    return span.take(_genai_messages(span.get, "gen_ai.output.messages", False))


def _output_flat(span: _Span) -> str | None:
    flat = span.flat
    return (
        span.take(_flat_messages(flat, ("completion", "output_messages", "completions")))
        or _flat_documents(flat, "documents")
        or _flat_documents(flat, "output_documents")
    )


_TextSource = tuple[str, Callable[[_Span], "str | None"]]
_INPUT_SOURCES: tuple[_TextSource, ...] = (
    ("input_messages", _input_messages),
    ("tool_arguments", lambda span: _plain(span.value("tool_arguments"))),
    ("query", lambda span: span.pick("query", _plain)),
    ("legacy_prompt", lambda span: _payload_text(span.value("legacy_prompt")).text()),
    ("flat", _input_flat),
    ("prompt_list", _prompt_list),
    ("entity_input", lambda span: _plain(span.value("entity_input"))),
    ("input_value", lambda span: _io_value(span.value("input_value"))),
)
_OUTPUT_SOURCES: tuple[_TextSource, ...] = (
    ("output_messages", _output_messages),
    ("tool_result", lambda span: _plain(span.value("tool_result"))),
    ("documents", lambda span: _documents_text(span.value("documents"))),
    ("legacy_completion", lambda span: span.take(_payload_text(span.value("legacy_completion")))),
    ("flat", _output_flat),
    ("entity_output", lambda span: _plain(span.value("entity_output"))),
    ("output_value", lambda span: _io_value(span.value("output_value"))),
)


def _input_text(span: _Span, events: _EventContent | None) -> str | None:
    present = span.present
    for field, render in _INPUT_SOURCES:
        if field in present:
            text = render(span)
            if text:
                return text
    if events is None:
        return None
    if events.details:
        transcript = _genai_messages(events.details.get, "gen_ai.input.messages", True)
        if transcript is not None and transcript.lines:
            return transcript.text()
    return events.input.text()


def _output_text(span: _Span, events: _EventContent | None) -> str | None:
    present = span.present
    for field, render in _OUTPUT_SOURCES:
        if field in present:
            text = render(span)
            if text:
                return text
    if events is None:
        return None
    if events.details:
        text = span.take(_genai_messages(events.details.get, "gen_ai.output.messages", False))
        if text:
            return text
    return span.take(events.output)


def map_span(
    name: str,
    attrs: Mapping[str, Any],
    status_code: str,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> dict[str, Any]:
    """The AI columns of one span, read from its attributes and events.

    ``attrs`` holds decoded OTLP attribute values (str, bool, int, float, bytes, list, dict) under
    their flat keys; ``status_code`` is ``unset``, ``ok`` or ``error``; ``events`` are
    ``(name, attributes)`` pairs. Returns only the columns of :data:`AI_COLUMNS` that could be
    determined, typed for ``SPAN_COLUMNS`` (``finish_reasons`` comma-joined, ``evaluations`` a
    list of ``{name, score, label, explanation}`` dicts for the caller to JSON-encode), and ``{}``
    for a span with no AI attribute or ``gen_ai.*`` event. Never raises on attribute values: a
    value of the wrong type is skipped. Cost: one pass over the keys for a plain span; for an AI
    span a second pass, then work in proportion to the fields present and the text rendered.
    """
    for key in attrs:
        if key.startswith(_SIGNAL_PREFIXES):
            break
    else:
        if not events or not _has_ai_event(events):
            return {}

    span = _Span(attrs)
    present = span.present
    pick = span.pick
    operation = _operation(name, span)
    result: dict[str, Any] = {"operation": operation}

    if "provider" in present:
        provider = pick("provider", _as_str)
        if provider:
            result["provider"] = provider.lower()
    if "model" in present:
        model = pick("model", _as_str)
        if model:
            result["model"] = model
    input_tokens = pick("input_tokens", _as_int) if "input_tokens" in present else None
    output_tokens = pick("output_tokens", _as_int) if "output_tokens" in present else None
    total_tokens = pick("total_tokens", _as_int) if "total_tokens" in present else None
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = min(input_tokens + output_tokens, _INT64_MAX)
    if input_tokens is not None:
        result["input_tokens"] = input_tokens
    if output_tokens is not None:
        result["output_tokens"] = output_tokens
    if total_tokens is not None:
        result["total_tokens"] = total_tokens
    for column in _OPTIONAL_COLUMNS:
        if column in present:
            value = pick(column, _OPTIONAL_COLUMNS[column])
            if value is not None:
                result[column] = value
    if "cost_usd" not in result and "cost_parts" in present:
        prompt_cost = _as_float(span.get("llm.cost.prompt"))
        completion_cost = _as_float(span.get("llm.cost.completion"))
        if prompt_cost is not None and completion_cost is not None:
            result["cost_usd"] = prompt_cost + completion_cost

    if operation == "tool":
        result["tool_ok"] = status_code != "error" and "error" not in present
        if "tool_name" not in result and "entity" in present:
            entity = pick("entity", _as_str)
            if entity:
                result["tool_name"] = entity
    elif operation == "agent" and "agent_name" not in result and "entity" in present:
        entity = pick("entity", _as_str)
        if entity:
            result["agent_name"] = entity

    event_content = _EventContent(events) if events else None
    input_text = _input_text(span, event_content)
    if input_text:
        result["input_text"] = input_text
    output_text = _output_text(span, event_content)
    if output_text:
        result["output_text"] = output_text

    reasons = span.reasons
    if "finish_reasons" in present:
        reasons = _finish_reasons(span.value("finish_reasons")) or reasons
    if reasons:
        result["finish_reasons"] = ",".join(reasons)
    refused = span.refused
    if not refused:
        for reason in reasons:
            if reason.lower() in _REFUSAL_REASONS:
                refused = True
                break
    explicit = pick("refused", _as_bool) if "refused" in present else None
    if explicit is not None:
        result["refused"] = explicit or refused
    elif refused or operation == "chat" or operation == "completion":
        result["refused"] = refused

    evaluations = []
    if "evaluation" in present:
        own = _evaluation(span.get)
        if own:
            evaluations.append(own)
    if event_content is not None:
        evaluations.extend(event_content.evaluations)
    if evaluations:
        result["evaluations"] = evaluations
    return result
