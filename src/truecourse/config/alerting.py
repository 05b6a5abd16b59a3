"""The ``alerting`` section: the routing tree, receivers, inhibition rules and delivery.

Matchers use Alertmanager's syntax — ``label=value``, ``label!=value``, ``label=~regex``,
``label!~regex`` (values may be double-quoted; regexes are anchored at both ends) — and are
parsed here, at load time, so a bad one is reported at its key. Cross-references (unknown
receivers, routes that can never match, contradictory matchers) are checked by the section's
root validator; :func:`validate_alerting` returns every problem as ``alerting.<path>: message``.

Example::

    alerting:
      external_url: https://truecourse.example.com
      route:
        receiver: owner            # the owner from the service catalog (the default)
        group_by: [alertname, service]
        routes:
          - matchers: ["severity=page"]
            receiver: pagerduty-main
            continue: true
          - matchers: ["service=~checkout|payments"]
            receiver: payments-slack
      receivers:
        - name: pagerduty-main
          pagerduty: {routing_key: R0UT1NGKEY}
        - name: payments-slack
          slack: {webhook_url: https://hooks.slack.com/services/T/B/X}
      inhibit_rules:               # off unless listed; e.g. service-down holds back latency
        - source_matchers: ["alertname=ServiceDown"]
          target_matchers: ["alertname=~Latency.*"]
          equal: [service]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from truecourse.config.checks import Loc, located, unknown_name

OWNER_RECEIVER = "owner"
"""The built-in receiver: the service's owner from the catalog, delivered through the receiver
named by the catalog's ``oncall`` (recorded as undeliverable when there is none)."""

MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(
    r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"]*?)\s*$')


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``matches`` treats a missing label as the empty string (as
    Alertmanager does)."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Any) -> bool:
        v = labels.get(self.name, "")
        if self.op == "=":
            return bool(v == self.value)
        if self.op == "!=":
            return bool(v != self.value)
        assert self._regex is not None
        hit = self._regex.fullmatch(v) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    """Parse ``label<op>value``; raises ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a matcher is a string like 'service=checkout', not {text!r}")
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(f"bad matcher {text!r}: expected label=value, label!=value, "
                         "label=~regex or label!~regex (label: letters, digits, _)")
    name, op, raw = m.group(1), m.group(2), m.group(3)
    value = raw
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        value = re.sub(r'\\(.)', r'\1', raw[1:-1])
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex in matcher {text!r}: {exc}") from None
    return Matcher(name, op, value, regex)  # type: ignore[arg-type]


def _check_matchers(v: list[str]) -> list[str]:
    problems: list[tuple[Loc, str, object]] = []
    for i, text in enumerate(v):
        try:
            parse_matcher(text)
        except ValueError as exc:
            problems.append(((i,), str(exc), text))
    if problems:
        raise located("matchers", problems)
    return v


class RouteConfig(BaseModel):
    """A node of the routing tree. Unset fields are inherited from the parent route."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    receiver: str | None = Field(
        default=None,
        description="Receiver name; unset inherits the parent's (`owner` at the root: the "
        "service owner from the catalog).")
    matchers: list[str] = Field(
        default_factory=list,
        description="Alertmanager-style label matchers, all of which must match "
        "(`label=value`, `label!=value`, `label=~regex`, `label!~regex`). Ignored on the root.")
    group_by: list[str] | None = Field(
        default=None,
        description="Labels that split alerts into notification groups; `...` groups by all "
        "labels. Root default: alertname, service.")
    group_wait_s: float | None = Field(
        default=None, ge=0, description="Wait before the first notification of a new group "
        "(root default 30).")
    group_interval_s: float | None = Field(
        default=None, gt=0, description="Wait between notifications of a group whose content "
        "changed (root default 300).")
    repeat_interval_s: float | None = Field(
        default=None, gt=0, description="Re-send an unchanged firing group after this long "
        "(root default 14400).")
    continue_: bool = Field(
        default=False, alias="continue",
        description="Keep matching later sibling routes after this one matched.")
    routes: list[RouteConfig] = Field(default_factory=list, description="Child routes, in order.")

    _matchers_ok = field_validator("matchers")(_check_matchers)

    def parsed_matchers(self) -> list[Matcher]:
        return [parse_matcher(t) for t in self.matchers]


