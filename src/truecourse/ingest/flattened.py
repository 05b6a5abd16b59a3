"""Flattened indexed attributes: ``<prefix>.<family>.<index>.<field...>`` rebuilt and rendered.

OpenLLMetry (``gen_ai.prompt.{i}.content``) and OpenInference
(``llm.input_messages.{i}.message.role``, ``retrieval.documents.{i}.document.content``) spread
one list over many keys. :func:`parse_flat_key` reads one such key; a :data:`FlatLayout` records,
per family, which attribute key holds which field of which entry, in index order (10 after 9),
so a span's attributes are regrouped by key lookups alone. Nothing here raises for any value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from truecourse.ingest.coerce import as_str
from truecourse.ingest.transcript import (
    TEXT_LIMIT_BYTES,
    Transcript,
    add_message,
    document_line,
)

__all__ = [
    "FlatLayout", "flat_documents", "flat_layout", "flat_messages", "flat_texts", "parse_flat_key",
]

# The family names are unique across conventions, so a family alone names its list.
_FLAT_FAMILIES = frozenset({
    "prompt", "completion", "input_messages", "output_messages", "prompts", "completions",
    "documents", "output_documents", "embeddings",
})

#: Per family, its entries in index order; each entry maps a field to the attribute key holding
#: it (a field given twice, e.g. under ``0`` and ``00``, is read from the last such key).
FlatLayout = dict[str, tuple[dict[str, str], ...]]

_Get = Callable[[str], Any]
_SMALL_INDEXES = {str(i): i for i in range(256)}


def _index(text: str) -> int | None:
    """A flattened key's index segment as an int, or None when it is not one."""
    index = _SMALL_INDEXES.get(text)
    if index is None and text.isdigit():
        index = int(text)
    return index


def _ordered(entries: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of an index → entry dict in numeric index order (10 after 9)."""
    if len(entries) == 1:
        return list(entries.values())
    return list(map(entries.__getitem__, sorted(entries)))


def parse_flat_key(key: str) -> tuple[str, int, str] | None:
    """``(family, index, field)`` of a flattened key such as ``llm.prompts.0.text``; else None.

    Only the family segment is checked: the caller knows the key has a flattening prefix.
    """
    parts = key.split(".", 3)
    if len(parts) != 4 or parts[1] not in _FLAT_FAMILIES:
        return None
    index = _index(parts[2])
    return None if index is None else (parts[1], index, parts[3])


def flat_layout(keys: list[tuple[str, int, str, str]]) -> FlatLayout:
    """The layout of ``(family, index, field, key)`` tuples given in attribute order."""
    families: dict[str, dict[int, dict[str, str]]] = {}
    for family, index, field, key in keys:
        families.setdefault(family, {}).setdefault(index, {})[field] = key
    return {family: tuple(_ordered(entries)) for family, entries in families.items()}


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
            else {"type": as_str(part.get("type")) or "content"}
            for part in _ordered(contents)
        ]
    return message


def flat_messages(layout: FlatLayout, get: _Get, families: tuple[str, ...]) -> Transcript | None:
    """A transcript of the first message family of ``families`` that renders anything."""
    for family in families:
        entries = layout.get(family)
        if not entries:
            continue
        transcript = Transcript()
        for entry in entries:
            fields = {field: get(key) for field, key in entry.items()}
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
                add_message(_nest(fields), None, transcript)
        if transcript.lines or transcript.reasons or transcript.refused:
            return transcript
    return None


def flat_texts(layout: FlatLayout, get: _Get, family: str, field: str) -> list[str]:
    """The string values of one field across a family's entries, in index order."""
    texts = []
    for entry in layout.get(family, ()):
        key = entry.get(field)
        if key is not None:
            value = get(key)
            if isinstance(value, str):
                texts.append(value)
    return texts


def flat_documents(layout: FlatLayout, get: _Get, family: str) -> str | None:
    """OpenInference ``<family>.{i}.document.{id,score,content}`` as document lines."""
    entries = layout.get(family)
    if not entries:
        return None
    transcript = Transcript()
    lines = transcript.lines
    for position, entry in enumerate(entries):
        doc_id = entry.get("document.id")
        score = entry.get("document.score")
        content = entry.get("document.content")
        line = document_line(
            None if doc_id is None else get(doc_id),
            None if score is None else get(score),
            None if content is None else get(content),
            position,
        )
        if line and transcript.size <= TEXT_LIMIT_BYTES:  # as Transcript.add, inlined
            lines.append(line)
            transcript.size += len(line) + 1
    return transcript.text()
