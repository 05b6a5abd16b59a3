"""Helpers the config modules share: "did you mean" answers, errors at a precise key, and
reading the schema's type annotations.

A validator that checks several items at once (duplicate processors, route destinations) raises
:func:`located` so each problem carries the path of the exact item at fault; pydantic prefixes the
path of the model being validated, and the loader turns the full path into a file line.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``name``, or None when nothing is close enough to suggest."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_name(
    what: str, name: object, choices: Sequence[str], *, list_valid: bool = False
) -> str:
    """``unknown key 'prot' — did you mean 'port'?``; the valid names when no guess is close
    (or always, with ``list_valid``)."""
    guess = did_you_mean(name, choices) if isinstance(name, str) else None
    valid = f"valid: {', '.join(choices) if choices else 'none'}"
    if guess is None:
        return f"unknown {what} {name!r}; {valid}"
    suffix = f" ({valid})" if list_valid else ""
    return f"unknown {what} {name!r} — did you mean {guess!r}?{suffix}"


def located(title: str, problems: Sequence[tuple[Loc, str, object]]) -> ValidationError:
    """One validation error per ``(loc, message, input)``, ``loc`` relative to the model."""
    details: list[InitErrorDetails] = [
        {"type": PydanticCustomError("config_check", message), "loc": loc, "input": value}
        for loc, message, value in problems
    ]
    return ValidationError.from_exception_data(title, details)


def unwrap(annotation: Any) -> Any:
    """``X`` from ``X | None`` and ``Annotated[X, ...]`` (other unions are returned whole)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation
