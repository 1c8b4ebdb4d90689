"""The broadcast and g-set checker: Jepsen's ``set-full`` in non-linearizable mode
(docs/protocol.md#broadcast).

Each element is tracked from its ``:add`` invocation. Over client ops in history order:

- *known*: the first of the ``:ok`` add completion and the completion of the first ok read that
  contained the element;
- each ok read, through its **invocation** (index and time), updates the element's
  *last-present* (if the read saw it) or *last-absent* (if not), keeping the latest by index;
  only elements whose add was invoked before the read completed are updated.

An element is ``:stable`` if seen and last-present is after last-absent; ``:lost`` if known and
last-absent is after both last-present and the known op; else ``:never-read``. Its
stable-latency is ``(last-absent.time + 1, or 0) - known.time`` clamped at 0 in whole ms;
lost-latency likewise from last-present. Stale elements are stable ones with a positive
stable-latency; ``worst-stale`` shows up to 8, highest latency first.

``:valid?`` is false with any lost element, ``:unknown`` with no stable element, else true.
Maelstrom's duplicate detection never fires (its threshold is ``< 1``), so
``:duplicated-count`` is always 0 and ``:duplicated`` ``{}``; glome keeps that quirk.

``check_broadcast`` renames ``:broadcast`` ops to ``:add`` first, as Maelstrom does, so ops
embedded in the result print with ``:f :add``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glome.edn import UNKNOWN, EdnList, Keyword, op_record
from glome.sim.checkers import (
    History,
    Op,
    clj_compare,
    clj_sorted,
    freeze,
    frequency_distribution,
    is_client_op,
    op_index,
)
from glome.sim.options import TestOptions

WORST_STALE_SHOWN = 8

Stamp = tuple[int, Op]
"""An op with its history index: (index, op)."""


class _Element:
    """The state set-full keeps for one element."""

    __slots__ = ("known", "last_absent", "last_present", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.known: Stamp | None = None
        self.last_present: Stamp | None = None
        self.last_absent: Stamp | None = None


def _read_elements(value: Any, index: int) -> set[Any]:
    if value is None:
        return set()
    if not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"read at index {index} returned {value!r}, not a collection of elements")
    # Plain ints (the common case) are their own frozen form; anything else goes through
    # freeze so 1, 1.0 and true stay distinct and lists become hashable. Checking the set of
    # types runs in C, several times faster than a generator over the elements.
    if set(map(type, value)) <= {int}:
        return set(value)
    return {freeze(x) for x in value}


def _track(history: History) -> list[_Element]:
    """Run the per-element state machine over the client ops of ``history``.

    The state lives in three dicts keyed by element (known, last-present, last-absent) so a
    read updates them with set operations and bulk ``dict.update`` calls; per-element Python
    work only happens when a read's invocation is older than one already recorded (reads
    that overlap and complete out of order). 25-node histories stay well under a second.
    """
    values: dict[Any, Any] = {}
    known: dict[Any, Stamp] = {}
    present: dict[Any, Stamp] = {}
    absent: dict[Any, Stamp] = {}
    unknown: set[Any] = set()
    newest = {"present": -1, "absent": -1}  # upper bounds of the indices stored in each dict
    pending: dict[Any, Stamp] = {}

    def mark(store: dict[Any, Stamp], name: str, keys: set[Any], stamp: Stamp) -> None:
        if stamp[0] > newest[name]:
            store.update(dict.fromkeys(keys, stamp))
            newest[name] = stamp[0]
            return
        for key in keys:
            current = store.get(key)
            if current is None or current[0] < stamp[0]:
                store[key] = stamp

    for position, op in enumerate(history):
        if not is_client_op(op):
            continue
        index = op_index(op, position)
        kind = op.get("type")
        invocation: Stamp | None = None
        if kind == "invoke":
            pending[op["process"]] = (index, op)
        else:
            invocation = pending.pop(op["process"], None)
        f = op.get("f")
        if f == "add":
            key = freeze(op.get("value"))
            if kind == "invoke":
                # A re-added element starts over, as Jepsen's (assoc elements v ...) does.
                values[key] = op.get("value")
                for store in (known, present, absent):
                    store.pop(key, None)
                unknown.add(key)
            elif kind == "ok" and key in unknown:
                known[key] = (index, op)
                unknown.discard(key)
        elif f == "read" and kind == "ok":
            if invocation is None:
                raise ValueError(f"ok read at index {index} has no invocation")
            seen = _read_elements(op.get("value"), index)
            seen_keys = seen & values.keys()
            newly_known = unknown & seen_keys
            for key in newly_known:
                known[key] = (index, op)
            unknown -= newly_known
            mark(present, "present", seen_keys, invocation)
            mark(absent, "absent", values.keys() - seen, invocation)

    elements = []
    for key, value in values.items():
        e = _Element(value)
        e.known, e.last_present, e.last_absent = known.get(key), present.get(key), absent.get(key)
        elements.append(e)
    return elements


def _ms(ns: int) -> int:
    """Jepsen's ``(long (nanos->ms (max 0 ns)))``."""
    return max(0, ns) // 1_000_000


