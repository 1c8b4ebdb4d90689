"""Challenge 4, grow-only counter: ``add {delta}`` -> ``add_ok``, ``read`` -> ``read_ok {value}``.

The checker looks only at the final reads (after the partitions heal and 10 s pass): each must
equal the sum of the acknowledged adds, plus any subset of the indeterminate ones. Nodes:

On ``seq-kv``, as the challenge intends (the node keeps no state another node depends on):

- ``SeqKVCounter`` (``NODE``): one key per node, written only by its owner, holding the
  owner's running total. Adds are idempotent writes of an absolute total, so a retried write
  after a timeout never double counts (a retried "read, add, cas" on a shared key would not be
  idempotent either way). A read first writes a unique value to the node's scratch key: a
  state-changing op moves this caller to seq-kv's newest state, so the reads that follow see
  every write acknowledged before it (docs/protocol.md#services: a no-op write or identity cas is
  evaluated like
  a read and may itself be stale, hence *unique*). Then it sums every node's key.
- ``StaleReadCounter``: the same without the scratch write. seq-kv may serve each read from
  any state between this caller's last one and the newest, so a node that has not written for
  a while (the final reads come after 10 quiet seconds) can read old totals: final reads
  disagree with the total.

Gossip CRDTs (glome-rs never used seq-kv; these are its state-based counter and the fix):

- ``FullStateGossipCounter`` (``Naive``, glome-rs 3056d01): every 100 ms the whole
  ``{node: [version, value]}`` map to every peer. Correct under partitions (it re-sends
  everything forever), but traffic is O(N^2) per tick whether anything changed or not.
- ``MarkOnSendDeltaCounter`` (``Review``, glome-rs 1d36ea4): the review's "versioned per-peer
  delta", with versions marked known *when sent*. A delta dropped by a partition is never sent
  again unless its origin adds once more; after the final heal nobody adds, so the last
  pre-heal adds stay missing on some nodes and final reads disagree.
- ``DeltaCounter`` (``Hardened``): deltas against the versions each peer *acknowledged*. Each
  gossip carries the sender's version vector, which is the ack; unacknowledged deltas are
  re-sent after ``rto``, which doubles per expiry (backoff for unreachable peers) and resets
  when the peer speaks.

Binaries: ``python -m glome.nodes.counter`` runs ``SeqKVCounter``; any variant as
``python -m glome.runtime glome.nodes.counter:DeltaCounter``. Challenge 4's command is
``maelstrom test -w g-counter --bin <that> --node-count 3 --rate 100 --time-limit 20
--nemesis partition``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from glome.errors import MalformedRequest
from glome.runtime import Message, Node, SeqKV, handler


def _delta_of(msg: Message) -> int:
    delta = msg.body.get("delta")
    if not isinstance(delta, int) or isinstance(delta, bool):
        raise MalformedRequest(f"add needs an integer delta, not {delta!r}")
    return delta


# ------------------------------------------------------------------------------- on seq-kv
class SeqKVCounter(Node):
    """Per-node keys on seq-kv, fresh reads through a unique scratch write."""

    fresh_reads: ClassVar[bool] = True
    kv_timeout: ClassVar[float] = 1.0
    """Seconds one KV request may take; short enough that retries fit in the client's 5 s."""
    kv_deadline: ClassVar[float] = 3.0
    """Seconds to keep retrying a KV op before the request fails (indeterminately)."""
    resync_interval: ClassVar[float] = 0.5
    """How often a total that failed to reach seq-kv is written again."""

    def setup(self) -> None:
        self.kv: SeqKV | None = None
        self.mine = 0
        """This node's own total: authoritative, since no other node writes its key."""
        self.version = 0
        self.written_version = 0
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._scratch_writes = 0

    @staticmethod
    def key(node_id: str) -> str:
        return f"counter-{node_id}"

    async def on_init(self) -> None:
        self.kv = SeqKV(self, timeout=self.kv_timeout)
        self.every(self.resync_interval, self._resync)

    async def _kv_retry(self, op: Any) -> Any:
        return await self.retry(op, base=0.02, cap=0.5, deadline=self.kv_deadline)

    async def _fresh(self) -> None:
        """Move this node to seq-kv's newest state with a write no one else ever made."""
        assert self.kv is not None
        kv = self.kv
        self._scratch_writes += 1
        token = f"{self.id}:{self._scratch_writes}:{self.rng.getrandbits(32)}"
        await self._kv_retry(lambda: kv.write(f"scratch-{self.id}", token))

    async def _ensure_loaded(self) -> None:
        """Once, lazily (services may not be up during init): adopt our key's stored total,
        so a restarted node continues from what it had written instead of overwriting it."""
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            assert self.kv is not None
            kv = self.kv
            await self._fresh()
            stored = await self._kv_retry(lambda: kv.read(self.key(self.id), default=0))
            self.mine += int(stored)
            self._loaded = True

    async def _write_through(self, target: int) -> None:
        """Write our total until the write that covers version ``target`` is acknowledged."""
        assert self.kv is not None
        kv = self.kv
        async with self._write_lock:  # one writer; later adds ride on the first one's write
            while self.written_version < target:
                version, total = self.version, self.mine
                await self._kv_retry(lambda total=total: kv.write(self.key(self.id), total))
                self.written_version = max(self.written_version, version)

    async def _resync(self) -> None:
        if self._loaded and self.written_version < self.version:
            await self._write_through(self.version)

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        delta = _delta_of(msg)
        await self._ensure_loaded()
        # Applied locally before the write: if the write then times out, the add is
        # indeterminate (the error is code 0 or 13), and ``_resync`` still writes it later.
        self.mine += delta
        self.version += 1
        await self._write_through(self.version)
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        await self._ensure_loaded()
        assert self.kv is not None
        kv = self.kv
        if self.fresh_reads:
            await self._fresh()
        totals = await asyncio.gather(
            *(self._kv_retry(lambda n=n: kv.read(self.key(n), default=0)) for n in self.node_ids)
        )
        return {"type": "read_ok", "value": sum(int(t) for t in totals)}


