"""Match rules and the filter processor on hand-made batches."""

from __future__ import annotations

from typing import Any

import pytest

from truecourse.config import FilterConfig, MatchRule
from truecourse.pipeline.base import Processor
from truecourse.pipeline.processors import FilterProcessor, RowMatcher

from pipeline.telemetry_rows import logs, metrics, spans


def matcher(**rule: Any) -> RowMatcher:
    return RowMatcher(MatchRule.model_validate(rule))


def test_field_rules() -> None:
    batch = spans({"service": "a", "duration_ms": 5.0}, {"service": "b", "env": "prod"},
                  {"service": "loadgen", "duration_ms": 500.0})
    assert matcher(field="service", equals="b").matches(batch) == [False, True, False]
    assert matcher(field="service", **{"in": ["a", "loadgen"]}).matches(batch) == [
        True, False, True]
    assert matcher(field="service", regex="^load").matches(batch) == [False, False, True]
    assert matcher(field="env", exists=True).matches(batch) == [False, True, False]
    assert matcher(field="env", exists=False).matches(batch) == [True, False, True]
    assert matcher(field="duration_ms", equals=500).matches(batch) == [False, False, True]
    assert matcher(field="duration_ms", regex=r"^5\.0$").matches(batch) == [True, False, False]


def test_field_missing_from_the_table_is_absent() -> None:
    batch = logs({}, {})
    assert matcher(field="operation", equals="chat").matches(batch) == [False, False]
    assert matcher(field="operation", exists=False).matches(batch) == [True, True]


def test_attribute_rules_look_in_attributes_then_resource() -> None:
    batch = spans(
        {"attributes": {"http.target": "/healthz", "http.status_code": 200}},
        {"attributes": {"http.target": "/v1/chat"}, "resource": {"host.name": "h1"}},
        {"attributes": {}, "resource": {"http.target": "/healthz"}},
        {"attributes": {"note": "mentions \"http.target\" in a value"}},
        {"attributes": None, "resource": None},
    )
    assert matcher(attribute="http.target", equals="/healthz").matches(batch) == [
        True, False, True, False, False]
    assert matcher(attribute="http.target", exists=True).matches(batch) == [
        True, True, True, False, False]
    assert matcher(attribute="host.name", regex="h[0-9]").matches(batch) == [
        False, True, False, False, False]
    assert matcher(attribute="http.status_code", **{"in": [200, 204]}).matches(batch) == [
        True, False, False, False, False]


def test_attribute_values_that_are_lists_or_invalid_json() -> None:
    batch = spans({"attributes": {"tags": ["a", "b"]}}, {"attributes": "not json \"tags\""})
    assert matcher(attribute="tags", **{"in": ["a"]}).matches(batch) == [False, False]
    assert matcher(attribute="tags", regex='"a"').matches(batch) == [True, False]
    assert matcher(attribute="tags", exists=True).matches(batch) == [True, False]


def test_filter_drops_rows_matching_any_rule() -> None:
    config = FilterConfig.model_validate({"drop": [
        {"attribute": "http.target", "equals": "/healthz"},
        {"field": "service", "in": ["loadgen"]},
    ]})
    stage = FilterProcessor(config)
    assert isinstance(stage, Processor)
    batch = spans(
        {"span_id": "1" * 16, "attributes": {"http.target": "/healthz"}},
        {"span_id": "2" * 16, "service": "loadgen"},
        {"span_id": "3" * 16},
        {"span_id": "4" * 16, "attributes": {"http.target": "/v1/chat"}},
    )
    out = stage.process(batch)
    assert out["span_id"] == ["3" * 16, "4" * 16]
    assert (stage.stats.rows_in, stage.stats.rows_out, stage.stats.dropped) == (4, 2, 2)


def test_filter_applies_only_to_its_tables() -> None:
    config = FilterConfig.model_validate(
        {"drop": [{"field": "service", "equals": "chat-api"}], "tables": ["logs"]})
    stage = FilterProcessor(config)
    batch = spans({}, {})
    assert stage.process(batch) is batch
    assert stage.stats.rows_in == 0
    assert len(stage.process(logs({}, {"service": "x"}))) == 1


def test_filter_metric_points_and_no_rules() -> None:
    stage = FilterProcessor(FilterConfig.model_validate(
        {"drop": [{"field": "name", "regex": "^debug\\."}]}))
    out = stage.process(metrics({"name": "debug.x"}, {"name": "llm.tokens"}))
    assert out["name"] == ["llm.tokens"]
    passthrough = FilterProcessor(FilterConfig())
    batch = spans({})
    assert passthrough.process(batch) is batch


@pytest.mark.parametrize("calls", [["shutdown"], ["start", "start", "shutdown", "shutdown"]])
def test_lifecycle_is_idempotent(calls: list[str]) -> None:
    stage = FilterProcessor(FilterConfig())
    for call in calls:
        getattr(stage, call)()


def test_attribute_rules_use_the_decoders_parsed_attributes() -> None:
    batch = spans({"attributes": {"k": "json"}}, {"attributes": {"k": "json"}})
    batch.columns["_attrs"] = [{"k": "parsed"}, {}]
    assert matcher(attribute="k", equals="parsed").matches(batch) == [True, False]
