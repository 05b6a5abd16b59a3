"""The built-in pipeline processors and :func:`build_processors`, which assembles them.

::

    stages, router = build_processors(config.pipeline, config.catalog, normalize_factory)
    for stage in stages:
        batch = stage.process(batch)
    for destination, rows in router.route(batch).items(): ...

Stages come back in configured order; ``route`` is not a stage but the :class:`Router` that ends
the chain (one with no routes, sending everything to ``store``, when it is not configured).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from truecourse.config import CatalogConfig, PipelineConfig, ProcessorEntry
from truecourse.pipeline.base import Processor
from truecourse.pipeline.processors.dedupe import (
    FirstSeen,
    LogDeduper,
    LogDedupeStats,
    SpanDeduper,
    SpanDedupeStats,
)
from truecourse.pipeline.processors.enrich import CatalogEnricher, EnrichStats
from truecourse.pipeline.processors.filter import FilterProcessor, FilterStats
from truecourse.pipeline.processors.guard import GuardProcessor, Masker, MaskProcessor, MaskStats
from truecourse.pipeline.processors.match import AttributeIndex, RowMatcher
from truecourse.pipeline.processors.route import DROP, STORE, Router, RouteStats
from truecourse.pipeline.processors.sample import SampleStats, TraceSampler, trace_position
from truecourse.pipeline.processors.stage import Stage

__all__ = [
    "DROP",
    "STORE",
    "AttributeIndex",
    "CatalogEnricher",
    "EnrichStats",
    "FilterProcessor",
    "FilterStats",
    "FirstSeen",
    "GuardProcessor",
    "LogDedupeStats",
    "LogDeduper",
    "MaskProcessor",
    "MaskStats",
    "Masker",
    "RouteStats",
    "Router",
    "RowMatcher",
    "SampleStats",
    "SpanDedupeStats",
    "SpanDeduper",
    "Stage",
    "TraceSampler",
    "build_processors",
    "trace_position",
]


def build_processors(
    config: PipelineConfig,
    catalog: CatalogConfig,
    normalize_factory: Callable[[], Processor] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Processor], Router]:
    """The configured stages, in order, and the router that ends the chain.

    ``normalize`` is built by ``normalize_factory`` (skipped when it is None); ``dedupe`` gives
    one stage per deduplicated table (``dedupe_spans``, ``dedupe_logs``); ``clock`` is the
    dedupers' time source. Nothing is started.
    """
    stages: list[Processor] = []
    router = Router()
    for entry in config.processors:
        if entry.route is not None:
            router = Router(entry.route)
        else:
            stages += _build(entry, catalog, normalize_factory, clock)
    return stages, router


def _build(
    entry: ProcessorEntry,
    catalog: CatalogConfig,
    normalize_factory: Callable[[], Processor] | None,
    clock: Callable[[], float],
) -> list[Processor]:
    if entry.filter is not None:
        return [FilterProcessor(entry.filter)]
    if entry.sample is not None:
        return [TraceSampler(entry.sample)]
    if entry.normalize is not None:
        return [normalize_factory()] if normalize_factory is not None else []
    if entry.guard is not None:
        return [GuardProcessor(entry.guard)]
    if entry.enrich is not None:
        return [CatalogEnricher(catalog)]
    if entry.dedupe is not None:
        dedupers: list[Processor] = []
        if "spans" in entry.dedupe.tables:
            dedupers.append(SpanDeduper(entry.dedupe, clock=clock))
        if "logs" in entry.dedupe.tables:
            dedupers.append(LogDeduper(entry.dedupe, clock=clock))
        return dedupers
    raise AssertionError(f"no builder for processor type {entry.type!r}")
