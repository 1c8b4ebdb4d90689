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
# # Solutions to exercise 9 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in
# `exercises/ex9_linearizable_register.py`.

# %%
from typing import Any

from glome.runtime import LinKV, Message, Node, SeqKV, handler


# %% tags=["solution"]
class MyRegister(Node):
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)  # linearizable: every read sees the latest write

    @handler("read")
    async def on_read(self, msg: Message) -> dict[str, Any]:
        # A missing key raises KeyDoesNotExist: the client gets error 20, as it should.
        return {"type": "read_ok", "value": await self.kv.read(msg.body["key"])}

    @handler("write")
    async def on_write(self, msg: Message) -> dict[str, Any]:
        await self.kv.write(msg.body["key"], msg.body["value"])
        return {"type": "write_ok"}

    @handler("cas")
    async def on_cas(self, msg: Message) -> dict[str, Any]:
        await self.kv.cas(msg.body["key"], msg.body["from"], msg.body["to"])
        return {"type": "cas_ok"}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` is the same node on `seq-kv`: every request is answered (the
# "answers requests" point), but reads can be stale across nodes, so the history is not
# linearizable on every seed measured.


# %% tags=["buggy"]
class MyRegister(Node):  # noqa: F811 (the buggy twin of the solution above)
    async def on_init(self) -> None:
        self.kv = SeqKV(self, timeout=1.0)

    @handler("read")
    async def on_read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": await self.kv.read(msg.body["key"])}

    @handler("write")
    async def on_write(self, msg: Message) -> dict[str, Any]:
        await self.kv.write(msg.body["key"], msg.body["value"])
        return {"type": "write_ok"}

    @handler("cas")
    async def on_cas(self, msg: Message) -> dict[str, Any]:
        await self.kv.cas(msg.body["key"], msg.body["from"], msg.body["to"])
        return {"type": "cas_ok"}
