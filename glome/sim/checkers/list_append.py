"""The txn-list-append checker: Elle's list-append inference, the part Maelstrom reports.

``check(history, opts, consistency_models)`` returns Maelstrom's workload result
``{"valid?", "anomaly-types", "anomalies", "not", "also-not"}`` (docs/protocol.md#txn-list-append),
the same shape as the txn-rw-register checker (``glome.sim.checkers.txn``). Unlike rw-register,
Maelstrom passes Elle's list-append result through untouched, so ``valid?`` is ``:unknown`` (not
false) when the only anomaly is ``empty-transaction-graph``.

What the history proves (every appended value is unique per key, so a read names its writers):

- **Version order** of a key: every ok read of it is a list, and each must be a prefix of the
  longest one; that longest read is the key's order. Two reads that are not prefixes of each
  other are ``incompatible-order``; a read holding an element twice is ``duplicate-elements``.
- **ww** T1 -> T2: T2's append directly follows T1's in a key's order.
- **wr** T1 -> T2: T2 read a list whose last element (not counting T2's own appends at its end)
  T1 appended.
- **rw** T1 -> T2: T1 read a list of a key, and the next element of the key's order (the first
  one for an empty read) was appended by T2.

Ok and info transactions are the graph's nodes (an info txn may have committed; reads prove
it), reads are taken from ok ones only (an info op carries its invocation's nil reads). A value
appended by a failed txn is never a version: reading it is ``G1a``. Reading a list whose last
element its writer followed with another append to that key is ``G1b``. A txn whose read of a
key disagrees with its own earlier read and appends of that key is ``internal``; the expected
value of a key it appended to before reading is shown as ``[:... 5 6]`` (Elle writes the symbol
``...``, which glome's EDN writer has no type for). Cycles are classified by
``graph.cycle_anomalies`` (``G0``, ``G1c``, ``G-single-item``, ``G-nonadjacent-item``,
``G2-item``).

Models forbid anomalies, and anomalies rule models out, by Elle's lattice
(``glome.sim.checkers.consistency_model``): ``duplicate-elements`` is forbidden from
read-uncommitted up, ``incompatible-order`` from read-committed up. Realtime or process edges
join the graph for the models that need them, as in the rw-register checker
(``glome.sim.checkers.orders``), giving ``G0-realtime``, ``G1c-process`` and the like. Only
forbidden anomalies are reported; ``not``/``also-not`` come from every anomaly found. Not
decided: ``dirty-update``, ``future-read``, ``G-nonadjacent``, and reads of elements that no
transaction appended (they give no edges).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from glome.edn import UNKNOWN, EdnList, Keyword, op_record
from glome.sim.checkers import consistency_model as cm
from glome.sim.checkers.graph import REL_NAMES, RW, WR, WW, DepGraph, cycle_anomalies
from glome.sim.checkers.orders import OrderEdges, order_cycle_anomalies
from glome.sim.checkers.txn import consistency_model_list, order_edges

_UNKNOWN_TYPES = frozenset({"empty-transaction-graph"})
"""Anomalies that make the result ``:unknown`` rather than false when they are alone."""

ELIDED = Keyword("...")
"""Stands for the unknown prefix of an ``internal`` case's expected list."""

Mop = tuple[str, Any, Any]


