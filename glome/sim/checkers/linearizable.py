"""lin-kv's checker: per key, linearizability of a compare-and-set register (spec 4.6).

Maelstrom checks lin-kv with Jepsen's ``independent`` checker around Knossos: the history's
``[k v]`` values are split by key, and each key's sub-history must be linearizable against a
CAS register whose initial value is nil. The result::

    {:valid? b
     :results {k {:linearizable {...} :timeline {:valid? true} :valid? b} ...}
     :failures [k ...]}

How each key is decided
-----------------------
The decision is the Wing-Gong-Lowe search (``wgl``): walk the history's call/return entries,
linearize any op whose call comes before the first pending return, backtrack when a return is
reached whose op was not linearized. A cache of (linearized set, register value) pairs stops
the search from exploring the same configuration twice (Lowe's memoisation); the linearized set
is keyed by the first pending return and the calls still before it, so a key is as large as
the ops in flight, not the history. Keys are checked separately (P-compositionality: a history
is linearizable iff each key's is).

- ``:ok`` ops must take effect between their invocation and completion;
- ``:info`` ops (and invocations never completed) may take effect at any time after their
  invocation, or never: they have no return entry;
- ``:fail`` ops certainly did not happen and are left out; so are ``:info`` reads (they
  cannot change the register).

The search is bounded (``max_steps`` and ``time_limit`` per key, ``total_time_limit`` for
all keys); past the bound the key is ``:valid? :unknown`` with a ``:cause``, rather than
hanging. The search is exponential in the open ops at worst: a history that fails only at its
very end, after many ``:info`` writes, may come out ``:unknown`` (Knossos has the same limit).

The model follows Knossos's ``CASRegister``: a write sets the value; a cas ``[from to]``
succeeds only if the value equals ``from``; a read of ``v`` is consistent if the value equals
``v`` or if ``v`` is nil. Values compare as Clojure's ``=`` on parsed JSON (``4`` and ``"4"``
differ, ``1`` and ``1.0`` differ).

How a failure is explained
--------------------------
When a key is not linearizable, ``explain`` re-runs the history as Knossos's ``linear``
analysis does: it keeps the set of configurations (register value, ops still pending, last op
linearized) and, at each ``:ok`` completion, linearizes that op after any subset of the pending
ones. The first completion with no surviving configuration is ``:op``; the report also has
``:previous-ok`` (the ``:ok`` completion before it), ``:last-op``, ``:configs`` (at most 10,
with ``#knossos.model.CASRegister{:value v}`` models) and ``:final-paths`` (at most 10, each
ending in ``#knossos.model.Inconsistent{:msg ...}``). Ops inside are plain maps
``{:process :type :f :value :index :time}`` with the key stripped from the value, as Knossos
prints them.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glome.edn import UNKNOWN, EdnList, Keyword, Tagged
from glome.sim.checkers import clj_sorted, freeze, is_client_op, merge_valid
from glome.sim.options import TestOptions

MAX_STEPS = 2_000_000
"""Search steps per key before the key is reported ``:unknown`` (about 10 s of Python)."""
TIME_LIMIT = 30.0
"""Seconds of search per key before the key is reported ``:unknown`` (a safety net)."""
TOTAL_TIME_LIMIT = 120.0
"""Seconds for all keys together; keys left when it runs out are ``:unknown``."""
MAX_CONFIGS = 20_000
"""Configurations the explanation may hold at once before it stops (the verdict stands)."""
REPORT_LIMIT = 10
"""Configs and final paths shown in an invalid result, as Knossos trims them."""

READ, WRITE, CAS = 0, 1, 2
_KINDS = {"read": READ, "write": WRITE, "cas": CAS}


@dataclass
class RegisterOp:
    """One op on one key: its invocation, its completion (None if open) and its arguments."""

    id: int
    kind: int
    f: str
    value: Any
    """The op's value without the key: read's observed value, write's value, cas' [from to]."""
    invoke: Mapping[str, Any]
    complete: Mapping[str, Any] | None
    """The ``:ok`` completion, or None for ``:info`` and never-completed ops."""
    arg: Any = None
    """Frozen read/write value, or frozen ``from`` for cas."""
    to: Any = None
    """Frozen cas ``to``."""


# ------------------------------------------------------------------------------ the model
def clj_str(v: Any) -> str:
    """Clojure's ``str`` of a JSON-like value, for Knossos's inconsistency messages."""
    if v is None:
        return ""
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, list | tuple):
        return "[" + " ".join(_clj_pr(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_clj_pr(k)} {_clj_pr(x)}" for k, x in v.items()) + "}"
    return str(v)


def _clj_pr(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, str):
        return '"' + v + '"'
    return clj_str(v)


def step(state: Any, op: RegisterOp) -> tuple[bool, Any]:
    """Apply ``op`` to the frozen register value ``state``: (consistent?, new frozen value)."""
    if op.kind == WRITE:
        return True, op.arg
    if op.kind == CAS:
        return (True, op.to) if op.arg == state else (False, state)
    return (op.arg is None or op.arg == state), state


def inconsistency(raw_state: Any, op: RegisterOp) -> str:
    """Knossos's message for an op that cannot be applied to the register."""
    if op.kind == CAS:
        a, b = op.value
        return f"can't CAS {clj_str(raw_state)} from {clj_str(a)} to {clj_str(b)}"
    return f"can't read {clj_str(op.value)} from register {clj_str(raw_state)}"


