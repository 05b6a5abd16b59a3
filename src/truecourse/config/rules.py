"""Match rules: the row predicates that the ``filter`` and ``route`` processors share.

A rule names what to look at — ``field`` (a canonical column) or ``attribute`` (a key of the
row's attributes, then of its resource) — and one test: ``equals``, ``in``, ``regex`` or
``exists``. Values compare with Python equality; ``regex`` searches (use ``^...$`` to anchor)
text values and the text form of numbers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from truecourse.config.checks import Loc, located, unknown_name
from truecourse.model.columns import TABLE_COLUMNS

TELEMETRY_TABLES = ("spans", "logs", "metric_points", "events")


def _kind(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "text"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    return "other"


COLUMN_KINDS: dict[str, frozenset[str]] = {
    name: frozenset(_kind(c.arrow) for cols in TABLE_COLUMNS.values() for c in cols
                    if c.name == name)
    for name in {c.name for cols in TABLE_COLUMNS.values() for c in cols}
}
"""Every canonical column name, with the kinds of value it holds across the tables."""


def _scalar(value: Any) -> Any:
    if isinstance(value, str | int | float):  # bool is an int
        return value
    if value is None:
        raise ValueError("null never matches; to match a missing value use exists: false")
    raise ValueError(
        f"must be a string, number or boolean, not {type(value).__name__}"
        + (" (quote dates and times)" if type(value).__name__ in ("date", "datetime") else "")
    )


Scalar = Annotated[Any, AfterValidator(_scalar)]
"""A string, number or boolean (the reference docs render ``Any`` that way)."""


def compile_regex(pattern: str) -> re.Pattern[str]:
    """The compiled pattern; ValueError naming the regex problem and its position."""
    try:
        return re.compile(pattern)
    except re.error as e:
        where = f" at position {e.pos}" if e.pos is not None else ""
        raise ValueError(f"invalid regular expression {pattern!r}: {e.msg}{where}") from e


class MatchRule(BaseModel):
    """Selects rows: `field` or `attribute`, tested with `equals`, `in`, `regex` or `exists`."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(
        default=None,
        description="A canonical column to test: service, name, env, operation, model, "
        "status_code, severity_text, ... (see the data model).",
    )
    attribute: str | None = Field(
        default=None,
        description="An attribute key to test, e.g. `http.target`; looked up in the row's "
        "attributes, then in its resource attributes.",
    )
    equals: Scalar = Field(default=None, description="Matches when the value equals this.")
    in_: list[Scalar] | None = Field(
        default=None, alias="in", min_length=1,
        description="Matches when the value is one of these.",
    )
    regex: str | None = Field(
        default=None,
        description="Matches when this regular expression (Python syntax) is found in the value; "
        "anchor with `^...$` for a whole-value match.",
    )
    exists: bool | None = Field(
        default=None,
        description="`true` matches rows where the value is present (not null); `false` where "
        "it is absent.",
    )

    @field_validator("field")
    @classmethod
    def _known_column(cls, v: str | None) -> str | None:
        if v is not None and v not in COLUMN_KINDS:
            raise ValueError(unknown_name("column", v, sorted(COLUMN_KINDS)))
        return v

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            compile_regex(v)
        return v

    @model_validator(mode="after")
    def _one_subject_one_test(self) -> MatchRule:
        given = self.model_fields_set
        if (self.field is None) == (self.attribute is None):
            raise ValueError("a match rule needs exactly one of 'field' or 'attribute'")
        tests = [k for k in ("equals", "in_", "regex", "exists") if k in given]
        if len(tests) != 1:
            names = ", ".join(repr("in" if t == "in_" else t) for t in tests) or "none"
            raise ValueError(
                f"a match rule needs exactly one of 'equals', 'in', 'regex' or 'exists' "
                f"(got {names})"
            )
        if tests == ["exists"] and self.exists is None:
            raise located("MatchRule", [(("exists",), "exists must be true or false", None)])
        if self.field is not None:
            self._check_value_kinds()
        return self

    def _check_value_kinds(self) -> None:
        kinds = COLUMN_KINDS[self.field or ""]
        if len(kinds) != 1:
            return
        kind = next(iter(kinds))
        values: list[tuple[Loc, Any]] = []
        if self.equals is not None:
            values.append((("equals",), self.equals))
        for i, v in enumerate(self.in_ or []):
            values.append((("in", i), v))
        problems: list[tuple[Loc, str, object]] = []
        for loc, v in values:
            if kind == "text" and not isinstance(v, str):
                problems.append((loc, f"column {self.field!r} holds text; quote the value: "
                                      f"\"{str(v).lower() if isinstance(v, bool) else v}\"", v))
            elif kind == "number" and (isinstance(v, bool) or not isinstance(v, int | float)):
                problems.append((loc, f"column {self.field!r} holds numbers, not {v!r}", v))
            elif kind == "boolean" and not isinstance(v, bool):
                problems.append((loc, f"column {self.field!r} holds true/false, not {v!r}", v))
        if problems:
            raise located("MatchRule", problems)
