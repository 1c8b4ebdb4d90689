"""The hardened replicated kafka log: Raft with a durable sqlite write-ahead log.

``maelstrom test -w kafka --bin BIN --node-count 3 --concurrency 2n --time-limit 20 --rate 1000``
where BIN runs ``python -m glome.runtime glome.nodes.kafka:RaftKafka``.

Where the log lives: the ``state_dir`` the runner passes (in-process runs), else
``$GLOME_STATE_DIR``, else the working directory when its name is the node id (glome's process
runner starts each node in ``<store>/state/<id>``, and restarts it there after a kill), else a
fresh temporary directory. The last case is real Maelstrom, which starts every node in the
same directory and never restarts one: reusing that directory would replay the previous
run's log into the next run.

Every finding of the review about glome-rs's leader replication (see ``static_leader``), and
what this node does instead:

- *static leader, no terms, no re-election, no fencing*: terms, randomised election timeouts
  (from the node's seeded rng, so a simulated run replays exactly), votes that require the
  candidate's log to be at least as up to date as the voter's (otherwise a node that missed
  acknowledged writes could win and drop them), heartbeats every ``heartbeat_interval``. Every
  message carries its sender's term; a node that sees a higher term steps down, and a follower
  rejects ``append`` from an older term (fencing): a deposed leader learns the new term from
  the rejection and can never get its stale entries acknowledged.
- *duplicate acks inflate quorum*: a follower's ack is ``match_index`` (the highest index it
  holds that matches the leader), kept per follower as a max. A repeated or reordered ack
  cannot count twice, and an ack from an older term is ignored. The review's fix (a set of
  ackers per offset) is right for a static leader but not enough with leader changes: the ack
  must name the entry (term, index), not just the offset.
- *the leader counts quorum on un-fsynced data*: a leader counts itself only up to its durable
  index, a follower acks only what it has fsynced. An entry is committed only by a majority
  ``match_index`` **and** only if it is from the leader's current term (Raft's rule: Figure 8
  of the paper shows an older-term entry on a majority being overwritten).
- *no persistence, restart loses data*: ``WriteAheadLog`` (sqlite, ``synchronous=FULL``,
  group commit). On restart the node replays its log and its saved commit index, so it can
  serve polls at once and can neither vote twice in a term nor forget an acknowledged entry.
- *``insert_at`` and polls with gaps*: a follower appends only after the consistency check
  on (prev_index, prev_term) and serves polls from its committed prefix, so a poll never skips.

Offsets are Raft log indexes: unique and increasing per key (with gaps, which the protocol
allows), and identical on every node once committed. ``send`` waits for commit; at a follower
it is forwarded to the leader. Committed offsets are a per-key max-register kept by every node
and gossiped (under-reporting is the only possible error and it is safe), so
``commit_offsets`` never waits on the leader. Not done: log compaction and snapshots, pre-vote
(a node back from a partition bumps the term and forces one election), leader leases.

With 2 nodes (the 5b/5c command line) a majority is both nodes: while one is down, sends wait
and fail. That is the price of never losing an acknowledged write; use 3 nodes to survive one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from glome.errors import Crash, RPCTimeout, TemporarilyUnavailable
from glome.nodes.kafka.common import Logs, is_int, parse_keys, parse_offsets, parse_send
from glome.nodes.kafka.wal import Entry, WriteAheadLog
from glome.runtime import Message, Node, handler

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


class RaftKafka(Node):
    """Hardened kafka: Raft terms, elections, fencing, per-follower match index, sqlite WAL."""

    heartbeat_interval = 0.1
    election_timeout = (0.6, 1.2)
    """Seconds without a leader before a follower stands; drawn uniformly per wait."""
    first_election_timeout = (0.1, 0.4)
    """The first wait after start: short, so a fresh cluster has a leader quickly."""
    max_batch = 256
    """Entries per ``append`` message."""
    commit_wait = 3.0
    """Seconds a send waits for its entry to commit (clients give up after 5)."""
    leader_wait = 1.0
    """Seconds a request waits for a leader to be known before a definite error 11."""
    forward_timeout = 3.5
    retransmit_after = 0.5
    """Seconds before an unacknowledged batch is presumed lost and sent again."""
    max_batches_in_flight = 4
    """Unacknowledged batches per follower (the flow-control window)."""
    gossip_every = 10
    """Ticks between full gossips (and saves, if changed) of the committed offsets."""

    def __init__(self, *, state_dir: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        if state_dir is None and os.environ.get("GLOME_STATE_DIR"):
            state_dir = os.environ["GLOME_STATE_DIR"]
        self.state_dir_given = state_dir is not None
        super().__init__(state_dir=state_dir, **kwargs)
        self.wal: WriteAheadLog | None = None
        # Durable (in the WAL): term, vote, log.
        self.term = 0
        self.voted_for: str | None = None
        self.entries: list[Entry] = []
        self.durable_index = 0
        # Volatile.
        self.role = FOLLOWER
        self.leader_id: str | None = None
        self.commit_index = 0
        self.last_applied = 0
        self.logs = Logs()
        self.committed_dirty = False
        self.election_deadline = 0.0
        self.votes: set[str] = set()
        self.match_index: dict[str, int] = {}
        self.sent_index: dict[str, int] = {}
        self.in_flight: dict[str, deque[tuple[int, float]]] = {}
        """Per follower: (last index, time sent) of each unacknowledged batch."""
        self.waiters: dict[int, tuple[int, asyncio.Future[bool]]] = {}
        self.leader_known = asyncio.Event()
        self.flush_wanted = asyncio.Event()
        self.ticks = 0
        self.stats = {
            "elections": 0,
            "became_leader": 0,
            "fenced_appends": 0,
            "stale_acks_ignored": 0,
            "truncated_entries": 0,
        }

    # ---------------------------------------------------------------- start, stop, persistence
    @property
    def wal_path(self) -> Path:
        return self.state_dir / f"raft-kafka-{self.id}.sqlite3"

    def choose_state_dir(self) -> None:
        """See the module docstring: never replay another run's log by accident."""
        if not self.state_dir_given and Path.cwd().name != self.id:
            self.state_dir = Path(tempfile.mkdtemp(prefix=f"glome-raft-{self.id}-"))

    async def on_init(self) -> None:
        self.choose_state_dir()
        self.wal = WriteAheadLog(self.wal_path)
        saved = self.wal.load()
        self.term, self.voted_for, self.entries = saved.term, saved.voted_for, saved.entries
        self.durable_index = len(self.entries)
        self.logs.commit(saved.committed_offsets)
        self.commit_index = saved.commit_index
        self.apply_committed()
        self.log.info(
            "replayed the write-ahead log",
            extra={
                "term": self.term,
                "entries": len(self.entries),
                "commit_index": self.commit_index,
            },
        )
        self.reset_election_deadline(self.first_election_timeout)
        self.every(self.heartbeat_interval / 2, self.tick, jitter=0.0, name="raft-tick")
        self.spawn(self.flusher(), name="raft-flusher")

    async def on_stop(self) -> None:
        if self.wal is not None:
            self.persist_from(len(self.entries) + 1)
            self.wal.close()

    def persist_from(self, first_index: int) -> None:
        """Make log[first_index:] durable, with the commit index and dirty committed offsets."""
        assert self.wal is not None
        first_index = min(first_index, self.durable_index + 1)
        self.wal.write_entries(
            first_index,
            self.entries[first_index - 1 :],
            commit_index=self.commit_index,
            committed_offsets=self.logs.committed if self.committed_dirty else None,
        )
        self.committed_dirty = False
        self.durable_index = len(self.entries)

    def save_hard_state(self) -> None:
        assert self.wal is not None
        self.wal.save_hard_state(self.term, self.voted_for)

    async def flusher(self) -> None:
        """Group commit: every entry appended since the last flush goes in one fsync."""
        while True:
            await self.flush_wanted.wait()
            self.flush_wanted.clear()
            await self.sleep(0)  # let the other requests that are ready append first
            if self.durable_index < len(self.entries) or self.committed_dirty:
                self.persist_from(self.durable_index + 1)
            if self.role == LEADER:
                self.advance_commit()
                for peer in self.peers:
                    self.replicate_to(peer)

    # ---------------------------------------------------------------------- terms and roles
    @property
    def majority(self) -> int:
        return len(self.node_ids) // 2 + 1

    def last_log_term(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    def reset_election_deadline(self, bounds: tuple[float, float] | None = None) -> None:
        low, high = bounds or self.election_timeout
        self.election_deadline = self.now() + self.rng.uniform(low, high)

    def observe_term(self, term: int) -> None:
        """A higher term anywhere means we are behind: adopt it and follow (durably)."""
        if term > self.term:
            self.term, self.voted_for = term, None
            self.save_hard_state()
            self.become_follower(leader=None)

    def become_follower(self, leader: str | None) -> None:
        self.role = FOLLOWER
        self.leader_id = leader
        if leader is None:
            self.leader_known.clear()
        else:
            self.leader_known.set()

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % self.gossip_every == 0:
            if self.logs.committed:
                for peer in self.peers:
                    self.send(peer, {"type": "raft_committed", "offsets": self.logs.committed})
            if self.committed_dirty:
                # Committed offsets may be lost in a crash (under-reporting is safe), so they
                # get no fsync of their own: they ride with the next entry write or this tick.
                self.flush_wanted.set()
        if self.role == LEADER:
            for peer in self.peers:
                self.replicate_to(peer, heartbeat=True)
        elif self.now() >= self.election_deadline:
            self.start_election()

    def start_election(self) -> None:
        self.term += 1
        self.role, self.voted_for, self.votes = CANDIDATE, self.id, {self.id}
        self.leader_id = None
        self.leader_known.clear()
        self.save_hard_state()  # durable before anyone hears of the vote
        self.stats["elections"] += 1
        self.reset_election_deadline()
        self.log.info("standing for election", extra={"term": self.term})
        if len(self.votes) >= self.majority:
            self.become_leader()
            return
        for peer in self.peers:
            self.send(
                peer,
                {
                    "type": "raft_vote",
                    "term": self.term,
                    "candidate": self.id,
                    "last_log_index": len(self.entries),
                    "last_log_term": self.last_log_term(),
                },
            )

    def become_leader(self) -> None:
        self.role, self.leader_id = LEADER, self.id
        self.leader_known.set()
        self.stats["became_leader"] += 1
        self.match_index = {p: 0 for p in self.peers}
        self.sent_index = {p: len(self.entries) for p in self.peers}
        self.in_flight = {p: deque() for p in self.peers}
        # A no-op of our own term: entries of older terms commit only under one of ours.
        self.entries.append((self.term, {"k": "noop"}))
        self.log.info("became leader", extra={"term": self.term, "entries": len(self.entries)})
        self.flush_wanted.set()

    @handler("raft_vote")
    async def on_vote(self, msg: Message) -> None:
        body = msg.body
        term, candidate = body.get("term"), body.get("candidate")
        last_index, last_term = body.get("last_log_index"), body.get("last_log_term")
        if not (
            is_int(term) and isinstance(candidate, str) and is_int(last_index) and is_int(last_term)
        ):
            return
        self.observe_term(term)
        up_to_date = (last_term, last_index) >= (self.last_log_term(), len(self.entries))
        granted = term == self.term and self.voted_for in (None, candidate) and up_to_date
        if granted:
            if self.voted_for != candidate:
                self.voted_for = candidate
                self.save_hard_state()
            self.reset_election_deadline()
        self.send(msg.src, {"type": "raft_vote_result", "term": self.term, "granted": granted})

    @handler("raft_vote_result")
    async def on_vote_result(self, msg: Message) -> None:
        term = msg.body.get("term")
        if not is_int(term):
            return
        self.observe_term(term)
        if self.role == CANDIDATE and term == self.term and msg.body.get("granted") is True:
            self.votes.add(msg.src)
            if len(self.votes) >= self.majority:
                self.become_leader()

    # ------------------------------------------------------------------------- replication
    def replicate_to(self, peer: str, heartbeat: bool = False) -> None:
        """Send ``peer`` its next batches, at most ``max_batches_in_flight`` unacknowledged, and on a
        tick a heartbeat.

        Flow control matters: answering every ack *and* every heartbeat with a new batch
        starts one more self-sustaining stream per tick while a follower lags (a restarting
        process, say), and the traffic to it grows without bound (glome's process runner
        reported 16 MB queued for one node before this window existed). Batches in flight
        are presumed lost after ``retransmit_after`` seconds and sent again. Heartbeats carry
        no entries and name the follower's acknowledged index, which it is sure to hold, so
        they cannot fail and trigger resends.
        """
        now = self.now()
        window = self.in_flight[peer]
        if window and now - window[0][1] > self.retransmit_after:
            window.clear()  # presumed lost: send again from what it holds
            self.sent_index[peer] = self.match_index[peer]
        sent = False
        while len(window) < self.max_batches_in_flight:
            prev = self.sent_index[peer]
            entries = self.entries[prev : prev + self.max_batch]
            if not entries:
                break
            self.send_append(peer, prev, entries)
            self.sent_index[peer] = prev + len(entries)
            window.append((self.sent_index[peer], now))
            sent = True
        if heartbeat and not sent:
            self.send_append(peer, self.match_index[peer], [])

    def send_append(self, peer: str, prev: int, entries: list[Entry]) -> None:
        self.send(
            peer,
            {
                "type": "raft_append",
                "term": self.term,
                "leader": self.id,
                "prev_index": prev,
                "prev_term": self.entries[prev - 1][0] if prev else 0,
                "entries": [[t, op] for t, op in entries],
                "leader_commit": self.commit_index,
            },
        )

    @handler("raft_append")
    async def on_append(self, msg: Message) -> None:
        body = msg.body
        term, prev, prev_term = body.get("term"), body.get("prev_index"), body.get("prev_term")
        entries, leader_commit = body.get("entries"), body.get("leader_commit")
        if not (
            is_int(term)
            and is_int(prev)
            and prev >= 0
            and is_int(prev_term)
            and isinstance(entries, list)
            and is_int(leader_commit)
        ):
            return
        if term < self.term:
            # Fencing: a deposed leader. Our term in the reply makes it step down.
            self.stats["fenced_appends"] += 1
            self.send(
                msg.src,
                {"type": "raft_append_result", "term": self.term, "success": False, "hint": 0},
            )
            return
        self.observe_term(term)
        if self.role != FOLLOWER or self.leader_id != msg.src:
            self.become_follower(leader=msg.src)
        self.reset_election_deadline()
        if prev > len(self.entries) or (prev > 0 and self.entries[prev - 1][0] != prev_term):
            hint = min(prev, len(self.entries) + 1, self.commit_index + 1)
            self.send(
                msg.src,
                {
                    "type": "raft_append_result",
                    "term": self.term,
                    "success": False,
                    "hint": max(hint, 1),
                },
            )
            return
        first_changed = self.merge_entries(prev, entries)
        if first_changed is not None or self.durable_index < len(self.entries):
            self.persist_from(first_changed or len(self.entries) + 1)  # fsync before the ack
        match = prev + len(entries)
        if leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(leader_commit, match))
            self.apply_committed()
        self.send(
            msg.src,
            {
                "type": "raft_append_result",
                "term": self.term,
                "success": True,
                "match_index": match,
            },
        )

    def merge_entries(self, prev: int, entries: list[Any]) -> int | None:
        """Append ``entries`` after ``prev``, dropping our conflicting suffix; the first index
        that changed, or None. Entries we already hold are left alone: a reordered, older
        ``append`` must not truncate entries a newer one added."""
        for i, raw in enumerate(entries):
            index = prev + 1 + i
            entry: Entry = (int(raw[0]), raw[1])
            if index <= len(self.entries):
                if self.entries[index - 1][0] == entry[0]:
                    continue
                if index <= self.commit_index:  # Raft guarantees this never happens
                    self.log.error("refusing to truncate a committed entry", extra={"index": index})
                    return None
                self.truncate_from(index)
            self.entries.extend((int(t), op) for t, op in entries[i:])
            return index
        return None

    def truncate_from(self, index: int) -> None:
        self.stats["truncated_entries"] += len(self.entries) - index + 1
        del self.entries[index - 1 :]
        self.durable_index = min(self.durable_index, index - 1)
        for waiting in sorted(i for i in self.waiters if i >= index):
            _, future = self.waiters.pop(waiting)
            if not future.done():
                future.set_result(False)

    @handler("raft_append_result")
    async def on_append_result(self, msg: Message) -> None:
        body = msg.body
        term = body.get("term")
        if not is_int(term):
            return
        self.observe_term(term)
        peer = msg.src
        if self.role != LEADER or term != self.term or peer not in self.match_index:
            self.stats["stale_acks_ignored"] += 1
            return
        if body.get("success") is True:
            match = body.get("match_index")
            if not is_int(match) or match > len(self.entries):
                return
            if match > self.match_index[peer]:  # de-duplicated: a repeat ack changes nothing
                self.match_index[peer] = match
                self.advance_commit()
            window = self.in_flight[peer]
            while window and window[0][0] <= match:
                window.popleft()  # these batches are in
            self.sent_index[peer] = max(self.sent_index[peer], self.match_index[peer])
        else:
            hint = body.get("hint")
            if is_int(hint) and hint >= 1:
                self.in_flight[peer].clear()  # back off to the follower's hint and resend
                self.sent_index[peer] = max(
                    self.match_index[peer], min(hint, len(self.entries) + 1) - 1
                )
        self.replicate_to(peer)

    def advance_commit(self) -> None:
        """Commit the highest index a majority holds durably, if it is from our term."""
        held = sorted([self.durable_index, *self.match_index.values()], reverse=True)
        candidate = held[self.majority - 1]
        if candidate > self.commit_index and self.entries[candidate - 1][0] == self.term:
            self.commit_index = candidate
            self.apply_committed()

    def apply_committed(self) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            op = self.entries[self.last_applied - 1][1]
            if op.get("k") == "send":
                self.logs.append(op["key"], self.last_applied, op["msg"])
        for index in sorted(i for i in self.waiters if i <= self.commit_index):
            term, future = self.waiters.pop(index)
            if not future.done():
                future.set_result(self.entries[index - 1][0] == term)

    # ---------------------------------------------------------------------- client requests
    async def append_as_leader(self, key: str, value: Any) -> int:
        """Append, wait for commit, return the offset (the log index)."""
        if self.role != LEADER:
            raise TemporarilyUnavailable(f"{self.id} is not the leader")  # nothing appended
        index = len(self.entries) + 1
        self.entries.append((self.term, {"k": "send", "key": key, "msg": value}))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiters[index] = (self.term, future)
        self.flush_wanted.set()
        try:
            committed = await asyncio.wait_for(future, self.commit_wait)
        except TimeoutError:
            raise RPCTimeout(f"entry {index} not committed within {self.commit_wait:g}s") from None
        finally:
            if self.waiters.get(index, (None, future))[1] is future:
                self.waiters.pop(index, None)
        if not committed:
            # Replaced here by a newer leader's entry; another node may still hold and commit
            # it (Raft Figure 8), so the outcome is unknown: an indefinite error.
            raise Crash(f"entry {index} was replaced by a newer leader; outcome unknown")
        return index

    async def wait_for_leader(self) -> str:
        if not self.leader_known.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.leader_known.wait(), self.leader_wait)
        if self.leader_id is None:
            raise TemporarilyUnavailable("no leader known")  # nothing was attempted
        return self.leader_id

    @handler("send")
    async def on_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        started = self.now()
        while True:
            leader = await self.wait_for_leader()
            try:
                if leader == self.id:
                    offset = await self.append_as_leader(key, value)
                else:
                    reply = await self.rpc(
                        leader,
                        {"type": "raft_forward_send", "key": key, "msg": value},
                        timeout=self.forward_timeout,
                    )
                    offset = reply["offset"]
                return {"type": "send_ok", "offset": offset}
            except TemporarilyUnavailable:
                # Definite: that node appended nothing. Try the new leader while time remains.
                if self.now() - started > self.leader_wait:
                    raise
                await self.sleep(self.heartbeat_interval)

    @handler("raft_forward_send")
    async def on_forward_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        return {"type": "raft_forward_send_ok", "offset": await self.append_as_leader(key, value)}

    @handler("poll")
    async def on_poll(self, msg: Message) -> dict[str, Any]:
        # The committed prefix, identical on every node: a lagging node shows less, never a gap.
        return {"type": "poll_ok", "msgs": self.logs.poll(parse_offsets(msg.body))}

    @handler("commit_offsets")
    async def on_commit_offsets(self, msg: Message) -> dict[str, Any]:
        offsets = parse_offsets(msg.body)
        if self.logs.commit(offsets):
            self.committed_dirty = True  # saved with the next write or tick: no fsync of its own
            for peer in self.peers:
                self.send(peer, {"type": "raft_committed", "offsets": offsets})
        return {"type": "commit_offsets_ok"}

    @handler("raft_committed")
    async def on_committed_gossip(self, msg: Message) -> None:
        if self.logs.commit(parse_offsets(msg.body)):
            self.committed_dirty = True

    @handler("list_committed_offsets")
    async def on_list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        return {
            "type": "list_committed_offsets_ok",
            "offsets": self.logs.list_committed(parse_keys(msg.body)),
        }


if __name__ == "__main__":
    RaftKafka.main()
