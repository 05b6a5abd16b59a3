"""A trace's flat span rows as a tree (parents before children, siblings by start time)."""

from __future__ import annotations

from typing import Any


def trace_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest ``rows`` (each gets a ``children`` list) and return the roots.

    A span whose parent is missing from the trace (not yet arrived, or sampled away) is treated
    as a root, so no span is ever hidden. ``depth`` is set on every node.
    """
    by_id = {r["span_id"]: {**r, "children": []} for r in rows}
    roots: list[dict[str, Any]] = []
    for node in by_id.values():
        parent = by_id.get(node.get("parent_span_id") or "")
        if parent is not None and parent is not node:
            parent["children"].append(node)
        else:
            roots.append(node)

    def key(n: dict[str, Any]) -> tuple[int, str]:
        return (n.get("start_unix_nano") or 0, n["span_id"])

    def settle(nodes: list[dict[str, Any]], depth: int) -> None:
        nodes.sort(key=key)
        for n in nodes:
            n["depth"] = depth
            settle(n["children"], depth + 1)

    settle(roots, 0)
    return roots
