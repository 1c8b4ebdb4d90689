"""Challenge 5b: a multi-node kafka-style log whose state lives in Maelstrom's ``lin-kv``.

``maelstrom test -w kafka --bin BIN --node-count 2 --concurrency 2n --time-limit 20 --rate 1000``
where BIN runs ``python -m glome.runtime glome.nodes.kafka:LinKVKafka``

Every node serves every key. lin-kv holds, per key ``k``:

- ``kafka/next/k``: the next offset to hand out. A send reads it and moves it on with
  ``cas(n, n + 1)``; two nodes racing for the same key make one cas fail (error 22) and the
  loser reads and tries again. Those conflicts are what 5c asks you to cut
  (``cas_conflicts`` below counts them);
- ``kafka/msg/k/o``: the message at offset ``o``, written after the offset is won;
- ``kafka/committed/k``: the committed offset, a max-register moved on by cas.

Flaw kept on purpose (naive): a sender that wins offset ``o`` and then dies or times out
before writing ``kafka/msg/k/o`` leaves a hole. A poll stops at the first missing slot (it must:
returning ``o + 1`` while ``o`` may still appear would be a poll-skip), so that key is stuck
for every poller from then on. ``OwnerKafka`` (5c) has one writer per key and no holes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from glome.errors import PreconditionFailed, TemporarilyUnavailable
from glome.nodes.kafka.common import MAX_POLL_PER_KEY, parse_keys, parse_offsets, parse_send
from glome.runtime import LinKV, Message, Node, handler

MISSING = object()


def counter_key(key: str) -> str:
    return f"kafka/next/{key}"


def msg_key(key: str, offset: int) -> str:
    return f"kafka/msg/{key}/{offset}"


def committed_key(key: str) -> str:
    return f"kafka/committed/{key}"


class LinKVKafka(Node):
    """5b: offsets allocated by cas on a per-key counter in lin-kv; messages in lin-kv too."""

    kv_timeout = 1.0
    """Seconds to wait for lin-kv; well under the client's 5 s so we can still answer."""
    max_cas_attempts = 50
    poll_batch = 32
    """Offsets read per key per poll (keys hold at most --max-writes-per-key messages)."""

    def setup(self) -> None:
        self.kv = LinKV(self, timeout=self.kv_timeout)
        self.cas_conflicts = 0

    async def allocate_offset(self, key: str) -> int:
        """Read the counter, cas it one up; on a lost race read again."""
        for _ in range(self.max_cas_attempts):
            current = await self.kv.read(counter_key(key), default=0)
            try:
                await self.kv.cas(counter_key(key), current, current + 1, create_if_not_exists=True)
            except PreconditionFailed:
                self.cas_conflicts += 1
                continue
            return int(current)
        # Every attempt lost a race, so no offset is ours: a definite error is honest.
        raise TemporarilyUnavailable(
            f"gave up on key {key!r} after {self.max_cas_attempts} cas races"
        )

    @handler("send")
    async def on_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        offset = await self.allocate_offset(key)
        await self.kv.write(msg_key(key, offset), value)
        return {"type": "send_ok", "offset": offset}

    async def poll_key(self, key: str, start: int) -> list[list[Any]]:
        end = min(int(await self.kv.read(counter_key(key), default=0)), start + self.poll_batch)
        offsets = list(range(start, end))
        values = await asyncio.gather(
            *(self.kv.read(msg_key(key, o), default=MISSING) for o in offsets)
        )
        out: list[list[Any]] = []
        for offset, value in zip(offsets, values, strict=True):
            if value is MISSING:  # allocated, not written (yet, or ever): stop, never skip
                break
            out.append([offset, value])
        return out

    @handler("poll")
    async def on_poll(self, msg: Message) -> dict[str, Any]:
        offsets = parse_offsets(msg.body)
        keys = list(offsets)
        results = await asyncio.gather(*(self.poll_key(k, offsets[k]) for k in keys))
        msgs = {k: r[:MAX_POLL_PER_KEY] for k, r in zip(keys, results, strict=True) if r}
        return {"type": "poll_ok", "msgs": msgs}

    async def commit_key(self, key: str, offset: int) -> None:
        for _ in range(self.max_cas_attempts):
            current = await self.kv.read(committed_key(key), default=-1)
            if offset <= current:
                return
            try:
                await self.kv.cas(committed_key(key), current, offset, create_if_not_exists=True)
                return
            except PreconditionFailed:
                self.cas_conflicts += 1
        raise TemporarilyUnavailable(f"gave up committing key {key!r}")

    @handler("commit_offsets")
    async def on_commit_offsets(self, msg: Message) -> dict[str, Any]:
        offsets = parse_offsets(msg.body)
        await asyncio.gather(*(self.commit_key(k, o) for k, o in offsets.items()))
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    async def on_list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        keys = parse_keys(msg.body)
        values = await asyncio.gather(*(self.kv.read(committed_key(k), default=-1) for k in keys))
        offsets = {k: v for k, v in zip(keys, values, strict=True) if v >= 0}
        return {"type": "list_committed_offsets_ok", "offsets": offsets}


if __name__ == "__main__":
    LinKVKafka.main()
