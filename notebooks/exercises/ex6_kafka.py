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
# # Exercise 6: a kafka-style log (5a, then 5b on lin-kv)
#
# Clients append messages to named logs (keys) and read them back from an offset:
#
# | request body | reply body |
# |---|---|
# | `{"type": "send", "key": "k1", "msg": 123}` | `{"type": "send_ok", "offset": 1000}` |
# | `{"type": "poll", "offsets": {"k1": 1000}}` | `{"type": "poll_ok", "msgs": {"k1": [[1000, 123], ...]}}` |
# | `{"type": "commit_offsets", "offsets": {"k1": 1000}}` | `{"type": "commit_offsets_ok"}` |
# | `{"type": "list_committed_offsets", "keys": ["k1"]}` | `{"type": "list_committed_offsets_ok", "offsets": {"k1": 1000}}` |
#
# Offsets grow per key (they need not be dense); a poll returns messages from the given
# offset on, in order, and must never skip one that a later poll would return.
#
# **Part 1 (5a, one node).** Two dicts do it: `key -> list of messages` and `key -> committed
# offset`. Write that first and grade it with `grade_exercise` below: 5a passes, 5b does not.
#
# **Part 2 (5b, two nodes).** Both nodes serve every key, so the log must live where both see
# it: Maelstrom's linearizable store, `lin-kv` (`self.kv`, given). Suggested layout:
#
# - `next/<key>`: the next free offset. To take one, read it and `cas` it one up
#   (`await self.kv.cas(name, old, old + 1, create_if_not_exists=True)`); if another send won
#   the race, the cas raises `PreconditionFailed`: read again and retry;
# - `msg/<key>/<offset>`: the message, written once its offset is yours;
# - `committed/<key>`: the committed offset, moved forward only (cas again).
#
# A poll must stop at the first offset that is taken but not written yet, rather than skip
# it. At the end of the run every client polls every key the run wrote, from offset 0, in
# one request: read the keys concurrently (`asyncio.gather`, one task per key), or that poll
# waits for one lin-kv round trip after another and outlasts the client's timeout (5 s). Why
# does the cas matter? lin-kv is linearizable: a cas that succeeds saw the newest
# value, so two sends can never take the same offset.

# %%
import asyncio  # noqa: F401  (asyncio.gather reads keys concurrently)
from typing import Any

from glome.classroom import grade_exercise
from glome.errors import PreconditionFailed  # noqa: F401  (a lost cas race raises it)
from glome.runtime import LinKV, Message, Node, handler


# %% tags=["exercise"]
# YOUR CODE: the four handlers (part 1 in memory; part 2 on lin-kv).
class MyKafka(Node):
    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    @handler("send")
    async def send_(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("append msg.body['msg'] to log msg.body['key']")

    @handler("poll")
    async def poll(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("return each key's messages from its offset on")

    @handler("commit_offsets")
    async def commit_offsets(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("remember the committed offsets")

    @handler("list_committed_offsets")
    async def list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("reply with the committed offsets of the keys asked for")


# %% [markdown]
# ## Grade
#
# 5a (one node) and 5b (two nodes), official commands: 20 s at 1000 requests per second,
# 3 seeds each (every request costs lin-kv round trips; each run takes a few CPU seconds).

# %%
grade_kafka = grade_exercise("ex6_kafka", MyKafka)
grade_kafka

# %% [markdown]
# ## Going further
#
# Challenge 5c asks for fewer lin-kv round trips: one owner per key that hands out offsets
# from memory (`glome.nodes.kafka.OwnerKafka`), compared in notebook `05_kafka`.
