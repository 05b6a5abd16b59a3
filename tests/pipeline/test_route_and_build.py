"""The router's split by destination, and build_processors' assembly of the chain."""

from __future__ import annotations

from truecourse.config import PipelineConfig, RouteConfig, TrueCourseConfig, parse_config
from truecourse.model import Batch
from truecourse.pipeline.base import FunctionProcessor, Processor
from truecourse.pipeline.processors import (
    CatalogEnricher,
    FilterProcessor,
    LogDeduper,
    MaskProcessor,
    Router,
    SpanDeduper,
    TraceSampler,
    build_processors,
)

from pipeline.telemetry_rows import logs, spans


def router(routes: list[dict[str, object]]) -> Router:
    return Router(RouteConfig.model_validate({"routes": routes}))


def test_router_splits_first_match_wins() -> None:
    stage = router([
        {"match": {"field": "service", "in": ["loadgen"]}, "to": ["drop"]},
        {"match": {"field": "operation", "in": ["chat"]}, "to": ["store", "quality"]},
        {"match": {"field": "service", "equals": "loadgen"}, "to": ["quality"]},
    ])
    batch = spans(
        {"span_id": "0" * 16, "service": "loadgen", "operation": "chat"},
        {"span_id": "1" * 16, "operation": "chat"},
        {"span_id": "2" * 16, "operation": "embeddings"},
        {"span_id": "3" * 16, "operation": "chat"},
    )
    out = stage.route(batch)
    assert set(out) == {"store", "quality"}
    assert out["store"]["span_id"] == ["1" * 16, "2" * 16, "3" * 16]
    assert out["quality"]["span_id"] == ["1" * 16, "3" * 16]
    assert stage.stats.dropped == 1
    assert stage.stats.rows_out == 3
    assert stage.stats.by_destination == {"store": 3, "quality": 2}
    assert stage.destinations == {"store", "quality"}


def test_router_without_routes_sends_everything_to_store() -> None:
    batch = logs({}, {})
    assert Router().route(batch) == {"store": batch}
    assert Router().route(logs()) == {}


def test_router_on_attributes() -> None:
    stage = router([{"match": {"attribute": "tenant", "equals": "acme"}, "to": ["acme"]}])
    out = stage.route(spans({"attributes": {"tenant": "acme"}}, {"attributes": {}}))
    assert len(out["acme"]) == 1 and len(out["store"]) == 1


def test_build_in_configured_order() -> None:
    config = parse_config("""
pipeline:
  consumers: [quality]
  processors:
    - sample: {ratio: 0.5}
    - filter: {}
    - normalize
    - guard: {}
    - enrich: {}
    - dedupe: {tables: [logs, spans]}
    - route:
        routes: [{match: {field: service, equals: x}, to: [quality]}]
""")
    normalize = FunctionProcessor("normalize", lambda b: b)
    stages, router_ = build_processors(config.pipeline, config.catalog, lambda: normalize)
    assert [type(s) for s in stages] == [TraceSampler, FilterProcessor, FunctionProcessor,
                                        MaskProcessor, CatalogEnricher, SpanDeduper, LogDeduper]
    assert stages[2] is normalize
    assert all(isinstance(s, Processor) for s in stages)
    assert len({s.name for s in stages}) == len(stages)
    assert router_.destinations == {"store", "quality"}


def test_build_defaults_without_normalize_factory() -> None:
    config = TrueCourseConfig()
    stages, router_ = build_processors(config.pipeline, config.catalog)
    assert [s.name for s in stages] == ["filter", "guard", "enrich", "dedupe_spans",
                                        "dedupe_logs"]
    assert router_.routes == []
    stages, _ = build_processors(PipelineConfig(processors=[]), config.catalog)
    assert stages == []


def test_built_chain_runs_end_to_end() -> None:
    config = parse_config("""
pipeline:
  processors:
    - filter: {drop: [{attribute: http.target, equals: /healthz}]}
    - guard: {mask: [{name: key, pattern: "sk-[a-z]{8}"}]}
    - enrich
catalog:
  services:
    chat-api: {team: assistants}
""")
    stages, router_ = build_processors(config.pipeline, config.catalog)
    for s in stages:
        s.start()
    batch: Batch = spans({"attributes": {"http.target": "/healthz"}},
                         {"input_text": "use sk-abcdefgh", "span_id": "1" * 16})
    for s in stages:
        batch = s.process(batch)
    (stored,) = router_.route(batch).values()
    assert stored.rows()[0]["input_text"] == "use [REDACTED:key]"
    assert stored.rows()[0]["team"] == "assistants"
    for s in reversed(stages):
        s.shutdown()


def test_routes_can_select_tables() -> None:
    from truecourse.config import RouteConfig
    from truecourse.ingest.otlp import decode
    from truecourse.pipeline.processors.route import Router

    import otlp_builders as ob

    router = Router(RouteConfig.model_validate({"routes": [
        {"tables": ["logs"], "to": ["drop"]},
        {"tables": ["spans"], "match": {"field": "name", "equals": "keep-me"}, "to": ["store"]},
        {"tables": ["spans"], "to": ["drop"]},
    ]}))
    logs = decode("logs", ob.log_request(["a", "b"]).SerializeToString(),
                  "application/x-protobuf").batch
    spans = decode("traces", ob.trace_request([ob.span("keep-me"), ob.span("other")])
                   .SerializeToString(), "application/x-protobuf").batch
    metrics = decode("metrics", ob.metric_request().SerializeToString(),
                     "application/x-protobuf").batch
    assert router.route(logs) == {}
    assert [r["name"] for r in router.route(spans)["store"].rows()] == ["keep-me"]
    assert len(router.route(metrics)["store"]) == 5  # no route takes metric points


def test_a_route_without_match_or_tables_is_a_config_error() -> None:
    import pytest

    from truecourse.config import parse_config
    from truecourse.errors import ConfigError

    with pytest.raises(ConfigError, match="needs `match`, `tables` or both"):
        parse_config("pipeline:\n  processors:\n    - route:\n        routes:\n"
                     "          - {to: [drop]}\n")
