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
# # Exercise 8: transactions that abort (no G1a)
#
# Exercise 7's nodes never abort: they give up on agreeing which transaction came first. This
# exercise goes the other way. The whole database lives in **one lin-kv value** (key
# `"root"`, a dict from key to value), and a transaction commits by `cas`-ing the database it
# read to the one it computed. If another transaction committed in between, the cas fails
# (`PreconditionFailed`) and the transaction must **abort**: raise
# `TxnConflict("...")`, which the runtime turns into error 30, `txn-conflict`. The client is
# told the transaction did not happen, and it must then truly not have happened.
#
# That last part is the lesson. A transaction that wrote its values somewhere others can read
# them, and *then* found the conflict and aborted, leaves those values behind: another
# transaction reads a value that was never committed. That is **G1a, an aborted read**, and
# read committed forbids it. So: compute everything first, publish with one cas, and abort
# before anything is visible.
#
# The grade runs 2 nodes at 500 transactions per second with 5 ms links (so transactions
# overlap and some must abort) and checks read committed. Aborts are allowed; G1a is not.
# (lin-kv keys are strings in JSON: use `str(key)` inside the database dict.)

# %%
from typing import Any

from glome.classroom import grade_exercise
from glome.errors import PreconditionFailed, TxnConflict  # noqa: F401
from glome.runtime import LinKV, Message, Node, handler


# %% tags=["exercise"]
# YOUR CODE: read root, run the txn on a copy, cas root, or abort with TxnConflict.
class MyTxn(Node):
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    @handler("txn")
    async def txn(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("commit msg.body['txn'] with one cas on 'root', or abort")


# %% [markdown]
# ## Grade

# %%
grade_abort = grade_exercise("ex8_txn_abort", MyTxn)
grade_abort

# %% [markdown]
# ## Going further
#
# This node is strict serializable (one cas orders all transactions), at the price of every
# transaction reading and writing the whole database, and of aborts under contention.
# `glome.nodes.txn.RootListAppend` does the same for the list-append workload.
