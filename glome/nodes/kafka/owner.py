"""Challenge 5c: fewer CAS conflicts, by giving every key one owner node.

``maelstrom test -w kafka --bin BIN --node-count 2 --concurrency 2n --time-limit 20 --rate 1000``
where BIN runs ``python -m glome.runtime glome.nodes.kafka:OwnerKafka``

5b's cost is contention: every node bumps the same lin-kv counter, so sends race, lose cas and
retry, and every poll reads the counter and each message slot from lin-kv. Here each key has a
single writer, chosen the same way by every node (CRC-32 of the key modulo the node count, not
Python's per-process salted ``hash``):

- the owner appends a send to its in-memory log and answers at once (0 extra messages); any
  other node forwards the send to the owner (2 messages). No cas, so no cas conflicts at all;
- a poll answers the node's own keys locally and asks each other owner once for all of its
  keys (one request per owner per poll: the batching). An owner that does not answer in time
  has its keys left out of the reply, which the protocol allows, so polls stay available;
- committed offsets live with the key's owner; a commit to a remote owner is sent one way
  (under-reporting a committed offset is always safe, so a lost commit costs only re-reads).

What this gives up: messages live in one node's memory. A crashed owner loses its keys' logs,
and while an owner is unreachable its keys cannot take sends. ``RaftKafka`` is the durable,
replicated answer; this node is the fast one the challenge asks for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from glome.errors import RPCError
from glome.nodes.kafka.common import Logs, owner_of, parse_keys, parse_offsets, parse_send
from glome.runtime import Message, Node, handler


class OwnerKafka(Node):
    """5c: per-key owner node; sends forwarded to the owner; polls batched per owner."""

    forward_timeout = 2.0
    """Seconds to wait for an owner; below the client's 5 s so a slow owner is still reported."""

    def setup(self) -> None:
        self.logs = Logs()
        self.forwarded_sends = 0

    def owner(self, key: str) -> str:
        return owner_of(key, self.node_ids)

    def by_owner(self, keys: list[str]) -> dict[str, list[str]]:
        """Keys grouped by owner; owners in node_ids order, keys in the given (sorted) order."""
        groups: dict[str, list[str]] = {n: [] for n in self.node_ids}
        for key in keys:
            groups[self.owner(key)].append(key)
        return {n: ks for n, ks in groups.items() if ks}

    @handler("send")
    async def on_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        owner = self.owner(key)
        if owner == self.id:
            return {"type": "send_ok", "offset": self.logs.append_next(key, value)}
        self.forwarded_sends += 1
        # A timeout here propagates as error 0 (indefinite): the owner may have appended.
        reply = await self.rpc(
            owner, {"type": "owner_send", "key": key, "msg": value}, timeout=self.forward_timeout
        )
        return {"type": "send_ok", "offset": reply["offset"]}

    @handler("owner_send")
    async def on_owner_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        return {"type": "owner_send_ok", "offset": self.logs.append_next(key, value)}

    async def remote(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        """Ask ``owner``; an error or silence yields {} (the caller under-reports)."""
        try:
            return await self.rpc(owner, body, timeout=self.forward_timeout)
        except RPCError as e:
            self.log.info("owner %s did not answer %s: %s", owner, body.get("type"), e)
            return {}

    @handler("poll")
    async def on_poll(self, msg: Message) -> dict[str, Any]:
        offsets = parse_offsets(msg.body)
        groups = self.by_owner(list(offsets))
        msgs = self.logs.poll({k: offsets[k] for k in groups.pop(self.id, [])})
        remotes = list(groups)
        replies = await asyncio.gather(
            *(
                self.remote(
                    n, {"type": "owner_poll", "offsets": {k: offsets[k] for k in groups[n]}}
                )
                for n in remotes
            )
        )
        for reply in replies:
            msgs.update(reply.get("msgs", {}))
        return {"type": "poll_ok", "msgs": dict(sorted(msgs.items()))}

    @handler("owner_poll")
    async def on_owner_poll(self, msg: Message) -> dict[str, Any]:
        return {"type": "owner_poll_ok", "msgs": self.logs.poll(parse_offsets(msg.body))}

    @handler("commit_offsets")
    async def on_commit_offsets(self, msg: Message) -> dict[str, Any]:
        offsets = parse_offsets(msg.body)
        for owner, keys in self.by_owner(list(offsets)).items():
            mine = {k: offsets[k] for k in keys}
            if owner == self.id:
                self.logs.commit(mine)
            else:
                self.send(owner, {"type": "owner_commit", "offsets": mine})
        return {"type": "commit_offsets_ok"}

    @handler("owner_commit")
    async def on_owner_commit(self, msg: Message) -> None:
        self.logs.commit(parse_offsets(msg.body))

    @handler("list_committed_offsets")
    async def on_list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        groups = self.by_owner(parse_keys(msg.body))
        offsets = self.logs.list_committed(groups.pop(self.id, []))
        remotes = list(groups)
        replies = await asyncio.gather(
            *(self.remote(n, {"type": "owner_list_committed", "keys": groups[n]}) for n in remotes)
        )
        for reply in replies:
            offsets.update(reply.get("offsets", {}))
        return {"type": "list_committed_offsets_ok", "offsets": dict(sorted(offsets.items()))}

    @handler("owner_list_committed")
    async def on_owner_list_committed(self, msg: Message) -> dict[str, Any]:
        return {
            "type": "owner_list_committed_ok",
            "offsets": self.logs.list_committed(parse_keys(msg.body)),
        }


if __name__ == "__main__":
    OwnerKafka.main()
