"""Semantic-convention mapping: one span's attributes to the AI columns of the span table.

Three conventions are understood, so instrumented apps work unchanged:

- OpenTelemetry GenAI (``gen_ai.*``), current (``gen_ai.input.messages`` with parts,
  ``gen_ai.provider.name``) and legacy (``gen_ai.system``, ``gen_ai.prompt`` /
  ``gen_ai.completion``, content events, per-message events, ``gen_ai.evaluation.result``);
- OpenInference (``openinference.span.kind``, ``llm.*``, ``input.value``, ``retrieval.*``);
- OpenLLMetry (``traceloop.*``, ``llm.request.type``, ``llm.usage.*``, flattened
  ``gen_ai.prompt.{i}`` / ``gen_ai.completion.{i}``).

:func:`map_span` never raises for any attribute value: a wrong-typed or garbled attribute is
ignored and the next source is tried. It runs once per span on the ingest hot path, so what a
span's keys alone decide (which fields it carries, which text sources to render, how flattened
keys regroup) is worked out once per key set and kept (:mod:`truecourse.ingest.semconv_keys`): a
span whose key set was seen before costs a tuple of its keys and one lookup, then work in
proportion to the fields present and the text rendered, not to the conventions understood.

Alongside: message and document rendering in :mod:`~truecourse.ingest.transcript`, flattened
indexed keys in :mod:`~truecourse.ingest.flattened`, span events in
:mod:`~truecourse.ingest.genai_events`, value coercion in :mod:`~truecourse.ingest.coerce`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from truecourse.ingest.coerce import INT64_MAX, as_bool, as_float, as_int, as_str, parse_json
from truecourse.ingest.flattened import flat_documents, flat_messages, flat_texts
from truecourse.ingest.genai_events import EventContent, has_ai_event, read_evaluation
from truecourse.ingest.semconv_keys import KEYS, KeyLayout, LayoutCache
from truecourse.ingest.transcript import (
    TEXT_LIMIT_BYTES,
    Transcript,
    add_message,
    add_payload,
    cap,
    documents_text,
    io_value_text,
    plain_text,
)
from truecourse.measure.refusal import looks_like_refusal

__all__ = ["AI_COLUMNS", "TEXT_LIMIT_BYTES", "map_span"]

#: The span columns :func:`map_span` may fill, named as in ``SPAN_COLUMNS``.
AI_COLUMNS: tuple[str, ...] = (
    "operation", "provider", "model", "input_tokens", "output_tokens", "total_tokens",
    "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd",
    "prompt_version", "index_version", "tool_name", "tool_ok", "refused", "finish_reasons",
    "conversation_id", "agent_name", "input_text", "output_text", "evaluations",
    "retrieval_documents", "retrieval_source",
)

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
# The same, with each value also as the upper-case spelling OpenInference uses: looked up as given
# first, then stripped and lower-cased.
_KIND_LOOKUP: dict[str, dict[str, str]] = {
    key: {**table, **{value.upper(): kind for value, kind in table.items()}}
    for key, table in _KINDS.items()
}
# Finish reasons that mean the model (or its provider's filter) declined to answer.
_REFUSAL_REASONS = frozenset({
    "content_filter", "refusal", "content_filtered", "safety", "prohibited_content",
    "blocklist", "spii",
})

_Get = Callable[[str], Any]


def _first(get: _Get, keys: tuple[str, ...], convert: Callable[[Any], Any]) -> Any:
    """The first usable value of ``keys``, converted; None when none is usable."""
    for key in keys:
        value = get(key)
        if value is not None:
            result = convert(value)
            if result is not None:
                return result
    return None


def _first_str(get: _Get, keys: tuple[str, ...]) -> str | None:
    """``_first(get, keys, as_str)``, with exact strings taken without the call."""
    for key in keys:
        value = get(key)
        if type(value) is str:
            if value:
                return value
        elif value is not None:
            text = as_str(value)
            if text is not None:
                return text
    return None


def _first_int(get: _Get, keys: tuple[str, ...]) -> int | None:
    """``_first(get, keys, as_int)``, with exact ints taken without the call."""
    for key in keys:
        value = get(key)
        if type(value) is int:
            if 0 <= value <= INT64_MAX:
                return value
        elif value is not None:
            number = as_int(value)
            if number is not None:
                return number
    return None


class _Span:
    """One span's attributes seen through its key layout, plus what rendering found.

    Rendering the output records the finish reasons and refusals it meets in ``reasons`` /
    ``refused``.
    """

    __slots__ = ("fields", "flat", "get", "reasons", "refused")

    def __init__(self, get: _Get, layout: KeyLayout) -> None:
        self.get = get
        self.fields = layout.fields
        self.flat = layout.flat
        self.reasons: list[str] = []
        self.refused = False

    def pick(self, field: str, convert: Callable[[Any], Any]) -> Any:
        """The first usable value of ``field``'s keys, converted; None when none is usable."""
        return _first(self.get, self.fields.get(field, ()), convert)

    def value(self, field: str) -> Any:
        """The raw value of a single-key field."""
        return self.get(KEYS[field][0])

    def take(self, transcript: Transcript | None) -> str | None:
        """The transcript's text, keeping the finish reasons and refusals it found."""
        if transcript is None:
            return None
        self.reasons.extend(transcript.reasons)
        self.refused = self.refused or transcript.refused
        return transcript.text()


