"""unique-ids (docs/protocol.md#unique-ids): workers send ``{"type": "generate"}``; ids must never
repeat.

The ok value is the reply's ``id`` (any JSON). Clients are reused after a crashed op.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import unique_ids as unique_ids_checker
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import require
from glome.sim.workloads.generator import Worker


class UniqueIds(Workload):
    name = "unique-ids"
    with_errors = True
    reusable_client = True

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        return {"f": "generate", "value": None}

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        reply = require(await worker.call({"type": "generate"}), "generate_ok", id=object)
        return {"type": "ok", "value": reply["id"]}

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return unique_ids_checker.check(history, opts, **extra)


WORKLOAD = UniqueIds()
