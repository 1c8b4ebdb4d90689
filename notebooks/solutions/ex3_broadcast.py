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
# # Solutions to exercise 3 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in
# `exercises/ex3_broadcast.py`. The simplest correct design: every 200 ms, send every peer
# the whole set. Nothing is ever assumed delivered, so a partition only delays values. It is
# wasteful (the messages grow with the set); notebook 03 measures that and shows the fix.

# %%
from typing import Any

from glome.runtime import Message, Node, handler


# %% tags=["solution"]
class MyBroadcast(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values: set[int] = set()

    async def on_init(self) -> None:
        self.every(0.2, self.gossip)

    def gossip(self) -> None:
        if self.values:
            everything = sorted(self.values)
            for peer in self.peers:
                self.send(peer, {"type": "gossip", "messages": everything})

    @handler("topology")
    def topology(self, msg: Message) -> dict[str, Any]:
        return {"type": "topology_ok"}

    @handler("broadcast")
    def broadcast(self, msg: Message) -> dict[str, Any]:
        self.values.add(msg.body["message"])
        return {"type": "broadcast_ok"}

    @handler("gossip")
    def on_gossip(self, msg: Message) -> None:
        self.values.update(msg.body.get("messages", []))

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "messages": sorted(self.values)}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy`: each value is sent to every peer once, when it arrives. Without
# faults (3b) that is enough; a partition drops some of those messages and nothing sends them
# again, so 3c loses values.


# %% tags=["buggy"]
class MyBroadcast(Node):  # noqa: F811 (the buggy twin of the solution above)
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values: set[int] = set()

    async def on_init(self) -> None:
        pass

    @handler("topology")
    def topology(self, msg: Message) -> dict[str, Any]:
        return {"type": "topology_ok"}

    @handler("broadcast")
    def broadcast(self, msg: Message) -> dict[str, Any]:
        value = msg.body["message"]
        if value not in self.values:
            self.values.add(value)
            for peer in self.peers:
                self.send(peer, {"type": "gossip", "messages": [value]})
        return {"type": "broadcast_ok"}

    @handler("gossip")
    def on_gossip(self, msg: Message) -> None:
        self.values.update(msg.body.get("messages", []))

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "messages": sorted(self.values)}
