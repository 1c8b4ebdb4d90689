"""One node on a MemoryTransport, with the test playing every other node, client and service.

Meant to run under a virtual clock (``glome.sim.vclock.run_virtual``): what the node sends is
recorded with the loop time it was sent at, so tests can check timers and backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from glome.runtime import MemoryTransport, Node


class NodeDriver:
    """Drives ``node`` as ``node_ids[0]``; records (loop time, envelope) for all it sends."""

    def __init__(self, node: Node, node_ids: list[str]) -> None:
        self.node = node
        self.node_ids = node_ids
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.transport = MemoryTransport(self._out)
        self.on_send: Callable[[dict[str, Any]], None] | None = None
        """Called with each envelope the node sends: lets a test answer as a service would."""
        self._next = 0
        self.task: asyncio.Task[None] | None = None

    def _out(self, line: bytes) -> None:
        msg = orjson.loads(line)
        self.sent.append((asyncio.get_running_loop().time(), msg))
        if self.on_send is not None:
            self.on_send(msg)

    def deliver(self, src: str, body: dict[str, Any]) -> None:
        self.transport.deliver(orjson.dumps({"src": src, "dest": self.node_ids[0], "body": body}))

    def request(self, body: dict[str, Any]) -> None:
        """A client request from c1, with the next msg_id."""
        self._next += 1
        self.deliver("c1", {**body, "msg_id": self._next})

    async def start(self) -> asyncio.Task[None]:
        """Serve the node and init it; returns its serve task (``stop`` ends it)."""
        self.task = task = asyncio.ensure_future(self.node.serve(self.transport))
        await asyncio.sleep(0)
        self.deliver(
            "c0",
            {"type": "init", "msg_id": 0, "node_id": self.node_ids[0], "node_ids": self.node_ids},
        )
        await asyncio.sleep(0.001)
        return task

    async def stop(self) -> None:
        """End the node's input, as Maelstrom closing stdin does, and wait for serve to end."""
        self.transport.end()
        if self.task is not None:
            await self.task

    def to(self, dest: str, type_: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        """(time, body) of what was sent to ``dest``, only bodies of ``type_`` when given."""
        return [
            (t, m["body"])
            for t, m in self.sent
            if m["dest"] == dest and (type_ is None or m["body"]["type"] == type_)
        ]
