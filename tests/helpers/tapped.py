"""A transport wrapper for test nodes whose receiving side misbehaves (breaks, or hears nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glome.errors import ProtocolError
from glome.protocol import Message
from glome.runtime.transport import Inbox, Transport


class _TappedInbox:
    def __init__(self, inbox: Inbox, tap: Callable[[Message], bool]) -> None:
        self.inbox, self.tap = inbox, tap

    def receive(self, message: Message, size: int) -> None:
        if self.tap(message):
            self.inbox.receive(message, size)

    def malformed(self, line: bytes, error: ProtocolError) -> None:
        self.inbox.malformed(line, error)

    def end(self) -> None:
        self.inbox.end()


class Tapped:
    """``transport``, except that ``tap(message)`` sees each message first: the node gets it
    only if ``tap`` returns True, and whatever ``tap`` raises escapes the node object."""

    def __init__(self, transport: Transport, tap: Callable[[Message], bool]) -> None:
        self.transport, self.tap = transport, tap

    def start(self, inbox: Inbox) -> None:
        self.transport.start(_TappedInbox(inbox, self.tap))

    def send(self, src: str, dest: str, body: dict[str, Any]) -> int:
        return self.transport.send(src, dest, body)

    async def close(self) -> None:
        await self.transport.close()
