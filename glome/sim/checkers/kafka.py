"""The kafka checker: Jepsen's kafka analysis as Maelstrom runs it (spec 4.7).

``check(history, opts=None)`` returns ``{"valid?", "worst-realtime-lag", "bad-error-types",
"error-types", "info-txn-causes", <error type>: {"count", "errs"}, ...}``.

From the history alone:

- **Version order** per key: offsets seen in every poll (any completion type) and in sends that
  must have happened (ok, or info with one of its messages polled by an ok poll). Offsets are
  compressed to dense *indices* (gaps are allowed). One offset with several messages is
  ``inconsistent-offsets``; one message at several offsets is ``duplicate``.
- ``G1a``: an ok poll returned a message whose send failed.
- ``precommitted-read``: one op polled a message that the same op sent (only possible in
  multi-mop transactions; Maelstrom's kafka ops are single mops).
- ``lost-write``: for each key, take the highest index any ok poll read; a message of an
  ok (or provably committed info) send at or below it that no ok poll ever returned is lost.
- ``int-poll-skip`` / ``int-nonmonotonic-poll``: inside one poll's list for a key, consecutive
  messages whose indices jump by more than one / do not advance. ``int-send-skip`` /
  ``int-nonmonotonic-send``: the same for several sends to one key in one op.
- ``poll-skip`` / ``nonmonotonic-poll``: per process, a poll's first message of a key versus the
  last message that process's previous non-empty ok poll of that key returned. An ok assign
  keeps only the assigned keys' positions; a crash forgets everything (the process is replaced
  anyway). Empty polls do not move the position, so a skip across an empty poll is caught.
- ``nonmonotonic-send``: per process, a send landing at or before that process's previous send
  to the key.
- ``unseen``: ok-sent messages that no ok poll returned by the end.
- ``G1c-realtime``: an ok poll returned a message whose send was invoked only after the poll
  had completed (a wr + realtime cycle; by the interval-order property every wr/realtime cycle
  contains such a pair, so this is Elle's cycle search for this graph). ww edges are not
  inferred (Maelstrom does not set ``:ww-deps``), so G0 never arises and is allowed anyway.
- ``empty-transaction-graph``: no ok poll read a sent message and no two ok sends/polls were
  ordered in real time (Elle could not build a graph).

Validity: every error type except ``int-send-skip``, ``G0``, ``G0-process``, ``G0-realtime``,
``PL-1-cycle-exists`` and ``strong-PL-1-cycle-exists`` invalidates (Maelstrom's settings).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable
from typing import Any

from glome.edn import EdnList, Keyword, op_record

ALLOWED_ERROR_TYPES = frozenset(
    {
        "int-send-skip",
        "G0",
        "G0-process",
        "G0-realtime",
        "PL-1-cycle-exists",
        "strong-PL-1-cycle-exists",
    }
)
_TXN_FS = ("send", "poll", "txn")

Op = dict[str, Any]
Reads = dict[Any, list[Any]]


def check(history: list[Op], opts: Any = None, *, unseen: bool = True) -> dict[str, Any]:
    """Analyse a kafka history; see the module docstring.

    ``unseen=False`` leaves out the ``unseen`` error, as the Maelstrom of the 2023 corpus run
    did (its results.edn is valid although 9 acknowledged messages were never polled); current
    Jepsen reports it and it invalidates, so it is on by default.
    """
    del opts  # kafka's checker takes no options from the CLI
    ops = [op for op in history if op.get("process") != "nemesis"]
    a = _Analysis(ops)
    errors = a.errors()
    if not unseen:
        errors.pop("unseen", None)
    bad = sorted(t for t in errors if t not in ALLOWED_ERROR_TYPES)
    result: dict[str, Any] = {
        "valid?": not bad,
        "worst-realtime-lag": a.worst_realtime_lag(),
        "bad-error-types": EdnList(Keyword(t) for t in bad),
        "error-types": EdnList(Keyword(t) for t in sorted(errors)),
        "info-txn-causes": EdnList(_info_causes(ops)),
    }
    for t in sorted(errors):
        result[t] = _condense(t, errors[t])
    return result


# -- micro-op access --------------------------------------------------------------------------


def op_writes(op: Op) -> dict[Any, list[Any]]:
    """Key -> messages this op sent, in order (sends may lack offsets)."""
    out: dict[Any, list[Any]] = {}
    if op.get("f") in ("send", "txn"):
        for mop in op.get("value") or ():
            if mop and mop[0] == "send":
                v = mop[2]
                out.setdefault(mop[1], []).append(v[1] if _is_pair(v) else v)
    return out


def op_write_pairs(op: Op) -> dict[Any, list[tuple[Any, Any]]]:
    """Key -> (offset, message) of this op's completed sends."""
    out: dict[Any, list[tuple[Any, Any]]] = {}
    if op.get("f") in ("send", "txn"):
        for mop in op.get("value") or ():
            if mop and mop[0] == "send" and _is_pair(mop[2]):
                out.setdefault(mop[1], []).append((mop[2][0], mop[2][1]))
    return out


