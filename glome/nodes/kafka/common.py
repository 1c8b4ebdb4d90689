"""What every kafka node shares: request validation and an in-memory per-key log.

Maelstrom's kafka RPCs (docs/protocol.md#kafka): ``send {key, msg}`` -> ``send_ok {offset}``;
``poll {offsets: {key: from}}`` -> ``poll_ok {msgs: {key: [[offset, msg], ...]}}``;
``commit_offsets {offsets}`` -> ``commit_offsets_ok``; ``list_committed_offsets {keys}`` ->
``list_committed_offsets_ok {offsets}``. Keys are strings, offsets integers. Offsets must be
unique and increasing per key; gaps are allowed (the Raft log uses its global log index).
"""

from __future__ import annotations

import bisect
import zlib
from typing import Any, TypeGuard

from glome.errors import MalformedRequest

MAX_POLL_PER_KEY = 1000
"""A poll returns at most this many messages per key; the client polls again for the rest."""


def is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_send(body: dict[str, Any]) -> tuple[str, Any]:
    key = body.get("key")
    if not isinstance(key, str):
        raise MalformedRequest("send needs a string key")
    if "msg" not in body:
        raise MalformedRequest("send needs a msg")
    return key, body["msg"]


def parse_offsets(body: dict[str, Any]) -> dict[str, int]:
    """``{"offsets": {key: int}}``, sorted by key so iteration never depends on arrival order."""
    offsets = body.get("offsets")
    if not isinstance(offsets, dict) or not all(
        isinstance(k, str) and is_int(v) and v >= 0 for k, v in offsets.items()
    ):
        raise MalformedRequest("offsets must map string keys to non-negative integers")
    return dict(sorted(offsets.items()))


def parse_keys(body: dict[str, Any]) -> list[str]:
    keys = body.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise MalformedRequest("keys must be a list of strings")
    return sorted(set(keys))


def owner_of(key: str, node_ids: list[str]) -> str:
    """The node that owns ``key``: a stable hash (CRC-32, not Python's salted ``hash``)."""
    return node_ids[zlib.crc32(key.encode()) % len(node_ids)]


class KeyLog:
    """One key's messages, offsets strictly increasing (gaps allowed)."""

    __slots__ = ("msgs", "offsets")

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.msgs: list[Any] = []

    def append(self, offset: int, msg: Any) -> None:
        if self.offsets and offset <= self.offsets[-1]:
            raise ValueError(f"offset {offset} is not above {self.offsets[-1]}")
        self.offsets.append(offset)
        self.msgs.append(msg)

    def insert_at(self, offset: int, msg: Any) -> None:
        """Put ``msg`` at ``offset`` whatever is below it, replacing what was there (the
        BTreeMap insert of glome-rs followers). Leaves gaps: only naive nodes use it."""
        i = bisect.bisect_left(self.offsets, offset)
        if i < len(self.offsets) and self.offsets[i] == offset:
            self.msgs[i] = msg
        else:
            self.offsets.insert(i, offset)
            self.msgs.insert(i, msg)

    def next_offset(self) -> int:
        return self.offsets[-1] + 1 if self.offsets else 0

    def read_from(self, offset: int, limit: int = MAX_POLL_PER_KEY) -> list[list[Any]]:
        i = bisect.bisect_left(self.offsets, offset)
        return [
            [o, m]
            for o, m in zip(self.offsets[i : i + limit], self.msgs[i : i + limit], strict=True)
        ]


class Logs:
    """Every key's log plus the committed offsets (a max-register per key)."""

    def __init__(self) -> None:
        self.logs: dict[str, KeyLog] = {}
        self.committed: dict[str, int] = {}

    def append(self, key: str, offset: int, msg: Any) -> None:
        self.logs.setdefault(key, KeyLog()).append(offset, msg)

    def append_next(self, key: str, msg: Any) -> int:
        """Append at the next dense offset (0, 1, 2...) and return it."""
        log = self.logs.setdefault(key, KeyLog())
        offset = log.next_offset()
        log.append(offset, msg)
        return offset

    def poll(self, offsets: dict[str, int]) -> dict[str, list[list[Any]]]:
        out: dict[str, list[list[Any]]] = {}
        for key, start in offsets.items():
            log = self.logs.get(key)
            if log is not None:
                msgs = log.read_from(start)
                if msgs:
                    out[key] = msgs
        return out

    def commit(self, offsets: dict[str, int]) -> bool:
        """Max-merge ``offsets`` in; True when anything rose."""
        changed = False
        for key, offset in offsets.items():
            if offset > self.committed.get(key, -1):
                self.committed[key] = offset
                changed = True
        return changed

    def list_committed(self, keys: list[str]) -> dict[str, int]:
        """Known keys only: omitting a key under-reports, which is always safe."""
        return {k: self.committed[k] for k in keys if k in self.committed}
