"""lin-kv's checker: per key, linearizability of a compare-and-set register.

Maelstrom checks lin-kv with Jepsen's ``independent`` checker around Knossos: the history's
``[k v]`` values are split by key, and each key's sub-history must be linearizable against a
CAS register whose initial value is nil. The result::

    {:valid? b
     :results {k {:linearizable {...} :timeline {:valid? true} :valid? b} ...}
     :failures [k ...]}

The parts, each a module of one job:

- ``cas_register``: the register model (Knossos's ``CASRegister``) and a key's history as
  ops with call/return entries;
- ``wgl``: the decision, Wing & Gong's search with Lowe's cache, bounded in steps and time
  (past the bound the key is ``:unknown`` with a ``:cause``);
- ``knossos_report``: on an invalid key, Knossos's explanation: ``:op``, ``:previous-ok``,
  ``:last-op``, ``:configs`` and distinct ``:final-paths``.

Keys are checked separately (P-compositionality: a history is linearizable iff each key's is),
within ``total_time_limit`` for all keys together.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from glome.edn import UNKNOWN, EdnList
from glome.sim.checkers import clj_sorted, freeze, is_client_op, merge_valid
from glome.sim.checkers.cas_register import (
    CAS,
    READ,
    WRITE,
    RegisterOp,
    clj_str,
    inconsistency,
    model,
    raw_values,
    register_ops,
    step,
)
from glome.sim.checkers.knossos_report import (
    MAX_CONFIGS,
    REPORT_LIMIT,
    Config,
    explain,
    failure,
    final_paths,
    knossos_op,
)
from glome.sim.checkers.wgl import MAX_STEPS, TIME_LIMIT, Search, gc_paused, wgl
from glome.sim.options import TestOptions

__all__ = [
    "CAS",
    "MAX_CONFIGS",
    "MAX_STEPS",
    "READ",
    "REPORT_LIMIT",
    "TIME_LIMIT",
    "TOTAL_TIME_LIMIT",
    "WRITE",
    "Config",
    "RegisterOp",
    "Search",
    "check",
    "check_register",
    "clj_str",
    "explain",
    "final_paths",
    "inconsistency",
    "knossos_op",
    "model",
    "raw_values",
    "register_ops",
    "split_by_key",
    "step",
    "wgl",
]

TOTAL_TIME_LIMIT = 120.0
"""Seconds for all keys together; keys left when it runs out are ``:unknown``."""


def split_by_key(history: Sequence[Mapping[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    """Jepsen's ``independent`` split: per key, the client ops with the key stripped.

    A completion goes to its invocation's key (processes are single-threaded). Keys are
    returned in Clojure sort order; ops keep their original ``index`` and ``time``.
    """
    pending: dict[Any, Any] = {}
    by_key: dict[Any, list[dict[str, Any]]] = {}
    originals: dict[Any, Any] = {}
    for op in history:
        if not is_client_op(op):
            continue
        value = op.get("value")
        if op.get("type") == "invoke":
            if not (isinstance(value, list | tuple) and len(value) == 2):
                raise ValueError(f"lin-kv op value must be a [key value] tuple: {dict(op)!r}")
            key = freeze(value[0])
            originals.setdefault(key, value[0])
            pending[op["process"]] = key
            inner = value[1]
        else:
            key = pending.pop(op.get("process"), None)
            if key is None:
                continue  # a completion without an invocation: nothing to check it against
            inner = value[1] if isinstance(value, list | tuple) and len(value) == 2 else None
        by_key.setdefault(key, []).append({**op, "value": inner})
    ordered = clj_sorted(originals[k] for k in by_key)
    return {k: by_key[freeze(k)] for k in ordered}


def check_register(
    history: Sequence[Mapping[str, Any]],
    *,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
    max_configs: int = MAX_CONFIGS,
) -> dict[str, Any]:
    """Knossos-shaped ``:linearizable`` result for one key's history (values without key).

    ``max_configs`` bounds the explanation of an invalid history; past it the report shows
    the configuration the search got stuck in instead of every configuration."""
    ops, entries = register_ops(history)
    with gc_paused():
        found = wgl(ops, entries, max_steps=max_steps, time_limit=time_limit)
    raw = raw_values(ops)
    if found.valid is True:
        done = set(found.order)
        last = knossos_op(ops[found.order[-1]], "complete") if found.order else None
        open_ops = [o for o in ops if o.complete is None and o.id not in done]
        return {
            "valid?": True,
            "configs": EdnList(
                [
                    {
                        "model": model(raw.get(found.state)),
                        "last-op": last,
                        "pending": [knossos_op(o, "invoke") for o in open_ops],
                    }
                ]
            ),
            "final-paths": EdnList(),
        }
    if found.valid is not False:
        return {"valid?": UNKNOWN, "cause": found.cause}
    with gc_paused():
        details = explain(ops, entries, max_configs=max_configs, max_steps=max_steps)
    if details is not None:
        return details
    # The explanation gave up: report the configuration the search got stuck in.
    assert found.failed_op is not None
    return failure(
        ops, [stuck_config(found, entries)], found.failed_op, previous_ok_of(found, entries)
    )


def stuck_config(found: Search, entries: Sequence[int]) -> Config:
    """The configuration in which ``wgl`` could not get past its failed op's return: the
    register after its deepest partial linearization, with every op called before that
    return and not linearized still pending."""
    assert found.failed_op is not None
    returned_at = entries.index(2 * found.failed_op + 1)
    linearized = set(found.order)
    pending = 0
    for e in entries[:returned_at]:
        if not e & 1 and e >> 1 not in linearized:
            pending |= 1 << (e >> 1)
    return Config(found.state, pending, found.order[-1] if found.order else -1)


def previous_ok_of(found: Search, entries: Sequence[int]) -> int | None:
    """The op of the last return before the failed op's."""
    assert found.failed_op is not None
    returned_at = entries.index(2 * found.failed_op + 1)
    earlier = [e >> 1 for e in entries[:returned_at] if e & 1]
    return earlier[-1] if earlier else None


def check(
    history: Sequence[Mapping[str, Any]],
    opts: TestOptions | None = None,
    *,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
    total_time_limit: float = TOTAL_TIME_LIMIT,
    **extra: Any,
) -> dict[str, Any]:
    """The lin-kv ``:workload`` result: ``independent`` over per-key linearizability.

    Pure: Maelstrom's ``independent/<k>/`` files are written by the lin-kv workload
    (``glome.sim.workloads.lin_kv.write_independent``) from this result. ``extra`` keywords
    (such as the runner's ``store_dir``) are accepted and ignored.
    """
    results: dict[Any, Any] = {}
    per_key = split_by_key(history)
    deadline = time.monotonic() + total_time_limit
    for key, ops in per_key.items():
        left = deadline - time.monotonic()
        if left > 0:
            lin = check_register(ops, max_steps=max_steps, time_limit=min(time_limit, left))
        else:
            cause = f"the checker's {total_time_limit:g} s budget for all keys ran out"
            lin = {"valid?": UNKNOWN, "cause": cause}
        results[key] = {
            "linearizable": lin,
            "timeline": {"valid?": True},
            "valid?": merge_valid([lin["valid?"], True]),
        }
    failures = [k for k, r in results.items() if r["valid?"] is False]
    return {
        "valid?": merge_valid(r["valid?"] for r in results.values()),
        "results": results,
        "failures": failures,
    }
