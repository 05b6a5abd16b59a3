"""The optional NER backend: person names and locations from an installed spaCy model.

Presidio's own NLP engine is spaCy, and its entity names are the ones used here (``PERSON``,
``LOCATION``), so a deployment that has Presidio has what this needs. Nothing is downloaded:
``mode="auto"`` uses the first installed ``en_core_web_*`` package and quietly does without
one; ``mode="on"`` raises when none is installed. Without a model, names and street addresses
are NOT detected — the pattern detectors find only structured values.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from truecourse.errors import ConfigError
from truecourse.guard.detectors import Finding
from truecourse.model.safety import LOCATION, PERSON

MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")
LABELS = {"PERSON": PERSON, "PER": PERSON, "GPE": LOCATION, "LOC": LOCATION, "FAC": LOCATION}
MAX_NER_CHARS = 20_000
"""NER runs on the first 20,000 characters of a value (spaCy costs about 1 ms per 1,000)."""

Ner = Callable[[str], list[Finding]]


def load_ner(mode: str, types: frozenset[str]) -> Ner | None:
    """The NER function for ``mode`` (auto, on, off), or None when there is none to use."""
    if mode == "off" or not types & {PERSON, LOCATION}:
        return None
    name = next((m for m in MODELS if importlib.util.find_spec(m) is not None), None)
    if name is None or importlib.util.find_spec("spacy") is None:
        if mode == "on":
            raise ConfigError("guard.ner is 'on' but no spaCy English model is installed",
                              hint="pip install spacy and an en_core_web_* model package, or "
                                   "set guard.ner to auto")
        return None
    import spacy

    return spacy_ner(spacy.load(name, disable=["parser", "lemmatizer"]), types)


def spacy_ner(nlp: Any, types: frozenset[str]) -> Ner:
    """Findings of ``types`` from a loaded spaCy pipeline ``nlp`` (one with an ``ner`` or
    ``entity_ruler`` component)."""

    def find(text: str) -> list[Finding]:
        doc = nlp(text[:MAX_NER_CHARS])
        out = []
        for ent in doc.ents:
            kind = LABELS.get(ent.label_)
            if kind in types:
                out.append(Finding(kind, ent.start_char, ent.end_char, 0.85))
        return out

    return find
