"""g-counter and pn-counter (docs/protocol.md#g-counter-and-pn-counter): ``add`` deltas, ``read``
the total.

pn-counter: 50/50 ``{:f :add :value d}`` (d uniform in -5..4) and ``{:f :read}``. g-counter:
the same generator with negative adds re-drawn, so deltas are 0..4 and about 2/3 of ops are
reads. No ``with-errors``: every error or timeout is ``:info`` with an exception. After recovery
each worker does one ``{:f :read :final? true}``; only final reads are checked.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import counter as counter_checker
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import MalformedReply, require
from glome.sim.workloads.generator import Worker


class Counter(Workload):
    with_errors = False
    reusable_client = False
    has_final_phase = True

    def __init__(self, name: str, *, negative: bool) -> None:
        self.name = name
        self.negative = negative

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        rng = worker.rng
        while True:
            if rng.random() < 0.5:
                return {"f": "read", "value": None}
            delta = rng.randint(-5, 4)
            if delta >= 0 or self.negative:
                return {"f": "add", "value": delta}

    async def final_phase(self, worker: Worker) -> None:
        await worker.run({"f": "read", "value": None, "final?": True})

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        if op["f"] == "add":
            require(await worker.call({"type": "add", "delta": op["value"]}), "add_ok")
            return {"type": "ok"}
        reply = require(await worker.call({"type": "read"}), "read_ok", value=(int, float))
        value = reply["value"]
        if isinstance(value, float):
            if not value.is_integer():
                raise MalformedReply("read_ok value is not an integer", reply)
            value = int(value)  # Maelstrom coerces with `long`
        return {"type": "ok", "value": value}

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return counter_checker.check(history, opts, **extra)


G_COUNTER = Counter("g-counter", negative=False)
PN_COUNTER = Counter("pn-counter", negative=True)
