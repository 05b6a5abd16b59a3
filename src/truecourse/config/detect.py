"""The ``detect`` section: SLOs with burn-rate alerts, threshold rules and anomaly rules.

::

    detect:
      interval_s: 30
      slos:
        - name: checkout-latency
          service: checkout
          objective: 0.995
          window: 28d
          subject: requests
          good:
            - {field: status_code, op: "!=", value: error}
            - {field: duration_ms, op: "<", value: 2000}
          runbook_url: https://runbooks.example/checkout-latency
      rules:
        - name: ChatP95High
          kind: threshold
          metric: latency_p95
          where: {service: chat-api}
          group_by: [model]
          op: ">"
          value: 1500
          window: 5m
          for: 5m
          severity: page
        - name: ChatLatencyAnomaly
          kind: anomaly
          metric: latency_mean
          group_by: [service]
          baseline: seasonal
          sensitivity: 3.0

Names are checked where they are written: span fields against the span columns, metrics against
the scorecard's, dimensions against its dimensions, each unknown name answered with "did you
mean". :func:`validate_detect` adds the cross-references to the service catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from truecourse.config.checks import unknown_name
from truecourse.model.columns import TABLE_COLUMNS

__all__ = [
    "DEFAULT_BURN_WINDOWS", "BurnWindow", "Condition", "DetectConfig", "RuleConfig", "SloConfig",
    "parse_duration", "validate_detect",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")

# The scorecard's names, repeated here because config sits below measure in the import order;
# tests/detect checks that they equal truecourse.measure's.
METRIC_NAMES: tuple[str, ...] = (
    "requests", "throughput_rps", "errors", "error_rate", "availability", "latency_p50",
    "latency_p90", "latency_p95", "latency_p99", "latency_mean", "llm_calls", "input_tokens",
    "output_tokens", "input_tokens_per_call", "output_tokens_per_call", "cost_usd",
    "cost_per_request", "cost_per_call", "unpriced_calls", "refusals", "refusal_checked",
    "refusal_rate", "tool_calls", "tool_failures", "tool_success_rate", "retrievals",
    "documents_per_retrieval", "empty_retrievals", "retrievals_counted", "empty_retrieval_rate",
    "tasks", "completed_tasks", "task_completion_rate", "task_cost_usd",
    "cost_per_completed_task", "feedback_tasks", "feedback_rate", "feedback_score_mean",
    "negative_feedback_tasks", "negative_feedback_rate", "corrections",
)
DIMENSION_NAMES: tuple[str, ...] = (
    "service", "env", "version", "model", "provider", "operation", "prompt_version",
    "index_version", "tool_name", "project",
)
#: A metric named ``<column>_score_mean`` is the mean of a ``*_score`` span column (store-defined).
SCORE_METRIC = re.compile(r"^[a-z_][a-z0-9_]*_score_mean$")
SCORE_FIELD = re.compile(r"^[a-z_][a-z0-9_]*_score$")
SPAN_FIELDS: dict[str, pa.DataType] = {c.name: c.arrow for c in TABLE_COLUMNS["spans"]}
SLI_SUBJECTS = ("requests", "ai_calls", "llm", "gen", "tool", "retrieval", "all")


def parse_duration(text: str | int | float) -> int:
    """Seconds in ``30s``, ``5m``, ``6h``, ``28d``, ``1w`` (or a whole number of seconds).

    Raises ValueError with the accepted forms for anything else, and for zero or less.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 5m, 6h, 28d")
    if isinstance(text, int | float):
        if text != int(text) or text <= 0:
            raise ValueError(f"{text!r} is not a positive whole number of seconds")
        return int(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration; use a whole number and a unit: "
                         "30s, 5m, 6h, 28d, 1w")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def _duration(value: Any) -> str:
    parse_duration(value)
    return str(value).strip() if isinstance(value, str) else f"{int(value)}s"


def _duration_or_zero(value: Any) -> str:
    if value in (0, "0", "0s"):
        return "0s"
    return _duration(value)


Duration = Annotated[str, AfterValidator(_duration)]
"""A duration such as ``30s``, ``5m``, ``6h``, ``28d``."""
ZeroDuration = Annotated[str, AfterValidator(_duration_or_zero)]


def _kind_of(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t):
        return "text"
    return "other"


