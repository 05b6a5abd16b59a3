"""Normalizing app-supplied input/output into GenAI convention messages (parts format)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from truecourse.sdk.messages import normalize_input, normalize_output


def text(role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": content}], **extra}


class Dumpable:
    def model_dump(self) -> dict[str, Any]:
        return {"role": "user", "content": "from pydantic"}


INPUTS: list[tuple[str, Any, list[dict[str, Any]]]] = [
    ("string", "hi", [text("user", "hi")]),
    ("list of strings", ["a", "b"], [text("user", "a"), text("user", "b")]),
    ("openai chat", [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}],
     [text("system", "sys"), text("user", "q")]),
    ("openai content parts",
     [{"role": "user", "content": [{"type": "text", "text": "look"},
                                   {"type": "image_url", "image_url": {"url": "u"}}]}],
     [{"role": "user", "parts": [{"type": "text", "content": "look"},
                                 {"type": "image_url", "image_url": {"url": "u"}}]}]),
    ("openai tool call and result",
     [{"role": "assistant", "content": None,
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get", "arguments": '{"x": 1}'}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "42"}],
     [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get",
                                       "arguments": {"x": 1}}]},
      {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                  "response": "42"}]}]),
    ("anthropic blocks",
     [{"role": "assistant", "content": [{"type": "text", "text": "t"},
                                        {"type": "tool_use", "id": "u1", "name": "f",
                                         "input": {"a": 1}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "u1",
                                    "content": "ok"}]}],
     [{"role": "assistant", "parts": [{"type": "text", "content": "t"},
                                      {"type": "tool_call", "id": "u1", "name": "f",
                                       "arguments": {"a": 1}}]},
      {"role": "user", "parts": [{"type": "tool_call_response", "id": "u1",
                                  "response": "ok"}]}]),
    ("already parts", [text("user", "p")], [text("user", "p")]),
    ("single mapping", {"role": "user", "content": "one"}, [text("user", "one")]),
    ("model_dump object", Dumpable(), [text("user", "from pydantic")]),
    ("anything else", 12, [text("user", "12")]),
]


@pytest.mark.parametrize(("value", "expected"), [(v, e) for _, v, e in INPUTS],
                         ids=[name for name, _, _ in INPUTS])
def test_input_messages(value: Any, expected: list[dict[str, Any]]) -> None:
    normalized = normalize_input(value)
    assert normalized.messages == expected
    assert json.loads(normalized.to_json()) == expected


def test_output_string_takes_the_finish_reason() -> None:
    out = normalize_output("done", finish_reason="length")
    assert out.messages == [text("assistant", "done", finish_reason="length")]
    assert out.finish_reasons == ["length"]


def test_output_without_finish_reason_invents_none() -> None:
    out = normalize_output("done")
    assert out.messages == [text("assistant", "done")]
    assert out.finish_reasons == []


def test_openai_choices_carry_their_own_finish_reasons() -> None:
    choices = [{"index": 0, "message": {"role": "assistant", "content": "a"},
                "finish_reason": "stop"},
               {"index": 1, "message": {"role": "assistant", "content": "b"},
                "finish_reason": "length"}]
    out = normalize_output(choices, finish_reason="ignored")
    assert out.messages == [text("assistant", "a", finish_reason="stop"),
                            text("assistant", "b", finish_reason="length")]
    assert out.finish_reasons == ["stop", "length"]


def test_chars_count_text_content_only() -> None:
    value = [{"role": "user", "content": "abc"},
             {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f",
                                                                          "arguments": "{}"}}]}]
    assert normalize_input(value).chars == 3


def test_non_json_tool_arguments_are_kept_as_text() -> None:
    value = [{"role": "assistant",
              "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "not json"}}]}]
    assert normalize_input(value).messages[0]["parts"][0]["arguments"] == "not json"


def test_unicode_is_kept_readable() -> None:
    assert "héllo" in normalize_input("héllo").to_json()