class SlackConfig(BaseModel):
    """A Slack incoming webhook."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(min_length=1, description="The incoming-webhook URL.")


class PagerDutyConfig(BaseModel):
    """PagerDuty Events API v2: trigger, acknowledge, resolve with a stable dedup_key."""

    model_config = ConfigDict(extra="forbid")

    routing_key: str = Field(min_length=1, description="Integration (routing) key.")
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue",
                     description="Events API endpoint.")


class WebhookConfig(BaseModel):
    """A generic webhook: a JSON body, signed with HMAC-SHA256 when a secret is set."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="Where to POST.")
    secret: str | None = Field(
        default=None, description="Signs the body: header `X-TrueCourse-Signature: "
        "sha256=<hex HMAC-SHA256 of the body>`.")


class EmailConfig(BaseModel):
    """Plain-text email over SMTP."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    smtp_host: str = Field(min_length=1, description="SMTP server host.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    from_: str = Field(alias="from", min_length=1, description="Sender address.")
    to: list[str] = Field(min_length=1, description="Recipient addresses.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(default=None, description="SMTP AUTH user (optional).")
    password: str | None = Field(default=None, description="SMTP AUTH password (optional).")


class ReceiverConfig(BaseModel):
    """A named destination with one or more integrations."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Name that routes refer to.")
    slack: SlackConfig | None = Field(default=None, description=SlackConfig.__doc__)
    pagerduty: PagerDutyConfig | None = Field(default=None, description=PagerDutyConfig.__doc__)
    webhook: WebhookConfig | None = Field(default=None, description=WebhookConfig.__doc__)
    email: EmailConfig | None = Field(default=None, description=EmailConfig.__doc__)

    @model_validator(mode="after")
    def _has_integration(self) -> ReceiverConfig:
        if not any((self.slack, self.pagerduty, self.webhook, self.email)):
            raise ValueError(f"receiver {self.name!r} has no integration; set one or more of "
                             "slack, pagerduty, webhook, email")
        return self


class InhibitRuleConfig(BaseModel):
    """While a firing alert matches ``source_matchers``, alerts matching ``target_matchers``
    with the same values of the ``equal`` labels are not notified (still recorded)."""

    model_config = ConfigDict(extra="forbid")

    source_matchers: list[str] = Field(min_length=1, description="Matchers of the source.")
    target_matchers: list[str] = Field(min_length=1, description="Matchers of the target.")
    equal: list[str] = Field(default_factory=list,
                             description="Labels that must have equal values in both.")

    _matchers_ok = field_validator("source_matchers", "target_matchers")(_check_matchers)


class DeliveryConfig(BaseModel):
    """How notifications are delivered: retries with exponential backoff."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=5, ge=1, le=100,
                              description="Attempts per integration before giving up.")
    backoff_initial_s: float = Field(default=1.0, ge=0, description="Wait before the 2nd attempt.")
    backoff_max_s: float = Field(default=60.0, ge=0, description="Longest wait between attempts.")
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one attempt.")
    workers: int = Field(default=2, ge=1, le=64, description="Delivery threads.")
    queue_size: int = Field(default=10_000, ge=1,
                            description="Pending deliveries; beyond it they are logged dropped.")


class AlertingConfig(BaseModel):
    """Alert grouping, routing, inhibition and notification (Alertmanager's semantics)."""

    model_config = ConfigDict(extra="forbid")

    route: RouteConfig = Field(default_factory=RouteConfig, description="The routing tree root.")
    receivers: list[ReceiverConfig] = Field(default_factory=list, description="Receivers.")
    inhibit_rules: list[InhibitRuleConfig] = Field(
        default_factory=list, description="Inhibition rules; none by default.")
    resolve_timeout_s: float = Field(
        default=300, gt=0, description="A firing alert not sent again for this long is resolved.")
    external_url: str = Field(
        default="http://127.0.0.1:4318",
        description="Base URL of this TrueCourse, for evidence links in notifications.")
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig,
                                     description=DeliveryConfig.__doc__)

    @model_validator(mode="after")
    def _cross_references(self) -> AlertingConfig:
        problems = _tree_problems(self)
        if problems:
            raise located("AlertingConfig", [(loc, msg, None) for loc, msg in problems])
        return self

    def receiver(self, name: str) -> ReceiverConfig | None:
        return next((r for r in self.receivers if r.name == name), None)


