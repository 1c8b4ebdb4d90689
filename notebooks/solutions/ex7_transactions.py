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
# # Solutions to exercise 7 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in
# `exercises/ex7_transactions.py`. glome's own version is
# `glome.nodes.txn.ReadCommittedTxn`.

# %%
from typing import Any

from glome.runtime import Message, Node, handler


# %% tags=["solution"]
class MyTxn(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data: dict[int, Any] = {}
        self.versions: dict[int, tuple[int, str]] = {}
        self.lamport = 0
        self.unacked: dict[str, dict[int, list[Any]]] = {}

    async def on_init(self) -> None:
        self.unacked = {peer: {} for peer in self.peers}
        self.every(0.2, self.resend)

    def store(self, key: int, value: Any, version: tuple[int, str]) -> None:
        if key not in self.versions or version > self.versions[key]:  # last writer wins
            self.data[key] = value
            self.versions[key] = version

    @handler("txn")
    def txn(self, msg: Message) -> dict[str, Any]:
        writes: dict[int, Any] = {}
        result = []
        for op, key, value in msg.body["txn"]:
            if op == "r":
                result.append(["r", key, writes[key] if key in writes else self.data.get(key)])
            else:
                writes[key] = value
                result.append(["w", key, value])
        if writes:  # only the final writes, all at once, under one version
            self.lamport += 1
            version = (self.lamport, self.id)
            for key, value in writes.items():
                self.store(key, value, version)
                for box in self.unacked.values():
                    box[key] = [value, list(version)]
            self.resend()
        return {"type": "txn_ok", "txn": result}

    def resend(self) -> None:
        for peer, box in sorted(self.unacked.items()):
            if box:
                writes = [[k, v, ver] for k, (v, ver) in sorted(box.items())]
                self.send(peer, {"type": "replicate", "writes": writes})

    @handler("replicate")
    def replicate(self, msg: Message) -> None:
        for key, value, (lamport, node) in msg.body["writes"]:
            self.lamport = max(self.lamport, lamport)
            self.store(key, value, (lamport, node))
        self.send(msg.src, {"type": "replicate_ack", "writes": msg.body["writes"]})

    @handler("replicate_ack")
    def replicate_ack(self, msg: Message) -> None:
        box = self.unacked.get(msg.src, {})
        for key, value, version in msg.body["writes"]:
            if box.get(key) == [value, version]:  # not overwritten since: done
                del box[key]


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` versions each transaction like the solution, but replicates *every*
# write, not only the final one per key, in the order the transaction made them. The replica
# keeps a key's first write for a version and ignores the second (same version, not newer),
# so after `[w 1 5] [w 1 6]` it holds 5, an intermediate value: its readers see G1b, which
# read committed forbids (6c). glome-rs made this mistake (notebook `06_transactions`).


# %% tags=["buggy"]
class MyTxn(Node):  # noqa: F811 (the buggy twin of the solution above)
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data: dict[int, Any] = {}
        self.versions: dict[int, tuple[int, str]] = {}
        self.lamport = 0

    def store(self, key: int, value: Any, version: tuple[int, str]) -> None:
        if key not in self.versions or version > self.versions[key]:
            self.data[key] = value
            self.versions[key] = version

    @handler("txn")
    def txn(self, msg: Message) -> dict[str, Any]:
        self.lamport += 1
        version = (self.lamport, self.id)
        result, writes = [], []
        for op, key, value in msg.body["txn"]:
            if op == "r":
                result.append(["r", key, self.data.get(key)])
            else:
                self.data[key] = value  # locally the last write wins
                self.versions[key] = version
                writes.append([key, value, list(version)])
                result.append(["w", key, value])
        for peer in self.peers:
            self.send(peer, {"type": "replicate", "writes": writes})
        return {"type": "txn_ok", "txn": result}

    @handler("replicate")
    def replicate(self, msg: Message) -> None:
        for key, value, (lamport, node) in msg.body["writes"]:
            self.lamport = max(self.lamport, lamport)
            self.store(key, value, (lamport, node))
