# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercise 7: totally-available transactions (6a, 6b, 6c)
#
# A client sends a transaction, a list of micro-operations on integer keys, to any node:
#
# | request body | reply body |
# |---|---|
# | `{"type": "txn", "txn": [["r", 1, null], ["w", 1, 6], ["w", 2, 9]]}` | `{"type": "txn_ok", "txn": [["r", 1, 3], ["w", 1, 6], ["w", 2, 9]]}` |
#
# A read fills in the value it saw (`null` for a key never written). **Totally available**:
# every transaction must succeed, even while the network is partitioned, so a node can never
# wait for another one. The grade runs three challenges:
#
# - **6a**: one node, read uncommitted: run each transaction against a dict;
# - **6b**: two nodes, read uncommitted: every write must reach the other node (replicate);
# - **6c**: two nodes, **read committed**, with partitions: no transaction may see a value
#   another transaction wrote and then overwrote itself (G1b, an *intermediate* read), nor one
#   from a transaction that did not commit (G1a, an *aborted* read).
#
# The design that passes all three:
#
# 1. run the transaction against a copy: reads see the transaction's own earlier writes, and
#    only the **final** write per key is kept. Apply those all at once at the end;
# 2. give the transaction one **version** `(lamport, node id)`: bump a Lamport clock, which
#    also moves up to any version received. A replica keeps a key's write only if its
#    version is newer (last writer wins), so both nodes end up agreeing;
# 3. send the writes to the peer with their version and **resend until acknowledged**
#    (`self.every(0.2, ...)` and an ack message): partitions drop messages.

# %%
from typing import Any

from glome.classroom import grade_exercise
from glome.runtime import Message, Node, handler


# %% tags=["exercise"]
# YOUR CODE: the txn handler and replication. The state is given.
class MyTxn(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data: dict[int, Any] = {}
        self.versions: dict[int, tuple[int, str]] = {}  # key -> version of its value
        self.lamport = 0
        self.unacked: dict[str, dict[int, list[Any]]] = {}  # peer -> key -> [value, version]

    async def on_init(self) -> None:
        self.unacked = {peer: {} for peer in self.peers}

    @handler("txn")
    def txn(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("run msg.body['txn'], keep the final writes, replicate them")


# %% [markdown]
# ## Grade
#
# 6a, 6b and 6c's official commands (20 s at 1000 transactions per second), 3 seeds each
# (`glome challenge 6c --node ...` runs more; each run here costs several CPU seconds).

# %%
grade_txn = grade_exercise("ex7_transactions", MyTxn)
grade_txn

# %% [markdown]
# ## Going further
#
# Notebook `06_transactions` shows the three ways glome-rs's nodes got this wrong and
# `glome.nodes.txn.ReadCommittedTxn`, which adds backoff and a bounded outbox.
