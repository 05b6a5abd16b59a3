"""The scorecard's metrics: what each one means, the spans it is computed over, how to compare it.

Each span row belongs to one or more *subjects*, fixed SQL predicates:

``requests``  entry spans — a root span, or a ``server``/``consumer`` span (a service's request);
``ai_calls``  spans with an AI ``operation`` (chat, completion, embeddings, tool, retrieval, agent);
``llm``       model calls: operation chat, completion or embeddings (tokens and cost are summed
              over these only, so an agent span that repeats its children's usage is not counted
              twice);
``gen``       generations: chat or completion (refusals);
``tool``      spans with a ``tool_ok`` verdict;
``retrieval`` retrieval spans.

The *service* metrics (requests, errors, latency) are computed over ``requests`` unless the query
groups or filters by an AI dimension (model, provider, operation, prompt_version, index_version,
tool_name); then over ``ai_calls``, because entry spans carry no model. The answer says which.

Task metrics are computed per trace (see :func:`truecourse.measure.sql.task_sql`). A metric is
``lower_is_better`` when a rise is a regression; ``test`` names the significance test
:func:`truecourse.measure.compare` runs for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AI_DIMENSIONS", "DIMENSIONS", "METRICS", "SCORE_SUFFIX", "Metric", "score_metric",
]

#: Dimensions a scorecard can group and filter by.
DIMENSIONS: tuple[str, ...] = (
    "service", "env", "version", "model", "provider", "operation", "prompt_version",
    "index_version", "tool_name", "project",
)
AI_DIMENSIONS = frozenset(
    {"model", "provider", "operation", "prompt_version", "index_version", "tool_name"})

#: A span column whose name ends with this is a score: its mean joins the scorecard by itself.
SCORE_SUFFIX = "_score"

SUBJECTS: dict[str, str] = {
    "requests": "(parent_span_id IS NULL OR kind IN ('server', 'consumer'))",
    "ai_calls": "(operation IS NOT NULL)",
    "llm": "(operation IN ('chat', 'completion', 'embeddings'))",
    "gen": "(operation IN ('chat', 'completion'))",
    "tool": "(tool_ok IS NOT NULL)",
    "retrieval": "(operation = 'retrieval')",
}

Test = Literal["latency", "rate", "mean", "none"]


@dataclass(frozen=True)
class Metric:
    """One scorecard metric.

    ``source`` is ``span`` (one pass over the spans), ``task`` (per trace) or ``derived``
    (arithmetic on other metrics, see ``inputs``). For a ``rate`` test, ``inputs`` are the
    (successes, trials) metrics; for ``mean`` and ``latency`` tests, ``sample`` is the column and
    ``subject`` the predicate whose values are compared.
    """

    name: str
    title: str
    unit: str
    source: Literal["span", "task", "derived"]
    lower_is_better: bool | None = None
    test: Test = "none"
    subject: str | None = None
    sample: str | None = None
    inputs: tuple[str, ...] = ()
    doc: str = ""


def _m(name: str, title: str, unit: str, source: Literal["span", "task", "derived"],
       **kw: object) -> Metric:
    return Metric(name, title, unit, source, **kw)  # type: ignore[arg-type]


_LIST: tuple[Metric, ...] = (
    _m("requests", "Requests", "count", "span", doc="Subject spans in the window."),
    _m("throughput_rps", "Throughput", "req/s", "derived", inputs=("requests",),
       doc="requests / window seconds."),
    _m("errors", "Errors", "count", "span", lower_is_better=True,
       doc="Subject spans with status error."),
    _m("error_rate", "Error rate", "ratio", "derived", lower_is_better=True, test="rate",
       inputs=("errors", "requests"), doc="errors / requests."),
    _m("availability", "Availability", "ratio", "derived", lower_is_better=False, test="rate",
       inputs=("errors", "requests"), doc="1 - error_rate."),
    _m("latency_p50", "Latency p50", "ms", "span", lower_is_better=True, test="latency",
       subject="service", sample="duration_ms"),
    _m("latency_p90", "Latency p90", "ms", "span", lower_is_better=True, test="latency",
       subject="service", sample="duration_ms"),
    _m("latency_p95", "Latency p95", "ms", "span", lower_is_better=True, test="latency",
       subject="service", sample="duration_ms"),
    _m("latency_p99", "Latency p99", "ms", "span", lower_is_better=True, test="latency",
       subject="service", sample="duration_ms"),
    _m("latency_mean", "Latency mean", "ms", "span", lower_is_better=True, test="latency",
       subject="service", sample="duration_ms"),
    _m("llm_calls", "LLM calls", "count", "span", doc="Model calls (chat, completion, "
       "embeddings)."),
    _m("input_tokens", "Input tokens", "tokens", "span", doc="Summed over model calls."),
    _m("output_tokens", "Output tokens", "tokens", "span", doc="Summed over model calls."),
    _m("input_tokens_per_call", "Input tokens per call", "tokens", "derived",
       lower_is_better=True, test="mean", subject="llm", sample="input_tokens",
       inputs=("input_tokens", "llm_calls")),
    _m("output_tokens_per_call", "Output tokens per call", "tokens", "derived",
       test="mean", subject="llm", sample="output_tokens", inputs=("output_tokens", "llm_calls")),
    _m("cost_usd", "Cost", "USD", "span", lower_is_better=True,
       doc="Summed over model calls: reported cost, else the pricing catalog's."),
    _m("cost_per_request", "Cost per request", "USD", "derived", lower_is_better=True,
       inputs=("cost_usd", "requests"), doc="cost_usd / requests."),
    _m("cost_per_call", "Cost per LLM call", "USD", "derived", lower_is_better=True,
       test="mean", subject="llm", sample="cost_usd", inputs=("cost_usd", "llm_calls")),
    _m("unpriced_calls", "Unpriced calls", "count", "span", lower_is_better=True,
       doc="Model calls with tokens whose model is not in the pricing catalog (cost NULL)."),
    _m("refusals", "Refusals", "count", "span", lower_is_better=True),
    _m("refusal_checked", "Generations", "count", "span",
       doc="Chat/completion spans with a refusal verdict."),
    _m("refusal_rate", "Refusal rate", "ratio", "derived", lower_is_better=True, test="rate",
       inputs=("refusals", "refusal_checked")),
    _m("tool_calls", "Tool calls", "count", "span"),
    _m("tool_failures", "Tool failures", "count", "span", lower_is_better=True),
    _m("tool_success_rate", "Tool success rate", "ratio", "derived", lower_is_better=False,
       test="rate", inputs=("tool_failures", "tool_calls"),
       doc="1 - tool_failures / tool_calls; group by tool_name for each tool."),
    _m("retrievals", "Retrievals", "count", "span"),
    _m("documents_per_retrieval", "Documents per retrieval", "docs", "span",
       lower_is_better=False, test="mean", subject="retrieval", sample="retrieval_documents"),
    _m("empty_retrievals", "Empty retrievals", "count", "span", lower_is_better=True),
    _m("retrievals_counted", "Retrievals with a document count", "count", "span"),
    _m("empty_retrieval_rate", "Empty-retrieval rate", "ratio", "derived",
       lower_is_better=True, test="rate", inputs=("empty_retrievals", "retrievals_counted")),
    _m("tasks", "Tasks", "count", "task", doc="Traces (or spans named in "
       "measure.task_span_names) with a span in the window."),
    _m("completed_tasks", "Completed tasks", "count", "task", lower_is_better=False,
       doc="Tasks that ended ok, were not refused and drew no negative feedback."),
    _m("task_completion_rate", "Task completion rate", "ratio", "derived",
       lower_is_better=False, test="rate", inputs=("completed_tasks", "tasks")),
    _m("task_cost_usd", "Task cost", "USD", "task", doc="Model-call cost of all tasks."),
    _m("cost_per_completed_task", "Cost per completed task", "USD", "derived",
       lower_is_better=True, inputs=("task_cost_usd", "completed_tasks"),
       doc="All tasks' cost / completed tasks: failed tasks' spend is charged to the ones that "
           "succeeded."),
    _m("feedback_tasks", "Tasks with feedback", "count", "task"),
    _m("feedback_rate", "Feedback rate", "ratio", "derived", inputs=("feedback_tasks", "tasks")),
    _m("feedback_score_mean", "Mean feedback score", "score", "task", lower_is_better=False),
    _m("negative_feedback_tasks", "Tasks with negative feedback", "count", "task",
       lower_is_better=True),
    _m("negative_feedback_rate", "Negative feedback rate", "ratio", "derived",
       lower_is_better=True, test="rate", inputs=("negative_feedback_tasks", "feedback_tasks")),
    _m("corrections", "User corrections", "count", "task", lower_is_better=True,
       doc="Feedback events that carry a correction."),
)

#: Every built-in metric by name, in display order.
METRICS: dict[str, Metric] = {m.name: m for m in _LIST}


def score_metric(column: str) -> Metric:
    """The mean of a ``*_score`` span column (quality, safety, ... scores added later)."""
    return Metric(f"{column}_mean", f"Mean {column.replace('_', ' ')}", "score", "span",
                  lower_is_better=None, test="mean", subject=None, sample=column,
                  doc=f"Mean of the {column} column over spans that have one.")
