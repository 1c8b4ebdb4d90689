"""The client side of a run: workers, the global stagger schedule, main and final phases.

As Jepsen's interpreter under Maelstrom (spec 4, common facts):

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

from glome.sim.client import Client, Clients, error_completion
from glome.sim.history import History
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload


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
