"""Broadcast topologies (docs/protocol.md#broadcast), computed over the node list in order.

- ``grid``: side = ceil(sqrt(N)); node i at (i div side, i mod side); neighbours in the order
  below, above, right, left (only those that exist).
- ``line``: each node lists its left and right neighbours (first and last have one).
- ``tree``/``tree2``, ``tree3``, ``tree4``: nodes fill tiers of 1, b, b^2, ... in order; each
  node lists [parent, children...] (the root only its children).
- ``total``: every node lists all others.
"""

from __future__ import annotations

import math

from glome.sim.options import TOPOLOGIES


def grid(nodes: list[str]) -> dict[str, list[str]]:
    n = len(nodes)
    if n == 0:
        return {}
    side = math.isqrt(n - 1) + 1 if n > 1 else 1
    out: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        row, col = divmod(i, side)
        neighbours = []
        below, above = i + side, i - side
        if below < n:
            neighbours.append(nodes[below])
        if row > 0:
            neighbours.append(nodes[above])
        if col + 1 < side and i + 1 < n:
            neighbours.append(nodes[i + 1])
        if col > 0:
            neighbours.append(nodes[i - 1])
        out[node] = neighbours
    return out


def line(nodes: list[str]) -> dict[str, list[str]]:
    n = len(nodes)
    if n < 2:
        return {}
    out: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        if i == 0:
            out[node] = [nodes[1]]
        elif i == n - 1:
            out[node] = [nodes[n - 2]]
        else:
            out[node] = [nodes[i - 1], nodes[i + 1]]
    return out


def tree(nodes: list[str], branching: int) -> dict[str, list[str]]:
    """Node i's parent is (i - 1) div b; its children b*i + 1 .. b*i + b (filling tiers)."""
    out: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        neighbours = [] if i == 0 else [nodes[(i - 1) // branching]]
        for c in range(branching * i + 1, branching * i + branching + 1):
            if c < len(nodes):
                neighbours.append(nodes[c])
        out[node] = neighbours
    return out


def total(nodes: list[str]) -> dict[str, list[str]]:
    return {node: [other for other in nodes if other != node] for node in nodes}


def topology(name: str, nodes: list[str]) -> dict[str, list[str]]:
    """The named topology; ValueError for an unknown name."""
    if name == "grid":
        return grid(nodes)
    if name == "line":
        return line(nodes)
    if name in ("tree", "tree2"):
        return tree(nodes, 2)
    if name == "tree3":
        return tree(nodes, 3)
    if name == "tree4":
        return tree(nodes, 4)
    if name == "total":
        return total(nodes)
    raise ValueError(f"unknown topology {name!r}; one of {', '.join(TOPOLOGIES)}")
