"""The routing tree: which routes (and so receivers and timings) an alert's labels reach.

As in Alertmanager: an alert descends into the first matching child, and keeps trying later
siblings only when the matching one has ``continue``; when no child matches, the parent itself
is the match. Children inherit receiver, group_by and the timings they do not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from truecourse.config.alerting import OWNER_RECEIVER, Matcher, RouteConfig


@dataclass(frozen=True)
class Route:
    """One node of the tree with its inherited settings resolved."""

    path: str  #: ``route.routes[1].routes[0]`` — stable id of the node
    receiver: str
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    matchers: tuple[Matcher, ...]
    continue_: bool
    children: tuple[Route, ...]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that key this alert's aggregation group on this route."""
        if "..." in self.group_by:
            return dict(labels)
        return {k: labels[k] for k in self.group_by if k in labels}


def build_routes(cfg: RouteConfig, parent: Route | None = None, path: str = "route") -> Route:
    """Resolve the configured tree (inheritance applied) into :class:`Route` nodes."""
    def pick(value: object, inherited: object, default: object) -> object:
        if value is not None:
            return value
        return inherited if parent is not None else default

    node = Route(
        path=path,
        receiver=str(pick(cfg.receiver, parent and parent.receiver, OWNER_RECEIVER)),
        group_by=tuple(pick(cfg.group_by, parent and parent.group_by,  # type: ignore[arg-type]
                            ("alertname", "service"))),
        group_wait_s=float(pick(cfg.group_wait_s, parent and parent.group_wait_s, 30)),  # type: ignore[arg-type]
        group_interval_s=float(pick(cfg.group_interval_s,  # type: ignore[arg-type]
                                    parent and parent.group_interval_s, 300)),
        repeat_interval_s=float(pick(cfg.repeat_interval_s,  # type: ignore[arg-type]
                                     parent and parent.repeat_interval_s, 14_400)),
        matchers=tuple(cfg.parsed_matchers()) if parent is not None else (),
        continue_=cfg.continue_,
        children=(),
    )
    children = tuple(build_routes(c, node, f"{path}.routes[{i}]")
                     for i, c in enumerate(cfg.routes))
    return Route(**{**node.__dict__, "children": children})


def match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` is delivered through (at least one: the root)."""
    if not all(m.matches(labels) for m in route.matchers):
        return []
    found: list[Route] = []
    for child in route.children:
        hits = match(child, labels)
        if hits:
            found.extend(hits)
            if not child.continue_:
                break
    return found or [route]
