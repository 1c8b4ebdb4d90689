"""Dependency graphs between transactions, strongly connected components and cycle search.

Used by the txn-rw-register and txn-list-append checkers (and usable by any checker that needs
cycles). Nodes are ints (op indexes); each edge carries a bit mask of relations
(``WW | WR | RW | ...``), so one graph holds every relation and a search can be restricted to a
subset of them. ``cycle_anomalies`` classifies a graph's cycles as Elle names them: G0, G1c,
G-single-item, G-nonadjacent-item and G2-item.

Everything is iterative (no recursion limit on 100,000-node histories) and deterministic:
successors are visited in sorted order, components are returned sorted by their smallest node.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

WW = 1
"""Write-write: the first txn wrote a version that the second overwrote."""
WR = 2
"""Write-read: the second txn read a version the first wrote."""
RW = 4
"""Read-write (anti-dependency): the first read a version the second overwrote."""
REALTIME = 8
"""The first txn completed before the second was invoked."""
PROCESS = 16
"""The first txn preceded the second in the same process."""

REL_NAMES = {WW: "ww", WR: "wr", RW: "rw", REALTIME: "realtime", PROCESS: "process"}
ALL = WW | WR | RW | REALTIME | PROCESS


class DepGraph:
    """A directed graph over int nodes with relation bit masks on its edges."""

    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out: dict[int, dict[int, int]] = {}

    def link(self, a: int, b: int, rel: int) -> None:
        """Add relation ``rel`` to edge a -> b (self edges are ignored: a txn never depends on
        itself)."""
        if a == b:
            return
        succ = self.out.get(a)
        if succ is None:
            succ = self.out[a] = {}
        succ[b] = succ.get(b, 0) | rel
        if b not in self.out:
            self.out[b] = {}

    def rels(self, a: int, b: int) -> int:
        """The relation mask of edge a -> b (0 if absent)."""
        return self.out.get(a, {}).get(b, 0)

    def edge_count(self) -> int:
        return sum(len(s) for s in self.out.values())

    def is_empty(self) -> bool:
        return not any(self.out.values())

    def edges(self, mask: int) -> Iterable[tuple[int, int, int]]:
        """Edges (a, b, rels & mask) having any relation in ``mask``, in sorted order."""
        for a in sorted(self.out):
            succ = self.out[a]
            for b in sorted(succ):
                r = succ[b] & mask
                if r:
                    yield a, b, r

    def sccs(self, mask: int = ALL, nodes: Iterable[int] | None = None) -> list[list[int]]:
        """Strongly connected components with more than one node, using only edges whose
        relations intersect ``mask`` (and, if given, only ``nodes``). Iterative Tarjan."""
        return tarjan_sccs(self.out, mask, nodes)

    def path(
        self, src: int, dst: int, mask: int, within: set[int] | None = None
    ) -> list[int] | None:
        """A shortest path src -> ... -> dst over edges in ``mask`` (BFS), or None.
        The path includes both ends; ``src == dst`` needs at least one edge."""
        parent: dict[int, int] = {}
        queue = deque([src])
        seen = {src}
        while queue:
            a = queue.popleft()
            succ = self.out.get(a, {})
            for b in sorted(succ):
                if not succ[b] & mask or (within is not None and b not in within):
                    continue
                if b == dst:
                    path = [dst, a]
                    while a != src:
                        a = parent[a]
                        path.append(a)
                    path.reverse()
                    return path
                if b not in seen:
                    seen.add(b)
                    parent[b] = a
                    queue.append(b)
        return None

    def cycle_through(
        self, a: int, b: int, rest_mask: int, within: set[int] | None = None
    ) -> list[int] | None:
        """A cycle that takes edge a -> b and returns from b to a over ``rest_mask`` edges:
        ``[a, b, ..., a]``, or None."""
        if a == b:
            return None
        back = self.path(b, a, rest_mask, within)
        if back is None:
            return None
        return [a, *back]


def tarjan_sccs(
    out: dict[int, dict[int, int]], mask: int, nodes: Iterable[int] | None = None
) -> list[list[int]]:
    """Non-trivial SCCs of the graph ``out`` restricted to edges in ``mask``.

    Iterative Tarjan: an explicit stack of (node, successor iterator) frames replaces
    recursion. Components are sorted internally and by their first node."""
    allowed = None if nodes is None else set(nodes)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    result: list[list[int]] = []
    counter = 0
    roots = sorted(out) if allowed is None else sorted(allowed)
    for root in roots:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        frames = [(root, iter(sorted(out.get(root, {}).items())))]
        while frames:
            v, it = frames[-1]
            advanced = False
            for w, rel in it:
                if not rel & mask or (allowed is not None and w not in allowed):
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    frames.append((w, iter(sorted(out.get(w, {}).items()))))
                    advanced = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    result.sort(key=lambda c: c[0])
    return result


def component_ids(sccs: list[list[int]]) -> dict[int, int]:
    """Map each node in a non-trivial SCC to the SCC's position in ``sccs``."""
    return {n: i for i, comp in enumerate(sccs) for n in comp}


