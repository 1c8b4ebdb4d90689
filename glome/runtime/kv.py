"""Clients for Maelstrom's built-in services: the KV stores and the timestamp oracle.

    kv = LinKV(node)
    value = await kv.read("counter", default=0)
    await kv.cas("counter", value, value + 1, create_if_not_exists=True)

``read`` raises ``KeyDoesNotExist`` for a missing key (unless given a default) and ``cas``
raises ``PreconditionFailed`` when the current value is not ``from_``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glome.errors import KeyDoesNotExist

if TYPE_CHECKING:
    from glome.runtime.node import Node

_MISSING: Any = object()


class KV:
    """A key-value service client: ``read``, ``write``, ``cas``."""

    def __init__(self, node: Node, service: str, timeout: float | None = None) -> None:
        self.node = node
        self.service = service
        self.timeout = timeout

    async def read(self, key: Any, default: Any = _MISSING) -> Any:
        try:
            body = await self.node.rpc(self.service, {"type": "read", "key": key}, self.timeout)
        except KeyDoesNotExist:
            if default is _MISSING:
                raise
            return default
        return body.get("value")

    async def write(self, key: Any, value: Any) -> None:
        await self.node.rpc(
            self.service, {"type": "write", "key": key, "value": value}, self.timeout
        )

    async def cas(
        self, key: Any, from_: Any, to: Any, *, create_if_not_exists: bool = False
    ) -> None:
        body: dict[str, Any] = {"type": "cas", "key": key, "from": from_, "to": to}
        if create_if_not_exists:
            body["create_if_not_exists"] = True
        await self.node.rpc(self.service, body, self.timeout)


class LinKV(KV):
    """``lin-kv``: linearizable."""

    def __init__(self, node: Node, timeout: float | None = None) -> None:
        super().__init__(node, "lin-kv", timeout)


class SeqKV(KV):
    """``seq-kv``: sequentially consistent; reads may be stale, per caller monotonic."""

    def __init__(self, node: Node, timeout: float | None = None) -> None:
        super().__init__(node, "seq-kv", timeout)


class LWWKV(KV):
    """``lww-kv``: last-write-wins replicas (Maelstrom's never converge; see docs)."""

    def __init__(self, node: Node, timeout: float | None = None) -> None:
        super().__init__(node, "lww-kv", timeout)


class TSO:
    """``lin-tso``: a linearizable source of increasing timestamps 0, 1, 2, ..."""

    def __init__(self, node: Node, timeout: float | None = None) -> None:
        self.node = node
        self.timeout = timeout

    async def ts(self) -> int:
        body = await self.node.rpc("lin-tso", {"type": "ts"}, self.timeout)
        return int(body["ts"])
