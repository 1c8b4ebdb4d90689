"""Process and realtime orders between transactions, and the cycles that need them.

Strong-session models (strong-session-serializable, strong-session-snapshot-isolation ...)
promise that a process sees its own earlier transactions; strict and strong models promise
that every transaction sees those that completed before it began. Elle checks them by adding
order edges to the dependency graph and looking for cycles that use at least one:

- **process** T1 -> T2: T1 and T2 are ok transactions of one process, T2 its next ok one.
- **realtime** T1 -> T2: T1 completed ok before T2 was invoked. Only a transitive reduction
  is kept: once T2 completes, the transactions that completed before T2 began no longer need
  edges of their own (T2's cover them), so each new invocation links only to the ops that
  completed since. Edges go to the completion of every later invocation (ok, info or fail),
  as Elle's do.

Elle adds one order, the one the models need: realtime when a model forbids a ``-realtime``
anomaly (process order follows from it, processes being sequential), else process order when
a model forbids a ``-process`` one, else none (``order_for``).

A cycle with an order edge is named after its data edges plus the order's suffix:
``G0-realtime`` (ww and order edges), ``G1c-process`` (ww/wr with a wr edge),
``G-single-item-realtime`` (one rw edge), ``G2-item-process`` or
``G-nonadjacent-item-process`` (several rw edges, two adjacent or none). An edge that is both a
data dependency and ordered counts as the data dependency, as Elle explains it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from glome.edn import Keyword, op_record
from glome.sim.checkers.consistency_model import needs_process, needs_realtime
from glome.sim.checkers.graph import (
    PROCESS,
    REALTIME,
    RW,
    WR,
    WW,
    Cycle,
    DepGraph,
    rw_cycle_kind,
)

ORDER_TRIES = 256
"""Order edges tried per component and anomaly type as a cycle's first edge."""

SUFFIX = {PROCESS: "-process", REALTIME: "-realtime"}

_LABEL_ORDER = (WW, WR, RW, PROCESS, REALTIME)


def order_for(models: Iterable[str]) -> int | None:
    """The order relation (REALTIME, PROCESS or None) Elle adds for these models."""
    models = list(models)
    if needs_realtime(models):
        return REALTIME
    if needs_process(models):
        return PROCESS
    return None


def node_id(pos: int, op: Mapping[str, Any]) -> int:
    """A completion's graph node: its history index, or its position without one (the rule
    the txn checkers use for their nodes)."""
    index = op.get("index")
    return index if isinstance(index, int) else pos


def is_txn_op(op: Mapping[str, Any]) -> bool:
    return op.get("f") == "txn" and op.get("process") != "nemesis"


class OrderEdges:
    """The process or realtime edges of a txn history, and how to explain each."""

    def __init__(self, history: Sequence[dict[str, Any]], rel: int) -> None:
        if rel not in SUFFIX:
            raise ValueError(f"not an order relation: {rel}")
        self.rel = rel
        self.edges: dict[tuple[int, int], Any] = {}
        """(a, b) -> why: the process (process order), or (a's completion, b's invocation)
        (realtime order). Steps are built from it only for the edges of a reported cycle."""
        if rel == PROCESS:
            self._process_edges(history)
        else:
            self._realtime_edges(history)

    def _process_edges(self, history: Sequence[dict[str, Any]]) -> None:
        last: dict[Any, int] = {}
        for pos, op in enumerate(history):
            if is_txn_op(op) and op.get("type") == "ok":
                n, p = node_id(pos, op), op.get("process")
                if p in last:
                    self.edges[(last[p], n)] = p
                last[p] = n

    def _realtime_edges(self, history: Sequence[dict[str, Any]]) -> None:
        completion: dict[int, int] = {}  # invocation position -> completion position
        calling: dict[Any, int] = {}
        for pos, op in enumerate(history):
            if not is_txn_op(op):
                continue
            if op.get("type") == "invoke":
                calling[op.get("process")] = pos
            elif op.get("process") in calling:
                completion[calling.pop(op.get("process"))] = pos
        frontier: dict[int, dict[str, Any]] = {}  # completed ok txns not yet covered
        covered_by: dict[int, list[int]] = {}  # node -> frontier nodes linked to it
        for pos, op in enumerate(history):
            if not is_txn_op(op):
                continue
            if op.get("type") == "invoke":
                done = completion.get(pos)
                if done is None:
                    continue
                b = node_id(done, history[done])
                covered_by[b] = list(frontier)
                for a, a_op in frontier.items():
                    self.edges[(a, b)] = (a_op, op)
            elif op.get("type") == "ok":
                n = node_id(pos, op)
                for a in covered_by.pop(n, ()):
                    frontier.pop(a, None)
                frontier[n] = op

    def link_into(self, g: DepGraph) -> None:
        for a, b in self.edges:
            g.link(a, b, self.rel)

    def step(self, a: int, b: int) -> dict[str, Any]:
        """Elle's explanation step for edge a -> b."""
        why = self.edges[(a, b)]
        if self.rel == PROCESS:
            return {"type": Keyword("process"), "process": why}
        completed, invoked = why
        return {"type": Keyword("realtime"), "a'": op_record(completed), "b": op_record(invoked)}

    def sentence(self, a: int, b: int) -> str:
        if self.rel == PROCESS:
            return f"process {self.edges[(a, b)]!r} executed T{a} before T{b}"
        return f"T{a} completed before the invocation of T{b}"


