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
# # Exercise 9: a linearizable register (and why seq-kv will not do)
#
# Maelstrom's `lin-kv` workload asks your nodes to *be* a key-value store of registers:
#
# | request body | reply body |
# |---|---|
# | `{"type": "read", "key": 0}` | `{"type": "read_ok", "value": 3}` or error 20 (key does not exist) |
# | `{"type": "write", "key": 0, "value": 4}` | `{"type": "write_ok"}` |
# | `{"type": "cas", "key": 0, "from": 4, "to": 1}` | `{"type": "cas_ok"}` or error 22 (precondition failed) / 20 |
#
# and checks that the whole history is **linearizable**: there is one order of all the
# operations, consistent with real time (an operation that finished before another began
# comes first), in which every read returns the latest write. Three nodes serve any key, and
# the network is partitioned now and then.
#
# The simplest correct node keeps nothing itself: it forwards each request to Maelstrom's own
# linearizable store, `lin-kv`, with `self.kv` (given). The KV client raises
# `KeyDoesNotExist` (error 20) and `PreconditionFailed` (error 22); a handler that lets them
# propagate answers the client with that same error, which is what the workload expects.
#
# **Then try `seq-kv`.** Replace `LinKV` by `SeqKV` and grade again: it fails. Sequential
# consistency promises one order that each client sees in its own program order, but *not*
# real time: node n1 can read an old value after n2's write was acknowledged, as long as
# n1 never goes backwards itself. The grade shows a read that no order explains, and what the
# register held then. That is the difference between the two words.

# %%
from typing import Any

from glome.classroom import grade_exercise
from glome.runtime import LinKV, Message, Node, SeqKV, handler  # noqa: F401


# %% tags=["exercise"]
# YOUR CODE: read, write and cas, forwarded to self.kv.
class MyRegister(Node):
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("reply read_ok with the key's value from self.kv")

    @handler("write")
    async def write(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("write the value with self.kv, reply write_ok")

    @handler("cas")
    async def cas(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("cas with self.kv, reply cas_ok")


# %% [markdown]
# ## Grade

# %%
grade_register = grade_exercise("ex9_linearizable_register", MyRegister)
grade_register
