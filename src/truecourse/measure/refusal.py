"""Refusals detected from a model's output text, for spans that don't say so explicitly.

A span counts as refused when its instrumentation says so (``truecourse.refused``), when a finish
reason is a refusal (``content_filter``, ``refusal``, ``safety``, ...), or when its output text
*opens* with one of the phrasings below (after a leading ``assistant:`` role label). Only the
opening of the answer is read (the first :data:`OPENING_CHARS` characters): "I can't help
with that" at the start of an answer is a refusal, the same words in the middle of a long
helpful answer are usually not.

The patterns are English, case-insensitive, and accept straight and curly apostrophes. They are
the phrasings hosted models use when they decline (OpenAI, Anthropic, Google, Llama and Mistral
families); ``docs/measure.md`` lists them and ``tests/measure/test_refusal.py`` pins each one
and the near misses that must not match.
"""

from __future__ import annotations

import re

__all__ = ["OPENING_CHARS", "REFUSAL_PATTERNS", "looks_like_refusal"]

#: How much of the output's opening is matched.
OPENING_CHARS = 240

_APOS = "['\u2019]"
_SORRY = (rf"(?:(?:i{_APOS}m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)[,.!]?\s*"
          r"(?:but\s+)?)?")
_SUBJ = rf"(?:i|we)(?:{_APOS}m|{_APOS}re|\s+am|\s+are)?\s+"
_CANT = (rf"(?:can{_APOS}?t|cannot|can not|won{_APOS}t|will not|not able to|unable to|"
         r"(?:won't|will not|am not) be able to)")
_HELP = (r"(?:help|assist|provide|comply|fulfil+|do that|do this|share|answer|support|engage|"
         r"create|generate|write|give)")
_WORDS = r"(?:\w+\s+){0,3}?"

#: (name, regex) pairs, matched against the opening of the output text.
REFUSAL_PATTERNS: tuple[tuple[str, str], ...] = (
    ("sorry_cannot", rf"^\W*(?=\w)(?:i{_APOS}m sorry|i am sorry|sorry|i apologi[sz]e|"
                     rf"unfortunately)[,.!]?\s*(?:but\s+)?{_SUBJ}{_CANT}\s+{_WORDS}{_HELP}"),
    ("cannot_help", rf"^\W*{_SUBJ}{_CANT}\s+{_WORDS}{_HELP}\s+(?:you\s+)?with\b"),
    ("cannot_request", rf"^\W*{_SUBJ}{_CANT}\s+{_WORDS}{_HELP}\b[^.!?\n]{{0,60}}?"
                       r"\b(?:that|this|such|those|these)\b"),
    ("as_an_ai", rf"^\W*as an ai(?: language model| assistant)?,?\s+i\s+(?:can(?:not|{_APOS}t)|"
                 rf"am not able|do not|don{_APOS}t|won{_APOS}t)"),
    ("not_able_to", rf"^\W*{_SORRY}{_SUBJ}(?:not able|unable) to (?:help|assist|provide|"
                    r"comply|fulfil+)"),
    ("must_decline", rf"^\W*{_SORRY}(?:i|we) (?:must|have to|need to) "
                     r"(?:respectfully\s+)?(?:decline|refuse)"),
    ("against_policy", rf"^\W*{_SORRY}(?:that|this|your request) "
                       r"(?:goes against|violates|is against) (?:my|our|the) "
                       r"(?:guidelines|policies|policy|usage polic(?:y|ies)|"
                       r"content polic(?:y|ies))"),
    ("not_comfortable", rf"^\W*{_SORRY}i{_APOS}m not comfortable "
                        r"(?:helping|providing|assisting|with)"),
)

_COMBINED = re.compile("|".join(f"(?:{rx})" for _, rx in REFUSAL_PATTERNS), re.IGNORECASE)
# the transcript renders chat output as "assistant: text"
_ROLE = re.compile(r"^\s*(?:assistant|model|ai|bot)\s*:\s*", re.IGNORECASE)


def _opening(text: str) -> str:
    return _ROLE.sub("", text[:OPENING_CHARS], count=1)


def looks_like_refusal(text: str | None) -> bool:
    """True when the opening of ``text`` is one of :data:`REFUSAL_PATTERNS`.

    ``None`` and empty text are not refusals. Cost: one regex search over at most
    :data:`OPENING_CHARS` characters.
    """
    if not text:
        return False
    return _COMBINED.search(_opening(text)) is not None


def refusal_pattern(text: str | None) -> str | None:
    """The name of the first pattern that matches the opening of ``text`` (for explanations)."""
    if not text:
        return None
    opening = _opening(text)
    for name, rx in REFUSAL_PATTERNS:
        if re.search(rx, opening, re.IGNORECASE):
            return name
    return None
