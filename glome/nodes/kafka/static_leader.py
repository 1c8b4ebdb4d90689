"""Leader-based replication as glome-rs did it (5b/5c), kept naive so its flaws can be watched.

``maelstrom test -w kafka --bin BIN --node-count 2 --concurrency 2n --time-limit 20 --rate 1000``
where BIN runs ``python -m glome.runtime glome.nodes.kafka:StaticLeaderKafka``

glome-rs (abf20bd), rebuilt faithfully:

- the leader is the lexicographically first node id, forever: no terms, no re-election, no
  fencing. Followers forward ``send`` to it one way (``forward_send`` with the client's id and
  msg_id) and the leader answers the client directly (clients match replies by in_reply_to);
- the leader appends to an in-memory log, records ``Pending{client, msg_id, acks: 1}`` and
  sends ``replicate {key, msg, offset}`` to every peer; followers ``insert_at`` the offset and
  answer ``replicate_ok {offset}``; at ``acks >= ceil(peers / 2) + 1`` the leader answers
  ``send_ok``. Polls and committed offsets are served from the local, unreplicated state.

Replication is at-least-once (the review's wording): ``replicate`` is sent again every
``resend_interval`` until the entry reaches quorum, to every peer, because the leader does not
track who answered. So one live follower answers the same offset several times and, without
de-duplication, every answer counts: **premature quorum**. With 5 nodes (quorum 3) a single
follower's two acks make the leader say ``send_ok`` while only 2 nodes hold the entry.

Everything is in memory, so a restart loses it. A restarted leader starts offsets at 0 again:
it hands out offsets the followers already hold for other messages (inconsistent offsets) and
every acknowledged write it held is gone (**lost write after restart**).

``DedupAckStaticLeaderKafka`` is glome-rs's fix (564021d), the review's "immediate correctness
fix": a set of ackers per offset, seeded with the leader. It is right as far as it goes, and it
stops premature quorum, but it changes nothing else: with a static leader and no durable log,
quorum buys nothing, because nobody but the leader ever serves from the replicas after a
crash. The review's own sketch also keys acks by offset only, which is not enough once there
are leader changes (a stale ack for the same offset from an older leader would count); acks
have to name the entry, i.e. (term, index). ``RaftKafka`` does all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from glome.nodes.kafka.common import KeyLog, Logs, is_int, parse_keys, parse_offsets, parse_send
from glome.runtime import Message, Node, handler


@dataclass
class Pending:
    """A send waiting for quorum: who to answer, and the acks so far."""

    client: str
    client_msg_id: int
    key: str
    msg: Any
    acks: int = 1
    acked_by: set[str] = field(default_factory=set)


class StaticLeaderKafka(Node):
    """glome-rs's leader replication: static leader, duplicate acks counted, in-memory."""

    dedupe_acks = False
    """The review's fix: count each follower once per offset (see DedupAckStaticLeaderKafka)."""
    resend_interval = 0.2
    """Seconds between re-sends of ``replicate`` for entries still short of quorum."""

    def setup(self) -> None:
        self.logs = Logs()
        self.offset_counter: dict[str, int] = {}
        self.pending: dict[tuple[str, int], Pending] = {}
        self.premature_quorums = 0
        """Times send_ok went out while fewer than a majority of nodes held the entry."""

    @property
    def leader(self) -> str:
        return min(self.node_ids)

    @property
    def quorum(self) -> int:
        return math.ceil(len(self.peers) / 2) + 1

    async def on_init(self) -> None:
        if self.id == self.leader:
            self.every(self.resend_interval, self.resend_pending, name="resend")

    @handler("send")
    async def on_send(self, msg: Message) -> None:
        key, value = parse_send(msg.body)
        if msg.msg_id is None:
            return
        if self.id != self.leader:
            self.send(
                self.leader,
                {
                    "type": "forward_send",
                    "orig_src": msg.src,
                    "orig_msg_id": msg.msg_id,
                    "key": key,
                    "msg": value,
                },
            )
            return
        self.leader_append(msg.src, msg.msg_id, key, value)

    @handler("forward_send")
    async def on_forward_send(self, msg: Message) -> None:
        key, value = parse_send(msg.body)
        src, msg_id = msg.body.get("orig_src"), msg.body.get("orig_msg_id")
        if isinstance(src, str) and is_int(msg_id):
            self.leader_append(src, msg_id, key, value)

    def leader_append(self, client: str, client_msg_id: int, key: str, value: Any) -> None:
        offset = self.offset_counter.get(key, 0)
        self.offset_counter[key] = offset + 1
        self.logs.append(key, offset, value)
        pending = Pending(client, client_msg_id, key, value, acked_by={self.id})
        self.pending[(key, offset)] = pending
        if not self.peers:
            self.answer(key, offset, pending)
            return
        for peer in self.peers:
            self.send(peer, {"type": "replicate", "key": key, "msg": value, "offset": offset})

    def resend_pending(self) -> None:
        for (key, offset), pending in sorted(self.pending.items()):
            for peer in self.peers:
                self.send(
                    peer, {"type": "replicate", "key": key, "msg": pending.msg, "offset": offset}
                )

    @handler("replicate")
    async def on_replicate(self, msg: Message) -> None:
        key, value = parse_send(msg.body)
        offset = msg.body.get("offset")
        if not is_int(offset):
            return
        # insert_at: no check that offset - 1 is here; a later poll from it skips the gap.
        self.logs.logs.setdefault(key, KeyLog()).insert_at(offset, value)
        self.send(msg.src, {"type": "replicate_ok", "key": key, "offset": offset})

    @handler("replicate_ok")
    async def on_replicate_ok(self, msg: Message) -> None:
        key, offset = msg.body.get("key"), msg.body.get("offset")
        if not isinstance(key, str) or not is_int(offset):
            return
        pending = self.pending.get((key, offset))
        if pending is None:
            return
        if self.dedupe_acks and msg.src in pending.acked_by:
            return  # the review's fix: a follower's second ack for this offset is not news
        pending.acked_by.add(msg.src)
        pending.acks += 1  # naive: every ack counts, even a repeat from the same follower
        if pending.acks >= self.quorum:
            self.answer(key, offset, pending)

    def answer(self, key: str, offset: int, pending: Pending) -> None:
        del self.pending[(key, offset)]
        if len(pending.acked_by) < self.quorum:
            self.premature_quorums += 1
            self.log.warning(
                "premature quorum",
                extra={
                    "key": key,
                    "offset": offset,
                    "acks": pending.acks,
                    "holders": sorted(pending.acked_by),
                    "quorum": self.quorum,
                },
            )
        self.send(
            pending.client,
            {"type": "send_ok", "offset": offset, "in_reply_to": pending.client_msg_id},
        )

    @handler("poll")
    async def on_poll(self, msg: Message) -> dict[str, Any]:
        return {"type": "poll_ok", "msgs": self.logs.poll(parse_offsets(msg.body))}

    @handler("commit_offsets")
    async def on_commit_offsets(self, msg: Message) -> dict[str, Any]:
        self.logs.commit(parse_offsets(msg.body))  # node-local, never replicated (as glome-rs)
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    async def on_list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        return {
            "type": "list_committed_offsets_ok",
            "offsets": self.logs.list_committed(parse_keys(msg.body)),
        }


class DedupAckStaticLeaderKafka(StaticLeaderKafka):
    """glome-rs 564021d, the review's fix: one ack per follower per offset. Still a static
    leader and an in-memory log, so a leader restart still loses acknowledged writes."""

    dedupe_acks = True


if __name__ == "__main__":
    StaticLeaderKafka.main()
