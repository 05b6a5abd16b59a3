"""The ``drift`` section: how drift reports choose detectors, thresholds and LLM features."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SpanAttributeFeature(BaseModel):
    """A span attribute watched for drift besides the built-in LLM features."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Attribute key, e.g. `app.customer_tier`.")
    kind: Literal["numeric", "categorical"] = Field(
        description="How its values are compared: `numeric` (distributions) or `categorical` "
        "(category shares).")


class DriftCheck(BaseModel):
    """A drift report the server runs on a schedule (on the detection leader)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Model whose predictions to check.")
    service: str | None = Field(default=None,
                                description="Service whose LLM spans to check (instead of "
                                            "`model`).")
    reference: str = Field(
        min_length=1, description="`SINCE..UNTIL`, `rolling:7d`, `baseline:ID` or "
        "`sketches:SINCE..UNTIL`.")
    window_s: int = Field(default=3600, ge=60, description="Current window: the last N seconds.")
    every_s: int = Field(
        default=300, ge=10,
        description="Run every N seconds; overlapping windows share alpha (see docs/drift.md).")

    @model_validator(mode="after")
    def _one_subject(self) -> DriftCheck:
        if (self.model is None) == (self.service is None):
            raise ValueError("give exactly one of model or service")
        return self


class DriftConfig(BaseModel):
    """Drift and data quality: detector choice, thresholds, minimum samples, LLM features."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(
        default=0.05, gt=0, lt=1,
        description="False-alarm level per report: Benjamini-Hochberg level for test-based "
        "columns, Bonferroni level for the calibrated distance thresholds.")
    min_samples: int = Field(
        default=30, ge=2,
        description="Fewer non-null values than this on either side: the column says "
        "`not_enough_data` instead of a verdict.")
    large_sample: int = Field(
        default=1000, ge=10,
        description="When both sides have more values than this, distances replace p-value "
        "tests (Wasserstein for numeric, Jensen-Shannon for categorical): on large windows "
        "every test rejects for trivial differences.")
    wasserstein_threshold: float = Field(
        default=0.1, gt=0,
        description="Smallest normalized Wasserstein distance (in reference standard "
        "deviations) that counts as drift; also the threshold when the reference is too small "
        "to calibrate one.")
    js_threshold: float = Field(
        default=0.1, gt=0, le=1,
        description="Smallest Jensen-Shannon distance (base 2) that counts as drift for "
        "categorical columns and prediction scores; also the fallback threshold.")
    calibration_chunks: int = Field(
        default=10, ge=3, le=100,
        description="Chunks the reference is cut into to measure how much a distance varies "
        "with no drift (the calibrated threshold).")
    min_chunk_rows: int = Field(
        default=100, ge=10,
        description="Smallest calibration chunk; a smaller reference uses the fallback "
        "thresholds.")
    psi_bins: int = Field(default=10, ge=2, le=100,
                          description="Quantile bins of the reference for the PSI.")
    histogram_bins: int = Field(default=20, ge=5, le=200,
                                description="Bins of the reference-vs-current histograms.")
    exact_max_rows: int = Field(
        default=200_000, ge=1000,
        description="Store windows with more rows than this are summarized by the per-window "
        "sketches (KLL, frequent items) instead of read row by row.")
    completeness_drop: float = Field(
        default=0.05, ge=0, le=1,
        description="A fall in the non-null share larger than this is a data-quality finding.")
    out_of_range_share: float = Field(
        default=0.01, ge=0, le=1,
        description="Share of current values outside the reference's [min, max] above which "
        "a range finding is raised.")
    unseen_share: float = Field(
        default=0.01, ge=0, le=1,
        description="Share of current values in categories the reference never had above which "
        "a new-category finding is raised.")
    embeddings: Literal["auto", "minilm", "hashed", "off"] = Field(
        default="auto",
        description="Text representation for embedding drift: `minilm` (all-MiniLM-L6-v2 from "
        "the `embeddings` extra), `hashed` (hashed character 3-gram vectors), `auto` (MiniLM "
        "when installed, else hashed) or `off`.")
    embedding_sample: int = Field(
        default=500, ge=20, le=5000,
        description="Texts per side embedded for the MMD test (a random sample).")
    span_attributes: list[SpanAttributeFeature] = Field(
        default_factory=list,
        description="Span attributes to watch in LLM drift reports, besides the built-in "
        "features.")
    checks: list[DriftCheck] = Field(
        default_factory=list,
        description="Drift reports the server runs on a schedule; each stores its report and "
                    "raises ModelDrift / DataQuality alerts (resolved when they clear).")
    sketch_models: list[str] = Field(
        default_factory=list,
        description="Models whose predictions the detection leader sketches window by window as "
                    "data arrives (KLL, frequent items), for `sketches:SINCE..UNTIL` references.")
    sketch_window_s: int = Field(default=3600, ge=60, le=86400,
                                 description="Length of one sketched window (aligned to the "
                                             "epoch: hours by default).")
