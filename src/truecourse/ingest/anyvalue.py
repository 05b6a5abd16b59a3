"""OTLP ``AnyValue`` / ``KeyValue`` to plain Python values, for protobuf messages.

Strings, bools, ints and floats map to themselves, arrays to lists, kvlists to dicts, and bytes to
base64 text (so every attribute dict can be encoded as JSON). An unset value becomes ``None``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

_SCALAR = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def any_value(v: Any) -> Any:
    """The Python value held by an ``AnyValue`` message."""
    which = v.WhichOneof("value")
    if which in _SCALAR:
        return getattr(v, which)
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return base64.b64encode(v.bytes_value).decode("ascii")


def attributes(kvs: Iterable[Any]) -> dict[str, Any]:
    """A ``repeated KeyValue`` as a dict; a repeated key keeps its last value."""
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        which = v.WhichOneof("value")
        if which in _SCALAR:
            out[kv.key] = getattr(v, which)
        else:
            out[kv.key] = any_value(v)
    return out
