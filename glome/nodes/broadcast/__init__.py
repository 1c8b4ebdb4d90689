"""Challenges 3a-3e, broadcast: every value broadcast to any node ends up in every node's read.

Client RPCs: ``topology`` -> ``topology_ok``, ``broadcast {message}`` -> ``broadcast_ok``,
``read`` -> ``read_ok {messages}``. Nodes, naive to hardened:

- ``SingleNode`` (3a): keeps its values and talks to nobody.
- ``FullStateGossip`` (``Naive``, the review's "before", glome-rs abf20bd): every 100 ms the
  whole set goes to 4 random peers. Never loses a value (everything is re-sent forever), but
  traffic grows with the set, O(N * M) per tick (review finding: full-state gossip).
- ``MarkOnSendDelta`` (``Review``): the review's per-peer delta gossip as glome-rs first did
  it (fb4d6c6, later reverted): a value counts as delivered to a peer as soon as it is *sent*. A gossip dropped
  by a partition is never re-sent, so values are lost for good (3c fails).
- ``EvidenceDelta``: the review's sketch, glome-rs's final version (eff4ea8): a peer's set
  grows only from what that peer sends. Partition-safe, but a receiver never tells the sender what it got, so the sender
  re-sends the same delta every tick: payloads shrink, message counts do not.
- ``Hardened``: acknowledged per-peer deltas with retransmission until acked, push-pull digest
  anti-entropy, batching, jitter, per-peer backoff, bounded batches and per-peer state kept
  as ranges. See its docstring for what it does beyond the review, and why.

Broadcast values are the integers 0, 1, 2, ... (docs/protocol.md#broadcast), so every set here is a
``RangeSet``: a handful of ``[lo, hi]`` ranges, compact in memory and on the wire.

Modules: ``rangeset`` (``RangeSet``), ``gossip`` (the base and the glome-rs variants),
``hardened`` (``Hardened``). Every name is importable from ``glome.nodes.broadcast``.

Binaries: ``python -m glome.nodes.broadcast`` runs ``Hardened``; any variant runs as
``python -m glome.runtime glome.nodes.broadcast:FullStateGossip``.
"""

from __future__ import annotations

from glome.nodes.broadcast.gossip import (
    BroadcastBase,
    EvidenceDelta,
    FullStateGossip,
    MarkOnSendDelta,
    SingleNode,
)
from glome.nodes.broadcast.hardened import Hardened, PeerLink
from glome.nodes.broadcast.rangeset import RangeSet

__all__ = [
    "NODE",
    "BroadcastBase",
    "EvidenceDelta",
    "FullStateGossip",
    "Hardened",
    "MarkOnSendDelta",
    "Naive",
    "PeerLink",
    "RangeSet",
    "Review",
    "SingleNode",
]

Naive = FullStateGossip
Review = MarkOnSendDelta
NODE = Hardened
