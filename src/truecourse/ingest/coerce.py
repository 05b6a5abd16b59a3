"""Attribute values coerced to the types the span columns hold, and JSON in and out.

Instrumentations disagree on types (token counts as strings, ids as ints, flags as ``"true"``),
so every reader here accepts the shapes seen in the wild and answers ``None`` for a value it
cannot use. None of them raises for any input value.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["INT64_MAX", "as_bool", "as_float", "as_int", "as_str", "parse_json", "to_json"]

INT64_MAX = 2**63 - 1


def as_int(value: Any) -> int | None:
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
            number = as_float(value)
            if number is None or not number.is_integer():
                return None
            result = int(number)
    else:
        return None
    return result if 0 <= result <= INT64_MAX else None


def as_float(value: Any) -> float | None:
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


def as_str(value: Any) -> str | None:
    """A non-empty str from a str or a number (ids and versions are sometimes ints)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_bool(value: Any) -> bool | None:
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


def to_json(value: Any) -> str:
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


def parse_json(text: str) -> Any:
    """``text`` parsed as JSON when it looks like an object or array; else None."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return orjson.loads(stripped)
    except (ValueError, TypeError, RecursionError):
        return None