def _element_result(e: _Element) -> dict[str, Any]:
    known, present, absent = e.known, e.last_present, e.last_absent
    absent_index = absent[0] if absent is not None else -1
    present_index = present[0] if present is not None else -1
    stable = present is not None and absent_index < present_index
    lost = (
        known is not None
        and absent is not None
        and present_index < absent_index
        and known[0] < absent_index
    )
    stable_latency = lost_latency = None
    if known is not None:
        known_time = int(known[1]["time"])
        if stable:
            stable_time = int(absent[1]["time"]) + 1 if absent is not None else 0
            stable_latency = _ms(stable_time - known_time)
        if lost:
            lost_time = int(present[1]["time"]) + 1 if present is not None else 0
            lost_latency = _ms(lost_time - known_time)
    outcome = "stable" if stable else "lost" if lost else "never-read"
    return {
        "element": e.value,
        "outcome": Keyword(outcome),
        "stable-latency": stable_latency,
        "lost-latency": lost_latency,
        "known": op_record(dict(known[1])) if known is not None else None,
        "last-absent": op_record(dict(absent[1])) if absent is not None else None,
    }


def _elements_of(results: Iterable[dict[str, Any]]) -> EdnList:
    return EdnList(clj_sorted(r["element"] for r in results))


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """set-full over ``:add`` and ``:read`` client ops (g-set's native op names)."""
    tracked = _track(history)
    ordered = sorted(
        tracked, key=lambda e: _CompareKey(e.value)
    )  # Jepsen sorts the element map by element before computing results
    results = [_element_result(e) for e in ordered]
    stable = [r for r in results if r["outcome"] == "stable"]
    lost = [r for r in results if r["outcome"] == "lost"]
    never_read = [r for r in results if r["outcome"] == "never-read"]
    stale = [r for r in stable if r["stable-latency"] > 0]
    # Jepsen: (->> stale (sort-by :stable-latency) reverse (take 8)); the sort is stable, so
    # ties come out in descending element order after the reverse.
    worst = sorted(stale, key=lambda r: r["stable-latency"])
    worst.reverse()

    if lost:
        valid: bool | Keyword = False
    elif not stable:
        valid = UNKNOWN
    else:
        valid = True

    stable_latencies = frequency_distribution(
        r["stable-latency"] for r in results if r["stable-latency"] is not None
    )
    lost_latencies = frequency_distribution(
        r["lost-latency"] for r in results if r["lost-latency"] is not None
    )
    # Key order as Maelstrom's results.edn prints this (hash) map.
    out: dict[str, Any] = {
        "worst-stale": EdnList(worst[:WORST_STALE_SHOWN]),
        "duplicated-count": 0,
        "valid?": valid,
        "lost-count": len(lost),
        "lost": _elements_of(lost),
        "stable-count": len(stable),
        "stale-count": len(stale),
        "stale": _elements_of(stale),
        "never-read-count": len(never_read),
    }
    if stable_latencies is not None:
        out["stable-latencies"] = stable_latencies
    out["attempt-count"] = len(results)
    if lost_latencies is not None:
        out["lost-latencies"] = lost_latencies
    out["never-read"] = _elements_of(never_read)
    out["duplicated"] = {}
    return out


class _CompareKey:
    """Sort key wrapping Clojure ``compare`` (raises TypeError on mixed element types)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _CompareKey) -> bool:
        return clj_compare(self.value, other.value) < 0


def rename_broadcasts(history: History) -> list[Op]:
    """``history`` with every ``:broadcast`` op's ``f`` renamed to ``add`` (others shared)."""
    return [{**op, "f": "add"} if op.get("f") == "broadcast" else op for op in history]


def check_broadcast(
    history: History, opts: TestOptions | None = None, **extra: Any
) -> dict[str, Any]:
    """The broadcast workload's checker: set-full after renaming ``:broadcast`` to ``:add``."""
    return check(rename_broadcasts(history), opts, **extra)
