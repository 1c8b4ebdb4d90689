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
# # Solutions to exercise 4 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in
# `exercises/ex4_counter.py`. glome's own version, which also retries KV timeouts and
# re-writes a total that failed to reach seq-kv, is `glome.nodes.counter.SeqKVCounter`.

# %%
import asyncio
from typing import Any

from glome.runtime import Message, Node, SeqKV, handler


# %% tags=["solution"]
class MyCounter(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total = 0
        self.fresh_writes = 0
        self.write_lock = asyncio.Lock()

    async def on_init(self) -> None:
        self.kv = SeqKV(self)

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        self.total += msg.body["delta"]
        # One write at a time: two in flight could land out of order, the older total last.
        async with self.write_lock:
            await self.kv.write(f"counter-{self.id}", self.total)
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        self.fresh_writes += 1  # a value never written before: moves us to the newest state
        await self.kv.write(f"fresh-{self.id}", self.fresh_writes)
        totals = [await self.kv.read(f"counter-{n}", default=0) for n in self.node_ids]
        return {"type": "read_ok", "value": sum(totals)}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` ignores hint 1: every node adds into one shared key with a read and
# then a write. Two adds that overlap both read the same old total and one of them is lost.


# %% tags=["buggy"]
class MyCounter(Node):  # noqa: F811 (the buggy twin of the solution above)
    async def on_init(self) -> None:
        self.kv = SeqKV(self)

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        total = await self.kv.read("counter", default=0)
        await self.kv.write("counter", total + msg.body["delta"])
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": await self.kv.read("counter", default=0)}
