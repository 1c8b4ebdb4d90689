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
# # Solutions to exercise 8 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in
# `exercises/ex8_txn_abort.py`.

# %%
from typing import Any

from glome.errors import PreconditionFailed, TxnConflict
from glome.runtime import LinKV, Message, Node, handler


# %% tags=["solution"]
class MyTxn(Node):
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    @handler("txn")
    async def txn(self, msg: Message) -> dict[str, Any]:
        before = await self.kv.read("root", default={})
        db = dict(before)
        result = []
        for op, key, value in msg.body["txn"]:
            if op == "r":
                result.append(["r", key, db.get(str(key))])
            else:
                db[str(key)] = value
                result.append(["w", key, value])
        if db != before:
            try:
                await self.kv.cas("root", before, db, create_if_not_exists=True)
            except PreconditionFailed:
                raise TxnConflict("another transaction committed first: retry") from None
        return {"type": "txn_ok", "txn": result}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` writes each key to lin-kv as it goes and checks for a conflict at
# the end (a version counter moved by cas). When the check fails it aborts, but its writes
# are already visible: committed transactions read them (G1a), and read values another
# transaction overwrote moments later (G1b).


# %% tags=["buggy"]
class MyTxn(Node):  # noqa: F811 (the buggy twin of the solution above)
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    @handler("txn")
    async def txn(self, msg: Message) -> dict[str, Any]:
        version = await self.kv.read("version", default=0)
        result = []
        wrote = False
        for op, key, value in msg.body["txn"]:
            if op == "r":
                result.append(["r", key, await self.kv.read(str(key), default=None)])
            else:
                await self.kv.write(str(key), value)
                wrote = True
                result.append(["w", key, value])
        if wrote:
            try:
                await self.kv.cas("version", version, version + 1, create_if_not_exists=True)
            except PreconditionFailed:
                raise TxnConflict("another transaction committed first: retry") from None
        return {"type": "txn_ok", "txn": result}
