"""The refusal pattern set: each phrasing it must catch, and the near misses it must not."""

from __future__ import annotations

import pytest

from truecourse.measure.refusal import REFUSAL_PATTERNS, looks_like_refusal, refusal_pattern

REFUSALS = [
    ("I'm sorry, but I can't help with that.", "sorry_cannot"),
    ("I\u2019m sorry, but I can\u2019t assist with that request.", "sorry_cannot"),
    ("Sorry, I cannot provide that information.", "sorry_cannot"),
    ("I apologize, but I won't be able to help with this.", None),
    ("Unfortunately, I can't share details about other customers.", "sorry_cannot"),
    ("I can't help with that.", "cannot_help"),
    ("I cannot assist you with creating malware.", "cannot_help"),
    ("I won't provide instructions for that.", "cannot_request"),
    ("As an AI language model, I cannot browse the internet.", "as_an_ai"),
    ("As an AI, I don't have personal opinions.", "as_an_ai"),
    ("I'm not able to help with requests like this.", "cannot_help"),
    ("I am unable to comply with this request.", "cannot_help"),
    ("I'm unable to comply.", "not_able_to"),
    ("We are not able to provide refunds.", "not_able_to"),
    ("I must decline to answer that.", "must_decline"),
    ("I'm sorry, but I have to respectfully decline.", "must_decline"),
    ("That goes against my guidelines.", "against_policy"),
    ("Your request violates our usage policies.", "against_policy"),
    ("I'm not comfortable providing that.", "not_comfortable"),
    ("assistant: I'm sorry, but I can't help with that request.", "sorry_cannot"),
    ("  \n**I cannot help with that.**", "cannot_help"),
]

NOT_REFUSALS = [
    "Sure! I can help with that.",
    "Here is the refund status for order 1234: it was issued yesterday.",
    "I can help you reset your password. First, open Settings.",
    "Sorry for the wait! Your order shipped today.",
    "The error says 'I cannot connect to the database' — check the host name.",
    "Your plan covers it. " + "x " * 200 + "I'm sorry, but I can't help with that.",
    "",
    None,
]


@pytest.mark.parametrize(("text", "name"), REFUSALS)
def test_refusal_phrasings_are_caught(text: str, name: str | None) -> None:
    assert looks_like_refusal(text)
    if name is not None:
        assert refusal_pattern(text) == name


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_helpful_answers_and_late_mentions_are_not_refusals(text: str | None) -> None:
    assert not looks_like_refusal(text)
    assert refusal_pattern(text) is None


def test_every_pattern_has_a_case() -> None:
    caught = {refusal_pattern(text) for text, _ in REFUSALS}
    assert {name for name, _ in REFUSAL_PATTERNS} <= caught


def test_ingest_marks_a_chat_span_refused_from_its_text_but_an_explicit_flag_wins() -> None:
    import json

    from truecourse.ingest.semconv import map_span

    out = json.dumps([{"role": "assistant", "parts": [
        {"type": "text", "content": "I'm sorry, but I can't help with that."}]}])
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
             "gen_ai.output.messages": out}
    assert map_span("chat gpt-4o", attrs, "ok")["refused"] is True
    assert map_span("chat gpt-4o", {**attrs, "truecourse.refused": False}, "ok")["refused"] is False
    helpful = {**attrs, "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
        {"type": "text", "content": "Your refund was issued."}]}])}
    assert map_span("chat gpt-4o", helpful, "ok")["refused"] is False


def test_measure_package_exports_resolve() -> None:
    import truecourse.measure as measure

    for name in measure.__all__:
        assert getattr(measure, name) is not None
    with pytest.raises(AttributeError):
        _ = measure.no_such_name
