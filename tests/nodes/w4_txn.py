"""Single-node txn-rw-register test nodes (glome runtime, run in-process).

- ``TxnNode``: applies each transaction atomically to one dict: serializable.
- ``DirtyTxn``: applies micro-ops one at a time with a pause between them, so a concurrent
  transaction can read a value that the writer later overwrites (G1b, intermediate read).
"""

from __future__ import annotations

from typing import Any

from glome.runtime import Message, Node, handler


class TxnNode(Node):
    def setup(self) -> None:
        self.data: dict[Any, Any] = {}

    def apply(self, mop: list[Any]) -> list[Any]:
        f, k, v = mop
        if f == "r":
            return [f, k, self.data.get(str(k))]
        self.data[str(k)] = v
        return [f, k, v]

    @handler("txn")
    def txn(self, msg: Message) -> dict[str, Any]:
        return {"type": "txn_ok", "txn": [self.apply(m) for m in msg.body["txn"]]}


class DirtyTxn(TxnNode):
    step = 0.01

    @handler("txn")
    async def txn(self, msg: Message) -> dict[str, Any]:  # type: ignore[override]
        done = []
        for mop in msg.body["txn"]:
            done.append(self.apply(mop))
            await self.sleep(self.step)
        return {"type": "txn_ok", "txn": done}
