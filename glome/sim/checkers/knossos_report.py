"""Why a key of lin-kv is not linearizable, reported the way Knossos's ``linear`` analysis does.

``explain`` replays the key's history keeping the set of configurations the register could be
in: a register value, the ops invoked and not yet linearized (pending), and the op linearized
last. At each ``:ok`` completion every configuration linearizes that op, possibly after any
order of the pending ones; configurations in which it can't be linearized die. The first
completion that leaves no configuration is the failure, reported as:

- ``:op``: that completion; ``:previous-ok``: the ``:ok`` completion before it;
- ``:configs``: the configurations just before it (at most ``REPORT_LIMIT``), each with its
  model ``#knossos.model.CASRegister{:value v}``, ``:last-op`` and ``:pending`` ops;
- ``:last-op``: the latest (by index) last op of those configurations;
- ``:final-paths``: distinct paths (at most ``REPORT_LIMIT``) showing why no configuration
  survives. From a configuration's last op, a path applies pending ops of other processes in
  some order, then the failing op, and stops at the first step the register refuses, shown as
  ``#knossos.model.Inconsistent{:msg ...}``. Shorter paths come first.

Ops in a report are plain maps ``{:process :type :f :value :index :time}`` with the key
stripped from the value, as Knossos prints them: a pending op as its invocation (a read's value
filled in from its completion), the op being completed and a config's last op as completions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glome.edn import EdnList, Keyword, Tagged
from glome.sim.checkers.cas_register import RegisterOp, inconsistency, model, raw_values, step
from glome.sim.checkers.wgl import MAX_STEPS

MAX_CONFIGS = 20_000
"""Configurations the explanation may hold at once before it stops (the verdict stands)."""
REPORT_LIMIT = 10
"""Configs and final paths shown in an invalid result, as Jepsen trims them."""
PATH_STEPS = 20_000
"""Model steps spent enumerating final paths per configuration."""


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
    """The last op linearized, -1 for none: always an op that was being completed (ops
    linearized just in time before it come earlier), so it is shown as its completion."""


def render_last(ops: Sequence[RegisterOp], c: Config) -> dict[str, Any] | None:
    return knossos_op(ops[c.last], "complete") if c.last >= 0 else None


def explain(
    ops: Sequence[RegisterOp],
    entries: Sequence[int],
    max_configs: int = MAX_CONFIGS,
    max_steps: int = MAX_STEPS,
) -> dict[str, Any] | None:
    """Knossos-style details of the first op that cannot be linearized, or None if the
    configuration set grew past ``max_configs``, the work past ``max_steps`` model steps, or
    no op failed."""
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
            return failure(ops, list(configs.values()), op_id, previous_ok)
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


def pending_ops(ops: Sequence[RegisterOp], c: Config) -> list[RegisterOp]:
    """A config's pending ops, by process."""
    pending = [ops[j] for j in range(len(ops)) if c.pending >> j & 1]
    pending.sort(key=lambda o: (_process_order(o.invoke.get("process")), o.id))
    return pending


Step = tuple[int, str, Any]
"""One transition of a final path: (op id, "invoke" or "complete", frozen state or
``Inconsistent`` for the refused step)."""


class Inconsistent:
    """Marks a refused step in a path being built."""


INCONSISTENT = Inconsistent()


def config_paths(
    ops: Sequence[RegisterOp], c: Config, final: int, limit: int, budget: int = PATH_STEPS
) -> list[tuple[Step, ...]]:
    """Up to ``limit`` paths from config ``c`` that end in a refused step, shortest first.

    A path is the config's last op, then pending ops of processes other than the failing
    op's (each at most once, in any order, while the register accepts them), then either a
    pending op the register refuses or the failing op ``final``, which it refuses in every
    path (else ``final`` could have been linearized). Breadth first over the accepted
    prefixes, within ``budget`` model steps.
    """
    final_process = ops[final].invoke.get("process")
    others = [o.id for o in pending_ops(ops, c) if o.invoke.get("process") != final_process]
    start: tuple[Step, ...] = ()
    if c.last >= 0:
        start = ((c.last, "complete", c.state),)
    paths: list[tuple[Step, ...]] = []
    queue: deque[tuple[tuple[Step, ...], Any, frozenset[int]]] = deque(
        [(start, c.state, frozenset())]
    )
    while queue and len(paths) < limit and budget > 0:
        prefix, state, used = queue.popleft()
        for j in [*(o for o in others if o not in used), final]:
            budget -= 1
            ok, new_state = step(state, ops[j])
            which = "complete" if j == final else "invoke"
            if not ok:
                paths.append((*prefix, (j, which, INCONSISTENT)))
                if len(paths) == limit:
                    break
            elif j != final:
                queue.append(((*prefix, (j, which, new_state)), new_state, used | {j}))
    return paths


def final_paths(
    ops: Sequence[RegisterOp], configs: Sequence[Config], final: int, limit: int = REPORT_LIMIT
) -> list[tuple[Step, ...]]:
    """Distinct final paths of all ``configs`` (see ``config_paths``), shortest first, then
    in config order; at most ``limit``."""
    found: dict[tuple[Any, ...], tuple[Step, ...]] = {}
    for c in configs:
        for path in config_paths(ops, c, final, limit):
            # Two configs can share their last op and register value (they differ in what
            # is pending): their paths through it are one path.
            key = tuple((j, which, id(s) if s is INCONSISTENT else s) for j, which, s in path)
            found.setdefault(key, path)
    ordered = sorted(found.values(), key=len)
    return ordered[:limit]


def render_path(
    ops: Sequence[RegisterOp], path: Sequence[Step], raw: Mapping[Any, Any]
) -> list[dict[str, Any]]:
    """A path as Knossos prints it: ``{:op ... :model ...}`` transitions."""
    out = []
    before = None
    for j, which, state in path:
        if state is INCONSISTENT:
            msg = inconsistency(raw.get(before), ops[j])
            shown = Tagged("knossos.model.Inconsistent", {"msg": msg})
        else:
            shown = model(raw.get(state))
        out.append({"op": knossos_op(ops[j], which), "model": shown})
        before = state
    return out


def failure(
    ops: Sequence[RegisterOp], configs: list[Config], op_id: int, previous_ok: int | None
) -> dict[str, Any]:
    """The invalid result for failing op ``op_id`` given the configs just before it."""
    raw = raw_values(ops)
    shown = sorted(configs, key=lambda c: (c.last, c.pending))[:REPORT_LIMIT]
    report_configs = [
        {
            "model": model(raw.get(c.state)),
            "last-op": render_last(ops, c),
            "pending": [knossos_op(p, "invoke") for p in pending_ops(ops, c)],
        }
        for c in shown
    ]
    paths = [render_path(ops, p, raw) for p in final_paths(ops, configs, op_id)]
    lasts = [r for r in (render_last(ops, c) for c in configs) if r is not None]
    latest = max(
        lasts, key=lambda r: r["index"] if isinstance(r["index"], int) else -1, default=None
    )
    return {
        "valid?": False,
        "configs": EdnList(report_configs),
        "final-paths": EdnList(paths),
        "previous-ok": knossos_op(ops[previous_ok], "complete")
        if previous_ok is not None
        else None,
        "last-op": latest,
        "op": knossos_op(ops[op_id], "complete"),
    }
