"""The ``pipeline.processors`` section: one settings model per processor type.

Each list item is a one-key mapping ``{type: settings}``; :class:`ProcessorEntry` checks that
shape and holds the settings under the field named after the type.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from truecourse.config.checks import located, unknown_name
from truecourse.config.guard import GuardConfig
from truecourse.config.rules import MatchRule

TableName = Literal["spans", "logs", "metric_points", "events"]
TracedTable = Literal["spans", "logs"]


def _telemetry_tables() -> list[TableName]:
    return ["spans", "logs", "metric_points"]


def _spans() -> list[TracedTable]:
    return ["spans"]


def _traced_tables() -> list[TracedTable]:
    return ["spans", "logs"]


RESERVED_DESTINATIONS = ("store", "drop")
"""Route destinations that always exist: the store, and nowhere."""

MAX_DEDUPE_WINDOW_S = 30 * 86_400
"""Longest dedupe window (30 days); keys are also bounded by ``max_keys``."""

class FilterConfig(BaseModel):
    """Drops rows that match any rule."""

    model_config = ConfigDict(extra="forbid")

    drop: list[MatchRule] = Field(
        default_factory=list,
        description="A row is dropped when ANY of these rules matches it; no rules keeps all.",
    )
    tables: list[TableName] = Field(
        default_factory=_telemetry_tables,
        min_length=1,
        description="The tables the filter applies to; batches of other tables pass untouched.",
    )


class SampleConfig(BaseModel):
    """Keeps a share of traces, whole: every span of a trace gets the same decision."""

    model_config = ConfigDict(extra="forbid")

    ratio: float = Field(
        gt=0, le=1,
        description="Share of traces kept, in (0, 1]. The decision is the low 64 bits of the "
        "trace id compared with ratio x 2^64 (as OpenTelemetry's TraceIdRatioBased sampler "
        "does), so it is the same in every batch and every process.",
    )
    keep_errors: bool = Field(
        default=True,
        description="Keep error spans (status error) and error logs (severity ERROR and "
        "above) whatever the ratio, with the rows of their trace in the same batch.",
    )
    tables: list[TracedTable] = Field(
        default_factory=_spans,
        min_length=1,
        description="Tables sampled; `logs` samples logs by their trace id (logs without one "
        "are kept).",
    )


    @field_validator("ratio")
    @classmethod
    def _keeps_some(cls, v: float) -> float:
        if round(v * 2**64) == 0:
            raise ValueError(f"ratio {v!r} is below 2^-64 and would keep no trace; use a larger "
                             "ratio, or a filter rule to drop everything")
        return v


class NormalizeConfig(BaseModel):
    """Maps semantic conventions (gen_ai.*, OpenInference, OpenLLMetry) onto canonical columns."""

    model_config = ConfigDict(extra="forbid")


class EnrichConfig(BaseModel):
    """Fills team, owner and (when missing) env from the service catalog."""

    model_config = ConfigDict(extra="forbid")


class DedupeConfig(BaseModel):
    """Drops repeated spans and folds identical log records."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(
        default=300, gt=0, le=MAX_DEDUPE_WINDOW_S, allow_inf_nan=False,
        description="Seconds after its first occurrence during which a repeat is a duplicate: "
        "a span with a seen (trace_id, span_id) is dropped; an identical log record "
        "(service, severity, body, event name, trace/span) is folded into the first "
        "(its `count` grows) within a batch, and dropped across batches.",
    )
    max_keys: int = Field(
        default=1_000_000, ge=1,
        description="Most keys remembered per table; the oldest are forgotten first.",
    )
    tables: list[TracedTable] = Field(
        default_factory=_traced_tables, min_length=1, description="Tables deduplicated."
    )


