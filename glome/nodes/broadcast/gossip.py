"""The client side every broadcast node shares (``BroadcastBase``), the single node of 3a,
and the gossip of glome-rs and its review: ``FullStateGossip``, ``MarkOnSendDelta`` and
``EvidenceDelta`` (the package docstring tells their story)."""

from __future__ import annotations

from typing import Any, ClassVar

from glome.errors import MalformedRequest
from glome.nodes.broadcast.rangeset import RangeSet, is_int
from glome.runtime import Message, Node, handler


class BroadcastBase(Node):
    """Client side of every variant: values in a ``RangeSet``, reads answered from a cache."""

    def setup(self) -> None:
        self.values = RangeSet()
        self.topology: dict[str, list[str]] = {}
        self._read_cache: list[int] | None = None

    @handler("topology")
    async def on_topology(self, msg: Message) -> dict[str, Any]:
        topology = msg.body.get("topology")
        if isinstance(topology, dict):
            self.topology = {str(k): list(v) for k, v in topology.items() if isinstance(v, list)}
        return {"type": "topology_ok"}

    @handler("broadcast")
    async def on_broadcast(self, msg: Message) -> dict[str, Any]:
        value = msg.body.get("message")
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedRequest(f"broadcast message must be an integer, not {value!r}")
        if self.add_values(RangeSet([(value, value)])):
            self.on_new_values(from_peer=None)
        return {"type": "broadcast_ok"}

    @handler("read")
    async def on_read(self, msg: Message) -> dict[str, Any]:
        if self._read_cache is None:
            self._read_cache = list(self.values)
        return {"type": "read_ok", "messages": self._read_cache}

    def add_values(self, incoming: RangeSet) -> int:
        added = self.values.update(incoming)
        if added:
            self._read_cache = None
        return added

    def on_new_values(self, from_peer: str | None) -> None:
        """Hook: the local set grew (a client broadcast when ``from_peer`` is None)."""


class SingleNode(BroadcastBase):
    """3a: one node, so storing the value is all there is to do."""


# ---------------------------------------------------------------- glome-rs and the review
class _RandomPeersGossip(BroadcastBase):
    """glome-rs's shape: ignore the topology, gossip every 100 ms to ``fanout`` random peers."""

    fanout: ClassVar[int] = 4
    interval: ClassVar[float] = 0.1

    def setup(self) -> None:
        super().setup()
        self.gossip_peers: list[str] = []

    async def on_init(self) -> None:
        peers = list(self.peers)
        self.rng.shuffle(peers)
        self.gossip_peers = peers[: self.fanout]
        self.every(self.interval, self.gossip, jitter=0.0)

    def gossip(self) -> None:
        raise NotImplementedError

    @handler("gossip")
    async def on_gossip(self, msg: Message) -> None:
        messages = msg.body.get("messages")
        if not (isinstance(messages, list) and all(is_int(m) for m in messages)):
            self.log.warning("ignoring gossip without an integer list from %s", msg.src)
            return
        self.received(msg.src, messages)
        if self.add_values(RangeSet.of(messages)):
            self.on_new_values(from_peer=msg.src)

    def received(self, peer: str, messages: list[int]) -> None:
        """Hook: ``peer`` sent us ``messages``."""


class FullStateGossip(_RandomPeersGossip):
    """The review's "before": the whole set to 4 random peers every 100 ms, fire and forget."""

    def gossip(self) -> None:
        if not self.values:
            return
        everything = list(self.values)
        for peer in self.gossip_peers:
            self.send(peer, {"type": "gossip", "messages": everything})


class MarkOnSendDelta(_RandomPeersGossip):
    """The review's per-peer delta with delivery assumed on send (glome-rs fb4d6c6, reverted).

    ``peer_seen[p]`` is what we believe ``p`` holds. It grows when ``p`` gossips to us and,
    the flaw, when we send to ``p``. A partition drops the send, the belief stays, the value is
    never sent to ``p`` again: ``p``'s final read misses it (a lost value). The per-peer sets
    also grow without bound (review finding on unbounded sets).
    """

    mark_on_send: ClassVar[bool] = True
    batch_limit: ClassVar[int] = 1024

    def setup(self) -> None:
        super().setup()
        self.peer_seen: dict[str, set[int]] = {}

    def gossip(self) -> None:
        for peer in self.gossip_peers:
            seen = self.peer_seen.setdefault(peer, set())
            delta = [v for v in self.values if v not in seen][: self.batch_limit]
            if not delta:
                continue
            self.send(peer, {"type": "gossip", "messages": delta})
            if self.mark_on_send:
                seen.update(delta)

    def received(self, peer: str, messages: list[int]) -> None:
        self.peer_seen.setdefault(peer, set()).update(messages)


class EvidenceDelta(MarkOnSendDelta):
    """The review's own sketch, as glome-rs finally shipped it (eff4ea8): a peer is believed
    to hold only what it sent us.

    Safe under partitions, since nothing is assumed on send. But nobody acknowledges, so a
    value our peer never gossips back (it is not among its 4 random peers, or it is but sends
    us only what we lack) is re-sent every tick forever: the message count stays that of full
    state gossip and only payloads shrink.
    """

    mark_on_send = False
