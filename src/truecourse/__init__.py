"""TrueCourse: the operations platform for production AI.

``import truecourse`` is light: the instrumentation SDK (``truecourse.init``, ``trace``, ``span``,
``feedback``, ``shutdown``, ``current_trace_id``) loads on first use, and nothing of the server
(DuckDB, FastAPI, Arrow) is imported by an instrumented app.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from truecourse.sdk import (
        AISpan,
        TrueCourseHandle,
        current_span_id,
        current_trace_id,
        feedback,
        init,
        shutdown,
        span,
        trace,
    )

__version__ = "0.1.0"

__all__ = [
    "AISpan",
    "TrueCourseHandle",
    "__version__",
    "current_span_id",
    "current_trace_id",
    "feedback",
    "init",
    "shutdown",
    "span",
    "trace",
]
_SDK_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        return getattr(import_module("truecourse.sdk"), name)
    raise AttributeError(f"module 'truecourse' has no attribute {name!r}")
