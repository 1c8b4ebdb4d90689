"""The client side of a run: the workload contract (``Workload``), workers, the global stagger
schedule, main and final phases.

As Jepsen's interpreter under Maelstrom (docs/protocol.md#workloads, common facts):

- ``concurrency`` workers; worker *t* always talks to node ``nodes[t mod N]`` and starts as
  process *t*; after an ``:info`` completion it continues as process ``p + concurrency`` (and
  with a fresh client unless the workload's client is reusable);
- closed loop: each worker has at most one op outstanding;
- one global schedule (Jepsen's ``stagger(1/rate)``): each op may start U[0, 2/rate) seconds
  after the previous op's slot, or when a worker is next free if that is later (no catch-up);
- the main phase stops issuing ops at the time limit and waits for ops in flight;
- ``rate == 0`` issues no client ops at all.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from glome.sim.history import History
from glome.sim.options import TestOptions
from glome.sim.workloads.client import Client, Clients, error_completion

DEFAULT_RPC_TIMEOUT = 5.0


class Workload:
    """What the clients do and how the result is judged; Maelstrom's defaults.

    A workload is an instance of a ``Workload`` subclass, registered by name in
    ``glome.sim.workloads.WORKLOADS``. The runner and the generator use these members:

    ``name``               the ``-w`` name, also the store directory (``"broadcast"``).
    ``idempotent``         ``:f`` values whose timeouts/errors are definite failures (``{"read"}``).
    ``with_errors``        True if RPC errors map to ``:fail``/``:info`` + ``:error``
    (docs/protocol.md#from-rpc-outcome-to-history-op);
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
                           error reply, ``MalformedReply`` from ``glome.sim.workloads.client.require``,
                           anything else) to a completion per
                           docs/protocol.md#from-rpc-outcome-to-history-op. ``worker.client_state``
                           is a dict private to the current client, reset when the client is
                           replaced (kafka's offsets).
    ``check(history, opts, store_dir=None, **extra)``  the ``:workload`` checker (from
                           ``glome.sim.checkers``); ``store_dir`` is the run's store directory, for
                           checkers that write files there (lin-kv ``independent/``, Elle ``elle/``).
    """

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


class Stagger:
    """Jepsen's ``stagger``: slots U[0, 2 x interval) apart, never bunched to catch up."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, interval: float, rng: random.Random
    ) -> None:
        self.loop = loop
        self.interval = interval
        self.rng = rng
        self.next_time: float | None = None

    def reserve(self) -> float:
        """The loop time of the next slot (now, if the schedule is behind)."""
        now = self.loop.time()
        slot = now if self.next_time is None else max(now, self.next_time)
        self.next_time = slot + self.rng.uniform(0, 2 * self.interval)
        return slot


async def sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class RunContext:
    """What workers and setup share: the loop, history, clients, options, workload."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        opts: TestOptions,
        workload: Workload,
        history: History,
        clients: Clients,
        rng: random.Random,
    ) -> None:
        self.loop = loop
        self.opts = opts
        self.workload = workload
        self.history = history
        self.clients = clients
        self.rng = rng
        """The generator's random stream (ops are drawn when invoked, in event order)."""
        self.state: dict[str, Any] = workload.new_state(opts, rng)
        self.timeout = workload.rpc_timeout(opts)


class SetupContext:
    """Handed to ``Workload.setup``: open clients and RPC nodes before the main phase."""

    def __init__(self, run: RunContext) -> None:
        self.ctx = run
        self.opts = run.opts
        self.node_ids = run.opts.node_ids
        self.state = run.state
        self.log: list[str] = []

    def open_client(self) -> Client:
        return self.ctx.clients.open()

    async def rpc(
        self, client: Client, dest: str, body: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        return await client.rpc(dest, body, self.ctx.timeout if timeout is None else timeout)


class Worker:
    """One worker thread: its process id, its node, its client."""

    def __init__(self, run: RunContext, index: int) -> None:
        self.ctx = run
        self.index = index
        self.process = index
        node_ids = run.opts.node_ids
        self.node = node_ids[index % len(node_ids)]
        self.client: Client = run.clients.open()
        self.client_state: dict[str, Any] = {}

    @property
    def opts(self) -> TestOptions:
        return self.ctx.opts

    @property
    def rng(self) -> random.Random:
        return self.ctx.rng

    @property
    def state(self) -> dict[str, Any]:
        return self.ctx.state

    def elapsed(self) -> float:
        """Seconds since the history's time 0 (for workloads that pace ops by time)."""
        return self.ctx.loop.time() - self.ctx.history.origin

    async def call(self, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """RPC to this worker's node through its client; the reply body, or an exception."""
        return await self.client.rpc(
            self.node, body, self.ctx.timeout if timeout is None else timeout
        )

    async def run(self, op: dict[str, Any]) -> dict[str, Any]:
        """Invoke ``op``, record invoke and completion, apply the ``:info`` rules."""
        workload, history = self.ctx.workload, self.ctx.history
        f = op["f"]
        value = op.get("value")
        extras = {k: v for k, v in op.items() if k not in ("f", "value")}
        history.append("invoke", self.process, f, value, **extras)
        try:
            completion = await workload.invoke(self, op)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # every failure becomes a completion, as Jepsen's interpreter
            completion = error_completion(
                f, e, with_errors=workload.with_errors, idempotent=workload.idempotent
            )
        ctype = completion.get("type", "ok")
        cvalue = completion.get("value", value)
        cextras = {**extras, **{k: v for k, v in completion.items() if k not in ("type", "value")}}
        done = history.append(ctype, self.process, f, cvalue, **cextras)
        if ctype == "info":
            self.process += self.ctx.opts.worker_count
            if not workload.reusable_client:
                self.reopen_client()
        return done

    def reopen_client(self) -> None:
        """Close this worker's client and open a fresh one (new ``c*`` id, empty state)."""
        self.client.close()
        self.client = self.ctx.clients.open()
        self.client_state = {}


async def main_phase(run: RunContext, workers: list[Worker], deadline: float) -> None:
    """Issue ops on the global schedule until ``deadline`` (loop time); wait for the last ones."""
    rate = run.opts.rate
    if rate <= 0 or not workers:
        await sleep_until(run.loop, deadline)
        return
    stagger = Stagger(run.loop, 1.0 / rate, run.rng)

    async def work(worker: Worker) -> None:
        while True:
            slot = stagger.reserve()
            if slot >= deadline:
                return
            await sleep_until(run.loop, slot)
            op = run.workload.next_op(worker)
            if op is None:
                return
            await worker.run(op)

    await asyncio.gather(*(work(w) for w in workers))


async def final_phase(run: RunContext, workers: list[Worker]) -> None:
    await asyncio.gather(*(run.workload.final_phase(w) for w in workers))
