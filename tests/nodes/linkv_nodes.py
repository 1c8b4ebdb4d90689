"""lin-kv test nodes (glome runtime), correct and broken, for the lin-kv workload tests.

- ``ProxyLinKV``: forwards every read/write/cas to Maelstrom's ``lin-kv`` service, passing its
  errors (20, 22) through; linearizable on any number of nodes.
- ``MemRegister``: an in-memory map with the service's semantics; linearizable on one node.
- ``StaleCacheLinKV``: writes and cas go to ``lin-kv``, but reads are served from a local cache
  that only this node's own writes update; with several nodes, reads go stale.
- ``SilentProxyLinKV``: ``ProxyLinKV`` that applies every third write or cas without replying.
"""

from __future__ import annotations

from typing import Any

from glome.errors import KeyDoesNotExist, PreconditionFailed
from glome.runtime import LinKV, Message, Node, handler


class ProxyLinKV(Node):
    def setup(self) -> None:
        self.kv = LinKV(self, timeout=0.5)

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": await self.kv.read(msg.body["key"])}

    @handler("write")
    async def write(self, msg: Message) -> dict[str, Any] | None:
        await self.kv.write(msg.body["key"], msg.body["value"])
        return {"type": "write_ok"}

    @handler("cas")
    async def cas(self, msg: Message) -> dict[str, Any] | None:
        await self.kv.cas(msg.body["key"], msg.body["from"], msg.body["to"])
        return {"type": "cas_ok"}


class MemRegister(Node):
    def setup(self) -> None:
        self.values: dict[Any, Any] = {}

    def current(self, key: Any) -> Any:
        if key not in self.values:
            raise KeyDoesNotExist("key does not exist")
        return self.values[key]

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": self.current(msg.body["key"])}

    @handler("write")
    def write(self, msg: Message) -> dict[str, Any]:
        self.values[msg.body["key"]] = msg.body["value"]
        return {"type": "write_ok"}

    @handler("cas")
    def cas(self, msg: Message) -> dict[str, Any]:
        key, expected = msg.body["key"], msg.body["from"]
        value = self.current(key)
        if value != expected:
            raise PreconditionFailed(f"current value {value} is not {expected}")
        self.values[key] = msg.body["to"]
        return {"type": "cas_ok"}


class StaleCacheLinKV(ProxyLinKV):
    def setup(self) -> None:
        super().setup()
        self.cache: dict[Any, Any] = {}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        key = msg.body["key"]
        if key not in self.cache:
            self.cache[key] = await self.kv.read(key)
        return {"type": "read_ok", "value": self.cache[key]}

    @handler("write")
    async def write(self, msg: Message) -> dict[str, Any] | None:
        reply = await super().write(msg)
        self.cache[msg.body["key"]] = msg.body["value"]
        return reply

    @handler("cas")
    async def cas(self, msg: Message) -> dict[str, Any] | None:
        reply = await super().cas(msg)
        self.cache[msg.body["key"]] = msg.body["to"]
        return reply


class SilentProxyLinKV(ProxyLinKV):
    """Correct, but every third write or cas is applied without a reply: the client times out
    and records the op as ``:info`` (it did happen), so the checker must place open ops."""

    def setup(self) -> None:
        super().setup()
        self.updates = 0

    def silent(self) -> bool:
        self.updates += 1
        return self.updates % 3 == 0

    @handler("write")
    async def write(self, msg: Message) -> dict[str, Any] | None:
        reply = await super().write(msg)
        return None if self.silent() else reply

    @handler("cas")
    async def cas(self, msg: Message) -> dict[str, Any] | None:
        reply = await super().cas(msg)
        return None if self.silent() else reply