def field_kind(name: str) -> str | None:
    """``text``, ``number``, ``boolean`` or ``other`` for a span field; None when unknown."""
    if name in SPAN_FIELDS:
        return _kind_of(SPAN_FIELDS[name])
    if SCORE_FIELD.match(name):
        return "number"
    return None


def check_metric(name: str) -> str | None:
    """Why ``name`` is not a scorecard metric, or None when it is one."""
    if name in METRIC_NAMES or SCORE_METRIC.match(name):
        return None
    return unknown_name("metric", name, METRIC_NAMES)


def check_dimension(name: str) -> str | None:
    """Why ``name`` is not a scorecard dimension, or None when it is one."""
    return None if name in DIMENSION_NAMES else unknown_name("dimension", name, DIMENSION_NAMES)


Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]


class Condition(BaseModel):
    """One test on a span field; a list of conditions holds when all of them do (AND).

    ``!=`` and ``not_in`` treat a missing value as different (``refused != true`` holds for a
    span with no refusal verdict); the ordering tests never hold for a missing value.
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="A span column (`status_code`, `duration_ms`, `refused`, "
                       "`model`, ...) or a `*_score` column.")
    op: Op = Field(description="`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not_in`, `is_null`, "
                   "`not_null`.")
    value: Any = Field(default=None, description="What the field is compared with: a list for "
                       "`in`/`not_in`, nothing for `is_null`/`not_null`.")

    @field_validator("field")
    @classmethod
    def _known_field(cls, v: str) -> str:
        kind = field_kind(v)
        if kind is None:
            raise ValueError(unknown_name("span field", v, list(SPAN_FIELDS)))
        if kind == "other":
            raise ValueError(f"span field {v!r} cannot be compared (timestamp)")
        return v

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        kind = field_kind(self.field)
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
            return self
        values = self.value
        if self.op in ("in", "not_in"):
            if not isinstance(values, list) or not values:
                raise ValueError(f"op {self.op!r} needs a non-empty list as value")
        else:
            if isinstance(values, list | dict) or values is None:
                raise ValueError(f"op {self.op!r} needs one value")
            values = [values]
            if kind == "boolean" and self.op in ("<", "<=", ">", ">="):
                raise ValueError(f"op {self.op!r} does not apply to boolean "
                                     f"field {self.field!r}; use == or !=")
        for v in values:
            ok = {"number": isinstance(v, int | float) and not isinstance(v, bool),
                  "boolean": isinstance(v, bool), "text": isinstance(v, str)}[kind or "text"]
            if not ok:
                raise ValueError(f"field {self.field!r} holds {kind} values; {v!r} is not one")
        return self


class BurnWindow(BaseModel):
    """One multi-window burn-rate condition: fires when the burn rate exceeds ``factor`` over
    both the long and the short window."""

    model_config = ConfigDict(extra="forbid")

    severity: Literal["page", "ticket", "info"] = Field(description="Severity label it sends.")
    factor: float = Field(gt=0, description="Burn rate threshold: 1 spends the budget exactly "
                          "over the SLO window; 14.4 spends 2% of a 30-day budget in 1 h.")
    long: Duration = Field(description="Long window: says the burn is significant.")
    short: Duration = Field(description="Short window: says it is still going on (and resets "
                            "the alert quickly once it stops).")


#: The Google SRE Workbook's recommended conditions (chapter "Alerting on SLOs").
DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(severity="page", factor=14.4, long="1h", short="5m"),
    BurnWindow(severity="page", factor=6, long="6h", short="30m"),
    BurnWindow(severity="ticket", factor=3, long="1d", short="2h"),
    BurnWindow(severity="ticket", factor=1, long="3d", short="6h"),
)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class _Notify(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels sent with "
                                   "every alert (routing, grouping).")
    summary: str | None = Field(default=None, description="One line for people; the value is "
                                "appended.")
    runbook_url: str | None = Field(default=None, description="Sent as the `runbook_url` "
                                    "annotation.")
    notify_during_deploys: bool = Field(
        default=False, description="Notify while a deploy window of the service is open; off: "
        "the alert is recorded but its notifications are held back (annotation "
        "`notify_during_deploys`).")


class SloConfig(_Notify):
    """A service level objective: good/total over spans, and its burn-rate alerts."""

    name: str = Field(pattern=_NAME, description="Unique SLO name; alerts are `slo:<name>`.")
    service: str | None = Field(default=None, description="Only this service's spans count.")
    objective: float = Field(gt=0, lt=1, description="Target share of good spans, e.g. 0.995.")
    window: Duration = Field(default="28d", description="The SLO (error budget) window.")
    subject: Literal["requests", "ai_calls", "llm", "gen", "tool", "retrieval", "all"] = Field(
        default="requests",
        description="Which spans are the total: `requests` (entry spans), `ai_calls`, `llm` "
        "(model calls), `gen` (chat/completion), `tool`, `retrieval`, or `all`.")
    where: list[Condition] = Field(default_factory=list, description="Further conditions on "
                                   "the total, e.g. `{field: model, op: ==, value: gpt-4o}`.")
    good: list[Condition] = Field(min_length=1, description="What makes a span of the total "
                                  "good (all must hold).")
    burn_windows: list[BurnWindow] = Field(
        default_factory=lambda: [w.model_copy() for w in DEFAULT_BURN_WINDOWS],
        min_length=1, description="Burn-rate conditions; default: page 14.4x over 1h and 5m, "
        "6x over 6h and 30m; ticket 3x over 1d and 2h, 1x over 3d and 6h.")

    @model_validator(mode="after")
    def _short_inside_long(self) -> SloConfig:
        for w in self.burn_windows:
            if parse_duration(w.short) >= parse_duration(w.long):
                raise ValueError(f"burn window {w.long}/{w.short}: the short window must be "
                                 "shorter than the long one")
        return self


class RuleConfig(_Notify):
    """A threshold rule (metric compared with a value) or an anomaly rule (metric compared
    with its own baseline), on any scorecard metric, per group."""

    name: str = Field(pattern=_NAME, description="Unique rule name; the `alertname` label.")
    kind: Literal["threshold", "anomaly"] = Field(description="`threshold` or `anomaly`.")
    metric: str = Field(description="A scorecard metric (`latency_p95`, `error_rate`, "
                        "`cost_usd`, ... or `<column>_score_mean`).")
    where: dict[str, str] = Field(default_factory=dict, description="Scorecard filters "
                                  "(dimension: value), e.g. `{service: chat-api}`.")
    group_by: list[str] = Field(default_factory=list, description="Dimensions: one alert "
                                "instance per group.")
    severity: Literal["page", "ticket", "info"] = Field(default="ticket",
                                                        description="Severity label.")
    for_: ZeroDuration = Field(default="0s", alias="for", description="How long the condition "
                               "must hold before the alert fires (pending until then).")
    window: Duration | None = Field(default=None, description="Threshold: the trailing window "
                                    "the metric is computed over (default 5m). Anomaly: the "
                                    "bucket size of the history (default 5m).")
    op: Literal[">", ">=", "<", "<=", "==", "!="] | None = Field(
        default=None, description="Threshold: the comparison that fires.")
    value: float | None = Field(default=None, description="Threshold: the value compared with.")
    baseline: Literal["ewma", "seasonal"] | None = Field(
        default=None, description="Anomaly: `ewma` (exponentially weighted mean and deviation "
        "bands) or `seasonal` (median and MAD of the same hour of the week). Default ewma.")
    sensitivity: float | None = Field(default=None, gt=0, description="Anomaly: how many "
                                      "deviations from the baseline fire (z, default 3.0).")
    direction: Literal["up", "down", "both"] | None = Field(
        default=None, description="Anomaly: which departures count; default from the metric "
        "(up where lower is better, down where higher is better, else both).")
    history: Duration | None = Field(default=None, description="Anomaly: how much history the "
                                     "baseline uses (default 1d for ewma, 28d for seasonal).")
    min_history: int | None = Field(default=None, ge=2, description="Anomaly: buckets with a "
                                    "value needed before it alerts (default 12).")
    alpha: float | None = Field(default=None, gt=0, lt=1, description="Anomaly, ewma: weight "
                                "of the newest bucket (default 0.1).")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        problem = check_metric(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("group_by")
    @classmethod
    def _known_group_by(cls, v: list[str]) -> list[str]:
        for d in v:
            if problem := check_dimension(d):
                raise ValueError(problem)
        if len(set(v)) != len(v):
            raise ValueError("a dimension is given twice")
        return v

    @field_validator("where")
    @classmethod
    def _known_where(cls, v: dict[str, str]) -> dict[str, str]:
        for d in v:
            if problem := check_dimension(d):
                raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> RuleConfig:
        threshold_only = {"op": self.op, "value": self.value}
        anomaly_only = {"baseline": self.baseline, "sensitivity": self.sensitivity,
                        "direction": self.direction, "history": self.history,
                        "min_history": self.min_history, "alpha": self.alpha}
        if self.kind == "threshold":
            missing = [k for k, v in threshold_only.items() if v is None]
            if missing:
                raise ValueError(f"a threshold rule needs {' and '.join(missing)}")
            extra = [k for k, v in anomaly_only.items() if v is not None]
        else:
            extra = [k for k, v in threshold_only.items() if v is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} do not apply to a {self.kind} rule")
        if self.alpha is not None and self.baseline == "seasonal":
            raise ValueError("alpha applies to the ewma baseline only")
        return self

    # the effective settings, defaults applied
    @property
    def for_s(self) -> int:
        return 0 if self.for_ == "0s" else parse_duration(self.for_)

    @property
    def window_s(self) -> int:
        return parse_duration(self.window or "5m")

    @property
    def history_s(self) -> int:
        default = "28d" if self.baseline == "seasonal" else "1d"
        return parse_duration(self.history or default)


class DetectConfig(BaseModel):
    """Detection: SLOs and rules, evaluated on event time every ``interval_s``."""

    model_config = ConfigDict(extra="forbid")

    interval_s: int = Field(default=30, ge=1, le=3600, description="Seconds of event time "
                            "between evaluations.")
    late_margin_s: int = Field(default=120, ge=0, le=3600, description="Each evaluation "
                               "re-reads this much already-evaluated data, for spans that "
                               "arrive late.")
    slos: list[SloConfig] = Field(default_factory=list, description="Service level objectives.")
    rules: list[RuleConfig] = Field(default_factory=list, description="Threshold and anomaly "
                                    "rules.")

    @model_validator(mode="after")
    def _unique_names(self) -> DetectConfig:
        for items, what in ((self.slos, "SLO"), (self.rules, "rule")):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{what} name {item.name!r} is used twice")
                seen.add(item.name)
        return self


def _conditions(conds: Sequence[Any], path: str) -> list[str]:
    out = []
    for j, c in enumerate(conds):
        name = getattr(c, "field", None)
        if isinstance(name, str) and field_kind(name) is None:
            out.append(f"{path}[{j}].field: {unknown_name('span field', name, list(SPAN_FIELDS))}")
    return out


def validate_detect(cfg: DetectConfig, catalog: Any = None) -> list[str]:
    """Every unknown name in ``cfg``, each with its YAML path (``detect.rules[2].metric``).

    Checks metrics, dimensions and span fields (again, for configs built without validation)
    and, when ``catalog`` (a ``CatalogConfig`` or a mapping of services) lists any service, the
    services named by SLOs and by ``where: {service: ...}``. An empty list means valid.
    """
    services: Mapping[str, Any] = getattr(catalog, "services", catalog) or {}
    known = sorted(services)

    def service_problem(name: str | None, path: str) -> list[str]:
        if not known or name is None or name in services:
            return []
        return [f"{path}: {unknown_name('service', name, known)} (not in the catalog)"]

    problems: list[str] = []
    for i, slo in enumerate(cfg.slos):
        p = f"detect.slos[{i}]"
        problems += service_problem(slo.service, f"{p}.service")
        problems += _conditions(slo.where, f"{p}.where")
        problems += _conditions(slo.good, f"{p}.good")
    for i, rule in enumerate(cfg.rules):
        p = f"detect.rules[{i}]"
        if problem := check_metric(rule.metric):
            problems.append(f"{p}.metric: {problem}")
        for d in rule.group_by:
            if problem := check_dimension(d):
                problems.append(f"{p}.group_by: {problem}")
        for d, value in rule.where.items():
            if problem := check_dimension(d):
                problems.append(f"{p}.where.{d}: {problem}")
            elif d == "service":
                problems += service_problem(value, f"{p}.where.service")
    return problems
