"""The configuration reference, generated from the schema's field descriptions.

One table per section, in the order a reader meets them in ``truecourse.yaml``; a section used
in several places (match rules) is documented once, where it first appears.
"""

from __future__ import annotations

import typing
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from truecourse.config.checks import unwrap
from truecourse.config.schema import TrueCourseConfig

_INTRO = """\
# Configuration reference

TrueCourse reads `truecourse.yaml` (pass it with `--config`). Every section and every key is
optional; an unknown key is an error that names its file, line and the key it was probably
meant to be. `truecourse.example.yaml` shows every setting with comments.
"""

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
_TOP = "truecourse.yaml"


def config_reference_markdown() -> str:
    """Markdown documenting every section and key: type, default, constraints, meaning."""
    sections: list[str] = [_INTRO]
    documented: dict[type[BaseModel], str] = {}
    queue: list[tuple[str, type[BaseModel]]] = [(_TOP, TrueCourseConfig)]
    while queue:
        path, model = queue.pop(0)
        if model in documented:
            continue
        documented[model] = path
        sections.append(_section(path, model, queue, documented))
    return "\n".join(sections)


def _section(
    path: str,
    model: type[BaseModel],
    queue: list[tuple[str, type[BaseModel]]],
    documented: dict[type[BaseModel], str],
) -> str:
    doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
    out = [f"## `{path}`", "", doc, ""]
    if not model.model_fields:
        out += ["No settings yet: write `{}`.", ""]
        return "\n".join(out)
    out += ["| key | type | default | description |", "|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        child = _model_in(field.annotation)
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        if child is not None and child in documented:
            description += f" Same keys as `{documented[child]}`."
        elif child is not None:
            nested.append((_child_path(path, key, field.annotation), child))
        limits = _limits(field)
        if limits:
            description += f" ({limits})"
        out.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
                   f"{description} |")
    queue[:0] = nested  # nested sections follow their parent
    return "\n".join([*out, ""])


def _child_path(path: str, key: str, annotation: Any) -> str:
    if path == _TOP:
        return key
    inner = unwrap(annotation)
    if typing.get_origin(inner) is list:
        return f"{path}.{key}[]"
    if typing.get_origin(inner) is dict:
        return f"{path}.{key}.<name>"
    return f"{path}.{key}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    inner = unwrap(annotation)
    origin = typing.get_origin(inner)
    if origin in (list, dict):
        return _model_in(typing.get_args(inner)[-1])
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    return None


def _type_name(annotation: Any) -> str:
    inner = unwrap(annotation)
    origin = typing.get_origin(inner)
    if inner is Any:
        return "string, number or boolean"
    if origin is list:
        return f"list of {_type_name(typing.get_args(inner)[0])}"
    if origin is dict:
        return f"mapping of name to {_type_name(typing.get_args(inner)[1])}"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(inner))
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return "mapping"
    return _SCALARS.get(inner, str(inner))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return ", ".join(getattr(v, "type", type(v).__name__) for v in value)
    return f"`{orjson.dumps(value).decode()}`"


def _limits(field: FieldInfo) -> str:
    words = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    is_list = typing.get_origin(unwrap(field.annotation)) is list
    parts = []
    for meta in field.metadata:
        for attr, word in words.items():
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{word} {bound}")
        shortest = getattr(meta, "min_length", None)
        if shortest is not None:
            noun = "item" if is_list else "character"
            parts.append(f"at least {shortest} {noun}{'s' if shortest != 1 else ''}")
        longest = getattr(meta, "max_length", None)
        if longest is not None:
            parts.append(f"at most {longest}")
    return ", ".join(parts)