def _finish_reasons(value: Any) -> list[str]:
    """Finish reasons from a list, a JSON array string or a comma-separated string."""
    if isinstance(value, str):
        if "," not in value and value.lstrip()[:1] not in ("[", "{"):  # one plain reason
            value = value.strip()
            return [value] if value else []
        parsed = parse_json(value)
        value = parsed if isinstance(parsed, list) else value.split(",")
    if not isinstance(value, (list, tuple)):
        return []
    reasons = []
    for item in value:
        text = as_str(item)
        if text and text.strip():
            reasons.append(text.strip())
    return reasons


def _genai_messages(get: _Get, key: str, system: bool) -> Transcript | None:
    """GenAI ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (+ system instructions)."""
    messages = get(key)
    instructions = get("gen_ai.system_instructions") if system else None
    if messages is None and instructions is None:
        return None
    transcript = Transcript()
    if instructions is not None:
        parsed = parse_json(instructions) if isinstance(instructions, str) else instructions
        if parsed is None:
            add_message(instructions, "system", transcript)
        else:
            add_message({"parts": parsed}, "system", transcript)
    if messages is not None:
        add_payload(messages, None, transcript)
    return transcript


def _payload_text(value: Any) -> Transcript:
    """A transcript of a legacy ``gen_ai.prompt`` / ``gen_ai.completion`` value."""
    transcript = Transcript()
    add_payload(value, None, transcript)
    return transcript


# Text sources in priority order, one renderer per field: the first non-empty text wins.


def _input_messages(span: _Span) -> str | None:
    transcript = _genai_messages(span.get, "gen_ai.input.messages", True)
    return transcript.text() if transcript is not None else None


def _input_flat(span: _Span) -> str | None:
    transcript = flat_messages(span.flat, span.get, ("prompt", "input_messages", "prompts"))
    if transcript is not None and transcript.lines:
        return transcript.text()
    texts = flat_texts(span.flat, span.get, "embeddings", "embedding.text")
    return cap("\n".join(texts)) if texts else None


def _prompt_list(span: _Span) -> str | None:
    prompts = span.value("prompt_list")
    texts = [p for p in prompts if isinstance(p, str)] if isinstance(prompts, list) else []
    return cap("\n".join(texts)) if texts else None


def _output_messages(span: _Span) -> str | None:
    return span.take(_genai_messages(span.get, "gen_ai.output.messages", False))


def _output_flat(span: _Span) -> str | None:
    flat, get = span.flat, span.get
    return (
        span.take(flat_messages(flat, get, ("completion", "output_messages", "completions")))
        or flat_documents(flat, get, "documents")
        or flat_documents(flat, get, "output_documents")
    )


