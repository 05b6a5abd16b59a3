"""The schema used directly from Python, without YAML: defaults and cross-reference checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from truecourse.config import (
    MaskRule,
    MatchRule,
    PipelineConfig,
    ProcessorEntry,
    RouteConfig,
    default_processors,
)


def test_processor_entry_accepts_a_bare_type_or_null_settings() -> None:
    pipeline = PipelineConfig.model_validate({"processors": ["normalize", {"enrich": None}]})
    assert [p.type for p in pipeline.processors] == ["normalize", "enrich"]
    assert pipeline.router == RouteConfig()


def test_default_processor_order() -> None:
    assert [p.type for p in default_processors()] == [
        "filter", "normalize", "guard", "enrich", "dedupe", "route"]
    assert PipelineConfig().processors == default_processors()


def test_route_destinations_checked_against_consumers() -> None:
    routes = {"routes": [{"match": {"field": "service", "equals": "a"}, "to": ["qa"]}]}
    with pytest.raises(ValidationError) as caught:
        PipelineConfig.model_validate({"processors": [{"route": routes}]})
    (err,) = caught.value.errors()
    assert err["loc"] == ("processors", 0, "route", "routes", 0, "to", 0)
    assert "unknown destination 'qa'" in err["msg"]
    ok = PipelineConfig.model_validate({"consumers": ["qa"], "processors": [{"route": routes}]})
    assert ok.router.routes[0].to == ["qa"]


def test_drop_cannot_be_combined() -> None:
    with pytest.raises(ValidationError, match="'drop' cannot be combined"):
        PipelineConfig.model_validate({"processors": [{"route": {"routes": [
            {"match": {"field": "service", "equals": "a"}, "to": ["drop", "store"]}]}}]})


def test_consumer_names() -> None:
    with pytest.raises(ValidationError, match="built-in destination"):
        PipelineConfig(consumers=["store"])
    with pytest.raises(ValidationError, match="listed twice"):
        PipelineConfig(consumers=["qa", "qa"])


@pytest.mark.parametrize("rule", [
    {"field": "service"},
    {"field": "service", "attribute": "x", "equals": "a"},
    {"attribute": "x", "equals": "a", "exists": True},
    {"attribute": "x", "equals": None},
    {"attribute": "x", "in": []},
    {"field": "duration_ms", "equals": "slow"},
    {"field": "refused", "equals": "yes"},
])
def test_invalid_match_rules(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MatchRule.model_validate(rule)


def test_valid_match_rules() -> None:
    MatchRule.model_validate({"field": "duration_ms", "equals": 1.5})
    MatchRule.model_validate({"field": "refused", "equals": True})
    MatchRule.model_validate({"attribute": "http.status_code", "in": [500, "500"]})
    MatchRule.model_validate({"field": "env", "exists": False})


def test_mask_rule_default_replacement_and_empty_match() -> None:
    assert MaskRule(name="k", pattern="sk-\\w+").replacement_text == "[REDACTED:k]"
    assert MaskRule(name="k", pattern="x", replacement="").replacement_text == ""
    with pytest.raises(ValidationError, match="matches the empty string"):
        MaskRule(name="k", pattern="a*")


def test_processor_entry_type_and_settings() -> None:
    entry = ProcessorEntry.model_validate({"sample": {"ratio": 0.1}})
    assert entry.type == "sample"
    assert entry.settings == entry.sample


def test_guard_must_come_after_normalize() -> None:
    # normalize fills input_text/output_text from the decoder's unmasked attributes: a guard
    # before it would let the copied prompt text be stored unmasked
    with pytest.raises(ValidationError) as caught:
        PipelineConfig.model_validate({"processors": ["guard", "normalize"]})
    (err,) = caught.value.errors()
    assert err["loc"] == ("processors", 0)
    assert "'guard' must come after 'normalize'" in err["msg"]
    ok = PipelineConfig.model_validate({"processors": ["normalize", "guard"]})
    assert [p.type for p in ok.processors] == ["normalize", "guard"]
    assert PipelineConfig.model_validate({"processors": ["guard"]}).processors[0].type == "guard"


def test_a_sample_ratio_too_small_to_keep_any_trace_is_refused() -> None:
    from truecourse.config import SampleConfig

    # ratio x 2^64 rounds to 0: the "(0, 1]" ratio silently kept nothing
    with pytest.raises(ValidationError, match="would keep no trace"):
        SampleConfig(ratio=1e-30)
    assert SampleConfig(ratio=2**-64).ratio == 2**-64
    assert SampleConfig(ratio=1.0).ratio == 1.0
