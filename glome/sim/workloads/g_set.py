"""g-set (docs/protocol.md#g-set): a grow-only set. ``add`` elements 0, 1, 2, ... and ``read`` them
back.

No ``with-errors``: every RPC error or timeout is ``:info`` with an exception. After recovery
each worker does one final ``{:f :read}`` (no ``:final?`` flag, as Maelstrom). Checked by
set-full.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import set_full
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import require
from glome.sim.workloads.generator import Worker


class GSet(Workload):
    name = "g-set"
    with_errors = False
    reusable_client = False
    has_final_phase = True

    def new_state(self, opts: TestOptions, rng: Any) -> dict[str, Any]:
        return {"next": 0}

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        if worker.rng.random() < 0.5:
            value = worker.state["next"]
            worker.state["next"] = value + 1
            return {"f": "add", "value": value}
        return {"f": "read", "value": None}

    async def final_phase(self, worker: Worker) -> None:
        await worker.run({"f": "read", "value": None})

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        if op["f"] == "add":
            require(await worker.call({"type": "add", "element": op["value"]}), "add_ok")
            return {"type": "ok"}
        reply = require(await worker.call({"type": "read"}), "read_ok", value=list)
        return {"type": "ok", "value": reply["value"]}

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return set_full.check(history, opts, **extra)


WORKLOAD = GSet()
