"""The ``detect`` config: shapes, defaults and every bad input's message."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

import truecourse.detect
from truecourse.config.detect import (
    DEFAULT_BURN_WINDOWS,
    DIMENSION_NAMES,
    METRIC_NAMES,
    DetectConfig,
    RuleConfig,
    SloConfig,
    parse_duration,
    validate_detect,
)
from truecourse.config.schema import CatalogConfig
from truecourse.measure import DIMENSIONS, METRICS

GOOD = [{"field": "status_code", "op": "!=", "value": "error"}]


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        DetectConfig.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_names_match_the_measure_package() -> None:
    assert tuple(METRICS) == METRIC_NAMES
    assert DIMENSION_NAMES == DIMENSIONS


def test_public_surface() -> None:
    assert truecourse.detect.__all__ == sorted(truecourse.detect.__all__)
    for name in truecourse.detect.__all__:
        assert getattr(truecourse.detect, name)


def test_defaults_are_the_sre_workbook_conditions() -> None:
    cfg = DetectConfig.model_validate({"slos": [{"name": "a", "objective": 0.999,
                                                 "good": GOOD}]})
    assert cfg.interval_s == 30
    slo = cfg.slos[0]
    assert slo.window == "28d" and slo.notify_during_deploys is False
    assert [(w.severity, w.factor, w.long, w.short) for w in slo.burn_windows] == [
        ("page", 14.4, "1h", "5m"), ("page", 6, "6h", "30m"),
        ("ticket", 3, "1d", "2h"), ("ticket", 1, "3d", "6h")]
    assert len(DEFAULT_BURN_WINDOWS) == 4


def test_a_full_yaml_shaped_config_loads() -> None:
    cfg = DetectConfig.model_validate({
        "interval_s": 15,
        "slos": [{"name": "llm-quality", "subject": "llm", "objective": 0.9, "window": "7d",
                  "where": [{"field": "quality_score", "op": "not_null"}],
                  "good": [{"field": "quality_score", "op": ">=", "value": 0.7},
                           {"field": "refused", "op": "!=", "value": True}],
                  "burn_windows": [{"severity": "ticket", "factor": 2, "long": "6h",
                                    "short": "30m"}],
                  "labels": {"team": "ml"}, "notify_during_deploys": True}],
        "rules": [{"name": "CostSpike", "kind": "threshold", "metric": "cost_usd",
                   "where": {"service": "chat-api"}, "group_by": ["model"], "op": ">",
                   "value": 5, "window": "1h", "for": "10m"},
                  {"name": "Q", "kind": "anomaly", "metric": "quality_score_mean",
                   "baseline": "seasonal", "sensitivity": 4, "min_history": 3}],
    })
    assert cfg.rules[0].for_s == 600 and cfg.rules[0].window_s == 3600
    assert cfg.rules[1].history_s == 28 * 86400 and cfg.rules[1].window_s == 300


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("6h", 21600),
                                               ("28d", 28 * 86400), ("1w", 604800), (90, 90)])
def test_durations(text: Any, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "1.5h", "0m", "", "-1s", 0, True, "5M"])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"duration|positive|longer than zero"):
        parse_duration(bad)


def test_unknown_metric_dimension_and_field_say_what_was_meant() -> None:
    found = errors({
        "slos": [{"name": "s", "objective": 0.99,
                  "good": [{"field": "duraton_ms", "op": "<", "value": 2000}]}],
        "rules": [{"name": "r", "kind": "threshold", "metric": "latency_p59", "op": ">",
                   "value": 1, "group_by": ["modle"]},
                  {"name": "r2", "kind": "threshold", "metric": "error_rate", "op": ">",
                   "value": 1, "where": {"servise": "x"}}],
    })
    by_loc = {loc: msg for loc, msg in found}
    assert "did you mean 'duration_ms'" in by_loc[("slos", 0, "good", 0, "field")]
    assert "unknown metric 'latency_p59' — did you mean" in by_loc[("rules", 0, "metric")]
    assert "did you mean 'model'" in by_loc[("rules", 0, "group_by")]
    assert "did you mean 'service'" in by_loc[("rules", 1, "where")]


@pytest.mark.parametrize(("cond", "message"), [
    ({"field": "refused", "op": "<", "value": True}, "does not apply to boolean"),
    ({"field": "duration_ms", "op": "<", "value": "slow"}, "holds number values"),
    ({"field": "status_code", "op": "in", "value": "error"}, "non-empty list"),
    ({"field": "status_code", "op": "is_null", "value": "x"}, "takes no value"),
    ({"field": "start_time", "op": ">", "value": 1}, "cannot be compared"),
    ({"field": "status_code", "op": "~", "value": "x"}, "Input should be"),
])
def test_bad_conditions(cond: dict[str, Any], message: str) -> None:
    found = errors({"slos": [{"name": "s", "objective": 0.99, "good": [cond]}]})
    assert any(message in msg for _, msg in found), found


@pytest.mark.parametrize(("rule", "message"), [
    ({"kind": "threshold", "metric": "error_rate"}, "needs op and value"),
    ({"kind": "anomaly", "metric": "error_rate", "op": ">"}, "op do not apply"),
    ({"kind": "threshold", "metric": "error_rate", "op": ">", "value": 1,
      "baseline": "ewma"}, "baseline do not apply"),
    ({"kind": "anomaly", "metric": "error_rate", "baseline": "seasonal", "alpha": 0.2},
     "ewma baseline only"),
    ({"kind": "threshold", "metric": "error_rate", "op": ">", "value": 1, "for": "soon"},
     "not a duration"),
    ({"kind": "threshold", "metric": "error_rate", "op": ">", "value": 1, "severity": "p1"},
     "Input should be"),
])
def test_bad_rules(rule: dict[str, Any], message: str) -> None:
    found = errors({"rules": [{"name": "r", **rule}]})
    assert any(message in msg for _, msg in found), found


def test_slo_bounds_and_unique_names() -> None:
    assert errors({"slos": [{"name": "s", "objective": 1.0, "good": GOOD}]})
    assert errors({"slos": [{"name": "s", "objective": 0.9, "good": []}]})
    found = errors({"slos": [{"name": "s", "objective": 0.9, "good": GOOD,
                              "burn_windows": [{"severity": "page", "factor": 2, "long": "5m",
                                                "short": "1h"}]}]})
    assert "short window must be shorter" in found[0][1]
    found = errors({"rules": [{"name": "r", "kind": "anomaly", "metric": "requests"}] * 2})
    assert "rule name 'r' is used twice" in found[0][1]
    assert errors({"interval_s": 0}) and errors({"surprise": 1})


def test_validate_detect_names_unknown_services_with_paths() -> None:
    catalog = CatalogConfig.model_validate({"services": {"checkout": {}, "chat-api": {}}})
    cfg = DetectConfig.model_validate({
        "slos": [{"name": "s", "service": "chekout", "objective": 0.99, "good": GOOD}],
        "rules": [{"name": "ok", "kind": "threshold", "metric": "error_rate", "op": ">",
                   "value": 0.1, "where": {"service": "checkout"}},
                  {"name": "r", "kind": "threshold", "metric": "error_rate", "op": ">",
                   "value": 0.1, "where": {"service": "chat"}}],
    })
    assert validate_detect(cfg, catalog) == [
        "detect.slos[0].service: unknown service 'chekout' — did you mean 'checkout'? "
        "(not in the catalog)",
        "detect.rules[1].where.service: unknown service 'chat' — did you mean 'chat-api'? "
        "(not in the catalog)",
    ]
    assert validate_detect(cfg, CatalogConfig()) == []  # an empty catalog checks nothing


def test_validate_detect_rechecks_unvalidated_configs() -> None:
    rule = RuleConfig.model_construct(name="r", kind="threshold", metric="latency_p59",
                                      group_by=["modle"], where={}, op=">", value=1.0)
    slo = SloConfig.model_validate({"name": "s", "objective": 0.9, "good": GOOD})
    cfg = DetectConfig.model_construct(interval_s=30, late_margin_s=120, slos=[slo],
                                       rules=[rule])
    problems = validate_detect(cfg)
    assert problems[0].startswith("detect.rules[0].metric: unknown metric 'latency_p59'")
    assert "did you mean" in problems[0]
    assert problems[1].startswith("detect.rules[0].group_by: unknown dimension 'modle' — "
                                  "did you mean 'model'?")