class RouteRule(BaseModel):
    """Sends the rows a rule matches to destinations."""

    model_config = ConfigDict(extra="forbid")

    match: MatchRule | None = Field(
        default=None, description="The rows this route takes (default: every row of `tables`).")
    tables: list[TableName] | None = Field(
        default=None,
        description="Only rows of these tables (spans, logs, metric_points, events); default: "
        "every table.",
    )
    to: list[str] = Field(
        min_length=1,
        description="Destinations: `store`, `drop` (alone), or names from pipeline.consumers.",
    )

    @model_validator(mode="after")
    def _selects_something(self) -> RouteRule:
        if self.match is None and self.tables is None:
            raise ValueError("a route needs `match`, `tables` or both, to say which rows it "
                             "takes")
        return self

    @field_validator("to")
    @classmethod
    def _drop_alone(cls, v: list[str]) -> list[str]:
        if "drop" in v and len(v) > 1:
            raise ValueError("'drop' cannot be combined with other destinations")
        seen: set[str] = set()
        for i, d in enumerate(v):
            if d in seen:
                raise located("RouteRule", [((i,), f"destination {d!r} is listed twice", d)])
            seen.add(d)
        return v


class RouteConfig(BaseModel):
    """Splits rows between the store and consumers; the first matching route wins."""

    model_config = ConfigDict(extra="forbid")

    routes: list[RouteRule] = Field(
        default_factory=list,
        description="Routes tried in order per row; rows no route matches go to `store`.",
    )


PROCESSOR_MODELS: dict[str, type[BaseModel]] = {
    "filter": FilterConfig,
    "sample": SampleConfig,
    "normalize": NormalizeConfig,
    "guard": GuardConfig,
    "enrich": EnrichConfig,
    "dedupe": DedupeConfig,
    "route": RouteConfig,
}
PROCESSOR_TYPES = tuple(PROCESSOR_MODELS)


class ProcessorEntry(BaseModel):
    """One item of ``pipeline.processors``: a one-key mapping ``{type: settings}``."""

    model_config = ConfigDict(extra="forbid")

    filter: FilterConfig | None = Field(default=None, description=FilterConfig.__doc__)
    sample: SampleConfig | None = Field(default=None, description=SampleConfig.__doc__)
    normalize: NormalizeConfig | None = Field(default=None, description=NormalizeConfig.__doc__)
    guard: GuardConfig | None = Field(default=None, description=GuardConfig.__doc__)
    enrich: EnrichConfig | None = Field(default=None, description=EnrichConfig.__doc__)
    dedupe: DedupeConfig | None = Field(default=None, description=DedupeConfig.__doc__)
    route: RouteConfig | None = Field(default=None, description=RouteConfig.__doc__)

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        if isinstance(data, ProcessorEntry):
            return data
        if isinstance(data, str):
            data = {data: None}
        if not isinstance(data, dict):
            raise ValueError(
                f"a processor is a one-key mapping like '- filter: {{...}}', "
                f"not a {type(data).__name__}"
            )
        if len(data) != 1:
            keys = ", ".join(repr(k) for k in data) or "none"
            raise ValueError(f"a processor item has exactly one key, its type (got {keys}); "
                             "start each processor with its own '- '")
        ((kind, settings),) = data.items()
        if kind not in PROCESSOR_MODELS:
            raise ValueError(unknown_name("processor type", kind, PROCESSOR_TYPES, list_valid=True))
        return {kind: {} if settings is None else settings}

    @property
    def type(self) -> str:
        """The processor type: filter, sample, normalize, guard, enrich, dedupe or route."""
        return next(k for k in PROCESSOR_TYPES if getattr(self, k) is not None)

    @property
    def settings(self) -> BaseModel:
        settings: BaseModel = getattr(self, self.type)
        return settings


def default_processors() -> list[ProcessorEntry]:
    """The order used when ``pipeline.processors`` is omitted."""
    kinds = ("filter", "normalize", "guard", "enrich", "dedupe", "route")
    return [ProcessorEntry.model_validate({k: {}}) for k in kinds]

