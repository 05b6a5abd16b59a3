"""The generated reference, the example file and the public surface cover every setting."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

import truecourse.config as config_pkg
from truecourse.config import TrueCourseConfig, config_reference_markdown

EXAMPLE = Path(__file__).resolve().parents[2] / "truecourse.example.yaml"


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        for inner in _walk(field.annotation):
            yield from _models(inner, seen)


def _walk(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _walk(arg)


ALL_MODELS = list(_models(TrueCourseConfig, set()))


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def test_every_field_has_a_description() -> None:
    missing = [f"{m.__name__}.{k}" for m in ALL_MODELS for k, f in m.model_fields.items()
               if not f.description]
    assert missing == []


def test_every_model_forbids_unknown_keys() -> None:
    assert [m.__name__ for m in ALL_MODELS if m.model_config.get("extra") != "forbid"] == []


def test_reference_mentions_every_field() -> None:
    text = config_reference_markdown()
    missing = [f"{m.__name__}.{k}" for m in ALL_MODELS for k in _keys(m)
               if f"| `{k}` |" not in text]
    assert missing == []
    for model in ALL_MODELS:
        assert (model.__doc__ or "").strip().splitlines()[0] in text


def test_reference_shows_defaults_and_limits() -> None:
    text = config_reference_markdown()
    assert "| `port` | integer | `4318` |" in text
    assert "| `ratio` | number | **required** |" in text
    assert "(> 0, ≤ 1)" in text


def _used_keys(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from _used_keys(value)
    elif isinstance(data, list):
        for item in data:
            yield from _used_keys(item)


def test_example_uses_every_setting() -> None:
    used = set(_used_keys(yaml.safe_load(EXAMPLE.read_text())))
    missing = {k for m in ALL_MODELS for k in _keys(m)} - used
    assert missing == set(), "document these in truecourse.example.yaml"


def test_public_surface() -> None:
    assert sorted(config_pkg.__all__) == sorted(set(config_pkg.__all__))
    for name in config_pkg.__all__:
        assert getattr(config_pkg, name) is not None
