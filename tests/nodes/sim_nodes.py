"""Small glome nodes the simulator tests run in-process.

- ``Flood``: broadcast by flooding each new value to its topology neighbours (correct without
  partitions).
- ``Gossip``: broadcast by periodic anti-entropy with acknowledgements (correct under
  partitions, given time to recover); the benchmark's node.
- ``Forgetful``: acknowledges every broadcast but never stores multiples of 3 (loses values).
- ``GCounter``: a state-based grow-only counter gossiped to all peers.
- ``Crasher``: echo node whose object breaks on the 5th message it receives.
- ``Silent``: never answers init.

Also ``Ids`` (unique ids ``<node>-<count>``) and ``BadIds`` (always 7)."""

from __future__ import annotations

from typing import Any

from helpers.tapped import Tapped

from glome.runtime import Message, Node, Transport, handler


class Flood(Node):
    def setup(self) -> None:
        self.values: set[int] = set()
        self.neighbours: list[str] = []

    @handler("topology")
    async def topology(self, msg: Message) -> dict[str, Any]:
        self.neighbours = list(msg.body["topology"].get(self.id, []))
        return {"type": "topology_ok"}

    def _learn(self, value: int, came_from: str) -> None:
        if value in self.values:
            return
        self.values.add(value)
        for peer in self.neighbours:
            if peer != came_from:
                self.send(peer, {"type": "flood", "message": value})

    @handler("broadcast")
    async def broadcast(self, msg: Message) -> dict[str, Any]:
        self._learn(msg.body["message"], msg.src)
        return {"type": "broadcast_ok"}

    @handler("flood")
    async def flood(self, msg: Message) -> None:
        self._learn(msg.body["message"], msg.src)

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "messages": sorted(self.values)}


class Gossip(Node):
    """Anti-entropy: every ``interval`` s each neighbour gets the values it has not acked.

    Handlers are plain functions (they never await), so the runtime runs them inline.
    """

    interval = 0.2

    def setup(self) -> None:
        self.values: set[int] = set()
        self.neighbours: list[str] = []
        self.pending: dict[str, set[int]] = {}

    async def on_init(self) -> None:
        self.every(self.interval, self._gossip)

    @handler("topology")
    def topology(self, msg: Message) -> dict[str, Any]:
        self.neighbours = list(msg.body["topology"].get(self.id, []))
        self.pending = {peer: set() for peer in self.neighbours}
        return {"type": "topology_ok"}

    def _learn(self, values: list[int], came_from: str) -> None:
        for value in values:
            if value not in self.values:
                self.values.add(value)
                for peer in self.neighbours:
                    if peer != came_from:
                        self.pending[peer].add(value)

    def _gossip(self) -> None:
        for peer in self.neighbours:
            if self.pending[peer]:
                self.send(peer, {"type": "gossip", "messages": sorted(self.pending[peer])})

    @handler("gossip")
    def gossip(self, msg: Message) -> None:
        values = msg.body["messages"]
        self._learn(values, msg.src)
        self.send(msg.src, {"type": "gossip_ok", "messages": values})

    @handler("gossip_ok")
    def gossip_ok(self, msg: Message) -> None:
        self.pending.get(msg.src, set()).difference_update(msg.body["messages"])

    @handler("broadcast")
    def broadcast(self, msg: Message) -> dict[str, Any]:
        self._learn([msg.body["message"]], msg.src)
        return {"type": "broadcast_ok"}

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "messages": sorted(self.values)}


class Forgetful(Flood):
    def _learn(self, value: int, came_from: str) -> None:
        if value % 3 != 0:
            super()._learn(value, came_from)


class GCounter(Node):
    def setup(self) -> None:
        self.counts: dict[str, int] = {}

    async def on_init(self) -> None:
        self.every(0.1, self._gossip)

    def _gossip(self) -> None:
        for peer in self.peers:
            self.send(peer, {"type": "counts", "counts": dict(sorted(self.counts.items()))})

    @handler("counts")
    async def merge(self, msg: Message) -> None:
        for node, count in msg.body["counts"].items():
            self.counts[node] = max(self.counts.get(node, 0), count)

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        self.counts[self.id] = self.counts.get(self.id, 0) + msg.body["delta"]
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": sum(self.counts.values())}


class Crasher(Node):
    """Its object breaks (not a handler: the runtime would answer that) on the 5th message."""

    def setup(self) -> None:
        self.received = 0

    async def serve(self, transport: Transport) -> None:
        await super().serve(Tapped(transport, self._tap))

    def _tap(self, message: Message) -> bool:
        self.received += 1
        if self.received == 5:
            raise RuntimeError("the node object broke")
        return True

    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body["echo"]}


class Silent(Node):
    """Hears nothing (init included)."""

    async def serve(self, transport: Transport) -> None:
        await super().serve(Tapped(transport, lambda message: False))


class Ids(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    @handler("generate")
    async def generate(self, msg: Message) -> dict[str, Any]:
        self.count += 1
        return {"type": "generate_ok", "id": f"{self.id}-{self.count}"}


class BadIds(Node):
    @handler("generate")
    async def generate(self, msg: Message) -> dict[str, Any]:
        return {"type": "generate_ok", "id": 7}