def value_cycles(edges: dict[object, set[object]]) -> list[list[object]]:
    """Non-trivial SCCs of a small graph over arbitrary hashable nodes (e.g. one key's
    versions). Nodes are renumbered in first-seen order, so output order is deterministic
    for deterministic input."""
    ids: dict[object, int] = {}
    names: list[object] = []

    def node_id(x: object) -> int:
        i = ids.get(x)
        if i is None:
            i = ids[x] = len(names)
            names.append(x)
        return i

    out: dict[int, dict[int, int]] = {}
    for a, bs in edges.items():
        ia = node_id(a)
        succ = out.setdefault(ia, {})
        for b in bs:
            ib = node_id(b)
            out.setdefault(ib, {})
            succ[ib] = 1
    return [[names[i] for i in comp] for comp in tarjan_sccs(out, 1)]


# -- cycle anomalies ----------------------------------------------------------------------
G_SINGLE_TRIES = 256
"""rw edges tried per component when looking for a cycle with a single anti-dependency."""

Cycle = tuple[list[int], list[int]]
"""A cycle ``[a, b, ..., a]`` and the relation each of its edges plays (one per edge)."""


def cycle_anomalies(g: DepGraph) -> dict[str, list[Cycle]]:
    """Adya's cycle anomalies in a ww/wr/rw graph: ``G0`` (ww only), ``G1c`` (ww/wr with a wr
    edge), ``G-single-item`` (exactly one rw edge), and, with several rw edges, ``G2-item`` when
    two of them are adjacent, ``G-nonadjacent-item`` when none are (Elle's names: every rw edge
    here is on an item, none on a predicate).

    One cycle per strongly connected component and anomaly type (as Elle reports), each a
    shortest cycle through its first edge (BFS). G-single-item tries at most ``G_SINGLE_TRIES``
    rw edges per component; past that a cycle with anti-dependencies is still reported (named
    by its rw edges, as above), so the bound costs precision,
    never soundness. Types without a cycle are absent from the result.
    """
    out: dict[str, list[Cycle]] = {}
    for comp in g.sccs(WW):
        cyc = first_cycle(g, comp, WW, WW)
        if cyc:
            out.setdefault("G0", []).append((cyc, [WW] * (len(cyc) - 1)))
    for comp in g.sccs(WW | WR):
        cyc = first_cycle(g, comp, WR, WW | WR)
        if cyc:
            out.setdefault("G1c", []).append((cyc, cycle_rels(g, cyc, WR, WW | WR)))
    for comp in g.sccs(WW | WR | RW):
        members = set(comp)
        single = None
        # Is there a way back from b to a without anti-dependencies? Bounded: in a huge
        # component a cycle still gets reported below, maybe as G2-item; all are proofs.
        for a, b in itertools.islice(_rw_edges(g, comp, members), G_SINGLE_TRIES):
            single = g.cycle_through(a, b, WW | WR, members)
            if single:
                break
        if single:
            rels = cycle_rels(g, single, RW, WW | WR)
            out.setdefault("G-single-item", []).append((single, rels))
            continue
        cyc = first_cycle(g, comp, RW, WW | WR | RW)
        if cyc:
            rels = cycle_rels(g, cyc, RW, WW | WR | RW)
            kind = rw_cycle_kind(rels)
            out.setdefault(kind, []).append((cyc, rels))
    return out


def rw_cycle_kind(rels: list[int]) -> str:
    """Elle's name for an item cycle with anti-dependencies, by its edges' relations: one rw
    edge is G-single-item; several are G2-item if two are adjacent (the cycle wraps around),
    else G-nonadjacent-item."""
    rw = [r == RW for r in rels]
    if sum(rw) == 1:
        return "G-single-item"
    adjacent = any(a and b for a, b in zip(rw, rw[1:] + rw[:1], strict=True))
    return "G2-item" if adjacent else "G-nonadjacent-item"


def _rw_edges(g: DepGraph, comp: list[int], members: set[int]) -> Iterable[tuple[int, int]]:
    for a in comp:
        for b, r in sorted(g.out[a].items()):
            if r & RW and b in members:
                yield a, b


def first_cycle(g: DepGraph, comp: list[int], first: int, rest: int) -> list[int] | None:
    """A cycle inside ``comp`` whose first edge has relation ``first``, the rest ``rest``."""
    members = set(comp)
    for a in comp:
        for b, r in sorted(g.out[a].items()):
            if r & first and b in members:
                cyc = g.cycle_through(a, b, rest, members)
                if cyc:
                    return cyc
    return None


def cycle_rels(g: DepGraph, cycle: list[int], first: int, mask: int) -> list[int]:
    """The relation each edge of ``cycle`` plays: ``first`` for the first edge, then the
    strongest relation in ``mask`` (ww, then wr, then rw)."""
    return [first] + [pick_rel(g.rels(a, b), mask) for a, b in itertools.pairwise(cycle[1:])]


def pick_rel(rels: int, mask: int) -> int:
    """The relation to name for an edge used in a search over ``mask`` (ww before wr before rw)."""
    for rel in (WW, WR, RW):
        if rels & mask & rel:
            return rel
    raise AssertionError("edge without a relation in the mask")
