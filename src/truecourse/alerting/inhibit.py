"""Inhibition: a firing source alert holds back matching target alerts with equal labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from truecourse.alerting.matchers import Matcher, matches_all
from truecourse.config.alerting import InhibitRuleConfig, parse_matcher
from truecourse.model.alerts import Alert


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(parse_matcher(t) for t in cfg.source_matchers),
                   tuple(parse_matcher(t) for t in cfg.target_matchers), tuple(cfg.equal))


class Inhibitor:
    """Answers "which firing alert inhibits this one" for the current set of alerts."""

    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self.rules = list(rules)
        self._sources: list[tuple[InhibitRule, list[Alert]]] = []

    def update(self, firing: Iterable[Alert]) -> None:
        """Take the currently firing alerts as the possible sources; cost O(alerts x rules)."""
        firing = list(firing)
        self._sources = [(r, [a for a in firing if matches_all(r.source, a.labels)])
                         for r in self.rules]

    def inhibited_by(self, labels: Mapping[str, str], fingerprint: str) -> str | None:
        """The fingerprint of a source inhibiting an alert with ``labels``, or None."""
        for rule, sources in self._sources:
            if not sources or not matches_all(rule.target, labels):
                continue
            for src in sources:
                if src.fingerprint != fingerprint and all(
                        src.labels.get(k, "") == labels.get(k, "") for k in rule.equal):
                    return src.fingerprint
        return None
