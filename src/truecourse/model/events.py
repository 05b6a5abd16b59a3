"""Change and feedback events: the context that explains what telemetry shows.

Events arrive through ``POST /api/v1/events`` (and the SDK's ``truecourse.feedback``). Each kind
has its own validated fields; the common ones become columns, the rest the JSON ``payload``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from truecourse.model import DEFAULT_PROJECT

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")

EVENT_KINDS = ("deploy", "config_change", "feature_flag", "feedback", "label")


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=128,
                    description="Idempotency key; a repeated id is stored once.")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC),
                           description="When it happened (RFC 3339); defaults to now.")
    service: str | None = Field(default=None, max_length=256)
    env: str | None = Field(default=None, max_length=128)
    version: str | None = Field(default=None, max_length=256)
    actor: str | None = Field(default=None, max_length=256, description="Who did it.")
    summary: str | None = Field(default=None, max_length=1024)
    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="Free-form extra fields, kept as they are.")

    @field_validator("time")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class _Linked(_EventBase):
    trace_id: str | None = Field(default=None, description="32 hex characters.")
    span_id: str | None = Field(default=None, description="16 hex characters.")

    @field_validator("trace_id")
    @classmethod
    def _trace_id(cls, v: str | None) -> str | None:
        if v is not None and not _HEX32.match(v.lower()):
            raise ValueError("trace_id must be 32 hex characters (16 bytes)")
        return v.lower() if v else v

    @field_validator("span_id")
    @classmethod
    def _span_id(cls, v: str | None) -> str | None:
        if v is not None and not _HEX16.match(v.lower()):
            raise ValueError("span_id must be 16 hex characters (8 bytes)")
        return v.lower() if v else v


class DeployEvent(_EventBase):
    kind: Literal["deploy"]
    service: str = Field(max_length=256, description="The service deployed.")
    version: str = Field(max_length=256, description="The version now running.")
    previous_version: str | None = None
    commit: str | None = None
    url: str | None = None


class ConfigChangeEvent(_EventBase):
    kind: Literal["config_change"]
    key: str = Field(max_length=512, description="What setting changed, e.g. model or prompt.")
    old_value: Any = None
    new_value: Any = None


class FeatureFlagEvent(_EventBase):
    kind: Literal["feature_flag"]
    flag: str = Field(max_length=512)
    enabled: bool | None = None
    variant: str | None = None
    rollout_percent: float | None = Field(default=None, ge=0, le=100)


class FeedbackEvent(_Linked):
    kind: Literal["feedback"]
    score: float | None = Field(default=None, description="Numeric score, e.g. 0..1 or 1..5.")
    thumbs: Literal["up", "down"] | None = None
    comment: str | None = Field(default=None, max_length=16384)
    correction: str | None = Field(default=None, max_length=65536,
                                   description="The answer the user says was right.")

    @model_validator(mode="after")
    def _something_said(self) -> FeedbackEvent:
        if self.score is None and self.thumbs is None and not self.comment and not self.correction:
            raise ValueError("feedback needs at least one of score, thumbs, comment, correction")
        if self.trace_id is None and self.span_id is None:
            raise ValueError("feedback must link to a trace_id or span_id")
        return self


class LabelEvent(_Linked):
    kind: Literal["label"]
    label: Any = Field(description="Ground truth for the prediction made in the linked span.")
    prediction_id: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _linked(self) -> LabelEvent:
        if self.trace_id is None and self.span_id is None and self.prediction_id is None:
            raise ValueError("label must link to a trace_id, span_id or prediction_id")
        return self


Event = Annotated[
    DeployEvent | ConfigChangeEvent | FeatureFlagEvent | FeedbackEvent | LabelEvent,
    Field(discriminator="kind"),
]

_COLUMN_FIELDS = {"id", "time", "kind", "service", "env", "version", "actor", "summary",
                  "trace_id", "span_id", "score"}


def event_row(ev: BaseModel) -> dict[str, Any]:
    """The event as a row of the ``events`` table: common fields as columns, the rest payload."""
    data = ev.model_dump(mode="json")
    score = data.get("score")
    if score is None and data.get("thumbs") is not None:
        score = 1.0 if data["thumbs"] == "up" else 0.0
    payload = {k: v for k, v in data.items() if k not in _COLUMN_FIELDS}
    return {
        "id": data["id"],
        "time": ev.time,  # type: ignore[attr-defined]
        "kind": data["kind"],
        "service": data.get("service"),
        "env": data.get("env"),
        "version": data.get("version"),
        "trace_id": data.get("trace_id"),
        "span_id": data.get("span_id"),
        "actor": data.get("actor"),
        "summary": data.get("summary") or _default_summary(data),
        "score": score,
        "payload": orjson.dumps(payload).decode(),
        "project": DEFAULT_PROJECT,
    }


def _default_summary(d: dict[str, Any]) -> str:
    kind = d["kind"]
    if kind == "deploy":
        prev = f" (from {d['previous_version']})" if d.get("previous_version") else ""
        return f"deploy {d['service']} {d['version']}{prev}"
    if kind == "config_change":
        return f"config {d['key']}: {d.get('old_value')!r} -> {d.get('new_value')!r}"
    if kind == "feature_flag":
        return f"flag {d['flag']} enabled={d.get('enabled')} variant={d.get('variant')}"
    if kind == "feedback":
        said = [f"thumbs {d['thumbs']}" if d.get("thumbs") else None,
                f"score {d['score']:g}" if d.get("score") is not None else None,
                "with correction" if d.get("correction") else None,
                f"“{d['comment'][:80]}”" if d.get("comment") else None]
        return "feedback: " + ", ".join(s for s in said if s)
    return f"label {d.get('label')!r}"
