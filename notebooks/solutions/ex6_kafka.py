# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Solutions to exercise 6 (for teachers)
#
# The cell tagged `solution` replaces the cell tagged `exercise` in `exercises/ex6_kafka.py`.
# Its poll reads the keys concurrently (`asyncio.gather`, one task per key). That matters:
# at the end of a run each client polls every key the run wrote, from offset 0, in one
# request; read one after another, that is a lin-kv round trip per message in turn, the poll
# outlasts the client's timeout (5 s) again and again, and 5b reports the last keys' messages
# as `unseen`. glome's own version, which also reads a key's offsets concurrently and
# bounds its cas retries, is `glome.nodes.kafka.LinKVKafka`.

# %%
import asyncio
from typing import Any

from glome.errors import PreconditionFailed
from glome.runtime import LinKV, Message, Node, handler


# %% tags=["solution"]
class MyKafka(Node):
    POLL_BATCH = 10  # messages per key per poll

    async def on_init(self) -> None:
        self.kv = LinKV(self, timeout=1.0)

    async def take_offset(self, key: str) -> int:
        while True:
            offset = await self.kv.read(f"next/{key}", default=0)
            try:
                await self.kv.cas(f"next/{key}", offset, offset + 1, create_if_not_exists=True)
            except PreconditionFailed:
                continue  # another send took this offset: try the next one
            return offset

    @handler("send")
    async def send_(self, msg: Message) -> dict[str, Any]:
        key = msg.body["key"]
        offset = await self.take_offset(key)
        await self.kv.write(f"msg/{key}/{offset}", msg.body["msg"])
        return {"type": "send_ok", "offset": offset}

    async def poll_key(self, key: str, start: int) -> list[list[Any]]:
        end = await self.kv.read(f"next/{key}", default=0)
        found = []
        for offset in range(start, min(end, start + self.POLL_BATCH)):
            value = await self.kv.read(f"msg/{key}/{offset}", default=None)
            if value is None:
                break  # taken but not written yet: stop here, never skip
            found.append([offset, value])
        return found

    @handler("poll")
    async def poll(self, msg: Message) -> dict[str, Any]:
        # Every key at once: a final poll asks for every key from offset 0.
        keys = sorted(msg.body["offsets"])
        found = await asyncio.gather(*(self.poll_key(k, msg.body["offsets"][k]) for k in keys))
        return {"type": "poll_ok", "msgs": {k: m for k, m in zip(keys, found, strict=True) if m}}

    @handler("commit_offsets")
    async def commit_offsets(self, msg: Message) -> dict[str, Any]:
        for key, offset in sorted(msg.body["offsets"].items()):
            while True:
                current = await self.kv.read(f"committed/{key}", default=-1)
                if offset <= current:
                    break
                try:
                    await self.kv.cas(
                        f"committed/{key}", current, offset, create_if_not_exists=True
                    )
                    break
                except PreconditionFailed:
                    continue
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    async def list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        offsets = {}
        for key in msg.body["keys"]:
            committed = await self.kv.read(f"committed/{key}", default=-1)
            if committed >= 0:
                offsets[key] = committed
        return {"type": "list_committed_offsets_ok", "offsets": offsets}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` is part 1 alone: everything in the node's memory. It passes 5a;
# on two nodes each node hands out its own offsets, so 5b sees two messages at one offset.


# %% tags=["buggy"]
class MyKafka(Node):  # noqa: F811 (the buggy twin of the solution above)
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.logs: dict[str, list[Any]] = {}
        self.committed: dict[str, int] = {}

    @handler("send")
    def send_(self, msg: Message) -> dict[str, Any]:
        log = self.logs.setdefault(msg.body["key"], [])
        log.append(msg.body["msg"])
        return {"type": "send_ok", "offset": len(log) - 1}

    @handler("poll")
    def poll(self, msg: Message) -> dict[str, Any]:
        out = {}
        for key, start in msg.body["offsets"].items():
            log = self.logs.get(key, [])
            if start < len(log):
                out[key] = [[o, log[o]] for o in range(start, min(len(log), start + 10))]
        return {"type": "poll_ok", "msgs": out}

    @handler("commit_offsets")
    def commit_offsets(self, msg: Message) -> dict[str, Any]:
        for key, offset in msg.body["offsets"].items():
            self.committed[key] = max(offset, self.committed.get(key, -1))
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    def list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        keys = [k for k in msg.body["keys"] if k in self.committed]
        return {
            "type": "list_committed_offsets_ok",
            "offsets": {k: self.committed[k] for k in keys},
        }
