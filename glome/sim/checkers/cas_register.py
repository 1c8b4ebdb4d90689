"""The model lin-kv is checked against: Knossos's compare-and-set register, and the ops of one
key's history as the linearizability search sees them.

A write sets the value; a cas ``[from to]`` succeeds only if the value equals ``from``; a read
of ``v`` is consistent if the value equals ``v`` or if ``v`` is nil. Values compare as
Clojure's ``=`` on parsed JSON (``4`` and ``"4"`` differ, ``1`` and ``1.0`` differ), so they are
frozen (``checkers.freeze``) before they are compared.

``register_ops`` turns a key's history into ``RegisterOp`` s and call/return entries:
``:ok`` ops must take effect between their invocation and completion; ``:info`` ops (and
invocations never completed) may take effect at any time after their invocation, or never;
``:fail`` ops certainly did not happen and are left out, and so are ``:info`` reads (they
cannot change the register).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glome.edn import Tagged
from glome.sim.checkers import freeze, is_client_op

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
    """The register holding ``raw_state`` as Knossos prints it."""
    return Tagged("knossos.model.CASRegister", {"value": raw_state})


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
