"""GenAI span events: message content, evaluation results and finish reasons.

Older GenAI instrumentations put content on events rather than attributes: ``gen_ai.content.*``,
one event per message (``gen_ai.user.message``, ``gen_ai.choice``, ...) or a single
``gen_ai.client.inference.operation.details``; evaluators report ``gen_ai.evaluation.result``.
Events are ``(name, attributes)`` pairs; a malformed one is skipped, never raised on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from truecourse.ingest.coerce import as_float, as_str
from truecourse.ingest.transcript import Transcript, add_payload

__all__ = ["EventContent", "has_ai_event", "read_evaluation"]

_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
}


def read_evaluation(get: Callable[[str], Any]) -> dict[str, Any] | None:
    """One ``{name, score, label, explanation}`` result from ``gen_ai.evaluation.*`` keys."""
    result: dict[str, Any] = {}
    name = as_str(get("gen_ai.evaluation.name"))
    if name is not None:
        result["name"] = name
    score = as_float(get("gen_ai.evaluation.score.value"))
    if score is not None:
        result["score"] = score
    label = as_str(get("gen_ai.evaluation.score.label"))
    if label is not None:
        result["label"] = label
    explanation = as_str(get("gen_ai.evaluation.explanation"))
    if explanation is not None:
        result["explanation"] = explanation
    return result or None


def _event_body(body: dict[str, Any]) -> Any:
    """The content of a per-message event, wherever the instrumentation put it."""
    for key in ("message", "content", "body", "gen_ai.event.content"):
        value = body.get(key)
        if value is not None:
            return value
    return None


class EventContent:
    """What span events say: content for the fallbacks, evaluations, finish reasons."""

    __slots__ = ("details", "evaluations", "input", "output")

    def __init__(self, events: Sequence[Any]) -> None:
        self.input = Transcript()
        self.output = Transcript()
        self.evaluations: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        for event in events:
            try:
                name, body = event
            except (TypeError, ValueError):
                continue
            if not isinstance(name, str) or not name.startswith("gen_ai."):
                continue
            if not isinstance(body, dict):
                if not isinstance(body, Mapping):
                    continue
                body = dict(body)
            self._read(name, body)

    def _read(self, name: str, body: dict[str, Any]) -> None:
        if name == "gen_ai.evaluation.result":
            evaluation = read_evaluation(body.get)
            if evaluation:
                self.evaluations.append(evaluation)
        elif name == "gen_ai.content.prompt":
            add_payload(body.get("gen_ai.prompt"), None, self.input)
        elif name == "gen_ai.content.completion":
            add_payload(body.get("gen_ai.completion"), None, self.output)
        elif name in _MESSAGE_EVENTS:
            role = as_str(body.get("role")) or _MESSAGE_EVENTS[name]
            add_payload(_event_body(body), role, self.input)
        elif name == "gen_ai.choice":
            before = len(self.output.reasons)
            add_payload(_event_body(body), "assistant", self.output)
            reason = as_str(body.get("finish_reason"))
            if reason and len(self.output.reasons) == before:
                self.output.reasons.append(reason)
        elif name == "gen_ai.client.inference.operation.details":
            self.details = body


def has_ai_event(events: Sequence[Any]) -> bool:
    """Whether any event is a ``gen_ai.*`` event (which makes a span an AI span)."""
    for event in events:
        try:
            name = event[0]
        except (TypeError, IndexError, KeyError):
            continue
        if isinstance(name, str) and name.startswith("gen_ai."):
            return True
    return False