def raw_values(ops: Sequence[RegisterOp]) -> dict[Any, Any]:
    """Frozen register value -> the value as the history wrote it (for reports)."""
    raw: dict[Any, Any] = {None: None}
    for op in ops:
        if op.kind == WRITE:
            raw.setdefault(op.arg, op.value)
        elif op.kind == CAS:
            raw.setdefault(op.to, op.value[1])
    return raw


def model(raw_state: Any) -> Tagged:
    return Tagged("knossos.model.CASRegister", {"value": raw_state})


# -------------------------------------------------------------------------- the history
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


def register_ops(history: Sequence[Mapping[str, Any]]) -> tuple[list[RegisterOp], list[int]]:
    """The ops to check and the call/return entries in history order.

    Entries are ``2 * id`` for op ``id``'s call and ``2 * id + 1`` for its return (ok ops
    only). Failed ops and ``:info`` reads are dropped (they cannot have changed the register).
    """
    invokes: dict[Any, Mapping[str, Any]] = {}
    completions: dict[int, Mapping[str, Any] | None] = {}
    order: list[Mapping[str, Any]] = []
    for op in history:
        if not is_client_op(op):
            continue
        if op.get("type") == "invoke":
            invokes[op["process"]] = op
            completions[id(op)] = None
            order.append(op)
        else:
            inv = invokes.pop(op["process"], None)
            if inv is not None:
                completions[id(inv)] = op
    ops: list[RegisterOp] = []
    call_of: dict[int, int] = {}
    done_of: dict[int, int] = {}
    for inv in order:
        done = completions[id(inv)]
        ctype = done.get("type") if done is not None else "info"
        f = str(inv.get("f"))
        if f not in _KINDS:
            raise ValueError(f"lin-kv op with unknown :f {f!r}: {dict(inv)!r}")
        kind = _KINDS[f]
        if ctype == "fail" or (kind == READ and ctype != "ok"):
            continue
        if ctype not in ("ok", "info"):
            raise ValueError(f"op completion has unknown type {ctype!r}: {dict(done or {})!r}")
        value = done.get("value") if (done is not None and kind == READ) else inv.get("value")
        rop = RegisterOp(len(ops), kind, f, value, inv, done if ctype == "ok" else None)
        if kind == CAS:
            if not (isinstance(value, list | tuple) and len(value) == 2):
                raise ValueError(f"cas value must be [from to]: {dict(inv)!r}")
            rop.arg, rop.to = freeze(value[0]), freeze(value[1])
        else:
            rop.arg = freeze(value)
        call_of[id(inv)] = rop.id
        if rop.complete is not None:
            done_of[id(rop.complete)] = rop.id
        ops.append(rop)
    entries: list[int] = []
    for h in history:
        if id(h) in call_of:
            entries.append(2 * call_of[id(h)])
        elif id(h) in done_of:
            entries.append(2 * done_of[id(h)] + 1)
    return ops, entries


