"""The catalog's dependency graph laid out in layers for a small SVG (no JavaScript needed).

A service sits one layer right of the deepest service that calls it, so calls flow left to
right; names outside the catalog (external systems) are drawn as dashed boxes. A cycle is cut
where it is found, so every catalog lays out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Edge", "Graph", "Node", "dependency_graph"]

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 34, 60, 14, 10


@dataclass(frozen=True)
class Node:
    name: str
    x: int
    y: int
    external: bool
    hot: bool
    seen: bool


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    node_w: int = NODE_W
    node_h: int = NODE_H


def dependency_graph(deps: Mapping[str, Sequence[str]], *, hot: set[str | None] | None = None,
                     seen: set[str] | None = None) -> Graph:
    """Lay out ``deps`` (service -> what it calls). ``hot``: services with firing alerts;
    ``seen``: services with telemetry in the range."""
    names = sorted(set(deps) | {d for ds in deps.values() for d in ds})
    layer: dict[str, int] = {}

    def depth(n: str, path: frozenset[str]) -> int:
        if n in layer:
            return layer[n]
        callers = [c for c, ds in deps.items() if n in ds and c not in path]
        layer[n] = 0 if not callers else 1 + max(depth(c, path | {n}) for c in callers)
        return layer[n]

    for n in names:
        depth(n, frozenset())
    columns: dict[int, list[str]] = {}
    for n in names:
        columns.setdefault(layer[n], []).append(n)
    pos: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        for row, n in enumerate(sorted(members)):
            pos[n] = (PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    nodes = tuple(Node(n, *pos[n], external=n not in deps, hot=n in (hot or set()),
                       seen=n in (seen or set())) for n in names)
    edges = tuple(Edge(pos[c][0] + NODE_W, pos[c][1] + NODE_H // 2, pos[d][0],
                       pos[d][1] + NODE_H // 2)
                  for c, ds in sorted(deps.items()) for d in ds if d in pos)
    width = PAD * 2 + (max(columns) + 1) * (NODE_W + GAP_X) - GAP_X if columns else 0
    rows = max((len(m) for m in columns.values()), default=0)
    height = PAD * 2 + rows * (NODE_H + GAP_Y) - GAP_Y if rows else 0
    return Graph(width, height, nodes, edges)
