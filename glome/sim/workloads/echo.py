"""echo (docs/protocol.md#echo): each worker sends ``{"type": "echo", "echo": "Please echo
<0..127>"}``.

The ok completion's value is the whole reply body, as Maelstrom records it; the checker
compares its ``echo`` with the invoke's value.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import echo as echo_checker
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import require
from glome.sim.workloads.generator import Worker


class Echo(Workload):
    name = "echo"
    with_errors = True
    reusable_client = False

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        return {"f": "echo", "value": f"Please echo {worker.rng.randrange(128)}"}

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        reply = require(
            await worker.call({"type": "echo", "echo": op["value"]}), "echo_ok", echo=object
        )
        return {"type": "ok", "value": reply}

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return echo_checker.check(history, opts, **extra)


WORKLOAD = Echo()
