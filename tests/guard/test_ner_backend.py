"""The optional NER backend: the adapter over a real spaCy pipeline, and the modes."""

from __future__ import annotations

import importlib.util

import pytest

from truecourse.config import GuardConfig
from truecourse.errors import ConfigError
from truecourse.guard import Guard, RowSafety, load_ner, spacy_ner


def test_spacy_entities_become_findings_and_are_masked() -> None:
    spacy = pytest.importorskip("spacy")  # an optional extra; the pattern tiers need none
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Jane Doe"},
                        {"label": "GPE", "pattern": "Springfield"}])
    ner = spacy_ner(nlp, frozenset({"PERSON", "LOCATION"}))
    guard = Guard(GuardConfig(types=["EMAIL", "PERSON", "LOCATION"]), ner=ner)
    safety = RowSafety()
    out = guard.guard_text("Jane Doe from Springfield wrote jane@example.com", "body", safety)
    assert out == "<PERSON> from <LOCATION> wrote <EMAIL>"
    assert {e["safety.type"] for e in safety.events()} == {"PERSON", "LOCATION", "EMAIL"}


def test_modes_without_a_model() -> None:
    installed = any(importlib.util.find_spec(m) is not None
                    for m in ("en_core_web_sm", "en_core_web_md", "en_core_web_lg"))
    if installed:
        pytest.skip("a spaCy English model is installed here")
    types = frozenset({"PERSON"})
    assert load_ner("off", types) is None
    assert load_ner("auto", types) is None  # quietly without: the docs say what is missed
    with pytest.raises(ConfigError, match="no spaCy English model"):
        load_ner("on", types)
    assert load_ner("on", frozenset({"EMAIL"})) is None  # nothing asked of NER
