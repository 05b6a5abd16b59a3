"""The SDK's public surface: what ``__all__`` promises exists, and ``truecourse.*`` reaches it."""

from __future__ import annotations

import inspect

import truecourse
import truecourse.sdk as sdk

PUBLIC = {
    "AISpan", "DEFAULT_ENDPOINT", "OPERATIONS", "Operation", "SpanScope", "TrueCourseHandle",
    "current_handle", "current_span_id", "current_trace_id", "feedback", "init", "shutdown",
    "span", "trace",
}


def test_all_is_the_documented_surface() -> None:
    assert set(sdk.__all__) == PUBLIC
    for name in sdk.__all__:
        assert hasattr(sdk, name), name


def test_top_level_names_are_the_sdk_functions() -> None:
    for name in ("init", "trace", "span", "feedback", "shutdown", "current_trace_id"):
        assert getattr(truecourse, name) is getattr(sdk, name), name


def test_every_public_callable_says_what_it_promises() -> None:
    for name in sdk.__all__:
        obj = getattr(sdk, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert (obj.__doc__ or "").strip(), name
