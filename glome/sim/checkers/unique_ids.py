"""The unique-ids workload's checker: Jepsen's ``unique-ids`` (docs/protocol.md#unique-ids).

Over ``:generate`` ops: ``attempted-count`` invocations, ``acknowledged-count`` ok completions,
``duplicated-count`` distinct ids acknowledged more than once, ``duplicated`` the 48 most
frequent of those as a map sorted by id (id -> times acknowledged), and ``range`` the
[smallest largest] acknowledged id in Clojure ``compare`` order. Ids of mixed types (numbers and
strings) cannot be compared: the checker raises, which the composer reports as
``{:valid? :unknown :error ...}``, as Maelstrom's does.
"""

from __future__ import annotations

from typing import Any

from glome.edn import Str
from glome.sim.checkers import History, clj_compare, clj_sorted, freeze
from glome.sim.options import TestOptions

DUPLICATED_SHOWN = 48


def _key(value: Any) -> Any:
    """Ids as map keys: strings stay strings in EDN (never keywords)."""
    return Str(value) if isinstance(value, str) else value


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Duplicate and range analysis of acknowledged ids."""
    generates = [op for op in history if op.get("f") == "generate"]
    attempted = sum(1 for op in generates if op.get("type") == "invoke")
    acks = [op.get("value") for op in generates if op.get("type") == "ok"]

    counts: dict[Any, int] = {}
    originals: dict[Any, Any] = {}
    for value in acks:
        frozen = freeze(value)
        counts[frozen] = counts.get(frozen, 0) + 1
        originals.setdefault(frozen, value)
    dup_ids = clj_sorted(originals[k] for k, n in counts.items() if n > 1)
    dups = [(v, counts[freeze(v)]) for v in dup_ids]
    # Jepsen: sort the (id-sorted) duplicates by count, reverse, take 48, re-sort by id.
    by_count = sorted(dups, key=lambda pair: pair[1])
    by_count.reverse()
    shown = by_count[:DUPLICATED_SHOWN]
    shown_ids = clj_sorted(v for v, _ in shown)
    shown_count = {freeze(v): n for v, n in shown}

    lowest = highest = acks[0] if acks else None
    for value in acks:
        if clj_compare(value, lowest) < 0:
            lowest = value
        elif clj_compare(highest, value) < 0:
            highest = value

    return {
        "valid?": not dup_ids,
        "attempted-count": attempted,
        "acknowledged-count": len(acks),
        "duplicated-count": len(dup_ids),
        "duplicated": {_key(v): shown_count[freeze(v)] for v in shown_ids},
        "range": [lowest, highest],
    }
