"""Workloads: what the clients do and how the result is judged (docs/protocol.md#workloads).

The workload contract
=====================

A workload is a ``Workload`` subclass instance (the class and its contract are in
``glome.sim.workloads.generator``, the code that drives it; it is re-exported here), registered by name in
``WORKLOADS`` (``"name": "module:ATTRIBUTE"``). A workload module imports the generator, never
the other way round.

The runner owns everything generic: process ids (worker ids, ``+ concurrency`` after each
``:info``), the global stagger schedule, the time limit, the nemesis, recording the history.
"""

from __future__ import annotations

import importlib
import importlib.util

from glome.sim.workloads.generator import DEFAULT_RPC_TIMEOUT, Workload

__all__ = ["DEFAULT_RPC_TIMEOUT", "WORKLOADS", "Workload", "available", "get"]

WORKLOADS: dict[str, str] = {
    "echo": "glome.sim.workloads.echo:WORKLOAD",
    "unique-ids": "glome.sim.workloads.unique_ids:WORKLOAD",
    "broadcast": "glome.sim.workloads.broadcast:WORKLOAD",
    "g-set": "glome.sim.workloads.g_set:WORKLOAD",
    "g-counter": "glome.sim.workloads.counter:G_COUNTER",
    "pn-counter": "glome.sim.workloads.counter:PN_COUNTER",
    "lin-kv": "glome.sim.workloads.lin_kv:WORKLOAD",
    "kafka": "glome.sim.workloads.kafka:WORKLOAD",
    "txn-list-append": "glome.sim.workloads.txn:LIST_APPEND",
    "txn-rw-register": "glome.sim.workloads.txn:RW_REGISTER",
}
"""Every workload name Maelstrom knows; some modules are written by other helpers."""


def get(name: str) -> Workload:
    """The workload registered as ``name``; ValueError naming the known ones otherwise."""
    target = WORKLOADS.get(name)
    if target is None:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(sorted(WORKLOADS))}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            raise ValueError(f"workload {name!r} is not implemented in glome yet") from None
        raise
    workload: Workload = getattr(module, attr)
    return workload


def available() -> list[str]:
    """Names whose modules exist in this installation."""
    names = []
    for name, target in sorted(WORKLOADS.items()):
        if importlib.util.find_spec(target.partition(":")[0]) is not None:
            names.append(name)
    return names