def check(
    history: list[dict[str, Any]],
    opts: Any = None,
    consistency_models: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Check a txn-list-append history; see the module docstring.

    ``consistency_models`` wins over ``opts.consistency_models``; with neither, read-committed.
    """
    models = consistency_model_list(consistency_models, opts)
    txns = [_Txn(pos, op) for pos, op in enumerate(history) if _is_txn_completion(op)]
    analysis = _Analysis(txns, order_edges(history, models))
    found = analysis.anomalies()
    forbidden = cm.anomalies_prohibited_by(models)
    reported: dict[str, Any] = {t: cases for t, cases in sorted(found.items()) if t in forbidden}
    if analysis.graph.is_empty():
        reported["empty-transaction-graph"] = True
    types = sorted(reported)
    not_models, also_not = cm.boundary(found)
    valid: bool | Keyword = True
    if types:
        valid = UNKNOWN if set(types) <= _UNKNOWN_TYPES else False
    return {
        "valid?": valid,
        "anomaly-types": EdnList(Keyword(t) for t in types),
        "anomalies": {t: reported[t] for t in types},
        "not": {Keyword(m) for m in not_models},
        "also-not": {Keyword(m) for m in also_not},
    }


def _is_txn_completion(op: dict[str, Any]) -> bool:
    return (
        op.get("type") in ("ok", "info", "fail")
        and op.get("process") != "nemesis"
        and isinstance(op.get("value"), list)
        and op.get("f") == "txn"
    )


class _Txn:
    """One completed transaction: its micro-ops and its last append to each key."""

    __slots__ = ("final_append", "id", "mops", "op", "type")

    def __init__(self, pos: int, op: dict[str, Any]) -> None:
        self.id: int = op["index"] if isinstance(op.get("index"), int) else pos
        self.op = op
        self.type: str = op["type"]
        self.mops: list[Mop] = []
        self.final_append: dict[Any, Any] = {}
        for mop in op["value"]:
            if not isinstance(mop, list | tuple) or len(mop) != 3 or mop[0] not in ("r", "append"):
                raise ValueError(
                    f"op {self.id}: bad micro-op {mop!r} (want [:r k list] or [:append k v])"
                )
            f, k, v = str(mop[0]), mop[1], mop[2]
            if f == "append":
                self.final_append[k] = v
            elif self.type == "ok":
                if v is not None and not isinstance(v, list | tuple):
                    raise ValueError(f"op {self.id}: read {mop!r} is neither nil nor a list")
                v = tuple(v or ())
            self.mops.append((f, k, v))

    @property
    def ok(self) -> bool:
        return self.type == "ok"

    def reads(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """(key, list read) for each read, ok txns only."""
        return [(k, v) for f, k, v in self.mops if f == "r"] if self.ok else []


class _Analysis:
    """Appenders, version orders and the dependency graph of one history."""

    def __init__(self, txns: list[_Txn], orders: OrderEdges | None = None) -> None:
        self.txns = txns
        self.orders = orders
        self.by_id = {t.id: t for t in txns}
        self.appender: dict[tuple[Any, Any], _Txn] = {}
        self.ambiguous: set[tuple[Any, Any]] = set()
        for t in txns:
            for f, k, v in t.mops:
                if f != "append":
                    continue
                prev = self.appender.get((k, v))
                if prev is not None and prev is not t:
                    self.ambiguous.add((k, v))
                self.appender[(k, v)] = t
        self.incompatible: list[dict[str, Any]] = []
        self.order = self._version_orders()
        self.position = {k: {e: i for i, e in enumerate(o)} for k, o in self.order.items()}
        self.why: dict[tuple[int, int, int], tuple[Any, Any, Any]] = {}
        self.graph = self._graph()
        if orders is not None:
            orders.link_into(self.graph)

    # -- version order -------------------------------------------------------------------
    def _version_orders(self) -> dict[Any, tuple[Any, ...]]:
        """Per key, the longest read (duplicates dropped); records incompatible reads.

        As in Elle, a key appended to exactly once (by ok and info txns) needs no read: its
        versions are [] then [x], whatever reads say (they are checked elsewhere)."""
        values: dict[Any, dict[tuple[Any, ...], None]] = {}
        for t in self.txns:
            for k, v in t.reads():
                if v:
                    values.setdefault(k, {})[v] = None
        appended: dict[Any, list[Any]] = {}
        for t in self.txns:
            if t.type != "fail":
                for f, k, v in t.mops:
                    if f == "append":
                        appended.setdefault(k, []).append(v)
        for k, vs in appended.items():
            if len(vs) == 1:
                values[k] = {(vs[0],): None}
        orders: dict[Any, tuple[Any, ...]] = {}
        for k, seen in values.items():
            by_length = sorted(seen, key=len)  # stable: first-seen order breaks ties
            for a, b in itertools.pairwise(by_length):
                if b[: len(a)] != a:
                    self.incompatible.append({"key": k, "values": [list(a), list(b)]})
                    break
            orders[k] = tuple(dict.fromkeys(by_length[-1]))
        return orders

    def writer(self, k: Any, v: Any) -> int | None:
        """The graph node that appended k=v: an ok or info txn, the only one to append it."""
        t = self.appender.get((k, v))
        if t is None or t.type == "fail" or (k, v) in self.ambiguous:
            return None
        return t.id

    # -- graph ---------------------------------------------------------------------------
    def _link(self, g: DepGraph, a: int, b: int, rel: int, why: tuple[Any, Any, Any]) -> None:
        if a != b:
            g.link(a, b, rel)
            self.why.setdefault((a, b, rel), why)

    def _graph(self) -> DepGraph:
        g = DepGraph()
        for k in sorted(self.order, key=repr):
            for a, b in itertools.pairwise(self.order[k]):
                wa, wb = self.writer(k, a), self.writer(k, b)
                if wa is not None and wb is not None:
                    self._link(g, wa, wb, WW, (k, a, b))
        for t in self.txns:
            for k, read in t.reads():
                end = len(read)
                while end and self.appender.get((k, read[end - 1])) is t:
                    end -= 1  # its own appends: what it observed of others ends before
                if end:
                    w = self.writer(k, read[end - 1])
                    if w is not None:
                        self._link(g, w, t.id, WR, (k, read[end - 1], read[end - 1]))
                order = self.order.get(k, ())
                at = self.position.get(k, {}).get(read[-1]) if read else -1
                if at is not None and at + 1 < len(order):
                    nxt = order[at + 1]
                    w = self.writer(k, nxt)
                    if w is not None:
                        self._link(g, t.id, w, RW, (k, read[-1] if read else None, nxt))
        return g

    # -- anomalies -----------------------------------------------------------------------
    def anomalies(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for name, cases in (
            ("duplicate-elements", self._duplicates()),
            ("incompatible-order", self.incompatible),
            ("internal", self._internal()),
            ("G1a", self._aborted_reads()),
            ("G1b", self._intermediate_reads()),
            *self._cycles().items(),
        ):
            if cases:
                found[name] = cases
        return found

    def _duplicates(self) -> list[dict[str, Any]]:
        cases = []
        for t in self.txns:
            for k, read in t.reads():
                if len(set(read)) != len(read):
                    dups = {e: n for e, n in Counter(read).items() if n > 1}
                    cases.append(
                        {"op": op_record(t.op), "mop": _mop("r", k, read), "duplicates": dups}
                    )
        return cases

    def _internal(self) -> list[dict[str, Any]]:
        """Reads that disagree with the txn's own earlier read and appends of the key.

        Per key the txn knows either the whole list (after a read) or only its tail (appends
        before any read): ``(known, values)``."""
        cases = []
        for t in self.txns:
            if not t.ok:
                continue
            state: dict[Any, tuple[bool, tuple[Any, ...]]] = {}
            for f, k, v in t.mops:
                known, values = state.get(k, (False, ()))
                if f == "append":
                    state[k] = (known, (*values, v))
                    continue
                if (known and v != values) or (not known and v[len(v) - len(values) :] != values):
                    expected = list(values) if known else [ELIDED, *values]
                    cases.append(
                        {"op": op_record(t.op), "mop": _mop(f, k, v), "expected": expected}
                    )
                    break
                state[k] = (True, v)
        return cases

    def _aborted_reads(self) -> list[dict[str, Any]]:
        failed: dict[Any, set[Any]] = {}
        for (k, v), t in self.appender.items():
            if t.type == "fail":
                failed.setdefault(k, set()).add(v)
        cases = []
        for t in self.txns:
            for k, read in t.reads():
                bad = failed.get(k)
                if bad is None or bad.isdisjoint(read):
                    continue  # the common case, checked without a loop in Python
                e = next(e for e in read if e in bad)
                cases.append(_read_case(t, k, read, self.appender[(k, e)], e))
        return cases

    def _intermediate_reads(self) -> list[dict[str, Any]]:
        cases = []
        for t in self.txns:
            for k, read in t.reads():
                w = self.appender.get((k, read[-1])) if read else None
                if w is not None and w is not t and w.final_append[k] != read[-1]:
                    cases.append(_read_case(t, k, read, w, read[-1]))
        return cases

    def _cycles(self) -> dict[str, list[dict[str, Any]]]:
        cycles = cycle_anomalies(self.graph)
        if self.orders is not None:
            cycles.update(order_cycle_anomalies(self.graph, self.orders.rel))
        return {
            kind: [self._explain(kind, cyc, rels) for cyc, rels in found]
            for kind, found in cycles.items()
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
            step: dict[str, Any] = {"type": Keyword(REL_NAMES[rel]), "key": k, "value": v1}
            if rel != WR:
                step["value'"] = v2
            steps.append(step)
            sentences.append(_sentence(rel, a, b, (k, v1, v2)))
        return {
            "cycle": [op_record(self.by_id[n].op) for n in cycle],
            "steps": steps,
            "type": Keyword(kind),
            "explanation": "; ".join(sentences),
        }


def _read_case(t: _Txn, k: Any, read: tuple[Any, ...], w: _Txn, e: Any) -> dict[str, Any]:
    return {
        "op": op_record(t.op),
        "mop": _mop("r", k, read),
        "writer": op_record(w.op),
        "element": e,
    }


def _sentence(rel: int, a: int, b: int, why: tuple[Any, Any, Any]) -> str:
    k, v1, v2 = why
    if rel == WW:
        return f"T{a} appended {v1!r} to {k!r} before T{b} appended {v2!r}"
    if rel == WR:
        return f"T{b} observed T{a}'s append of {v1!r} to {k!r}"
    seen = "nothing" if v1 is None else f"up to {v1!r}"
    return f"T{a} read {k!r} ({seen}) and missed T{b}'s next append of {v2!r}"


def _mop(f: str, k: Any, v: Any) -> list[Any]:
    return [Keyword(f), k, list(v) if isinstance(v, tuple) else v]
