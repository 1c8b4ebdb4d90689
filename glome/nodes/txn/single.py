"""Challenge 6a: totally-available transactions on one node.

``maelstrom test -w txn-rw-register --bin BIN --node-count 1 --time-limit 20 --rate 1000
    --concurrency 2n --consistency-models read-uncommitted --availability total``
where BIN runs ``python -m glome.runtime glome.nodes.txn:SingleNodeTxn``

The handler never awaits, so each transaction runs alone: serializable on one node, trivially.
"""

from __future__ import annotations

from typing import Any

from glome.nodes.txn.common import Key, parse_txn, run_on
from glome.runtime import Message, Node, handler


class SingleNodeTxn(Node):
    """6a: one dict; each txn runs to completion before the next starts."""

    def setup(self) -> None:
        self.data: dict[Key, Any] = {}

    @handler("txn")
    async def on_txn(self, msg: Message) -> dict[str, Any]:
        result, writes = run_on(self.data, parse_txn(msg.body))
        self.data.update(writes)
        return {"type": "txn_ok", "txn": result}


if __name__ == "__main__":
    SingleNodeTxn.main()