# ---------------------------------------------------------------------------- the search
@dataclass
class Search:
    """The outcome of ``wgl``: valid (True/False/UNKNOWN) and what it found."""

    valid: Any
    order: list[int]
    """Valid: a linearization (op ids). Invalid: the deepest partial one found."""
    state: Any
    """The frozen register value after ``order``."""
    failed_op: int | None = None
    """Invalid: the op whose return the search could not get past, latest in the history."""
    steps: int = 0
    cache_size: int = 0
    cause: str = ""


def wgl(
    ops: Sequence[RegisterOp],
    entries: Sequence[int],
    *,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
) -> Search:
    """Wing & Gong's linearizability search with Lowe's cache of configurations."""
    n = len(entries)
    end = n + 1
    # a doubly linked list over positions 1..n (0 is the head sentinel, n + 1 the tail)
    nxt = [*range(1, n + 2), end]
    prv = [0, *range(0, n + 1)]
    entry = [0, *entries, 0]
    ret_pos: dict[int, int] = {}
    for pos in range(1, n + 1):
        if entry[pos] & 1:
            ret_pos[entry[pos] >> 1] = pos
    ret_of = [0] * (n + 2)  # call position -> its return's position (0: open op)
    for pos in range(1, n + 1):
        if not entry[pos] & 1:
            ret_of[pos] = ret_pos.get(entry[pos] >> 1, 0)

    returns_left = [len(ret_pos)]  # completed ops not linearized yet
    # Open ops that are alike (same f and arguments) are interchangeable, and the earlier
    # called one can stand in for a later one anywhere, so they are linearized in call order:
    # an open op waits for its previous twin. This prunes 2^k subsets of k twins to k + 1.
    twin_before = [0] * (n + 2)
    last_twin: dict[tuple[int, Any, Any], int] = {}
    for pos in range(1, n + 1):
        e = entry[pos]
        if not e & 1 and not ret_of[pos]:
            op = ops[e >> 1]
            likeness = (op.kind, op.arg, op.to)
            twin_before[pos] = last_twin.get(likeness, 0)
            last_twin[likeness] = pos
    in_list = [True] * (n + 2)

    def lift(pos: int) -> None:
        in_list[pos] = False
        nxt[prv[pos]] = nxt[pos]
        prv[nxt[pos]] = prv[pos]
        r = ret_of[pos]
        if r:
            nxt[prv[r]] = nxt[r]
            prv[nxt[r]] = prv[r]
            returns_left[0] -= 1

    def unlift(pos: int) -> None:
        r = ret_of[pos]
        if r:
            prv[nxt[r]] = r
            nxt[prv[r]] = r
            returns_left[0] += 1
        prv[nxt[pos]] = pos
        nxt[prv[pos]] = pos
        in_list[pos] = True

    def frontier() -> tuple[int, tuple[int, ...]]:
        """The first return entry left and the calls before it: together they determine the
        linearized set (every op returning earlier is linearized, no op called later is, and
        an op called earlier is linearized iff its call is gone), in a key whose size is the
        number of ops in flight rather than the history's length."""
        calls = []
        p = nxt[0]
        while p != end and not entry[p] & 1:
            calls.append(p)
            p = nxt[p]
        return p, tuple(calls)

    state: Any = None
    cache: set[tuple[int, tuple[int, ...], Any]] = set()
    stack: list[tuple[int, Any]] = []
    best: tuple[int, list[int], Any, int] = (-1, [], None, -1)
    pos = nxt[0]
    steps = 0
    deadline = time.monotonic() + time_limit
    while True:
        if not returns_left[0]:  # every completed op is linearized; open ops need not be
            order = [entry[p] >> 1 for p, _ in stack]
            return Search(True, order, state, steps=steps, cache_size=len(cache))
        steps += 1
        if steps > max_steps or (steps & 0xFFFF == 0 and time.monotonic() > deadline):
            why = "step" if steps > max_steps else "time"
            return Search(
                UNKNOWN,
                [entry[p] >> 1 for p, _ in stack],
                state,
                steps=steps,
                cache_size=len(cache),
                cause=f"linearizability search exceeded its {why} budget "
                f"({steps - 1} steps, {len(cache)} configurations cached)",
            )
        e = entry[pos]
        if not e & 1:  # a call: try to linearize its op here
            twin = twin_before[pos]
            ok, new_state = (False, state) if twin and in_list[twin] else step(state, ops[e >> 1])
            if ok:
                lift(pos)
                r, calls = frontier()
                key = (r, calls, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((pos, state))
                    state = new_state
                    pos = calls[0] if calls else r
                    continue
                unlift(pos)
            pos = nxt[pos]
            continue
        # a return whose op is not linearized yet: backtrack
        if pos > best[0]:
            best = (pos, [entry[p] >> 1 for p, _ in stack], state, e >> 1)
        if not stack:
            return Search(False, best[1], best[2], best[3], steps=steps, cache_size=len(cache))
        top, state = stack.pop()
        unlift(top)
        pos = nxt[top]


# ----------------------------------------------------------------------- the explanation
def knossos_op(op: RegisterOp, which: str) -> dict[str, Any]:
    """An op as Knossos prints it: ``which`` is "invoke" or "complete"."""
    src = op.invoke if which == "invoke" or op.complete is None else op.complete
    return {
        "process": src.get("process"),
        "type": Keyword(str(src.get("type"))),
        "f": Keyword(op.f),
        "value": op.value,
        "index": src.get("index"),
        "time": src.get("time"),
    }


@dataclass(frozen=True)
class Config:
    state: Any
    pending: int
    """Bitset of ops invoked and not yet linearized."""
    last: int
    """The last op linearized, -1 for none."""


def explain(
    ops: Sequence[RegisterOp],
    entries: Sequence[int],
    max_configs: int = MAX_CONFIGS,
    max_steps: int = MAX_STEPS,
) -> dict[str, Any] | None:
    """Knossos-style details of the first op that cannot be linearized, or None if the
    configuration set grew past ``max_configs``, the work past ``max_steps`` model steps, or
    no op failed."""
    raw = raw_values(ops)
    configs: dict[tuple[Any, int], Config] = {(None, 0): Config(None, 0, -1)}
    previous_ok: int | None = None
    budget = [max_steps]
    for e in entries:
        op_id = e >> 1
        if not e & 1:
            bit = 1 << op_id
            budget[0] -= len(configs)
            if budget[0] < 0:
                return None
            configs = {
                (c.state, c.pending | bit): Config(c.state, c.pending | bit, c.last)
                for c in configs.values()
            }
            continue
        survivors = _linearize(ops, configs, op_id, max_configs, budget)
        if survivors is None:
            return None
        if not survivors:
            return _failure(ops, list(configs.values()), op_id, previous_ok, raw)
        configs = survivors
        previous_ok = op_id
    return None


def _linearize(
    ops: Sequence[RegisterOp],
    configs: dict[tuple[Any, int], Config],
    target: int,
    limit: int,
    budget: list[int],
) -> dict[tuple[Any, int], Config] | None:
    """Every config in which ``target`` is linearized, possibly after other pending ops
    (None past ``limit`` configs or when ``budget[0]`` model steps are used up)."""
    bit = 1 << target
    out: dict[tuple[Any, int], Config] = {}
    seen: set[tuple[Any, int]] = set()
    frontier = []
    for key, c in configs.items():
        if not c.pending & bit:
            out[key] = c
        elif key not in seen:
            seen.add(key)
            frontier.append(c)
    while frontier:
        c = frontier.pop()
        rest = c.pending
        while rest:
            low = rest & -rest
            rest ^= low
            j = low.bit_length() - 1
            budget[0] -= 1
            ok, new_state = step(c.state, ops[j])
            if not ok:
                continue
            nc = Config(new_state, c.pending & ~low, j)
            key = (nc.state, nc.pending)
            if j == target:
                out.setdefault(key, nc)
            elif key not in seen:
                seen.add(key)
                frontier.append(nc)
        if len(seen) + len(out) > limit or budget[0] < 0:
            return None
    return out


def _process_order(process: Any) -> tuple[int, int]:
    return (0, process) if isinstance(process, int) else (1, 0)


def _failure(
    ops: Sequence[RegisterOp],
    configs: list[Config],
    op_id: int,
    previous_ok: int | None,
    raw: Mapping[Any, Any],
) -> dict[str, Any]:
    op = ops[op_id]
    shown = sorted(configs, key=lambda c: (-1 if c.last < 0 else ops[c.last].id, c.pending))
    shown = shown[:REPORT_LIMIT]
    report_configs = []
    paths = []
    for c in shown:
        pending = [ops[j] for j in range(len(ops)) if c.pending >> j & 1]
        pending.sort(key=lambda o: (_process_order(o.invoke.get("process")), o.id))
        last = knossos_op(ops[c.last], "complete") if c.last >= 0 else None
        report_configs.append(
            {
                "model": model(raw.get(c.state)),
                "last-op": last,
                "pending": [knossos_op(p, "invoke") for p in pending],
            }
        )
        path = []
        if last is not None:
            path.append({"op": last, "model": model(raw.get(c.state))})
        msg = inconsistency(raw.get(c.state), op)
        path.append(
            {
                "op": knossos_op(op, "complete"),
                "model": Tagged("knossos.model.Inconsistent", {"msg": msg}),
            }
        )
        paths.append(path)
    first_last = shown[0].last if shown else -1
    return {
        "valid?": False,
        "configs": EdnList(report_configs),
        "final-paths": EdnList(paths),
        "previous-ok": knossos_op(ops[previous_ok], "complete")
        if previous_ok is not None
        else None,
        "last-op": knossos_op(ops[first_last], "complete") if first_last >= 0 else None,
        "op": knossos_op(op, "complete"),
    }


# ------------------------------------------------------------------------------ checkers
@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a search: the searches allocate many small
    containers and free none until the end, so the collector would rescan a growing heap
    again and again for nothing (it made the search several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_register(
    history: Sequence[Mapping[str, Any]],
    *,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
) -> dict[str, Any]:
    """Knossos-shaped ``:linearizable`` result for one key's history (values without key)."""
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
        details = explain(ops, entries, max_steps=max_steps)
    if details is not None:
        return details
    # the explanation gave up: report what the search itself found
    assert found.failed_op is not None
    last_id = found.order[-1] if found.order else None
    bad = ops[found.failed_op]
    return {
        "valid?": False,
        "configs": EdnList(
            [
                {
                    "model": model(raw.get(found.state)),
                    "last-op": knossos_op(ops[last_id], "complete")
                    if last_id is not None
                    else None,
                    "pending": [],
                }
            ]
        ),
        "final-paths": EdnList(),
        "last-op": knossos_op(ops[last_id], "complete") if last_id is not None else None,
        "op": knossos_op(bad, "complete"),
    }


def check(
    history: Sequence[Mapping[str, Any]],
    opts: TestOptions | None = None,
    *,
    store_dir: str | Path | None = None,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
    total_time_limit: float = TOTAL_TIME_LIMIT,
    **extra: Any,
) -> dict[str, Any]:
    """The lin-kv ``:workload`` result: ``independent`` over per-key linearizability.

    With ``store_dir``, writes ``independent/<k>/results.edn`` and ``history.edn`` there as
    Maelstrom does (no ``timeline.html`` or ``linear.svg``).
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
    if store_dir is not None:
        write_independent(Path(store_dir), per_key, results)
    failures = [k for k, r in results.items() if r["valid?"] is False]
    return {
        "valid?": merge_valid(r["valid?"] for r in results.values()),
        "results": results,
        "failures": failures,
    }


def write_independent(
    store_dir: Path, per_key: Mapping[Any, list[dict[str, Any]]], results: Mapping[Any, Any]
) -> None:
    """``independent/<k>/results.edn`` and ``history.edn`` for each key."""
    from glome.edn import dumps, op_map
    from glome.sim.store import pretty_results

    for key, ops in per_key.items():
        directory = store_dir / "independent" / clj_str(key)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "results.edn").write_text(pretty_results(results[key]), encoding="utf-8")
        lines = [dumps(op_map(op)) + "\n" for op in ops]
        (directory / "history.edn").write_text("".join(lines), encoding="utf-8")
