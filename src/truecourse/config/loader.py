"""Reading ``truecourse.yaml``: YAML with line tracking, validation, and file:line errors.

Every problem is reported at once, one line each, sorted by line::

    truecourse.yaml:3: server.prot: unknown key 'prot' — did you mean 'port'?
    truecourse.yaml:12: pipeline.processors[2].sample.ratio: Input should be less than or
    equal to 1 (got 1.5)

A missing or unreadable file, a YAML syntax error and a top level that is not a mapping are
reported the same way, as :class:`InvalidConfig` (a :class:`truecourse.errors.ConfigError`).
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from truecourse.config.checks import Loc, unknown_name, unwrap
from truecourse.config.schema import TrueCourseConfig
from truecourse.errors import ConfigError


class InvalidConfig(ConfigError):
    """The configuration has problems; ``problems`` holds one ``file:line: key: message`` each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def load_config(path: str | os.PathLike[str] | None) -> TrueCourseConfig:
    """The configuration in the YAML file at ``path``; the defaults when ``path`` is None.

    Raises :class:`InvalidConfig` naming the file for a missing or unreadable file, and with
    every problem found for invalid YAML or settings. An empty file gives the defaults.
    """
    if path is None:
        return TrueCourseConfig()
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InvalidConfig([f"{source}: config file not found"]) from e
    except IsADirectoryError as e:
        raise InvalidConfig([f"{source}: is a directory, not a config file"]) from e
    except UnicodeDecodeError as e:
        raise InvalidConfig([f"{source}: not UTF-8 text ({e.reason} at byte {e.start})"]) from e
    except OSError as e:
        raise InvalidConfig([f"{source}: cannot read config file: {e.strerror or e}"]) from e
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> TrueCourseConfig:
    """The configuration in YAML ``text``; ``source`` names it in error messages."""
    data, lines, duplicates = _read_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidConfig([
            f"{source}:{lines.get((), 1)}: the top level must be a mapping of sections "
            f"(server, storage, pipeline, catalog), not {_describe(data)}"
        ])
    problems: list[tuple[int, str]] = [
        (line, f"{source}:{line}: {_path(loc)}: duplicate key (first on line {first}); "
               "the later value would silently win")
        for loc, line, first in duplicates
    ]
    try:
        config = TrueCourseConfig.model_validate(data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc, message = _key_problem(err) or (err["loc"], _message(err))
            line = _line_of(err["loc"][:len(loc) + 1], lines)
            problems.append((line, f"{source}:{line}: {_path(loc)}: {message}"))
    else:
        if not problems:
            return config
    problems.sort(key=lambda p: p[0])  # stable: same-line problems keep pydantic's order
    raise InvalidConfig([p for _, p in problems])


# --- YAML with line numbers ------------------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that also records the line of every mapping key and sequence item."""

    def load_with_lines(self) -> tuple[Any, dict[Loc, int], list[tuple[Loc, int, int]]]:
        node = self.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, int, int]] = []
        if node is None:
            return None, lines, duplicates
        lines[()] = node.start_mark.line + 1
        _index(node, (), lines, duplicates, set(), self._key_value)
        return self.construct_document(node), lines, duplicates

    def _key_value(self, key_node: yaml.ScalarNode) -> Any:
        """The key as YAML reads it (``123``, ``true``), or None when it will not construct."""
        try:
            return self.construct_object(key_node)
        except yaml.YAMLError:  # reported when the document is constructed
            return None


def _index(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, int, int]],
    path: set[int],
    key_value: Callable[[yaml.ScalarNode], Any],
) -> None:
    if id(node) in path:  # a recursive alias
        return
    path = path | {id(node)}
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key_loc = (*loc, key_node.value)
            line = key_node.start_mark.line + 1
            if key_node.value in first_line:
                duplicates.append((key_loc, line, first_line[key_node.value]))
            first_line.setdefault(key_node.value, line)
            lines[key_loc] = line
            if key_node.tag != "tag:yaml.org,2002:str":  # 123, true, null: pydantic's loc
                value = key_value(key_node)  # holds the value YAML made of the key
                if isinstance(value, int | float | bool) or value is None:
                    lines.setdefault((*loc, value), line)  # type: ignore[arg-type]
            _index(value_node, key_loc, lines, duplicates, path, key_value)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(item, (*loc, i), lines, duplicates, path, key_value)


def _read_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, int, int]]]:
    loader = _LineLoader(text)
    try:
        return loader.load_with_lines()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1"
        context = ""
        if e.context and e.context_mark is not None and e.context_mark is not mark:
            cm = e.context_mark
            context = f" ({e.context} started at line {cm.line + 1}, column {cm.column + 1})"
        elif e.context:
            context = f" ({e.context})"
        raise InvalidConfig([f"{source}:{where}: invalid YAML: {e.problem}{context}"]) from e
    except yaml.YAMLError as e:
        raise InvalidConfig([f"{source}: invalid YAML: {e}"]) from e
    finally:
        loader.dispose()


# --- error formatting ------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_EXPECTED = {
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
}


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(top level)"


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _key_problem(err: ErrorDetails) -> tuple[Loc, str] | None:
    """(where, message) for a mapping key that is not text, e.g. ``123:`` or ``yes:``.

    pydantic puts such a key in the loc itself (followed by ``'[key]'`` for a dict), which
    would read as a list index; the problem is reported at the mapping that holds the key.
    """
    loc = err["loc"]
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
    elif err["type"] != "invalid_key":
        return None
    key = err.get("input")
    hint = " (YAML reads yes/no/on/off/true/false as booleans)" if isinstance(key, bool) else ""
    return loc[:-1], f"the key {_describe(key)} must be text; quote it{hint}"


def _message(err: ErrorDetails) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return unknown_name("key", err["loc"][-1], _keys_at(err["loc"][:-1]))
    if kind == "literal_error" and isinstance(value, str):
        return unknown_name("value", value, _literal_choices(err["loc"]), list_valid=True)
    if kind == "config_check":
        return err["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return err["msg"].split(", ", 1)[1] if ", " in err["msg"] else err["msg"]
    message = _EXPECTED.get(kind, err["msg"]) + f" (got {_describe(value)})"
    if kind == "string_type" and isinstance(value, bool):
        message += "; quote it to make it text (YAML reads yes/no/on/off as booleans)"
    elif kind == "string_type" and isinstance(value, int | float):
        message += "; quote it to make it text"
    return message


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _annotation_at(loc: Loc) -> Any:
    """The type annotation the schema has at ``loc`` (None when it cannot tell)."""
    current: Any = TrueCourseConfig
    for part in loc:
        current = unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items()
                          if part in (n, f.alias)), None)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    return unwrap(current)


def _keys_at(loc: Loc) -> list[str]:
    model = _annotation_at(loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _literal_choices(loc: Loc) -> list[str]:
    annotation = _annotation_at(loc)
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return []
