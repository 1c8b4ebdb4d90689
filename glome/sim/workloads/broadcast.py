"""broadcast (docs/protocol.md#broadcast): every value broadcast to any node must reach every node.

Setup sends each node ``{"type": "topology", "topology": {...}}`` (``--topology``, default
grid) from a dedicated client. The main phase mixes ``{:f :broadcast :value k}`` (k = 0, 1, 2,
... globally) and ``{:f :read}`` 50/50; after recovery every worker does one
``{:f :read :final? true}``. Checked by set-full after renaming ``:broadcast`` to ``:add``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from glome.sim.checkers import set_full
from glome.sim.options import TOPOLOGIES, TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import require
from glome.sim.workloads.generator import SetupContext, Worker
from glome.sim.workloads.topology import topology


class Broadcast(Workload):
    name = "broadcast"
    idempotent = frozenset({"read"})
    with_errors = True
    reusable_client = False
    has_final_phase = True

    def validate(self, opts: TestOptions) -> None:
        if opts.topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {opts.topology!r}; one of {', '.join(TOPOLOGIES)}")

    def new_state(self, opts: TestOptions, rng: Any) -> dict[str, Any]:
        return {"next": 0}

    async def setup(self, ctx: SetupContext) -> None:
        topo = topology(ctx.opts.topology, list(ctx.node_ids))
        clients = [(node, ctx.open_client()) for node in ctx.node_ids]

        async def send(node: str, client: Any) -> None:
            try:
                reply = await ctx.rpc(client, node, {"type": "topology", "topology": topo})
                require(reply, "topology_ok")
            finally:
                client.close()

        outcomes = await asyncio.gather(*(send(n, c) for n, c in clients), return_exceptions=True)
        for (node, _), outcome in zip(clients, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                raise RuntimeError(f"topology message to {node} failed: {outcome}") from outcome

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        if worker.rng.random() < 0.5:
            value = worker.state["next"]
            worker.state["next"] = value + 1
            return {"f": "broadcast", "value": value}
        return {"f": "read", "value": None}

    async def final_phase(self, worker: Worker) -> None:
        await worker.run({"f": "read", "value": None, "final?": True})

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        if op["f"] == "broadcast":
            require(
                await worker.call({"type": "broadcast", "message": op["value"]}), "broadcast_ok"
            )
            return {"type": "ok"}
        reply = require(await worker.call({"type": "read"}), "read_ok", messages=list)
        return {"type": "ok", "value": reply["messages"]}

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return set_full.check_broadcast(history, opts, **extra)


WORKLOAD = Broadcast()
