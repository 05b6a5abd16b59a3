"""``@truecourse.trace`` on sync and async functions."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import truecourse.sdk as sdk

from sdk.sdk_fixtures import Traced


def test_bare_decorator_on_a_sync_function(traced: Traced) -> None:
    @sdk.trace
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    assert add(1) == 3
    assert add.__name__ == "add" and add.__doc__ == "Add."
    assert str(inspect.signature(add)) == "(a: 'int', b: 'int' = 2) -> 'int'"
    (span,) = traced.exporter.get_finished_spans()
    assert span.name.endswith("add")
    assert span.kind is SpanKind.INTERNAL
    assert "gen_ai.input.messages" not in (span.attributes or {})


def test_decorator_with_arguments_on_an_async_function(traced: Traced) -> None:
    @sdk.trace(name="answer", operation="chat", provider="anthropic", model="claude-sonnet-4",
               prompt_version="p3")
    async def answer(question: str) -> str:
        await asyncio.sleep(0)
        assert sdk.current_trace_id() is not None
        return question.upper()

    assert inspect.iscoroutinefunction(answer)
    assert asyncio.run(answer("hi")) == "HI"
    (span,) = traced.exporter.get_finished_spans()
    attrs = span.attributes or {}
    assert span.name == "answer"
    assert span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "claude-sonnet-4"
    assert attrs["truecourse.prompt_version"] == "p3"


def test_spans_inside_a_traced_function_are_its_children(traced: Traced) -> None:
    @sdk.trace(operation="agent")
    def agent() -> None:
        with sdk.span("call", operation="chat", model="m"):
            pass

    agent()
    spans = {s.name: s for s in traced.exporter.get_finished_spans()}
    outer = next(s for n, s in spans.items() if n.endswith("agent"))
    assert spans["call"].parent is not None
    assert spans["call"].parent.span_id == outer.context.span_id


def test_sync_exception_marks_error_and_reraises(traced: Traced) -> None:
    @sdk.trace
    def boom() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        boom()
    (span,) = traced.exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError: nope"
    assert (span.attributes or {})["error.type"] == "ValueError"
    assert span.events[0].name == "exception"


def test_async_exception_marks_error_and_reraises(traced: Traced) -> None:
    @sdk.trace(operation="tool", tool_name="fetch")
    async def fetch() -> None:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        asyncio.run(fetch())
    (span,) = traced.exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "TimeoutError"


def test_capture_args_and_result(traced: Traced) -> None:
    class Bot:
        @sdk.trace(capture_args=True, capture_result=True)
        def reply(self, question: str, *, k: int = 3) -> str:
            return f"{question}!"

    assert Bot().reply("why", k=5) == "why!"
    (span,) = traced.exporter.get_finished_spans()
    attrs = span.attributes or {}
    inp = json.loads(str(attrs["gen_ai.input.messages"]))
    out = json.loads(str(attrs["gen_ai.output.messages"]))
    assert inp[0]["parts"][0]["content"] == "question='why', k=5"
    assert out[0]["parts"][0]["content"] == "why!"


def test_captured_values_are_truncated(traced: Traced) -> None:
    @sdk.trace(capture_args=True, capture_result=True)
    def big(items: list[int]) -> list[int]:
        return items

    big(list(range(100_000)))
    (span,) = traced.exporter.get_finished_spans()
    attrs = span.attributes or {}
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        assert len(str(attrs[key])) < 6000


def test_generators_are_refused() -> None:
    with pytest.raises(TypeError, match="generator"):
        @sdk.trace
        def numbers() -> Iterator[int]:
            yield 1


def test_runs_without_init() -> None:
    @sdk.trace(operation="chat")
    def plain() -> int:
        return 7

    assert plain() == 7


def test_methods_classmethods_and_staticmethods_in_either_order(traced: Traced) -> None:
    class Bot:
        greeting = "hi"

        @sdk.trace(capture_args=True)
        def method(self, who: str) -> str:
            return f"{self.greeting} {who}"

        @sdk.trace(operation="agent")  # above @classmethod: used to fail on every call
        @classmethod
        def make(cls) -> str:
            return cls.greeting

        @sdk.trace
        @staticmethod
        def pure(x: int) -> int:
            return x + 1

        @classmethod
        @sdk.trace
        def below(cls) -> str:
            return cls.greeting

        @sdk.trace
        @classmethod
        async def amake(cls) -> str:
            return cls.greeting

    assert Bot().method("ann") == "hi ann"
    assert Bot.make() == "hi" and Bot().make() == "hi"
    assert Bot.pure(1) == 2 and Bot().pure(2) == 3
    assert Bot.below() == "hi"
    assert asyncio.run(Bot.amake()) == "hi"
    names = [s.name.rsplit(".", 1)[-1] for s in traced.exporter.get_finished_spans()]
    assert names == ["method", "make", "make", "pure", "pure", "below", "amake"]
    first = traced.exporter.get_finished_spans()[0]
    assert "'ann'" in str((first.attributes or {})["gen_ai.input.messages"])
    assert "self" not in str((first.attributes or {})["gen_ai.input.messages"])


def test_a_positional_name_is_refused_with_a_hint(traced: Traced) -> None:
    with pytest.raises(TypeError, match=r"trace\(name='answer'\)"):
        sdk.trace("answer")  # type: ignore[call-overload]
    assert traced.exporter.get_finished_spans() == ()


def test_async_generator_classmethods_are_refused() -> None:
    with pytest.raises(TypeError, match="generator function"):
        class Feed:
            @sdk.trace
            @classmethod
            async def items(cls) -> object:
                yield 1
