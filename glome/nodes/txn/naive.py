"""Replicated transactions as glome-rs did them: the naive version and its flawed fix.

``NaiveReplicatedTxn`` (6b, glome-rs "tarut" abf20bd):
``maelstrom test -w txn-rw-register --bin BIN --node-count 2 --concurrency 2n --time-limit 20
    --rate 1000 --consistency-models read-uncommitted``
where BIN runs ``python -m glome.runtime glome.nodes.txn:NaiveReplicatedTxn``

Run locally, answer at once, send the txn's writes (in order) to every peer, fire and forget;
a replica applies what arrives in arrival order, with no versions. Two nodes that write the
same key at about the same time each apply their own write first and the other's second, and
end with different values **forever** (divergence); a partition loses writes for good. Read
uncommitted allows all of it, and Maelstrom never checks convergence, so it passes. In terms
of versions: n0 orders x=1 before x=2 and n1 orders x=2 before x=1, a write-write cycle, which
is G0 once transactions write two keys each (x on one side, y on the other); Maelstrom's
checker cannot see G0 in rw-register histories (maelstrom issue #56).

``CommitTsTxn`` is glome-rs's fix (57d5ccf), the review's "add a logical timestamp for LWW
merges": a per-node ``commit_ts`` bumped once per txn, writes tagged with it, a replica applies
a write only if its version is strictly greater than the key's. Its bugs, all reproduced here:

1. ``commit_ts`` is never advanced by versions received. A node that has seen version 50 for
   a key and then commits with its own ts 3 keeps its value locally, while every other node
   drops the write (3 < 50): divergence again;
2. equal versions from two nodes are both dropped (strict ``>``): each keeps its own value;
3. every write of one txn shares the version, and the writes are sent stably sorted by key.
   A txn writing x twice sends (x=1, v) then (x=2, v); the replica applies x=1 and drops x=2
   as not newer. Other nodes now hold a value that was never final: a read of it is G1b
   (intermediate read), which read committed (6c) forbids.

``LamportLWWTxn`` fixes 1 and 2 with (Lamport, node) versions, 3 by sending final writes only.
"""

from __future__ import annotations

from typing import Any

from glome.nodes.txn.common import Key, parse_txn, run_on, sort_key
from glome.runtime import Message, Node, handler


class NaiveReplicatedTxn(Node):
    """tarut: apply in arrival order, no versions, fire-and-forget replication."""

    def setup(self) -> None:
        self.data: dict[Key, Any] = {}

    @handler("txn")
    async def on_txn(self, msg: Message) -> dict[str, Any]:
        txn = parse_txn(msg.body)
        result, final = run_on(self.data, txn)
        self.data.update(final)
        writes = [[key, value] for op, key, value in txn if op == "w"]  # all, in order
        if writes:
            for peer in self.peers:
                self.send(peer, {"type": "replicate", "writes": writes})
        return {"type": "txn_ok", "txn": result}

    @handler("replicate")
    async def on_replicate(self, msg: Message) -> None:
        for key, value in msg.body.get("writes", []):
            self.data[key] = value  # last to arrive wins: arrival order differs per node


class CommitTsTxn(Node):
    """glome-rs 57d5ccf: LWW by a per-node ``commit_ts`` that never learns from peers."""

    def setup(self) -> None:
        self.data: dict[Key, Any] = {}
        self.versions: dict[Key, int] = {}
        self.commit_ts = 0

    @handler("txn")
    async def on_txn(self, msg: Message) -> dict[str, Any]:
        txn = parse_txn(msg.body)
        result, final = run_on(self.data, txn)
        writes = [(key, value) for op, key, value in txn if op == "w"]
        if writes:
            self.commit_ts += 1
            self.data.update(final)  # locally the txn wins, whatever version the key had
            for key in final:
                self.versions[key] = self.commit_ts
            tagged = sorted(
                ([k, v, self.commit_ts] for k, v in writes), key=lambda w: sort_key(w[0])
            )  # stable: x=1 stays before x=2
            for peer in self.peers:
                self.send(peer, {"type": "replicate", "writes": tagged})
        return {"type": "txn_ok", "txn": result}

    @handler("replicate")
    async def on_replicate(self, msg: Message) -> None:
        for key, value, version in msg.body.get("writes", []):
            if version > self.versions.get(key, 0):  # strict: ties and older are dropped
                self.data[key] = value
                self.versions[key] = version
            # commit_ts is not advanced here: the bug.


if __name__ == "__main__":
    NaiveReplicatedTxn.main()