def op_read_pairs(op: Op) -> dict[Any, list[tuple[Any, Any]]]:
    """Key -> (offset, message) pairs this op polled, in order."""
    out: dict[Any, list[tuple[Any, Any]]] = {}
    if op.get("f") in ("poll", "txn"):
        for mop in op.get("value") or ():
            if mop and mop[0] == "poll" and len(mop) > 1 and isinstance(mop[1], dict):
                for k, pairs in mop[1].items():
                    out.setdefault(k, []).extend((p[0], p[1]) for p in pairs)
    return out


def op_reads(op: Op) -> Reads:
    """Key -> messages this op polled, in order."""
    return {k: [m for _, m in pairs] for k, pairs in op_read_pairs(op).items()}


def _is_pair(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2


# -- the analysis ---------------------------------------------------------------------------


class _Order:
    """One key's version order: offsets -> messages, and dense indices."""

    __slots__ = ("by_index", "by_value", "first_index", "last_index", "log")

    def __init__(self, log: dict[int, set[Any]]) -> None:
        self.log = log
        offsets = sorted(log)
        self.by_index: list[Any] = []
        self.by_value: dict[Any, int] = {}
        self.first_index: dict[Any, int] = {}
        self.last_index: dict[Any, int] = {}
        for i, off in enumerate(offsets):
            values = sorted(log[off], key=repr)
            self.by_index.append(values[0])
            for v in values:
                self.by_value[v] = i
                self.first_index.setdefault(v, i)
                self.last_index[v] = i

    def index(self, v: Any) -> int | None:
        return self.by_value.get(v)


class _Analysis:
    def __init__(self, ops: list[Op]) -> None:
        self.ops = ops
        self.completions = [op for op in ops if op.get("type") != "invoke"]
        self.invoke_of: dict[int, Op] = {}
        open_invokes: dict[Any, Op] = {}
        for op in ops:
            if op.get("type") == "invoke":
                open_invokes[op.get("process")] = op
            else:
                inv = open_invokes.pop(op.get("process"), None)
                if inv is not None:
                    self.invoke_of[id(op)] = inv
        self.reads: dict[int, Reads] = {}
        self.writes: dict[int, dict[Any, list[Any]]] = {}
        self.writer_of: dict[Any, dict[Any, Op]] = {}
        self.readers_of: dict[Any, dict[Any, list[Op]]] = {}
        self.ok_reads: dict[Any, set[Any]] = {}
        self.failed_writes: dict[Any, set[Any]] = {}
        for op in self.completions:
            if op.get("f") not in _TXN_FS:
                continue
            r, w = op_reads(op), op_writes(op)
            self.reads[id(op)], self.writes[id(op)] = r, w
            for k, vs in w.items():
                wk = self.writer_of.setdefault(k, {})
                for v in vs:
                    wk[v] = op
                if op["type"] == "fail":
                    self.failed_writes.setdefault(k, set()).update(vs)
            for k, vs in r.items():
                rk = self.readers_of.setdefault(k, {})
                for v in vs:
                    rk.setdefault(v, []).append(op)
                if op["type"] == "ok":
                    self.ok_reads.setdefault(k, set()).update(vs)
        self.inconsistent: list[dict[str, Any]] = []
        self.orders = self._version_orders()

    def _r(self, op: Op) -> Reads:
        return self.reads.get(id(op), {})

    def _w(self, op: Op) -> dict[Any, list[Any]]:
        return self.writes.get(id(op), {})

    def must_have_committed(self, op: Op) -> bool:
        """Ok, or info with some message provably polled by an ok poll."""
        if op["type"] == "ok":
            return True
        if op["type"] != "info":
            return False
        return any(v in self.ok_reads.get(k, ()) for k, vs in self._w(op).items() for v in vs)

    def _version_orders(self) -> dict[Any, _Order]:
        logs: dict[Any, dict[int, set[Any]]] = {}
        for op in self.completions:
            if op.get("f") not in _TXN_FS:
                continue
            pairs: list[tuple[Any, list[tuple[Any, Any]]]] = list(op_read_pairs(op).items())
            if self.must_have_committed(op):
                pairs += list(op_write_pairs(op).items())
            for k, kps in pairs:
                log = logs.setdefault(k, {})
                for off, v in kps:
                    if off is not None:
                        log.setdefault(off, set()).add(v)
        orders = {}
        for k in sorted(logs, key=repr):
            log = logs[k]
            for i, off in enumerate(sorted(log)):
                if len(log[off]) > 1:
                    self.inconsistent.append(
                        {"key": k, "offset": off, "index": i, "values": set(log[off])}
                    )
            orders[k] = _Order(log)
        return orders

    # -- error families -------------------------------------------------------------------

    def errors(self) -> dict[str, list[Any] | dict[str, Any] | bool]:
        errs: dict[str, Any] = {}
        int_poll = self._int_cases(self._r)
        int_send = self._int_cases(self._w)
        ext = self._poll_skip_nonmonotonic()
        for name, cases in (
            ("duplicate", self._duplicates()),
            ("int-poll-skip", int_poll["skip"]),
            ("int-nonmonotonic-poll", int_poll["nonmonotonic"]),
            ("int-send-skip", int_send["skip"]),
            ("int-nonmonotonic-send", int_send["nonmonotonic"]),
            ("inconsistent-offsets", self.inconsistent),
            ("precommitted-read", self._precommitted()),
            ("G1a", self._g1a()),
            ("lost-write", self._lost_writes()),
            ("poll-skip", ext["skip"]),
            ("nonmonotonic-poll", ext["nonmonotonic"]),
            ("nonmonotonic-send", self._nonmonotonic_sends()),
            ("G1c-realtime", self._future_reads()),
        ):
            if cases:
                errs[name] = cases
        unseen = self._unseen()
        if unseen is not None:
            errs["unseen"] = unseen
        if self._empty_graph():
            errs["empty-transaction-graph"] = True
        return errs

    def _duplicates(self) -> list[dict[str, Any]]:
        cases = []
        for k, order in self.orders.items():
            offsets_of: dict[Any, list[int]] = {}
            for off in sorted(order.log):
                for v in order.log[off]:
                    offsets_of.setdefault(v, []).append(off)
            for v in sorted((v for v, o in offsets_of.items() if len(o) > 1), key=repr):
                cases.append(
                    {"key": k, "value": v, "count": len(offsets_of[v]), "offsets": offsets_of[v]}
                )
        return cases

    def _g1a(self) -> list[dict[str, Any]]:
        cases = []
        for op in self.completions:
            if op["type"] != "ok":
                continue
            for k, vs in self._r(op).items():
                failed = self.failed_writes.get(k)
                if not failed:
                    continue
                for v in vs:
                    if v in failed:
                        cases.append(
                            {
                                "key": k,
                                "value": v,
                                "writer": op_record(self.writer_of[k][v]),
                                "reader": op_record(op),
                            }
                        )
        return cases

    def _precommitted(self) -> list[dict[str, Any]]:
        cases = []
        for op in self.completions:
            reads = self._r(op)
            for k, vs in self._w(op).items():
                bad = set(vs) & set(reads.get(k, ()))
                if bad:
                    cases.append({"op": op_record(op), "key": k, "value": min(bad, key=repr)})
                    break
        return cases

    def _lost_writes(self) -> list[dict[str, Any]]:
        cases = []
        for k in sorted(self.ok_reads, key=repr):
            read = self.ok_reads[k]
            order = self.orders.get(k)
            if order is None:
                continue
            known = [order.first_index[v] for v in read if v in order.first_index]
            bound = max(known, default=-1)
            if bound < 0:
                continue
            must_read = sorted(
                (v for v, i in order.last_index.items() if i <= bound),
                key=lambda v: (order.last_index[v], repr(v)),
            )
            top = sorted((v for v, i in order.last_index.items() if i == bound), key=repr)
            readers = self.readers_of.get(k, {}).get(top[0], []) if top else []
            max_read = readers[0] if readers else None
            for v in must_read:
                if v in read:
                    continue
                writer = self.writer_of.get(k, {}).get(v)
                # A message nobody sent cannot be "lost"; an info send nobody saw may never
                # have happened: neither is proof.
                if writer is None or not self.must_have_committed(writer):
                    continue
                cases.append(
                    {
                        "key": k,
                        "value": v,
                        "index": order.first_index[v],
                        "max-read-index": bound,
                        "writer": op_record(writer),
                        "max-read": None if max_read is None else op_record(max_read),
                    }
                )
        return cases

    def _int_cases(self, get: Any) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {"skip": [], "nonmonotonic": []}
        for op in self.completions:
            for k, vs in get(op).items():
                order = self.orders.get(k)
                if order is None:
                    continue
                for v1, v2 in itertools.pairwise(vs):
                    i1, i2 = order.index(v1), order.index(v2)
                    if i1 is None or i2 is None:
                        continue
                    delta = i2 - i1
                    if delta > 1:
                        out["skip"].append(
                            {
                                "key": k,
                                "values": [v1, v2],
                                "delta": delta,
                                "skipped": EdnList(order.by_index[i1 + 1 : i2]),
                                "op": op_record(op),
                            }
                        )
                    elif delta < 1:
                        out["nonmonotonic"].append(
                            {"key": k, "values": [v1, v2], "delta": delta, "op": op_record(op)}
                        )
        return out

    def _by_process(self, types: Iterable[str]) -> dict[Any, list[Op]]:
        wanted = set(types)
        procs: dict[Any, list[Op]] = {}
        for op in self.ops:
            if op.get("type") in wanted:
                procs.setdefault(op.get("process"), []).append(op)
        return procs

    def _poll_skip_nonmonotonic(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {"skip": [], "nonmonotonic": []}
        procs = self._by_process(("ok", "info", "fail"))
        for p in sorted(procs, key=repr):
            last: dict[Any, Op] = {}  # key -> last ok op that read something of it
            for op in procs[p]:
                f, typ = op.get("f"), op["type"]
                if f in ("assign", "subscribe"):
                    if typ in ("ok", "info"):
                        keep = set(op.get("value") or ())
                        last = {k: o for k, o in last.items() if k in keep}
                    continue
                if f == "crash":
                    last = {}
                    continue
                if f not in ("poll", "txn") or typ != "ok":
                    continue
                reads = self._r(op)
                for k, vs in reads.items():
                    prev = last.get(k)
                    order = self.orders.get(k)
                    if prev is None or not vs or order is None:
                        continue
                    v = self._r(prev)[k][-1]
                    v2 = vs[0]
                    i, i2 = order.index(v), order.index(v2)
                    if i is None or i2 is None:
                        continue
                    delta = i2 - i
                    ops = [op_record(prev), op_record(op)]
                    if delta > 1:
                        out["skip"].append(
                            {
                                "key": k,
                                "delta": delta,
                                "skipped": EdnList(order.by_index[i + 1 : i2]),
                                "ops": ops,
                            }
                        )
                    elif delta < 1:
                        out["nonmonotonic"].append(
                            {"key": k, "values": [v, v2], "delta": delta, "ops": ops}
                        )
                for k, vs in reads.items():
                    if vs:
                        last[k] = op
        return out

    def _nonmonotonic_sends(self) -> list[dict[str, Any]]:
        cases = []
        procs = self._by_process(("ok", "info"))
        for p in sorted(procs, key=repr):
            last: dict[Any, Op] = {}
            for op in procs[p]:
                f = op.get("f")
                if f in ("assign", "subscribe"):
                    keep = set(op.get("value") or ())
                    last = {k: o for k, o in last.items() if k in keep}
                    continue
                if f not in ("send", "txn"):
                    continue
                sends = self._w(op)
                for k, vs in sends.items():
                    prev = last.get(k)
                    order = self.orders.get(k)
                    if prev is None or order is None:
                        continue
                    v, v2 = self._w(prev)[k][-1], vs[0]
                    i, i2 = order.index(v), order.index(v2)
                    if i is not None and i2 is not None and i2 - i < 1:
                        cases.append(
                            {
                                "key": k,
                                "values": [v, v2],
                                "delta": i2 - i,
                                "ops": [op_record(prev), op_record(op)],
                            }
                        )
                for k in sends:
                    last[k] = op
        return cases

    def _future_reads(self) -> list[dict[str, Any]]:
        cases = []
        for op in self.completions:
            if op["type"] != "ok":
                continue
            for k, vs in self._r(op).items():
                for v in vs:
                    w = self.writer_of.get(k, {}).get(v)
                    if w is None or w is op:
                        continue
                    inv = self.invoke_of.get(id(w))
                    if inv is None or inv.get("time", 0) <= op.get("time", 0):
                        continue
                    cases.append(
                        {
                            "cycle": [op_record(w), op_record(op), op_record(w)],
                            "steps": [
                                {"type": Keyword("wr"), "key": k, "value": v},
                                {
                                    "type": Keyword("realtime"),
                                    "a'": op_record(op),
                                    "b": op_record(inv),
                                },
                            ],
                            "type": Keyword("G1c-realtime"),
                        }
                    )
        return cases

    def _unseen(self) -> dict[str, Any] | None:
        sent: dict[Any, set[Any]] = {}
        polled: dict[Any, set[Any]] = {}
        time = None
        for op in self.completions:
            if op["type"] != "ok" or op.get("f") not in _TXN_FS:
                continue
            time = op.get("time")
            for k, vs in self._w(op).items():
                sent.setdefault(k, set()).update(vs)
            for k, vs in self._r(op).items():
                polled.setdefault(k, set()).update(vs)
        unseen = {k: vs - polled.get(k, set()) for k, vs in sent.items()}
        unseen = {k: vs for k, vs in unseen.items() if vs}
        if not unseen:
            return None
        keys = sorted(unseen, key=_key_sort)
        return {
            "time": time,
            "unseen": {k: len(unseen[k]) for k in keys},
            "messages": {k: EdnList(sorted(unseen[k], key=_value_sort)) for k in keys},
        }

    def _empty_graph(self) -> bool:
        oks = [op for op in self.completions if op["type"] == "ok" and op.get("f") in _TXN_FS]
        if not oks:
            return True
        for op in oks:
            for k, vs in self._r(op).items():
                wk = self.writer_of.get(k, {})
                if any(v in wk and wk[v] is not op for v in vs):
                    return False
        done = min(op.get("time", 0) for op in oks)
        invokes = [self.invoke_of[id(op)].get("time", 0) for op in oks if id(op) in self.invoke_of]
        return not invokes or done >= max(invokes)

    # -- realtime lag -----------------------------------------------------------------------

    def worst_realtime_lag(self) -> dict[str, Any]:
        """Jepsen's conservative consumer lag: for each ok poll and each key the process holds,
        how long before the poll's invocation the next offset after its position existed."""
        # Offsets known to exist always form a prefix 0..max, so per key we keep breakpoints:
        # (highest offset known, time it became known), both increasing. Offset i was first
        # known to exist at the time of the first breakpoint >= i. (A dense per-offset list
        # is what makes Maelstrom's analysis blow up on huge offsets, issue #51.)
        known: dict[Any, tuple[list[int], list[int]]] = {}
        for op in self.completions:
            if op["type"] not in ("ok", "info"):
                continue
            for k, off in _max_offsets(op).items():
                offs, times = known.setdefault(k, ([], []))
                if not offs or off > offs[-1]:
                    offs.append(off)
                    times.append(op.get("time", 0))
        worst: dict[str, Any] | None = None
        positions: dict[Any, dict[Any, int]] = {}
        for op in self.completions:
            if op["type"] != "ok":
                continue
            p, f = op.get("process"), op.get("f")
            if f == "assign":
                old = positions.get(p, {})
                positions[p] = {k: old.get(k, -1) for k in op.get("value") or ()}
            elif f == "subscribe":
                positions[p] = {}
            elif f in ("poll", "txn"):
                inv = self.invoke_of.get(id(op))
                t0 = inv.get("time", 0) if inv is not None else op.get("time", 0)
                pos = dict(positions.get(p, {}))
                for k, off in _max_offsets(op).items():
                    pos[k] = max(pos.get(k, -1), off)
                positions[p] = pos
                for k, off in pos.items():
                    offs, times = known.get(k, ([], []))
                    i = bisect.bisect_left(offs, off + 1)
                    at = times[i] if i < len(times) else math.inf
                    lag = max(0.0, t0 - at)
                    if worst is None or lag > worst["lag"]:
                        worst = {"time": t0, "process": p, "key": k, "lag": lag}
        if worst is None:
            return {"time": 0.0, "lag": 0.0}
        worst["time"] = worst["time"] / 1e9
        worst["lag"] = worst["lag"] / 1e9
        return worst


def _max_offsets(op: Op) -> dict[Any, int]:
    """Key -> highest offset this op polled or sent."""
    out: dict[Any, int] = {}
    for source in (op_read_pairs(op), op_write_pairs(op)):
        for k, pairs in source.items():
            offs = [o for o, _ in pairs if isinstance(o, int)]
            if offs:
                out[k] = max(out.get(k, -1), *offs)
    return out


def _info_causes(ops: list[Op]) -> list[Any]:
    causes: list[Any] = []
    for op in ops:
        if op.get("type") == "info" and op.get("f") in _TXN_FS:
            e = op.get("error")
            if e not in causes:
                causes.append(e)
    return causes


def _key_sort(k: Any) -> tuple[int, Any]:
    """Numeric-looking string keys sort numerically ("9" before "10")."""
    if isinstance(k, int):
        return (0, k)
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return (0, int(k))
    return (1, repr(k))


def _value_sort(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) else (1, repr(v))


_TAKE_FIRST = {
    "duplicate": (32, "count"),
    "inconsistent-offsets": (32, "values"),
    "int-nonmonotonic-poll": (8, "delta"),
    "int-nonmonotonic-send": (8, "delta"),
    "nonmonotonic-poll": (8, "delta"),
    "nonmonotonic-send": (8, "delta"),
    "G0": (8, "steps"),
    "G0-process": (8, "steps"),
    "G0-realtime": (8, "steps"),
    "G1c": (8, "steps"),
    "G1c-process": (8, "steps"),
    "G1c-realtime": (8, "steps"),
}
_TAKE_LAST = {"int-poll-skip", "int-send-skip", "poll-skip"}


def _condense(kind: str, errs: Any) -> Any:
    """Maelstrom's condense-error: counts plus the most telling few cases."""
    if kind == "unseen":
        return errs
    if not isinstance(errs, list):
        return {"count": 1, "errs": errs}
    shown = errs
    if kind in _TAKE_FIRST:
        n, field = _TAKE_FIRST[kind]
        shown = sorted(errs, key=lambda e: _measure(e[field]))[:n]
    elif kind in _TAKE_LAST:
        shown = sorted(errs, key=lambda e: e["delta"])[-8:]
    return {"count": len(errs), "errs": shown}


def _measure(x: Any) -> Any:
    return len(x) if isinstance(x, list | set | tuple) else x
