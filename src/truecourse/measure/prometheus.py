"""Per-service and per-model SLIs as Prometheus metrics, fed by committed span batches.

The pipeline hands every committed batch to :meth:`SliMetrics.observe`; a scrape of ``/metrics``
reads the running totals through the registry the metrics were registered on. A batch is reduced
column-wise before the lock is taken (Arrow dictionary codes per label column, then numpy
``unique``/``bincount`` per label set), so the work under the lock grows with the number of
distinct label sets in the batch, never with its rows.

Families (counters count since the process started; durations are in seconds):

==========================================  ==================================================
``truecourse_requests_total``               service, status (``ok`` | ``error``): entry spans
``truecourse_request_duration_seconds``     service: histogram of entry-span durations
``truecourse_llm_calls_total``              service, provider, model, status: LLM spans
``truecourse_llm_duration_seconds``         service, model: histogram of LLM-span durations
``truecourse_tokens_total``                 service, model, direction (``input`` | ``output``)
``truecourse_cost_usd_total``               service, model: reported cost of LLM spans
``truecourse_refusals_total``               service, model: LLM spans whose ``refused`` is true
``truecourse_tool_calls_total``             service, tool, ok (``true`` | ``false`` | ``unknown``)
``truecourse_sli_label_overflow_total``     label: rows whose value was folded into ``__other__``
==========================================  ==================================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from truecourse.model.batch import Batch
from truecourse.model.columns import ARROW_SCHEMAS

__all__ = ["DURATION_BUCKETS", "OTHER", "SliMetrics"]

DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
)
"""Upper bounds (seconds) of both duration histograms: from a cache hit to a long agent turn."""

OTHER = "__other__"
"""The label value that stands for every value past a label's limit."""

LLM_OPERATIONS = ("chat", "completion", "embeddings")
ENTRY_KINDS = ("server", "consumer")
TOOL_OK_VALUES = ("true", "false", "unknown")

_CODED = ("kind", "status_code", "operation", "service", "provider", "model", "tool_name")
"""String columns read as dictionary codes: few distinct values, compared once per value."""
_PLAIN = ("parent_span_id", "duration_ms", "input_tokens", "output_tokens", "cost_usd",
          "tool_ok", "refused")
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_BOUNDS = np.asarray(DURATION_BUCKETS, dtype=np.float64)
_N_BUCKETS = len(DURATION_BUCKETS) + 1
_LE = [floatToGoString(b) for b in DURATION_BUCKETS] + ["+Inf"]

Key = tuple[str, ...]


class SpanBatchLike(Protocol):
    """What :meth:`SliMetrics.observe` needs: a table name and an Arrow form."""

    table: str

    def __len__(self) -> int: ...

    def to_arrow(self) -> pa.Table: ...