class StaleReadCounter(SeqKVCounter):
    """Per-node keys read straight from seq-kv: reads (final ones included) can be stale."""

    fresh_reads = False


# --------------------------------------------------------------------------- gossip CRDTs
class _GossipCounter(Node):
    """A state-based G-counter: ``counters[node] = (version, value)``; only the owner bumps
    its entry, merges keep the higher version, the value is the sum."""

    interval: ClassVar[float] = 0.1

    def setup(self) -> None:
        self.counters: dict[str, tuple[int, int]] = {}

    async def on_init(self) -> None:
        self.every(self.interval, self.gossip, jitter=self.jitter)

    jitter: ClassVar[float] = 0.0

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        delta = _delta_of(msg)
        version, value = self.counters.get(self.id, (0, 0))
        self.counters[self.id] = (version + 1, value + delta)
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": sum(v for _, v in self.counters.values())}

    def gossip(self) -> None:
        raise NotImplementedError

    def entries(self, origins: list[str]) -> dict[str, list[int]]:
        return {o: list(self.counters[o]) for o in origins}

    def merge(self, entries: Any) -> dict[str, int]:
        """Merge ``{origin: [version, value]}``; return the versions it carried (validated)."""
        seen: dict[str, int] = {}
        if not isinstance(entries, dict):
            return seen
        for origin in sorted(entries):
            entry = entries[origin]
            if not (
                isinstance(entry, list)
                and len(entry) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in entry)
            ):
                self.log.warning("ignoring malformed counter entry %r: %r", origin, entry)
                continue
            version, value = entry
            seen[origin] = version
            if version > self.counters.get(origin, (0, 0))[0]:
                self.counters[origin] = (version, value)
        return seen


class FullStateGossipCounter(_GossipCounter):
    """glome-rs's original: the whole map to every peer every 100 ms."""

    def gossip(self) -> None:
        if not self.counters:
            return
        body = {"type": "counter_gossip", "counters": self.entries(sorted(self.counters))}
        for peer in self.peers:
            self.send(peer, body)

    @handler("counter_gossip")
    async def on_gossip(self, msg: Message) -> None:
        self.merge(msg.body.get("counters"))


