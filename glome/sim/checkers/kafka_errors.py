"""The kafka checker's error families, each a function of the indexed history (``KafkaLog``).

See ``glome.sim.checkers.kafka`` for what each family means.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from glome.edn import EdnList, Keyword, op_record
from glome.sim.checkers.kafka_log import TXN_FS, KafkaLog, Op


def error_families(log: KafkaLog) -> dict[str, list[Any] | dict[str, Any] | bool]:
    """Every error family the history shows, by Jepsen's name (absent when none)."""
    errs: dict[str, Any] = {}
    int_poll = internal_cases(log, log.r)
    int_send = internal_cases(log, log.w)
    ext = poll_skips(log)
    for name, cases in (
        ("duplicate", duplicates(log)),
        ("int-poll-skip", int_poll["skip"]),
        ("int-nonmonotonic-poll", int_poll["nonmonotonic"]),
        ("int-send-skip", int_send["skip"]),
        ("int-nonmonotonic-send", int_send["nonmonotonic"]),
        ("inconsistent-offsets", log.inconsistent),
        ("precommitted-read", precommitted_reads(log)),
        ("G1a", aborted_reads(log)),
        ("lost-write", lost_writes(log)),
        ("poll-skip", ext["skip"]),
        ("nonmonotonic-poll", ext["nonmonotonic"]),
        ("nonmonotonic-send", nonmonotonic_sends(log)),
        ("G1c-realtime", future_reads(log)),
    ):
        if cases:
            errs[name] = cases
    never_polled = unseen(log)
    if never_polled is not None:
        errs["unseen"] = never_polled
    if empty_graph(log):
        errs["empty-transaction-graph"] = True
    return errs


def duplicates(log: KafkaLog) -> list[dict[str, Any]]:
    """One message at several offsets of a key."""
    cases = []
    for k, order in log.orders.items():
        offsets_of: dict[Any, list[int]] = {}
        for off in sorted(order.log):
            for v in order.log[off]:
                offsets_of.setdefault(v, []).append(off)
        for v in sorted((v for v, o in offsets_of.items() if len(o) > 1), key=repr):
            cases.append(
                {"key": k, "value": v, "count": len(offsets_of[v]), "offsets": offsets_of[v]}
            )
    return cases


def aborted_reads(log: KafkaLog) -> list[dict[str, Any]]:
    """G1a: an ok poll returned a message whose send failed."""
    cases = []
    for op in log.completions:
        if op["type"] != "ok":
            continue
        for k, vs in log.r(op).items():
            failed = log.failed_writes.get(k)
            if not failed:
                continue
            for v in vs:
                if v in failed:
                    cases.append(
                        {
                            "key": k,
                            "value": v,
                            "writer": op_record(log.writer_of[k][v]),
                            "reader": op_record(op),
                        }
                    )
    return cases


def precommitted_reads(log: KafkaLog) -> list[dict[str, Any]]:
    """An op polled a message it sent itself."""
    cases = []
    for op in log.completions:
        reads = log.r(op)
        for k, vs in log.w(op).items():
            bad = set(vs) & set(reads.get(k, ()))
            if bad:
                cases.append({"op": op_record(op), "key": k, "value": min(bad, key=repr)})
                break
    return cases


def lost_writes(log: KafkaLog) -> list[dict[str, Any]]:
    """Committed messages below the highest index an ok poll read that no ok poll returned."""
    cases = []
    for k in sorted(log.ok_reads, key=repr):
        read = log.ok_reads[k]
        order = log.orders.get(k)
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
        readers = log.readers_of.get(k, {}).get(top[0], []) if top else []
        max_read = readers[0] if readers else None
        for v in must_read:
            if v in read:
                continue
            writer = log.writer_of.get(k, {}).get(v)
            # A message nobody sent cannot be "lost"; an info send nobody saw may never
            # have happened: neither is proof.
            if writer is None or not log.must_have_committed(writer):
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


def internal_cases(
    log: KafkaLog, get: Callable[[Op], dict[Any, list[Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Skips and backward steps inside one op's polled (``get=log.r``) or sent (``log.w``)
    messages of a key."""
    out: dict[str, list[dict[str, Any]]] = {"skip": [], "nonmonotonic": []}
    for op in log.completions:
        for k, vs in get(op).items():
            order = log.orders.get(k)
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


def poll_skips(log: KafkaLog) -> dict[str, list[dict[str, Any]]]:
    """Per process, skips and backward steps between consecutive ok polls of a key."""
    out: dict[str, list[dict[str, Any]]] = {"skip": [], "nonmonotonic": []}
    procs = log.by_process(("ok", "info", "fail"))
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
            reads = log.r(op)
            for k, vs in reads.items():
                prev = last.get(k)
                order = log.orders.get(k)
                if prev is None or not vs or order is None:
                    continue
                v = log.r(prev)[k][-1]
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


def nonmonotonic_sends(log: KafkaLog) -> list[dict[str, Any]]:
    """Per process, a send landing at or before its previous send to the key."""
    cases = []
    procs = log.by_process(("ok", "info"))
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
            sends = log.w(op)
            for k, vs in sends.items():
                prev = last.get(k)
                order = log.orders.get(k)
                if prev is None or order is None:
                    continue
                v, v2 = log.w(prev)[k][-1], vs[0]
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


def future_reads(log: KafkaLog) -> list[dict[str, Any]]:
    """G1c-realtime: an ok poll read a message sent only after the poll completed."""
    cases = []
    for op in log.completions:
        if op["type"] != "ok":
            continue
        for k, vs in log.r(op).items():
            for v in vs:
                w = log.writer_of.get(k, {}).get(v)
                if w is None or w is op:
                    continue
                inv = log.invoke_of.get(id(w))
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


def unseen(log: KafkaLog) -> dict[str, Any] | None:
    """Ok-sent messages no ok poll returned by the end (None if there are none)."""
    sent: dict[Any, set[Any]] = {}
    polled: dict[Any, set[Any]] = {}
    time = None
    for op in log.completions:
        if op["type"] != "ok" or op.get("f") not in TXN_FS:
            continue
        time = op.get("time")
        for k, vs in log.w(op).items():
            sent.setdefault(k, set()).update(vs)
        for k, vs in log.r(op).items():
            polled.setdefault(k, set()).update(vs)
    unseen = {k: vs - polled.get(k, set()) for k, vs in sent.items()}
    unseen = {k: vs for k, vs in unseen.items() if vs}
    if not unseen:
        return None
    keys = sorted(unseen, key=key_sort)
    return {
        "time": time,
        "unseen": {k: len(unseen[k]) for k in keys},
        "messages": {k: EdnList(sorted(unseen[k], key=value_sort)) for k in keys},
    }


def empty_graph(log: KafkaLog) -> bool:
    """Could Elle build no dependency graph (no wr edge, no two ok ops ordered in time)?"""
    oks = [op for op in log.completions if op["type"] == "ok" and op.get("f") in TXN_FS]
    if not oks:
        return True
    for op in oks:
        for k, vs in log.r(op).items():
            wk = log.writer_of.get(k, {})
            if any(v in wk and wk[v] is not op for v in vs):
                return False
    done = min(op.get("time", 0) for op in oks)
    invokes = [log.invoke_of[id(op)].get("time", 0) for op in oks if id(op) in log.invoke_of]
    return not invokes or done >= max(invokes)


def key_sort(k: Any) -> tuple[int, Any]:
    """Numeric-looking string keys sort numerically ("9" before "10")."""
    if isinstance(k, int):
        return (0, k)
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return (0, int(k))
    return (1, repr(k))


def value_sort(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) else (1, repr(v))
