"""The g-counter and pn-counter checker (docs/protocol.md#g-counter-and-pn-counter).

The definite value is the sum of the ``:ok`` add deltas. Each ``:info`` add (it may or may not
have happened) widens the acceptable set: acceptable = acceptable | (acceptable + delta),
applied once per info add in history order. Failed adds never happened. Only **final**
(``final?``) ok reads are checked, and each must be in the acceptable set; intermediate reads
are ignored. Acceptable values are reported as inclusive ``[lo hi]`` ranges of integers.

Result: ``{:valid? b, :errors (<final read ops out of range>) or nil, :final-reads (v ...),
:acceptable ([lo hi] ...)}``. With no successful final read, ``:final-reads ()`` and valid.
"""

from __future__ import annotations

from typing import Any

from glome.edn import EdnList, op_record
from glome.sim.checkers import History
from glome.sim.options import TestOptions

Range = tuple[int, int]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _normalise(ranges: list[Range]) -> list[Range]:
    """Sorted, disjoint, non-adjacent inclusive integer ranges covering the same integers."""
    merged: list[Range] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def acceptable_ranges(history: History) -> list[Range]:
    """The acceptable final values as inclusive integer ranges."""
    adds = [op for op in history if op.get("f") == "add"]
    for op in adds:
        if op.get("type") in ("ok", "info") and not _is_int(op.get("value")):
            raise ValueError(f"add at index {op.get('index')} has non-integer delta {op!r}")
    definite = sum(op["value"] for op in adds if op.get("type") == "ok")
    ranges = [(definite, definite)]
    for op in adds:
        if op.get("type") == "info":
            delta = op["value"]
            ranges = _normalise(ranges + [(lo + delta, hi + delta) for lo, hi in ranges])
    return ranges


def _contains(ranges: list[Range], value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Check every final ok read against the acceptable ranges."""
    ranges = acceptable_ranges(history)
    reads = [op for op in history if op.get("final?") and op.get("type") == "ok"]
    for op in reads:
        if not _is_int(op.get("value")):
            raise ValueError(f"final read at index {op.get('index')} is not an integer: {op!r}")
    errors = [op for op in reads if not _contains(ranges, op["value"])]
    return {
        "valid?": not errors,
        "errors": EdnList(op_record(dict(op)) for op in errors) if errors else None,
        "final-reads": EdnList(op["value"] for op in reads),
        "acceptable": EdnList([lo, hi] for lo, hi in ranges),
    }