class MarkOnSendDeltaCounter(_GossipCounter):
    """glome-rs 1d36ea4: per-peer known versions, bumped when a delta is *sent* (the flaw)
    and when the peer's gossip arrives."""

    def setup(self) -> None:
        super().setup()
        self.peer_known: dict[str, dict[str, int]] = {}

    def gossip(self) -> None:
        for peer in self.peers:
            known = self.peer_known.setdefault(peer, {})
            origins = [o for o in sorted(self.counters) if self.counters[o][0] > known.get(o, 0)]
            if not origins:
                continue
            self.send(peer, {"type": "counter_gossip", "counters": self.entries(origins)})
            for o in origins:  # assumed delivered: a dropped message is never re-sent
                known[o] = self.counters[o][0]

    @handler("counter_gossip")
    async def on_gossip(self, msg: Message) -> None:
        seen = self.merge(msg.body.get("counters"))
        known = self.peer_known.setdefault(msg.src, {})
        for origin, version in seen.items():
            known[origin] = max(known.get(origin, 0), version)


class DeltaCounter(_GossipCounter):
    """Delta CRDT with acknowledged versions per peer; never loses an add under partitions.

    Per peer: ``acked[peer]`` is the peer's version vector as it last told us (every gossip
    carries the sender's vector ``vv``, so data and acks are one message type). The delta for a
    peer is every entry above its acked version. It goes out when it holds something not sent
    before, and is re-sent when ``rto`` passes without an ack; each expiry doubles ``rto`` up to
    ``rto_max``, and any message from the peer resets it. A peer owed an ack and sent no delta
    this tick gets an empty gossip carrying our vector.
    """

    jitter = 0.1
    rto_initial: ClassVar[float] = 0.5
    rto_max: ClassVar[float] = 2.0

    def setup(self) -> None:
        super().setup()
        self.acked: dict[str, dict[str, int]] = {}
        self.last_sent: dict[str, dict[str, int]] = {}
        self.sent_at: dict[str, float] = {}
        self.rto: dict[str, float] = {}
        self.ack_due: set[str] = set()

    def version_vector(self) -> dict[str, int]:
        return {o: self.counters[o][0] for o in sorted(self.counters)}

    def gossip(self) -> None:
        now = self.now()
        for peer in self.peers:
            acked = self.acked.setdefault(peer, {})
            sent = self.last_sent.setdefault(peer, {})
            rto = self.rto.setdefault(peer, self.rto_initial)
            origins = [o for o in sorted(self.counters) if self.counters[o][0] > acked.get(o, 0)]
            fresh = any(self.counters[o][0] > sent.get(o, 0) for o in origins)
            expired = bool(origins) and now - self.sent_at.get(peer, -1e9) >= rto
            if origins and (fresh or expired):
                if expired and not fresh:
                    self.rto[peer] = min(rto * 2, self.rto_max)
                self.send(
                    peer,
                    {
                        "type": "counter_gossip",
                        "counters": self.entries(origins),
                        "vv": self.version_vector(),
                    },
                )
                for o in origins:
                    sent[o] = self.counters[o][0]
                self.sent_at[peer] = now
                self.ack_due.discard(peer)
            elif peer in self.ack_due:
                self.send(
                    peer, {"type": "counter_gossip", "counters": {}, "vv": self.version_vector()}
                )
                self.ack_due.discard(peer)

    @handler("counter_gossip")
    async def on_gossip(self, msg: Message) -> None:
        peer = msg.src
        if peer not in self.node_ids or peer == self.id:
            return
        entries = msg.body.get("counters")
        acked = self.acked.setdefault(peer, {})
        for origin, version in self.merge(entries).items():  # it holds what it sent us
            acked[origin] = max(acked.get(origin, 0), version)
        vv = msg.body.get("vv")
        if isinstance(vv, dict):
            for origin in sorted(vv):
                version = vv[origin]
                if isinstance(version, int) and not isinstance(version, bool):
                    acked[origin] = max(acked.get(origin, 0), version)
        self.rto[peer] = self.rto_initial  # it speaks: stop backing off
        if entries:
            self.ack_due.add(peer)


Naive = FullStateGossipCounter
Review = MarkOnSendDeltaCounter
Hardened = DeltaCounter
NODE = SeqKVCounter

if __name__ == "__main__":
    SeqKVCounter.main()
