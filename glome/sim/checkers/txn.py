"""The txn-rw-register checker: dependency-graph anomalies that the history proves.

``check(history, opts, consistency_models)`` returns Maelstrom's workload result
``{"valid?", "anomaly-types", "anomalies", "not", "also-not"}`` (docs/protocol.md#txn-rw-register),
with Maelstrom's post-processing: ``valid?`` is true iff no anomaly is reported, so an empty
transaction graph is ``valid? false``.

What counts as proof (registers hold unique values per key; every key starts as nil):

- **wr** T1 -> T2: T2 read k=v and T1 is the only ok/info txn that wrote k=v (any of its writes,
  final or intermediate). Failed txns are never writers in the graph (their reads are G1a).
- **Version order** of a key, from inside single ok transactions only (Elle's ``:wfr-keys?``,
  which Maelstrom enables, generalised from external to all micro-ops): a txn that reads k=a and
  *later* writes k=b proves a << b (writes follow reads), and a txn that writes k=a then k=b
  proves a << b. Intermediate writes are versions too, so interleaved writes of two txns (the
  dirty write of Maelstrom issue #56, which Maelstrom misses) form a ww cycle: G0. nil precedes
  every written value. Nothing else is used: the order of two processes' writes, their realtime
  order, or a process's own sequence of txns proves nothing about a key's version order here,
  and two reads in one txn (a non-repeatable read, legal below repeatable-read) prove nothing
  either. If a key's inferred order is itself cyclic, the assumption is contradicted:
  ``cyclic-versions`` is reported and that key's inferred order is not used for edges.
- **ww** writer(a) -> writer(b) and **rw** reader(a) -> writer(b) for every proven a << b
  (reader = a txn whose first access to k read a; readers of nil anti-depend on every writer).

Anomalies decided: ``G0`` (ww cycle), ``G1a`` (ok txn read a failed txn's write), ``G1b`` (read
of another txn's non-final write), ``G1c`` (ww/wr cycle with a wr edge), ``G-single-item`` (one
rw edge), ``G2-item`` / ``G-nonadjacent-item`` (several rw edges, two adjacent / none adjacent:
Elle's names), ``internal`` (a read that disagrees with the txn's own
earlier write or read of that key), ``lost-update`` (two ok txns read the same k=v and both
wrote k), ``cyclic-versions``. For models that promise realtime or session order (strict-,
strong- and strong-session- models) the graph also gets realtime or process edges, as Elle's
does, and the cycles that need them are ``G0-realtime``, ``G1c-process``,
``G-single-item-realtime``, ``G2-item-process`` and so on (``glome.sim.checkers.orders``).

Which anomalies a model forbids, and which models the anomalies found rule out (``not`` /
``also-not``), come from Elle's lattice of consistency models
(``glome.sim.checkers.consistency_model``); only forbidden anomalies are reported.

Cycle search: one cycle per strongly connected component and anomaly type (as Elle reports),
found by BFS, so it is a shortest cycle through its first edge. G-single-item tries at most 256
rw edges per component; past that a cycle with anti-dependencies is still reported (named by its
rw edges), so the bound costs precision, never soundness.
Unlike Elle, ok txns' reads of info txns' writes give wr edges (unique values prove the write
happened), and a value written by two txns gives no edges at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from glome.edn import EdnList, Keyword, op_record
from glome.sim.checkers import consistency_model as cm
from glome.sim.checkers.graph import REL_NAMES, RW, WR, WW, DepGraph, cycle_anomalies, value_cycles
from glome.sim.checkers.orders import OrderEdges, order_cycle_anomalies, order_for

PROHIBITED: dict[str, frozenset[str]] = {
    m: cm.anomalies_prohibited_by([m]) for m in sorted(cm.ALL_MODELS)
}
"""Every model Elle knows -> the anomalies it forbids (Elle's lattice, ``consistency_model``)."""


def check(
    history: list[dict[str, Any]],
    opts: Any = None,
    consistency_models: Sequence[str] | None = None,
    *,
    wfr_keys: bool = True,
) -> dict[str, Any]:
    """Check a txn-rw-register history; see the module docstring.

    ``consistency_models`` wins over ``opts.consistency_models``; with neither, read-committed.
    ``wfr_keys=False`` drops the writes-follow-reads version inference (then only nil << v).
    """
    models = consistency_model_list(consistency_models, opts)
    txns = [_Txn(pos, op) for pos, op in enumerate(history) if _is_txn_completion(op)]
    analysis = _Analysis(txns, wfr_keys, order_edges(history, models))
    found = analysis.anomalies()
    forbidden = cm.anomalies_prohibited_by(models)
    reported: dict[str, Any] = {t: cases for t, cases in sorted(found.items()) if t in forbidden}
    if analysis.graph.is_empty():
        reported["empty-transaction-graph"] = True
    types = sorted(reported)
    not_models, also_not = cm.boundary(found)
    return {
        "valid?": not types,
        "anomaly-types": EdnList(Keyword(t) for t in types),
        "anomalies": {t: reported[t] for t in types},
        "not": {Keyword(m) for m in not_models},
        "also-not": {Keyword(m) for m in also_not},
    }


def consistency_model_list(consistency_models: Sequence[str] | None, opts: Any) -> tuple[str, ...]:
    if consistency_models is None:
        consistency_models = getattr(opts, "consistency_models", None) or ("read-committed",)
    if isinstance(consistency_models, str):
        consistency_models = (consistency_models,)
    return tuple(cm.validate_models(str(m).lstrip(":") for m in consistency_models))


def order_edges(history: Sequence[dict[str, Any]], models: Sequence[str]) -> OrderEdges | None:
    """The realtime or process edges Elle adds to the graph for these models, if any."""
    order = order_for(models)
    return None if order is None else OrderEdges(history, order)


def _is_txn_completion(op: dict[str, Any]) -> bool:
    return (
        op.get("type") in ("ok", "info", "fail")
        and op.get("process") != "nemesis"
        and isinstance(op.get("value"), list)
        and op.get("f") == "txn"
    )


class _Txn:
    """One completed transaction and what it did to each key."""

    __slots__ = ("ext_reads", "final_writes", "id", "mops", "op", "type", "writes")

    def __init__(self, pos: int, op: dict[str, Any]) -> None:
        self.id: int = op["index"] if isinstance(op.get("index"), int) else pos
        self.op = op
        self.type: str = op["type"]
        self.mops: list[tuple[str, Any, Any]] = []
        for mop in op["value"]:
            if not isinstance(mop, list | tuple) or len(mop) != 3 or mop[0] not in ("r", "w"):
                raise ValueError(f"op {self.id}: bad micro-op {mop!r} (want [:r k v] or [:w k v])")
            self.mops.append((str(mop[0]), mop[1], mop[2]))
        self.ext_reads: dict[Any, Any] = {}
        self.final_writes: dict[Any, Any] = {}
        self.writes: list[tuple[Any, Any]] = []
        for f, k, v in self.mops:
            if f == "w":
                self.final_writes[k] = v
                self.writes.append((k, v))
            elif self.type == "ok" and k not in self.final_writes and k not in self.ext_reads:
                self.ext_reads[k] = v

    @property
    def ok(self) -> bool:
        return self.type == "ok"


class _Analysis:
    """Indexes, version orders and the dependency graph of one history."""

    def __init__(self, txns: list[_Txn], wfr_keys: bool, orders: OrderEdges | None) -> None:
        self.txns = txns
        self.orders = orders
        self.by_id = {t.id: t for t in txns}
        self.writer: dict[tuple[Any, Any], int] = {}
        self.ambiguous: set[tuple[Any, Any]] = set()
        self.failed: dict[tuple[Any, Any], _Txn] = {}
        self.intermediate: dict[tuple[Any, Any], _Txn] = {}
        self.writers_of_key: dict[Any, set[int]] = {}
        for t in txns:
            for k, v in t.writes:
                if t.type == "fail":
                    self.failed[(k, v)] = t
                    continue
                prev = self.writer.get((k, v))
                if prev is not None and prev != t.id:
                    self.ambiguous.add((k, v))
                self.writer[(k, v)] = t.id
                self.writers_of_key.setdefault(k, set()).add(t.id)
                if t.final_writes[k] != v:
                    self.intermediate[(k, v)] = t
        self.versions = self._version_orders(wfr_keys)
        self.cyclic = {k: value_cycles(e) for k, e in self.versions.items()}
        self.cyclic = {k: c for k, c in self.cyclic.items() if c}
        self.why: dict[tuple[int, int, int], tuple[Any, Any, Any]] = {}
        self.graph = self._graph()
        if orders is not None:
            orders.link_into(self.graph)

    # -- version order -------------------------------------------------------------------
    def _version_orders(self, wfr_keys: bool) -> dict[Any, dict[Any, set[Any]]]:
        """Per key, proven edges a -> b (a << b) between non-nil values."""
        edges: dict[Any, dict[Any, set[Any]]] = {}
        if not wfr_keys:
            return edges
        for t in self.txns:
            if not t.ok:
                continue
            # Per key: values read since the txn's last write of that key, and that write.
            pending: dict[Any, list[Any]] = {}
            for f, k, v in t.mops:
                if f == "r":
                    if v is not None:
                        pending.setdefault(k, []).append(v)
                    continue
                for a in pending.get(k, ()):
                    if a != v:
                        edges.setdefault(k, {}).setdefault(a, set()).add(v)
                pending[k] = [v]
        return edges

    def _writer_of(self, k: Any, v: Any) -> int | None:
        if (k, v) in self.ambiguous:
            return None
        return self.writer.get((k, v))

    # -- graph ---------------------------------------------------------------------------
    def _link(self, g: DepGraph, a: int, b: int, rel: int, why: tuple[Any, Any, Any]) -> None:
        if a == b:
            return
        g.link(a, b, rel)
        self.why.setdefault((a, b, rel), why)

    def _graph(self) -> DepGraph:
        g = DepGraph()
        ext_readers: dict[tuple[Any, Any], list[int]] = {}
        for t in self.txns:
            if not t.ok:
                continue
            for k, v in t.ext_reads.items():
                ext_readers.setdefault((k, v), []).append(t.id)
            for f, k, v in t.mops:
                if f == "r" and v is not None:
                    w = self._writer_of(k, v)
                    if w is not None:
                        self._link(g, w, t.id, WR, (k, v, v))
        # nil is every key's first version: its readers anti-depend on every writer.
        for (k, v), readers in ext_readers.items():
            if v is None:
                for w in sorted(self.writers_of_key.get(k, ())):
                    first = self.by_id[w].writes
                    wv = next(x for kk, x in first if kk == k)
                    for r in readers:
                        self._link(g, r, w, RW, (k, None, wv))
        for k in sorted(self.versions, key=repr):
            if k in self.cyclic:
                continue
            for a, bs in self.versions[k].items():
                wa = self._writer_of(k, a)
                for b in sorted(bs, key=repr):
                    wb = self._writer_of(k, b)
                    if wb is None:
                        continue
                    if wa is not None:
                        self._link(g, wa, wb, WW, (k, a, b))
                    for r in ext_readers.get((k, a), ()):
                        self._link(g, r, wb, RW, (k, a, b))
        return g

    # -- anomalies -----------------------------------------------------------------------
    def anomalies(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for name, cases in (
            ("internal", self._internal()),
            ("G1a", self._read_cases(self.failed)),
            ("G1b", self._read_cases(self.intermediate)),
            ("lost-update", self._lost_updates()),
            ("cyclic-versions", self._cyclic_version_cases()),
            *self._cycles().items(),
        ):
            if cases:
                found[name] = cases
        return found

    def _internal(self) -> list[dict[str, Any]]:
        cases = []
        for t in self.txns:
            if not t.ok:
                continue
            state: dict[Any, Any] = {}
            for f, k, v in t.mops:
                if f == "r" and k in state and state[k] != v:
                    cases.append(
                        {"op": op_record(t.op), "mop": _mop(f, k, v), "expected": state[k]}
                    )
                    break
                state[k] = v
        return cases

    def _read_cases(self, writers: dict[tuple[Any, Any], _Txn]) -> list[dict[str, Any]]:
        cases = []
        for t in self.txns:
            if not t.ok:
                continue
            for f, k, v in t.mops:
                w = writers.get((k, v)) if f == "r" else None
                if w is not None and w is not t:
                    cases.append(
                        {"op": op_record(t.op), "mop": _mop(f, k, v), "writer": op_record(w.op)}
                    )
        return cases

    def _lost_updates(self) -> list[dict[str, Any]]:
        groups: dict[tuple[Any, Any], list[_Txn]] = {}
        for t in self.txns:
            if t.ok:
                for k, v in t.ext_reads.items():
                    if k in t.final_writes:
                        groups.setdefault((k, v), []).append(t)
        return [
            {"key": k, "value": v, "txns": [op_record(t.op) for t in ts]}
            for (k, v), ts in groups.items()
            if len(ts) > 1
        ]

    def _cyclic_version_cases(self) -> list[dict[str, Any]]:
        return [
            {"key": k, "scc": set(comp), "sources": EdnList([Keyword("wfr-keys")])}
            for k, comps in sorted(self.cyclic.items(), key=lambda kv: repr(kv[0]))
            for comp in comps
        ]

    def _cycles(self) -> dict[str, list[dict[str, Any]]]:
        found = cycle_anomalies(self.graph)
        if self.orders is not None:
            found.update(order_cycle_anomalies(self.graph, self.orders.rel))
        return {
            kind: [self._explain(kind, cycle, rels) for cycle, rels in cycles]
            for kind, cycles in found.items()
        }

    def _explain(self, kind: str, cycle: list[int], rels: list[int]) -> dict[str, Any]:
        steps = []
        sentences = []
        for (a, b), rel in zip(itertools.pairwise(cycle), rels, strict=True):
            if self.orders is not None and rel == self.orders.rel:
                steps.append(self.orders.step(a, b))
                sentences.append(self.orders.sentence(a, b))
                continue
            k, v1, v2 = self.why[(a, b, rel)]
            name = REL_NAMES[rel]
            step: dict[str, Any] = {"type": Keyword(name), "key": k, "value": v1}
            if rel != WR:
                step["value'"] = v2
            steps.append(step)
            sentences.append(_sentence(rel, (a, b), (k, v1, v2)))
        return {
            "cycle": [op_record(self.by_id[n].op) for n in cycle],
            "steps": steps,
            "type": Keyword(kind),
            "explanation": "; ".join(sentences),
        }


def _sentence(rel: int, edge: tuple[int, int], why: tuple[Any, Any, Any]) -> str:
    a, b = edge
    k, v1, v2 = why
    if rel == WW:
        return f"T{a} wrote {k!r}={v1!r} before T{b} wrote {k!r}={v2!r}"
    if rel == WR:
        return f"T{a} wrote {k!r}={v1!r}, which T{b} read"
    return f"T{a} read {k!r}={v1!r}, which T{b} overwrote with {v2!r}"


def _mop(f: str, k: Any, v: Any) -> list[Any]:
    return [Keyword(f), k, v]