_Render = Callable[[_Span], "str | None"]
_INPUT_SOURCES: tuple[tuple[str, _Render], ...] = (
    ("input_messages", _input_messages),
    ("tool_arguments", lambda span: plain_text(span.value("tool_arguments"))),
    ("query", lambda span: span.pick("query", plain_text)),
    ("legacy_prompt", lambda span: _payload_text(span.value("legacy_prompt")).text()),
    ("flat", _input_flat),
    ("prompt_list", _prompt_list),
    ("entity_input", lambda span: plain_text(span.value("entity_input"))),
    ("input_value", lambda span: io_value_text(span.value("input_value"))),
)
_OUTPUT_SOURCES: tuple[tuple[str, _Render], ...] = (
    ("output_messages", _output_messages),
    ("tool_result", lambda span: plain_text(span.value("tool_result"))),
    ("documents", lambda span: documents_text(span.value("documents"))),
    ("legacy_completion", lambda span: span.take(_payload_text(span.value("legacy_completion")))),
    ("flat", _output_flat),
    ("entity_output", lambda span: plain_text(span.value("entity_output"))),
    ("output_value", lambda span: io_value_text(span.value("output_value"))),
)

def _first_float(get: _Get, keys: tuple[str, ...]) -> float | None:
    """``_first(get, keys, as_float)``."""
    result: float | None = _first(get, keys, as_float)
    return result


# Columns filled straight from their field's first usable value, with its reader.
_OPTIONAL_COLUMNS: dict[str, Callable[[_Get, tuple[str, ...]], Any]] = {
    "cache_read_tokens": _first_int, "cache_creation_tokens": _first_int,
    "reasoning_tokens": _first_int, "cost_usd": _first_float, "prompt_version": _first_str,
    "index_version": _first_str, "conversation_id": _first_str, "tool_name": _first_str,
    "agent_name": _first_str,
}


class _Plan(KeyLayout):
    """A key layout plus what :func:`map_span` reads for it: the work left is per value.

    ``columns``: ``(column, keys, read)`` for each optional column present. ``inputs`` /
    ``outputs``: the text renderers of the text sources present, in priority order.
    ``model_call``: a key that makes a legacy GenAI span with a request model a chat.
    """

    __slots__ = ("columns", "inputs", "model_call", "outputs")

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__(keys)
        fields, present = self.fields, self.present
        self.columns = tuple(
            (column, fields[column], read)
            for column, read in _OPTIONAL_COLUMNS.items() if column in present
        )
        self.inputs = tuple(render for field, render in _INPUT_SOURCES if field in present)
        self.outputs = tuple(render for field, render in _OUTPUT_SOURCES if field in present)
        self.model_call = not present.isdisjoint(
            ("input_tokens", "legacy_prompt", "legacy_completion")
        )


_plan_of = LayoutCache(_Plan).layout_of


def _operation(name: str, plan: _Plan, get: _Get) -> str:
    """The operation: an explicit kind in any convention, else a guess, else ``other``."""
    kind_keys = plan.fields.get("kind")
    if kind_keys is not None:
        for key in kind_keys:
            value = get(key)
            if isinstance(value, str):
                kinds = _KIND_LOOKUP[key]
                operation = kinds.get(value) or kinds.get(value.strip().lower())
                if operation:
                    return operation
    if plan.retrieval or get("gen_ai.retrieval.index.version") is not None:
        return "retrieval"
    if isinstance(name, str):
        guess = _GENAI_OPERATIONS.get(name.partition(" ")[0])
        if guess:
            return guess
    # Legacy GenAI spans (before gen_ai.operation.name) that report a model call.
    if plan.model_call and get("gen_ai.request.model") is not None:
        return "chat"
    return "other"


def _input_text(span: _Span, plan: _Plan, events: EventContent | None) -> str | None:
    for render in plan.inputs:
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


def _output_text(span: _Span, plan: _Plan, events: EventContent | None) -> str | None:
    for render in plan.outputs:
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


