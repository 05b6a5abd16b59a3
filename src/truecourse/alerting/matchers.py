"""Label matchers with Alertmanager's syntax (``label=value``, ``!=``, ``=~``, ``!~``).

The parser lives in :mod:`truecourse.config.alerting` so the config can reject a bad matcher at
its key; this module is the alerting side's entry point to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from truecourse.config.alerting import Matcher, parse_matcher
from truecourse.errors import InvalidInput


def parse_matchers(texts: Sequence[str], *, what: str = "matchers") -> list[Matcher]:
    """Parse every matcher; raises ``InvalidInput`` naming ``what[i]`` for a bad one."""
    out = []
    for i, text in enumerate(texts):
        try:
            out.append(parse_matcher(text))
        except ValueError as exc:
            raise InvalidInput(f"{what}[{i}]: {exc}") from None
    return out


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches ``labels`` (no matchers: always true)."""
    return all(m.matches(labels) for m in matchers)


__all__ = ["Matcher", "matches_all", "parse_matcher", "parse_matchers"]
