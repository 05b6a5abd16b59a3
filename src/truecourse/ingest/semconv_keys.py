"""The attribute keys of each convention by field, and the fields a span's keys carry.

A *field* is one thing a span can say (its model, its input messages, ...), read from several
keys across conventions in priority order (:data:`SOURCES`). Which fields a span carries, and how
its flattened indexed keys regroup, depend on its keys alone; instrumentations emit the same keys
span after span, so a :class:`LayoutCache` works this out once per key set and keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from truecourse.ingest.flattened import FlatLayout, flat_layout, parse_flat_key

__all__ = ["KEYS", "SOURCES", "KeyLayout", "LayoutCache"]

# A key with one of these prefixes makes a span an AI span. ``session.``, ``tool.``, ``input.``
# and friends are read too, but alone they are common on plain web spans and prove nothing.
_SIGNAL_PREFIXES = (
    "gen_ai.", "llm.", "openinference.", "traceloop.", "retrieval.", "embedding.", "reranker.",
    "truecourse.prompt_version", "truecourse.index_version", "truecourse.refused",
    "truecourse.cost_usd",
)
# Prefixes of the flattened indexed keys (see :mod:`truecourse.ingest.flattened`), plus any
# ``gen_ai.retrieval.*`` key, which marks a retrieval.
_FLAT_PREFIXES = (
    "gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
    "llm.prompts.", "llm.completions.", "retrieval.documents.", "reranker.output_documents.",
    "embedding.embeddings.", "gen_ai.retrieval.",
)

# Each field is read from its keys in priority order: the first usable value wins.
SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
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
    ("retrieval_source", ("gen_ai.data_source.id", "db.system.name", "db.system")),
    ("legacy_prompt", ("gen_ai.prompt",)),
    ("legacy_completion", ("gen_ai.completion",)),
    ("prompt_list", ("llm.prompts",)),
    ("entity_input", ("traceloop.entity.input",)),
    ("entity_output", ("traceloop.entity.output",)),
    ("input_value", ("input.value",)),
    ("output_value", ("output.value",)),
)
#: Each field's keys in priority order.
KEYS: dict[str, tuple[str, ...]] = dict(SOURCES)
_FIELD_OF: dict[str, str] = {key: field for field, keys in SOURCES for key in keys}
_RANK: dict[str, int] = {key: rank for keys in KEYS.values() for rank, key in enumerate(keys)}

# Bounds of a LayoutCache: at most 256 layouts of at most 256 keys and 16 KiB of key text each.
_MAX_LAYOUTS = 256
_MAX_CACHED_KEYS = 256
_MAX_CACHED_CHARS = 16 * 1024


class KeyLayout:
    """What a span's attribute keys say, independent of their values.

    ``signal``: some key proves an AI span. ``fields``: each field present, mapped to its keys
    present in priority order. ``present``: those fields, plus ``"flat"`` when ``flat`` (the
    flattened families) is not empty. ``retrieval``: a key marks a retrieval.
    """

    __slots__ = ("fields", "flat", "present", "retrieval", "signal")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.signal = False
        self.retrieval = False
        field_keys: dict[str, list[str]] = {}
        flat: list[tuple[str, int, str, str]] = []
        field_of = _FIELD_OF
        for key in keys:
            if not self.signal and key.startswith(_SIGNAL_PREFIXES):
                self.signal = True
            field = field_of.get(key)
            if field is not None:
                field_keys.setdefault(field, []).append(key)
            elif key.startswith(_FLAT_PREFIXES):
                parsed = parse_flat_key(key)
                if parsed is not None:
                    flat.append((*parsed, key))
                elif key.split(".", 2)[1] == "retrieval":
                    self.retrieval = True
        self.fields: dict[str, tuple[str, ...]] = {
            field: tuple(sorted(found, key=_RANK.__getitem__))
            for field, found in field_keys.items()
        }
        self.flat: FlatLayout = flat_layout(flat)
        present = set(self.fields)
        if self.flat:
            present.add("flat")
        self.present = frozenset(present)
        if "query" in present or "documents" in present:
            self.retrieval = True


L = TypeVar("L", bound=KeyLayout)


class LayoutCache(Generic[L]):
    """Layouts by key tuple, each built by ``build`` the first time its keys are seen.

    Bounded in count and in key text, so spans with ever-new keys cannot grow memory: past the
    bound the cache starts over. Safe to share between threads (a race builds a layout twice).
    """

    __slots__ = ("_build", "_layouts")

    def __init__(self, build: Callable[[tuple[str, ...]], L]) -> None:
        self._build = build
        self._layouts: dict[tuple[str, ...], L] = {}

    def layout_of(self, attrs: Mapping[str, Any]) -> L:
        """The layout of ``attrs``'s keys in their order; cost: a tuple of the keys when known."""
        keys = tuple(attrs)
        layout = self._layouts.get(keys)
        if layout is None:
            layout = self._build(keys)
            if len(keys) <= _MAX_CACHED_KEYS and sum(map(len, keys)) <= _MAX_CACHED_CHARS:
                if len(self._layouts) >= _MAX_LAYOUTS:
                    self._layouts.clear()
                self._layouts[keys] = layout
        return layout