def _tree_problems(cfg: AlertingConfig) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    names: dict[str, int] = {}
    for i, r in enumerate(cfg.receivers):
        if r.name == OWNER_RECEIVER:
            problems.append((("receivers", i, "name"),
                             f"{OWNER_RECEIVER!r} is the built-in catalog-owner receiver"))
        elif r.name in names:
            problems.append((("receivers", i, "name"), f"receiver {r.name!r} is defined twice "
                             f"(first at receivers[{names[r.name]}])"))
        names.setdefault(r.name, i)
    valid = [OWNER_RECEIVER, *names]

    def walk(route: RouteConfig, loc: Loc) -> None:
        if route.receiver is not None and route.receiver not in valid:
            problems.append(((*loc, "receiver"), unknown_name("receiver", route.receiver, valid)))
        problems.extend(((*loc, "matchers"), m) for m in _contradictions(route.matchers))
        catch_all: int | None = None
        for j, child in enumerate(route.routes):
            if catch_all is not None:
                problems.append(((*loc, "routes", j), "overlapping route: it can never match, "
                                 f"routes[{catch_all}] before it matches every alert and has "
                                 "no `continue`"))
            elif not child.matchers and not child.continue_:
                catch_all = j
            walk(child, (*loc, "routes", j))

    walk(cfg.route, ("route",))
    return problems


def _contradictions(texts: list[str]) -> list[str]:
    try:
        ms = [parse_matcher(t) for t in texts]
    except ValueError:
        return []  # reported by the field validator
    out = []
    eq: dict[str, Matcher] = {}
    for m in ms:
        if m.op != "=":
            continue
        if m.name in eq and eq[m.name].value != m.value:
            out.append(f"contradictory matchers {eq[m.name]} and {m}: no alert can match")
        eq.setdefault(m.name, m)
    for m in ms:
        if m.op == "!=" and m.name in eq and eq[m.name].value == m.value:
            out.append(f"contradictory matchers {eq[m.name]} and {m}: no alert can match")
        if m.op in ("=~", "!~") and m.name in eq:
            hit = m.matches({m.name: eq[m.name].value})
            if not hit:
                out.append(f"contradictory matchers {eq[m.name]} and {m}: no alert can match")
    return out


def _path(loc: tuple[Any, ...]) -> str:
    out = "alerting"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_alerting(cfg: AlertingConfig | dict[str, Any]) -> list[str]:
    """Every problem of an ``alerting`` section as ``alerting.<path>: message`` (empty: valid).

    Accepts the raw YAML mapping or a built config. Reports bad matchers and regexes, unknown
    receivers, duplicate receivers, routes shadowed by an earlier catch-all sibling without
    ``continue`` ("overlapping"), and contradictory matchers in one route.
    """
    if isinstance(cfg, AlertingConfig):
        return [f"{_path(loc)}: {msg}" for loc, msg in _tree_problems(cfg)]
    try:
        AlertingConfig.model_validate(cfg)
    except ValidationError as exc:
        return [f"{_path(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()]
    return []
