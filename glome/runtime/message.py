"""Message: one protocol envelope, and the parsing that refuses anything else."""

from __future__ import annotations

from typing import Any

import orjson

from glome.errors import ProtocolError


class Message:
    """An envelope ``{"src", "dest", "body"}``; ``id`` is the network's number, if any."""

    __slots__ = ("body", "dest", "id", "src")

    def __init__(self, src: str, dest: str, body: dict[str, Any], id: int | None = None) -> None:
        self.src = src
        self.dest = dest
        self.body = body
        self.id = id

    @property
    def type(self) -> str:
        return self.body["type"]

    @property
    def msg_id(self) -> int | None:
        v = self.body.get("msg_id")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    @property
    def in_reply_to(self) -> int | None:
        v = self.body.get("in_reply_to")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dest": self.dest, "body": self.body}

    def __repr__(self) -> str:
        return f"Message({self.src!r} -> {self.dest!r}, {self.body!r})"


def parse(line: bytes | str) -> Message:
    """Parse one line into a Message, or raise ProtocolError saying what is wrong."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"not a JSON object but {type(data).__name__}")
    src, dest, body = data.get("src"), data.get("dest"), data.get("body")
    if not isinstance(src, str) or not isinstance(dest, str):
        raise ProtocolError("src and dest must be strings")
    if not isinstance(body, dict):
        raise ProtocolError("body must be a JSON object")
    if not isinstance(body.get("type"), str):
        raise ProtocolError("body.type must be a string")
    msg_id = data.get("id")
    return Message(src, dest, body, msg_id if type(msg_id) is int else None)