# -------------------------------------------------------------------------- cycle search
class CycleSpec(NamedTuple):
    """What a cycle of one anomaly type is made of, besides its order edges."""

    data: int
    """The data relations it may use."""
    need_wr: bool
    """Must it have a wr edge?"""
    least_rw: int
    most_rw: int
    """Bounds on its rw edges; 2 stands for "two or more"."""


_SPECS: dict[str, CycleSpec] = {
    "G0": CycleSpec(WW, False, 0, 0),
    "G1c": CycleSpec(WW | WR, True, 0, 0),
    "G-single-item": CycleSpec(WW | WR | RW, False, 1, 1),
    "G2-item": CycleSpec(WW | WR | RW, False, 2, 2),  # or G-nonadjacent-item, by its rw edges
}


def label(rels: int, mask: int) -> int:
    """The relation an edge plays in a search over ``mask``: data dependencies first."""
    for rel in _LABEL_ORDER:
        if rels & mask & rel:
            return rel
    raise AssertionError("edge without a relation in the mask")


def order_cycle_anomalies(g: DepGraph, order: int) -> dict[str, list[Cycle]]:
    """Cycles that need an ``order`` edge, named as Elle names them (``G1c-realtime``...).

    One cycle per strongly connected component and type, each a shortest cycle (BFS)
    through its first order edge; at most ``ORDER_TRIES`` first edges per component.
    """
    out: dict[str, list[Cycle]] = {}
    components: dict[int, list[list[int]]] = {}  # the rw specs share theirs
    for base, spec in _SPECS.items():
        mask = spec.data | order
        if mask not in components:
            components[mask] = g.sccs(mask)
        for comp in components[mask]:
            found = _cycle_in(g, comp, spec, order)
            if found:
                kind = rw_cycle_kind(found[1]) if spec.least_rw else base
                out.setdefault(kind + SUFFIX[order], []).append(found)
    return out


def _cycle_in(g: DepGraph, comp: list[int], spec: CycleSpec, order: int) -> Cycle | None:
    mask = spec.data | order
    members = set(comp)
    firsts = (
        (a, b)
        for a in comp
        for b, r in sorted(g.out[a].items())
        if b in members and label(r, mask) == order
    )
    for a, b in itertools.islice(firsts, ORDER_TRIES):
        path = _path_back(g, (a, b), mask, members, spec)
        if path is not None:
            cycle = [a, *path]
            return cycle, [label(g.rels(x, y), mask) for x, y in itertools.pairwise(cycle)]
    return None


def _path_back(
    g: DepGraph, first: tuple[int, int], mask: int, members: set[int], spec: CycleSpec
) -> list[int] | None:
    """For ``first`` = (a, b): a shortest simple path b -> ... -> a over ``mask`` edges, with
    the wr and rw edges ``spec`` asks for.

    BFS over (node, saw a wr edge, rw edges so far capped at 2); a walk that revisits a
    node is dropped, since its simple cycles could be of another type."""
    a, b = first
    Start = tuple[int, bool, int]
    start: Start = (b, False, 0)
    parent: dict[Start, Start | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        node, wr, rw = state
        for c, r in sorted(g.out.get(node, {}).items()):
            if c not in members or not r & mask:
                continue
            rel = label(r, mask)
            nxt = (c, wr or rel == WR, min(2, rw + (rel == RW)))
            if nxt[2] > spec.most_rw or nxt in parent:
                continue
            if c == a:
                if (nxt[1] or not spec.need_wr) and spec.least_rw <= nxt[2]:
                    path = [*_unwind(parent, state), a]
                    if len(set(path)) == len(path):
                        return path
                continue
            parent[nxt] = state
            queue.append(nxt)
    return None


def _unwind(parent: Mapping[Any, Any], state: Any) -> list[int]:
    path = []
    while state is not None:
        path.append(state[0])
        state = parent[state]
    path.reverse()
    return path