def _retrieval_columns(result: dict[str, Any], get: _Get, plan: _Plan) -> None:
    """``retrieval_documents`` (how many came back) and ``retrieval_source`` of a retrieval."""
    count: int | None = None
    keys = plan.fields.get("documents")
    if keys is not None:
        docs = get(keys[0])
        if isinstance(docs, str):
            docs = parse_json(docs)
        if isinstance(docs, list):
            count = len(docs)
    if count is None:
        for family in ("documents", "output_documents"):
            entries = plan.flat.get(family)
            if entries:
                count = len(entries)
                break
    if count is None and plan.fields.get("query") is not None:
        count = 0  # a query was recorded and nothing came back
    if count is not None:
        result["retrieval_documents"] = count
    keys = plan.fields.get("retrieval_source")
    if keys is not None:
        source = _first_str(get, keys)
        if source:
            result["retrieval_source"] = source


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
    value of the wrong type is skipped. Cost: a tuple of the keys and one lookup for a span whose
    key set was seen before (one pass over the keys otherwise); for an AI span, then, work in
    proportion to the fields present and the text rendered.
    """
    plan = _plan_of(attrs)
    if not plan.signal and (not events or not has_ai_event(events)):
        return {}

    get = attrs.get
    fields = plan.fields
    operation = _operation(name, plan, get)
    result: dict[str, Any] = {"operation": operation}

    keys = fields.get("provider")
    if keys is not None:
        provider = _first_str(get, keys)
        if provider:
            result["provider"] = provider.lower()
    keys = fields.get("model")
    if keys is not None:
        model = _first_str(get, keys)
        if model:
            result["model"] = model
    keys = fields.get("input_tokens")
    input_tokens = None if keys is None else _first_int(get, keys)
    keys = fields.get("output_tokens")
    output_tokens = None if keys is None else _first_int(get, keys)
    keys = fields.get("total_tokens")
    total_tokens = None if keys is None else _first_int(get, keys)
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = min(input_tokens + output_tokens, INT64_MAX)
    if input_tokens is not None:
        result["input_tokens"] = input_tokens
    if output_tokens is not None:
        result["output_tokens"] = output_tokens
    if total_tokens is not None:
        result["total_tokens"] = total_tokens
    for column, keys, read in plan.columns:
        value = read(get, keys)
        if value is not None:
            result[column] = value
    if "cost_usd" not in result and "cost_parts" in fields:
        prompt_cost = as_float(get("llm.cost.prompt"))
        completion_cost = as_float(get("llm.cost.completion"))
        if prompt_cost is not None and completion_cost is not None:
            result["cost_usd"] = prompt_cost + completion_cost

    if operation == "tool":
        result["tool_ok"] = status_code != "error" and "error" not in fields
        if "tool_name" not in result and "entity" in fields:
            entity = _first_str(get, fields["entity"])
            if entity:
                result["tool_name"] = entity
    elif operation == "agent" and "agent_name" not in result and "entity" in fields:
        entity = _first_str(get, fields["entity"])
        if entity:
            result["agent_name"] = entity

    if operation == "retrieval":
        _retrieval_columns(result, get, plan)

    span = _Span(get, plan)
    event_content = EventContent(events) if events else None
    input_text = _input_text(span, plan, event_content)
    if input_text:
        result["input_text"] = input_text
    output_text = _output_text(span, plan, event_content)
    if output_text:
        result["output_text"] = output_text

    reasons = span.reasons
    if "finish_reasons" in fields:
        reasons = _finish_reasons(get("gen_ai.response.finish_reasons")) or reasons
    if reasons:
        result["finish_reasons"] = ",".join(reasons)
    refused = span.refused
    if not refused:
        for reason in reasons:
            if reason.lower() in _REFUSAL_REASONS:
                refused = True
                break
    keys = fields.get("refused")
    explicit = None if keys is None else _first(get, keys, as_bool)
    if explicit is not None:
        result["refused"] = explicit or refused
    elif refused or operation == "chat" or operation == "completion":
        result["refused"] = refused or looks_like_refusal(output_text)

    evaluations = []
    if "evaluation" in fields:
        own = read_evaluation(get)
        if own:
            evaluations.append(own)
    if event_content is not None:
        evaluations.extend(event_content.evaluations)
    if evaluations:
        result["evaluations"] = evaluations
    return result
