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
# # Exercise 3: broadcast that survives partitions (3b and 3c)
#
# Clients send `broadcast {"message": 7}` to any node and `read` from any node; after the
# test, every node's `read` must include every value that was broadcast. Five nodes, and in
# 3c the network is partitioned now and then: messages between the two sides are **dropped**.
#
# The messages your node receives:
#
# | request body | reply body |
# |---|---|
# | `{"type": "topology", "topology": {"n0": ["n1", ...], ...}}` | `{"type": "topology_ok"}` |
# | `{"type": "broadcast", "message": 7}` | `{"type": "broadcast_ok"}` |
# | `{"type": "read"}` | `{"type": "read_ok", "messages": [7, ...]}` |
#
# Nodes talk to each other with `self.send(peer, body)` (fire and forget) using any message
# type you invent, for example `{"type": "gossip", ...}`; a handler for it returns `None` (no
# reply). `self.peers` lists the other nodes; `self.every(seconds, fn)` calls `fn`
# periodically. The lesson of notebook `03_broadcast`: a message can be lost, so a node must
# not assume that what it sent arrived. Re-sending is the simplest cure.
#
# Fill in the cell marked **YOUR CODE**, run every cell, and read the grades at the bottom.

# %%
from typing import Any

from glome.classroom import grade_exercise
from glome.runtime import Message, Node, handler


# %% tags=["exercise"]
# YOUR CODE: a broadcast node. The state and the reply shapes are given; the rest is yours.
class MyBroadcast(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values: set[int] = set()

    async def on_init(self) -> None:
        # Start any periodic work here, e.g. self.every(0.2, self.gossip)
        pass

    @handler("topology")
    def topology(self, msg: Message) -> dict[str, Any]:
        return {"type": "topology_ok"}  # you may ignore the suggested topology

    @handler("broadcast")
    def broadcast(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("remember msg.body['message'], make it reach every node")

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("reply read_ok with every value this node knows")


# %% [markdown]
# ## Grades
#
# 3b: five nodes, no faults. 3c: the same with partitions. Each runs the official command
# in-process (20 simulated seconds) on several seeds: partitions fall differently on each.

# %%
grade_broadcast = grade_exercise("ex3_broadcast", MyBroadcast)
grade_broadcast

# %% [markdown]
# ## Going further
#
# - How many messages does your node send per operation? The 3c grade has one row per seed,
#   with the count in its `msgs_per_op` column:
#   `grade_broadcast.grades[1].runs[["seed", "msgs_per_op"]]`. Challenge 3d wants fewer than
#   30 per operation with 25 nodes and 100 ms links: exercise `ex5_efficient_broadcast`.
# - Compare with `glome.nodes.broadcast.Hardened` in notebook `03_broadcast`.
