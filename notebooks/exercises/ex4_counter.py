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
# # Exercise 4: a grow-only counter on seq-kv
#
# Challenge 4: clients send `add {"delta": 3}` and `read` to any of three nodes; after the
# partitions heal, every node's `read` must return the sum of all acknowledged adds. Keep the
# counter in Maelstrom's `seq-kv` service, a sequentially consistent key-value store that every
# node can reach:
#
# | request body | reply body |
# |---|---|
# | `{"type": "add", "delta": 3}` | `{"type": "add_ok"}` |
# | `{"type": "read"}` | `{"type": "read_ok", "value": 42}` |
#
# The KV client is `self.kv` (given): `await self.kv.write(key, value)`,
# `await self.kv.read(key, default=0)`, `await self.kv.cas(key, old, new)`.
#
# Two hints, both from notebook `04_counter`:
#
# 1. A shared key updated with read-then-cas is slow and racy. Give each node **its own key**,
#    written only by that node: the value is that node's running total, so writing it again is
#    harmless.
# 2. seq-kv may answer a read from an **old** state: sequential consistency only promises
#    that you never go back in time from what *you* already saw. Any state-changing operation
#    (a write of a value nobody wrote before) moves you to the newest state. Make one before
#    reading.
#
# Fill in the cell marked **YOUR CODE**, run every cell, and read the grade at the bottom.

# %%
import asyncio  # noqa: F401  (asyncio.Lock may help)
from typing import Any

from glome.classroom import grade_exercise
from glome.runtime import Message, Node, SeqKV, handler


# %% tags=["exercise"]
# YOUR CODE: the add and read handlers. The node's state and its KV client are given.
class MyCounter(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total = 0  # this node's own share of the count

    async def on_init(self) -> None:
        self.kv = SeqKV(self)

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("add msg.body['delta'] to this node's total in seq-kv")

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("reply read_ok with the sum over every node's total")


# %% [markdown]
# ## Grade
#
# Challenge 4's official command: 3 nodes, 20 s at 100 ops/s, partitions, on as many seeds as
# `glome challenge 4` runs (`glome.challenges.DEFAULT_SEEDS["4"]`): a stale read shows on only
# some of them, so one lucky seed proves nothing.

# %%
grade_counter = grade_exercise("ex4_counter", MyCounter)
grade_counter
