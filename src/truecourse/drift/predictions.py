"""The predictions receiver: classic ML predictions as a batch for the ``predictions`` table.

Accepts a list of prediction objects or ``{"predictions": [...]}``. Each is validated on its own;
valid ones are kept, invalid ones reported with index and reason. A prediction's ``id`` is what
a later label event names as ``prediction_id`` (``POST /api/v1/events``, kind ``label``).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from truecourse.errors import InvalidInput
from truecourse.model import DEFAULT_PROJECT, PredictionBatch

MAX_PREDICTIONS = 50_000
MAX_FEATURES = 500

FeatureValue = float | int | str | bool | None


class Prediction(BaseModel):
    """One prediction of a classic ML model."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=256,
                    description="Prediction id; labels arriving later name it.")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC),
                           description="When it was made (RFC 3339); defaults to now.")
    model: str = Field(min_length=1, max_length=256)
    version: str | None = Field(default=None, max_length=256)
    env: str | None = Field(default=None, max_length=128)
    features: dict[str, FeatureValue] = Field(default_factory=dict,
                                              description="Input features by name.")
    prediction: float | int | str | bool | None = Field(
        default=None, description="Predicted class or value.")
    score: float | None = Field(default=None, description="Score / probability of the "
                                                          "positive class.")

    @field_validator("time")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("features")
    @classmethod
    def _few(cls, v: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
        if len(v) > MAX_FEATURES:
            raise ValueError(f"{len(v)} features; at most {MAX_FEATURES}")
        for key, value in v.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"feature {key!r} is {value}; send null for a missing value")
        return v

    @field_validator("score")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("score must be a finite number")
        return v


@dataclass
class PredictionsResult:
    batch: PredictionBatch
    ids: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        (".".join(str(p) for p in e["loc"]) + ": " if e["loc"] else "")
        + e["msg"].removeprefix("Value error, ") for e in exc.errors())


def predictions_from_json(body: bytes) -> PredictionsResult:
    """Validate and batch the predictions in a JSON body (``InvalidInput`` only when the body
    itself is unusable)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and "predictions" in doc:
        items = doc["predictions"]
        if not isinstance(items, list):
            raise InvalidInput("'predictions' must be a list of prediction objects")
    elif isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        items = [doc]
    else:
        raise InvalidInput('body must be a prediction, a list of them, or {"predictions": [...]}')
    if len(items) > MAX_PREDICTIONS:
        raise InvalidInput(f"{len(items)} predictions in one request; at most "
                           f"{MAX_PREDICTIONS}", hint="split the request")
    result = PredictionsResult(PredictionBatch())
    cols = result.batch.columns
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append({"index": i, "error": "prediction must be an object"})
            continue
        try:
            p = Prediction.model_validate(item)
        except ValidationError as exc:
            result.rejected.append({"index": i, "error": _describe(exc)})
            continue
        pred = p.prediction
        value = float(pred) if isinstance(pred, int | float) and not isinstance(pred, bool) \
            else (1.0 if pred is True else 0.0 if pred is False else None)
        row = {"id": p.id, "time": p.time, "model": p.model, "version": p.version,
               "env": p.env, "features": orjson.dumps(p.features).decode(),
               "prediction": None if pred is None else _text(pred),
               "prediction_value": value, "score": p.score, "project": DEFAULT_PROJECT}
        for name, col in cols.items():
            col.append(row[name])
        result.ids.append(p.id)
    return result


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
