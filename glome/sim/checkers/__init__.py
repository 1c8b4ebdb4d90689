"""Checkers: pure functions from a history to a result map shaped like Maelstrom's.

Every checker has the signature ``check(history, opts=None, **extra) -> dict`` (see
``docs/design.md``). Results use Maelstrom's key spelling (``"valid?"``, ``"lost-count"``) and,
written with ``glome.edn.dumps``, have the same keys and shapes as the real ``results.edn``.

This module holds the small helpers the checkers share:

- ``merge_valid``: combine validities as Jepsen does (false beats unknown beats true);
- ``jfloat``: round a ratio the way Clojure's ``(float x)`` prints (single precision);
- ``clj_compare`` / ``clj_sorted``: Clojure's ``compare`` order (vectors by length first,
  mixed types raise ``TypeError`` as Clojure's ``ClassCastException`` would);
- ``frequency_distribution``: Jepsen's quantile map ``{0 .. 0.5 .. 0.95 .. 0.99 .. 1 ..}``;
- ``client_ops`` / ``invocations``: history views every checker needs;
- ``workload_checker``: the workload checker for a workload name.

The top-level runner entry point is ``glome.sim.checkers.compose.check``.
"""

from __future__ import annotations

import functools
import importlib
import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from glome.edn import UNKNOWN, Keyword

Op = Mapping[str, Any]
History = Sequence[Op]
Checker = Callable[..., dict[str, Any]]

QUANTILE_POINTS: tuple[int | float, ...] = (0, 0.5, 0.95, 0.99, 1)
"""The quantiles Jepsen's set-full (and glome's perf extra) report, in Jepsen's order."""


def merge_valid(values: Iterable[Any]) -> bool | Keyword:
    """Combine validities: any ``False`` wins, then any non-boolean (``:unknown``), else True.

    An empty sequence is valid, as Jepsen's ``merge-valid`` of nothing is.
    """
    result: bool | Keyword = True
    for v in values:
        if v is False:
            return False
        if v is not True:
            result = UNKNOWN
    return result


def jfloat(x: float) -> float:
    """``x`` rounded to single precision and printed as Java's ``Float.toString`` would.

    Maelstrom computes ratios with ``(float ...)``, so results.edn shows ``7.129353`` rather
    than ``7.129353233830846``. The returned Python float is the shortest decimal that rounds
    back to the same float32, so ``repr`` (and ``glome.edn.dumps``) print those digits.
    """
    if math.isnan(x) or math.isinf(x):
        return x
    single = struct.unpack("f", struct.pack("f", x))[0]
    for digits in range(1, 10):
        candidate = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == single:
            return candidate
    return float(single)


def _type_rank(x: Any) -> str:
    if x is None:
        return "nil"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int | float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list | tuple):
        return "vector"
    return type(x).__name__


def clj_compare(a: Any, b: Any) -> int:
    """Clojure's ``compare``: nil first, numbers numerically, strings, booleans, and vectors
    by length then element-wise. Anything else (or two different kinds) raises TypeError."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    ka, kb = _type_rank(a), _type_rank(b)
    if ka != kb:
        raise TypeError(f"cannot compare {a!r} ({ka}) with {b!r} ({kb})")
    if ka == "vector":
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        for x, y in zip(a, b, strict=True):
            c = clj_compare(x, y)
            if c:
                return c
        return 0
    if ka in ("number", "string", "bool"):
        return (a > b) - (a < b)
    raise TypeError(f"cannot compare values of type {ka}: {a!r}")


def clj_sorted(values: Iterable[Any]) -> list[Any]:
    """``values`` sorted in Clojure ``compare`` order (stable)."""
    return sorted(values, key=functools.cmp_to_key(clj_compare))


def freeze(value: Any) -> Any:
    """A hashable stand-in for a JSON-like value (lists become tuples, dicts sorted items).

    Booleans and floats are tagged so that, as in Clojure, ``1``, ``1.0`` and ``true`` stay
    three different values.
    """
    if isinstance(value, bool):
        return ("__bool__", value)
    if isinstance(value, float):
        return ("__float__", value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return ("__map__", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, set | frozenset):
        return ("__set__", frozenset(freeze(v) for v in value))
    return value


def frequency_distribution(
    values: Iterable[int | float], points: Sequence[int | float] = QUANTILE_POINTS
) -> dict[int | float, int | float] | None:
    """Jepsen's quantile map: for each point q, the sorted value at min(n-1, floor(n*q)).

    Returns None for no values (Jepsen then leaves the key out).
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    return {q: ordered[min(n - 1, math.floor(n * q))] for q in sorted(points)}


def is_client_op(op: Op) -> bool:
    """Client ops have an integer process; the nemesis (and anything else) does not."""
    p = op.get("process")
    return isinstance(p, int) and not isinstance(p, bool)


def client_ops(history: Iterable[Op]) -> list[Op]:
    """Jepsen's ``h/client-ops``: the ops of integer processes, in history order."""
    return [op for op in history if is_client_op(op)]


def op_index(op: Op, position: int) -> int:
    """The op's ``index`` field, or its position when a history was built without indices."""
    index = op.get("index")
    return index if isinstance(index, int) else position


def invocations(history: Sequence[Op]) -> dict[int, Op]:
    """Map each completion's position in ``history`` to its invocation (same process).

    Processes are single-threaded, so a completion belongs to the process's latest
    unmatched invocation. Completions without an invocation are left out.
    """
    pending: dict[Any, Op] = {}
    out: dict[int, Op] = {}
    for position, op in enumerate(history):
        process = op.get("process")
        if op.get("type") == "invoke":
            pending[process] = op
        elif process in pending:
            out[position] = pending.pop(process)
    return out


def pairs(history: Sequence[Op]) -> list[tuple[Op, Op | None]]:
    """Client (invoke, completion) pairs in invocation order; completion None if never done."""
    pending: dict[Any, int] = {}
    result: list[list[Any]] = []
    for op in history:
        if not is_client_op(op):
            continue
        process = op["process"]
        if op.get("type") == "invoke":
            pending[process] = len(result)
            result.append([op, None])
        elif process in pending:
            result[pending.pop(process)][1] = op
    return [(inv, done) for inv, done in result]


_WORKLOAD_CHECKERS: dict[str, str] = {
    "echo": "glome.sim.checkers.echo:check",
    "unique-ids": "glome.sim.checkers.unique_ids:check",
    "broadcast": "glome.sim.checkers.set_full:check_broadcast",
    "g-set": "glome.sim.checkers.set_full:check",
    "g-counter": "glome.sim.checkers.counter:check",
    "pn-counter": "glome.sim.checkers.counter:check",
    "lin-kv": "glome.sim.checkers.linearizable:check",
}


def workload_checker(workload: str) -> Checker:
    """The ``:workload`` checker for one of glome's workloads (echo ... pn-counter)."""
    try:
        target = _WORKLOAD_CHECKERS[workload]
    except KeyError:
        known = ", ".join(sorted(_WORKLOAD_CHECKERS))
        message = f"no checker registered for workload {workload!r} (known: {known})"
        raise KeyError(message) from None
    module_name, _, attr = target.partition(":")
    checker: Checker = getattr(importlib.import_module(module_name), attr)
    return checker
