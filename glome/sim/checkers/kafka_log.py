"""A kafka history indexed for analysis: who sent and who polled each message, and each key's
version order (offsets compressed to dense indices).

The micro-op accessors read Maelstrom's kafka ops: ``send`` ops carry ``[:send k v]`` (with
``[offset v]`` once acknowledged), ``poll`` ops carry ``[:poll {k [[offset v] ...]}]``; ``txn``
ops may hold both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Op = dict[str, Any]
Reads = dict[Any, list[Any]]

TXN_FS = ("send", "poll", "txn")
"""The ops that send or poll messages."""


def op_writes(op: Op) -> dict[Any, list[Any]]:
    """Key -> messages this op sent, in order (sends may lack offsets)."""
    out: dict[Any, list[Any]] = {}
    if op.get("f") in ("send", "txn"):
        for mop in op.get("value") or ():
            if mop and mop[0] == "send":
                v = mop[2]
                out.setdefault(mop[1], []).append(v[1] if is_pair(v) else v)
    return out


def op_write_pairs(op: Op) -> dict[Any, list[tuple[Any, Any]]]:
    """Key -> (offset, message) of this op's completed sends."""
    out: dict[Any, list[tuple[Any, Any]]] = {}
    if op.get("f") in ("send", "txn"):
        for mop in op.get("value") or ():
            if mop and mop[0] == "send" and is_pair(mop[2]):
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


def is_pair(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2


def max_offsets(op: Op) -> dict[Any, int]:
    """Key -> highest offset this op polled or sent."""
    out: dict[Any, int] = {}
    for source in (op_read_pairs(op), op_write_pairs(op)):
        for k, pairs in source.items():
            offs = [o for o, _ in pairs if isinstance(o, int)]
            if offs:
                out[k] = max(out.get(k, -1), *offs)
    return out


class VersionOrder:
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


class KafkaLog:
    """The history's completions with their sends and polls indexed, and the version orders."""

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
            if op.get("f") not in TXN_FS:
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

    def r(self, op: Op) -> Reads:
        return self.reads.get(id(op), {})

    def w(self, op: Op) -> dict[Any, list[Any]]:
        return self.writes.get(id(op), {})

    def must_have_committed(self, op: Op) -> bool:
        """Ok, or info with some message provably polled by an ok poll."""
        if op["type"] == "ok":
            return True
        if op["type"] != "info":
            return False
        return any(v in self.ok_reads.get(k, ()) for k, vs in self.w(op).items() for v in vs)

    def _version_orders(self) -> dict[Any, VersionOrder]:
        logs: dict[Any, dict[int, set[Any]]] = {}
        for op in self.completions:
            if op.get("f") not in TXN_FS:
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
            orders[k] = VersionOrder(log)
        return orders

    def by_process(self, types: Iterable[str]) -> dict[Any, list[Op]]:
        wanted = set(types)
        procs: dict[Any, list[Op]] = {}
        for op in self.ops:
            if op.get("type") in wanted:
                procs.setdefault(op.get("process"), []).append(op)
        return procs