class SliMetrics:
    """SLI counters and histograms per service, model and tool, exported from span batches.

    ``observe(batch)`` adds one committed batch; the families listed in the module docstring are
    exposed through ``registry`` (this object registers itself as a custom collector).

    What counts:

    - an *entry span* (requests, request duration) is a root span (``parent_span_id`` NULL or
      empty) or a span of kind ``server`` or ``consumer``;
    - an *LLM span* (LLM calls and duration, tokens, cost, refusals) has ``operation`` chat,
      completion or embeddings; tokens and cost are read from LLM spans only, so an agent span
      that rolls up its children's usage is not counted twice;
    - a *tool call* is a span with ``operation`` tool; ``ok`` is ``tool_ok`` as ``"true"`` or
      ``"false"``, ``"unknown"`` when NULL;
    - ``status`` is ``"error"`` when ``status_code`` is ``error``, else ``"ok"`` (unset is ok).

    Bounded label cardinality: the ``service``, ``model``, ``tool`` and ``provider`` labels each
    keep at most ``max_services``, ``max_models``, ``max_tools`` and ``max_providers`` distinct
    values, admitted first come, first served for the life of the process. A later new value is
    reported as ``"__other__"``, and ``truecourse_sli_label_overflow_total{label}`` counts the
    rows (each span once per label) that were folded so. NULL becomes ``""``; ``""`` and
    ``"__other__"`` themselves never use up a slot. Series are created with their zero-valued
    siblings (both statuses, both token directions, every ``ok`` value) so ratios have a
    denominator from the first observation.

    Durations that are NULL or not finite are left out of the histograms (the span still
    counts); negative durations, tokens and costs count as zero, so counters never decrease.

    Thread-safe: ``observe`` may run on the writer thread while a scrape collects.
    Cost: a few hundred microseconds for a 500-span batch, mostly building the Arrow columns.
    """

    def __init__(self, registry: CollectorRegistry, *, max_services: int = 50,
                 max_models: int = 50, max_tools: int = 50, max_providers: int = 20) -> None:
        self._lock = threading.Lock()
        self._limits = {
            "service": _LabelLimit("service", max_services),
            "provider": _LabelLimit("provider", max_providers),
            "model": _LabelLimit("model", max_models),
            "tool": _LabelLimit("tool", max_tools),
        }
        self._requests = _Counter("truecourse_requests_total",
                                  "Entry spans (roots, server and consumer spans), by status.",
                                  ("service", "status"))
        self._request_seconds = _Histogram("truecourse_request_duration_seconds",
                                           "Duration of entry spans in seconds.", ("service",))
        self._llm_calls = _Counter("truecourse_llm_calls_total",
                                   "LLM spans (chat, completion, embeddings), by status.",
                                   ("service", "provider", "model", "status"))
        self._llm_seconds = _Histogram("truecourse_llm_duration_seconds",
                                       "Duration of LLM spans in seconds.", ("service", "model"))
        self._tokens = _Counter("truecourse_tokens_total",
                                "Tokens of LLM spans, by direction (input, output).",
                                ("service", "model", "direction"))
        self._cost = _Counter("truecourse_cost_usd_total",
                              "Cost in USD reported on LLM spans.", ("service", "model"))
        self._refusals = _Counter("truecourse_refusals_total",
                                  "LLM spans where the model refused.", ("service", "model"))
        self._tool_calls = _Counter("truecourse_tool_calls_total",
                                    "Tool-call spans, by outcome (true, false, unknown).",
                                    ("service", "tool", "ok"))
        self._overflow = _Counter("truecourse_sli_label_overflow_total",
                                  "Span rows whose label value was past the limit and was "
                                  "reported as __other__, by label.", ("label",))
        for label in self._limits:
            self._overflow.add((label,), 0.0)
        self._families: tuple[_Counter | _Histogram, ...] = (
            self._requests, self._request_seconds, self._llm_calls, self._llm_seconds,
            self._tokens, self._cost, self._refusals, self._tool_calls, self._overflow,
        )
        registry.register(self)

    def observe(self, batch: Batch | SpanBatchLike) -> None:
        """Add one committed batch; batches of other tables than ``spans`` are ignored.

        Raises ``KeyError`` when an Arrow batch lacks one of the span columns read here.
        """
        if batch.table != "spans" or len(batch) == 0:
            return
        reduced = _reduce(_span_columns(batch))
        with self._lock:
            self._merge(reduced)

    def collect(self) -> Iterator[Metric]:
        """The current totals (called by the registry on every scrape)."""
        with self._lock:
            families = [f.family() for f in self._families]
        yield from families

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so the registry can check names without a collect."""
        for f in self._families:
            yield f.empty()

    def _merge(self, r: _Reduction) -> None:
        limits, overflow = self._limits, self._overflow
        service = limits["service"].admit(r.labels["service"], overflow)
        provider = limits["provider"].admit(r.labels["provider"], overflow)
        model = limits["model"].admit(r.labels["model"], overflow)
        tool = limits["tool"].admit(r.labels["tool"], overflow)

        e = r.entry
        for i, s in enumerate(e.service.tolist()):
            key = (service[s],)
            errors = float(e.errors[i])
            self._requests.add((*key, "ok"), float(e.rows[i]) - errors)
            self._requests.add((*key, "error"), errors)
            self._request_seconds.add(key, e.durations.buckets[i], float(e.durations.seconds[i]))

        g = r.llm
        codes = zip(g.service.tolist(), g.provider.tolist(), g.model.tolist(), strict=True)
        for i, (s, p, m) in enumerate(codes):
            sm = (service[s], model[m])
            errors = float(g.errors[i])
            self._llm_calls.add((sm[0], provider[p], sm[1], "ok"), float(g.rows[i]) - errors)
            self._llm_calls.add((sm[0], provider[p], sm[1], "error"), errors)
            self._llm_seconds.add(sm, g.durations.buckets[i], float(g.durations.seconds[i]))
            self._tokens.add((*sm, "input"), float(g.input_tokens[i]))
            self._tokens.add((*sm, "output"), float(g.output_tokens[i]))
            self._cost.add(sm, float(g.cost[i]))
            self._refusals.add(sm, float(g.refusals[i]))

        t = r.tools
        for i, (s, n) in enumerate(zip(t.service.tolist(), t.tool.tolist(), strict=True)):
            for j, ok in enumerate(TOOL_OK_VALUES):
                self._tool_calls.add((service[s], tool[n], ok), float(t.outcomes[i, j]))


class _LabelLimit:
    """The values one label may take; a new value past the limit is reported as ``__other__``."""

    __slots__ = ("admitted", "label", "limit")

    def __init__(self, label: str, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"max_* for label {label!r} must be >= 0, got {limit}")
        self.label = label
        self.limit = limit
        self.admitted: set[str] = set()

    def admit(self, labels: _Labels, overflow: _Counter) -> list[str]:
        """The reported value per code; rows folded into ``__other__`` go to ``overflow``.

        Only values with rows are admitted (a value seen only on spans that feed no family takes
        no slot); the others map to ``""`` and are never looked up.
        """
        out: list[str] = []
        folded = 0
        for value, n in zip(labels.values, labels.rows.tolist(), strict=True):
            if n == 0:
                out.append("")
            elif value in self.admitted or value in ("", OTHER):
                out.append(value)
            elif len(self.admitted) < self.limit:
                self.admitted.add(value)
                out.append(value)
            else:
                out.append(OTHER)
                folded += n
        if folded:
            overflow.add((self.label,), float(folded))
        return out


class _Counter:
    """Cumulative values per label set, exposed as one counter family."""

    __slots__ = ("doc", "labels", "name", "values")

    def __init__(self, name: str, doc: str, labels: Sequence[str]) -> None:
        self.name, self.doc, self.labels = name, doc, list(labels)
        self.values: dict[Key, float] = {}

    def add(self, key: Key, amount: float) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def family(self) -> Metric:
        f = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in self.values.items():
            f.add_metric(key, value)
        return f

    def empty(self) -> Metric:
        return CounterMetricFamily(self.name, self.doc, labels=self.labels)


class _Histogram:
    """Per-bucket (not cumulative) counts and sums per label set, exposed as a histogram."""

    __slots__ = ("counts", "doc", "labels", "name", "sums")

    def __init__(self, name: str, doc: str, labels: Sequence[str]) -> None:
        self.name, self.doc, self.labels = name, doc, list(labels)
        self.counts: dict[Key, np.ndarray] = {}
        self.sums: dict[Key, float] = {}

    def add(self, key: Key, counts: np.ndarray, total: float) -> None:
        held = self.counts.get(key)
        if held is None:
            self.counts[key] = counts.astype(np.int64)
            self.sums[key] = total
        else:
            held += counts
            self.sums[key] += total

    def family(self) -> Metric:
        f = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for key, counts in self.counts.items():
            cumulative = np.cumsum(counts).tolist()
            f.add_metric(key, [(le, float(c)) for le, c in zip(_LE, cumulative, strict=True)],
                         self.sums[key])
        return f

    def empty(self) -> Metric:
        return HistogramMetricFamily(self.name, self.doc, labels=self.labels)


@dataclass(slots=True)
class _Durations:
    """Per-group bucket counts (not cumulative, valid durations only) and duration sums."""

    buckets: np.ndarray
    seconds: np.ndarray


@dataclass(slots=True)
class _EntryGroups:
    service: np.ndarray
    rows: np.ndarray
    errors: np.ndarray
    durations: _Durations


@dataclass(slots=True)
class _LlmGroups:
    service: np.ndarray
    provider: np.ndarray
    model: np.ndarray
    rows: np.ndarray
    errors: np.ndarray
    durations: _Durations
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cost: np.ndarray
    refusals: np.ndarray


@dataclass(slots=True)
class _ToolGroups:
    service: np.ndarray
    tool: np.ndarray
    outcomes: np.ndarray
    """Rows per group and ``ok`` value, in the order of ``TOOL_OK_VALUES``."""


@dataclass(slots=True)
class _Labels:
    """The distinct values of one label column (by code) and the rows that use each."""

    values: list[str]
    rows: np.ndarray


@dataclass(slots=True)
class _Reduction:
    """One batch reduced to distinct label values and per-label-set sums (codes, not strings)."""

    labels: dict[str, _Labels]
    entry: _EntryGroups
    llm: _LlmGroups
    tools: _ToolGroups


def _span_columns(batch: Batch | SpanBatchLike) -> dict[str, pa.Array]:
    """The columns read here as single-chunk Arrow arrays, ``_CODED`` ones dictionary-encoded.

    A list-form batch converts only these columns, straight to dictionary arrays.
    """
    if isinstance(batch, Batch):
        schema = ARROW_SCHEMAS["spans"]
        out = {n: pa.array(batch.columns[n], type=_DICTIONARY) for n in _CODED}
        out.update((n, pa.array(batch.columns[n], type=schema.field(n).type)) for n in _PLAIN)
        return out
    table = batch.to_arrow()
    out = {}
    for n in (*_CODED, *_PLAIN):
        column = table.column(n)
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        if n in _CODED and not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        out[n] = array
    return out


def _codes(column: pa.DictionaryArray) -> tuple[np.ndarray, list[str | None]]:
    """Code per row and the value of each code; NULL rows get a code of their own, last."""
    values: list[str | None] = column.dictionary.to_pylist()
    codes = column.indices.to_numpy(zero_copy_only=False)
    if column.null_count:
        codes = np.where(np.isnan(codes), len(values), codes)
        values.append(None)
    return codes.astype(np.int64, copy=False), values


def _labels(column: pa.DictionaryArray) -> tuple[np.ndarray, list[str]]:
    """Codes per row and the label value of each code (NULL becomes ``""``)."""
    codes, values = _codes(column)
    return codes, [v or "" for v in values]


def _one_of(codes: np.ndarray, values: list[str | None], wanted: tuple[str, ...]) -> np.ndarray:
    """Rows whose value is in ``wanted`` (decided once per distinct value, not per row)."""
    return np.array([v in wanted for v in values], dtype=bool)[codes]


def _numbers(column: pa.Array) -> np.ndarray:
    """Values as float64; NULL, NaN, infinite and negative values become 0."""
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def _group(rows: np.ndarray, *columns: tuple[np.ndarray, int]) -> tuple[np.ndarray,
                                                                        list[np.ndarray]]:
    """Group ``rows`` (row indices) by code columns given as (codes, number of distinct codes).

    Returns each row's group number and, per column, the code of each group.
    """
    combined = np.zeros(len(rows), dtype=np.int64)
    for codes, size in columns:
        combined = combined * size + codes[rows]
    unique, inverse = np.unique(combined, return_inverse=True)
    keys: list[np.ndarray] = []
    for _, size in reversed(columns):
        keys.append(unique % size)
        unique = unique // size
    keys.reverse()
    return inverse.reshape(-1), keys


def _durations(group: np.ndarray, n: int, rows: np.ndarray, bucket: np.ndarray,
               seconds: np.ndarray) -> _Durations:
    b = bucket[rows]
    valid = b >= 0
    g = group[valid]
    counts = np.bincount(g * _N_BUCKETS + b[valid], minlength=n * _N_BUCKETS)
    return _Durations(counts.reshape(n, _N_BUCKETS),
                      np.bincount(g, weights=seconds[rows][valid], minlength=n))


def _reduce(c: dict[str, pa.Array]) -> _Reduction:
    # NULL and "" parents both mean a root span: neither has a positive length.
    parent_length = pc.binary_length(c["parent_span_id"]).to_numpy(zero_copy_only=False)
    entry = ~(parent_length > 0) | _one_of(*_codes(c["kind"]), ENTRY_KINDS)
    operation = _codes(c["operation"])
    llm = _one_of(*operation, LLM_OPERATIONS)
    tool = _one_of(*operation, ("tool",))
    error = _one_of(*_codes(c["status_code"]), ("error",)).astype(np.float64)

    duration_ms = np.asarray(c["duration_ms"].to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(duration_ms)
    seconds = np.where(finite, np.maximum(duration_ms, 0.0) / 1000.0, 0.0)
    bucket = np.where(finite, np.searchsorted(_BOUNDS, seconds, side="left"), -1)

    service, services = _labels(c["service"])
    provider, providers = _labels(c["provider"])
    model, models = _labels(c["model"])
    tool_name, tools = _labels(c["tool_name"])
    ns, npr, nm, nt = len(services), len(providers), len(models), len(tools)
    entry_rows, llm_rows, tool_rows = (np.flatnonzero(m) for m in (entry, llm, tool))

    g, (s,) = _group(entry_rows, (service, ns))
    k = len(s)
    entry_groups = _EntryGroups(s, np.bincount(g, minlength=k),
                                np.bincount(g, weights=error[entry_rows], minlength=k),
                                _durations(g, k, entry_rows, bucket, seconds))

    g, (s, p, m) = _group(llm_rows, (service, ns), (provider, npr), (model, nm))
    k = len(s)

    def llm_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=values[llm_rows], minlength=k)

    refused = np.equal(c["refused"].to_numpy(zero_copy_only=False), True)
    llm_groups = _LlmGroups(s, p, m, np.bincount(g, minlength=k), llm_sum(error),
                            _durations(g, k, llm_rows, bucket, seconds),
                            llm_sum(_numbers(c["input_tokens"])),
                            llm_sum(_numbers(c["output_tokens"])),
                            llm_sum(_numbers(c["cost_usd"])),
                            llm_sum(refused.astype(np.float64)))

    g, (s, t) = _group(tool_rows, (service, ns), (tool_name, nt))
    k = len(s)
    tool_ok = c["tool_ok"].to_numpy(zero_copy_only=False)
    outcome = np.where(np.equal(tool_ok, True), 0, np.where(np.equal(tool_ok, False), 1, 2))
    outcomes = np.bincount(g * 3 + outcome[tool_rows], minlength=k * 3).reshape(k, 3)

    return _Reduction(
        {
            "service": _Labels(services, np.bincount(service[entry | llm | tool], minlength=ns)),
            "provider": _Labels(providers, np.bincount(provider[llm], minlength=npr)),
            "model": _Labels(models, np.bincount(model[llm], minlength=nm)),
            "tool": _Labels(tools, np.bincount(tool_name[tool], minlength=nt)),
        },
        entry_groups, llm_groups, _ToolGroups(s, t, outcomes),
    )
