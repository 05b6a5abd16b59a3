"""Matchers, the routing tree and the alerting config's checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from truecourse.alerting import build_routes, match, parse_matcher, parse_matchers
from truecourse.config.alerting import AlertingConfig, validate_alerting
from truecourse.errors import InvalidInput


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("service=checkout", {"service": "checkout"}, True),
    ('service="checkout"', {"service": "checkout"}, True),
    ("service!=checkout", {"service": "search"}, True),
    ("service=~check.*", {"service": "checkout"}, True),
    ("service=~check", {"service": "checkout"}, False),  # anchored, as in Alertmanager
    ("service!~check.*", {"service": "checkout"}, False),
    ("team=", {"service": "x"}, True),  # a missing label is the empty string
])
def test_matcher_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


def test_bad_matchers_are_named() -> None:
    with pytest.raises(InvalidInput, match=r"matchers\[1\]: bad matcher 'service'"):
        parse_matchers(["a=b", "service"])
    with pytest.raises(InvalidInput, match=r"matchers\[0\]: bad regex"):
        parse_matchers(["a=~("])


def _cfg(**route: object) -> AlertingConfig:
    return AlertingConfig.model_validate({
        "route": route,
        "receivers": [{"name": n, "webhook": {"url": "http://x"}} for n in ("pd", "slack", "db")],
    })


def test_routing_first_match_continue_and_inheritance() -> None:
    cfg = _cfg(receiver="slack", group_wait_s=10, routes=[
        {"matchers": ["severity=page"], "receiver": "pd", "continue": True},
        {"matchers": ["service=~db-.*"], "receiver": "db", "group_by": ["service"],
         "routes": [{"matchers": ["env=prod"], "repeat_interval_s": 60}]},
        {"matchers": ["service=~db-.*"], "receiver": "slack"},
    ])
    root = build_routes(cfg.route)
    hits = match(root, {"severity": "page", "service": "db-main", "env": "prod"})
    assert [(r.path, r.receiver) for r in hits] == [
        ("route.routes[0]", "pd"), ("route.routes[1].routes[0]", "db")]
    leaf = hits[1]
    assert (leaf.group_by, leaf.group_wait_s, leaf.repeat_interval_s) == (("service",), 10, 60)
    assert [r.path for r in match(root, {"service": "web"})] == ["route"]
    assert build_routes(AlertingConfig().route).receiver == "owner"


def test_validation_names_yaml_paths() -> None:
    problems = validate_alerting({
        "route": {"receiver": "pdd", "routes": [
            {"matchers": ["service=a", "service=b"], "receiver": "pd"},
            {"receiver": "slack"},
            {"matchers": ["team=x"], "receiver": "slack"},
        ]},
        "receivers": [{"name": "pd", "pagerduty": {"routing_key": "k"}},
                      {"name": "slack", "slack": {"webhook_url": "http://s"}}],
    })
    assert problems == [
        "alerting.route.receiver: unknown receiver 'pdd' — did you mean 'pd'?",
        'alerting.route.routes[0].matchers: contradictory matchers service="a" and '
        'service="b": no alert can match',
        "alerting.route.routes[2]: overlapping route: it can never match, routes[1] before "
        "it matches every alert and has no `continue`",
    ]


def test_bad_regex_and_receivers_without_integration() -> None:
    problems = validate_alerting({
        "route": {"routes": [{"matchers": ["a=1"]}, {"matchers": ["x=~[", "y!~ok"]}]},
        "receivers": [{"name": "empty"}],
        "inhibit_rules": [{"source_matchers": ["alertname"], "target_matchers": ["a=1"]}],
    })
    assert problems[0].startswith("alerting.route.routes[1].matchers[0]: bad regex in matcher")
    assert any(p.startswith("alerting.receivers[0]: receiver 'empty' has no integration")
               for p in problems)
    assert any(p.startswith("alerting.inhibit_rules[0].source_matchers[0]: bad matcher")
               for p in problems)


def test_contradictions_with_negation_and_regex() -> None:
    for pair in (["a=x", "a!=x"], ["a=x", "a=~y.*"], ["a=x", "a!~x"]):
        with pytest.raises(ValidationError, match="contradictory"):
            _cfg(routes=[{"matchers": pair}])
    _cfg(routes=[{"matchers": ["a=x", "a=~x|y", "a!=z"]}])  # consistent


def test_duplicate_and_reserved_receiver_names() -> None:
    problems = validate_alerting({"receivers": [
        {"name": "owner", "webhook": {"url": "u"}}, {"name": "a", "webhook": {"url": "u"}},
        {"name": "a", "webhook": {"url": "u"}}]})
    assert problems == [
        "alerting.receivers[0].name: 'owner' is the built-in catalog-owner receiver",
        "alerting.receivers[2].name: receiver 'a' is defined twice (first at receivers[1])"]
    assert validate_alerting(AlertingConfig()) == []
