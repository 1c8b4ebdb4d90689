"""Workloads: what the clients do and how the result is judged (spec section 4).

The workload contract
=====================

A workload is a ``Workload`` subclass instance, registered by name in ``WORKLOADS``
(``"name": "module:ATTRIBUTE"``). The runner uses these members:

``name``               the ``-w`` name, also the store directory (``"broadcast"``).
``idempotent``         ``:f`` values whose timeouts/errors are definite failures (``{"read"}``).
``with_errors``        True if RPC errors map to ``:fail``/``:info`` + ``:error`` (spec 1.7);
                       False (g-set, counters) makes every error ``:info`` + ``:exception``.
``reusable_client``    True if a worker keeps its client after an ``:info`` op; False opens a
                       fresh ``c*`` client (the old id leaves the network).
``has_final_phase``    True if the test ends with heal, "Waiting for recovery...", a recovery
                       sleep and ``final_phase`` (broadcast, g-set, counters, kafka).
``rpc_timeout(opts)``  seconds a client waits for a reply (5 s; lin-kv scales with latency).
``validate(opts)``     raise ``ValueError`` for options the workload cannot run with.
``new_state(opts, rng)``  generator state shared by all workers (a dict), e.g. the next
                       broadcast value. Created once per run, before ``setup``.
``async setup(ctx)``   client setup before the main phase (``SetupContext``: open clients, RPC
                       nodes, e.g. broadcast's ``topology`` messages).
``next_op(worker)``    the next main-phase op for this worker as ``{"f": .., "value": ..,
                       extras..}``, drawn from ``worker.rng`` at the moment it is invoked; or
                       None when this worker has nothing more to do.
``async final_phase(worker)``  the worker's final ops, each through ``await worker.run(op)``.
``async invoke(worker, op)``   perform one op with ``await worker.call(body)`` (RPC to the
                       worker's node, with the workload's timeout) and return the completion:
                       ``{"type": "ok", "value": ...}`` plus extras (value defaults to the
                       invoke's). Raise on failure: the runner maps the exception (timeout,
                       error reply, ``MalformedReply`` from ``glome.sim.client.require``,
                       anything else) to a completion per spec 1.7. ``worker.client_state``
                       is a dict private to the current client, reset when the client is
                       replaced (kafka's offsets).
``check(history, opts, store_dir=None, **extra)``  the ``:workload`` checker (from
                       ``glome.sim.checkers``); ``store_dir`` is the run's store directory, for
                       checkers that write files there (lin-kv ``independent/``, Elle ``elle/``).

The runner owns everything generic: process ids (worker ids, ``+ concurrency`` after each
``:info``), the global stagger schedule, the time limit, the nemesis, recording the history.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
from typing import TYPE_CHECKING, Any

from glome.sim.options import TestOptions

if TYPE_CHECKING:
    from glome.sim.generator import SetupContext, Worker

DEFAULT_RPC_TIMEOUT = 5.0

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


class Workload:
    """Base class with Maelstrom's defaults; see the module docstring for the contract."""

    name: str = ""
    idempotent: frozenset[str] = frozenset()
    with_errors: bool = True
    reusable_client: bool = False
    has_final_phase: bool = False

    def rpc_timeout(self, opts: TestOptions) -> float:
        return DEFAULT_RPC_TIMEOUT

    def validate(self, opts: TestOptions) -> None:
        """Raise ValueError for options this workload cannot run with."""

    def new_state(self, opts: TestOptions, rng: random.Random) -> dict[str, Any]:
        return {}

    async def setup(self, ctx: SetupContext) -> None:
        """Client setup, before the relative clock's main phase."""

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        raise NotImplementedError

    async def final_phase(self, worker: Worker) -> None:
        """Final ops after recovery (only called when ``has_final_phase``)."""

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError


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
