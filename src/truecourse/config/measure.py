"""The ``measure`` section: price overrides, what a task is, and scorecard limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PriceOverride(BaseModel):
    """One model's price in USD per 1M tokens; replaces the shipped entry or adds a model."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, description="Provider, e.g. openai, anthropic, together.")
    model: str = Field(min_length=1, description="Model id as the instrumentation reports it.")
    input: float = Field(ge=0, description="USD per 1M uncached input tokens.")
    output: float = Field(ge=0, description="USD per 1M output tokens (reasoning included).")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per 1M input tokens read from a prompt cache.")
    cache_write: float | None = Field(
        default=None, ge=0, description="USD per 1M input tokens written to a prompt cache.")
    aliases: list[str] = Field(default_factory=list, description="Other ids of the same model.")
    source: str | None = Field(default=None, description="Where the price comes from.")
    as_of: str | None = Field(default=None, description="When the price was taken (a date).")


class MeasureConfig(BaseModel):
    """SLIs, cost and scorecards: prices, what counts as a task, and query limits."""

    model_config = ConfigDict(extra="forbid")

    pricing: list[PriceOverride] = Field(
        default_factory=list,
        description="Price overrides and additions on top of the shipped catalog "
        "(`truecourse pricing list` shows it). Costs are computed at ingest; after a change, "
        "`truecourse cost recompute` reprices stored spans.",
    )
    task_span_names: list[str] = Field(
        default_factory=list,
        description="Span names that mark a task (e.g. `handle_ticket`). Empty: every trace is "
        "one task, judged by its root span.",
    )
    negative_feedback_below: float = Field(
        default=0.5,
        description="Feedback with a score below this is negative (thumbs down is 0.0).",
    )
    exact_quantiles_max_hours: float = Field(
        default=24, gt=0,
        description="Windows up to this many hours get exact latency percentiles; longer ones "
        "use DuckDB's mergeable t-digest sketch (approx_quantile).",
    )
    max_groups: int = Field(
        default=1000, ge=1, le=100_000,
        description="Most groups a scorecard returns; more is an error that says how to narrow.",
    )
