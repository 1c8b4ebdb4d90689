"""Challenges 3a-3e, broadcast: every value broadcast to any node ends up in every node's read.

Client RPCs: ``topology`` -> ``topology_ok``, ``broadcast {message}`` -> ``broadcast_ok``,
``read`` -> ``read_ok {messages}``. Nodes, naive to hardened:

- ``SingleNode`` (3a): keeps its values and talks to nobody.
- ``FullStateGossip`` (``Naive``, the review's "before", glome-rs abf20bd): every 100 ms the
  whole set goes to 4 random peers. Never loses a value (everything is re-sent forever), but
  traffic grows with the set, O(N * M) per tick (review finding: full-state gossip).
- ``MarkOnSendDelta`` (``Review``): the review's per-peer delta gossip as glome-rs first did
  it (fb4d6c6, later reverted): a value counts as delivered to a peer as soon as it is *sent*. A gossip dropped
  by a partition is never re-sent, so values are lost for good (3c fails).
- ``EvidenceDelta``: the review's sketch, glome-rs's final version (eff4ea8): a peer's set
  grows only from what that peer sends. Partition-safe, but a receiver never tells the sender what it got, so the sender
  re-sends the same delta every tick: payloads shrink, message counts do not.
- ``Hardened``: acknowledged per-peer deltas with retransmission until acked, push-pull digest
  anti-entropy, batching, jitter, per-peer backoff, bounded batches and per-peer state kept
  as ranges. See its docstring for what it does beyond the review, and why.

Broadcast values are the integers 0, 1, 2, ... (spec 4.3), so every set here is a
``RangeSet``: a handful of ``[lo, hi]`` ranges, compact in memory and on the wire.

Binaries: ``python -m glome.nodes.broadcast`` runs ``Hardened``; any variant runs as
``python -m glome.runtime glome.nodes.broadcast:FullStateGossip``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from glome.errors import MalformedRequest
from glome.runtime import Message, Node, handler


# ------------------------------------------------------------------------------- range sets
class RangeSet:
    """A set of integers as sorted, disjoint, non-adjacent inclusive ranges ``[lo, hi]``.

    ``add`` and ``__contains__`` are O(log r) for r ranges; ``difference`` and ``update`` walk
    both range lists. Broadcast values are consecutive, so r stays tiny while the count grows.
    """

    __slots__ = ("_count", "_ends", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0
        for lo, hi in ranges:
            self.add_range(lo, hi)

    @classmethod
    def of(cls, values: Iterable[int]) -> RangeSet:
        out = cls()
        for v in values:
            out.add(v)
        return out

    @classmethod
    def from_json(cls, data: Any, *, max_ranges: int = 1 << 20) -> RangeSet:
        """Parse ``[[lo, hi], ...]``; raise ``ValueError`` on anything else."""
        if not isinstance(data, list):
            raise ValueError(f"ranges must be a list, not {type(data).__name__}")
        if len(data) > max_ranges:
            raise ValueError(f"too many ranges: {len(data)} > {max_ranges}")
        out = cls()
        for item in data:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and all(_is_int(x) for x in item)
                and item[0] <= item[1]
            ):
                raise ValueError(f"a range must be [lo, hi] with integers lo <= hi, not {item!r}")
            out.add_range(item[0], item[1])
        return out

    def to_json(self) -> list[list[int]]:
        return [[lo, hi] for lo, hi in zip(self._starts, self._ends, strict=True)]

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RangeSet)
            and self._starts == other._starts
            and self._ends == other._ends
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RangeSet({self.to_json()})"

    @property
    def range_count(self) -> int:
        return len(self._starts)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and self._ends[i] >= value

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self._starts, self._ends, strict=True):
            yield from range(lo, hi + 1)

    def copy(self) -> RangeSet:
        out = RangeSet()
        out._starts, out._ends, out._count = list(self._starts), list(self._ends), self._count
        return out

    def add(self, value: int) -> bool:
        """Add one value; True if it was new."""
        return self.add_range(value, value) > 0

    def add_range(self, lo: int, hi: int) -> int:
        """Add ``lo..hi`` inclusive; return how many values were new."""
        if lo > hi:
            raise ValueError(f"empty range [{lo}, {hi}]")
        starts, ends = self._starts, self._ends
        i = bisect.bisect_left(ends, lo - 1)  # first range that touches or follows lo
        j = bisect.bisect_right(starts, hi + 1)  # ranges before j start at or before hi + 1
        if i == j:
            starts.insert(i, lo)
            ends.insert(i, hi)
            self._count += hi - lo + 1
            return hi - lo + 1
        new_lo, new_hi = min(lo, starts[i]), max(hi, ends[j - 1])
        covered = sum(ends[k] - starts[k] + 1 for k in range(i, j))
        starts[i:j] = [new_lo]
        ends[i:j] = [new_hi]
        added = (new_hi - new_lo + 1) - covered
        self._count += added
        return added

    def update(self, other: RangeSet) -> int:
        """Union in place; return how many values were new."""
        return sum(self.add_range(lo, hi) for lo, hi in other.ranges())

    def difference(self, other: RangeSet) -> RangeSet:
        """Values in self and not in ``other``."""
        out = RangeSet()
        o_starts, o_ends = other._starts, other._ends
        j = 0
        for lo, hi in zip(self._starts, self._ends, strict=True):
            while j < len(o_ends) and o_ends[j] < lo:
                j += 1
            cur, k = lo, j
            while k < len(o_starts) and o_starts[k] <= hi and cur <= hi:
                if o_starts[k] > cur:
                    out._append(cur, o_starts[k] - 1)
                cur = max(cur, o_ends[k] + 1)
                k += 1
            if cur <= hi:
                out._append(cur, hi)
        return out

    def difference_update(self, other: RangeSet) -> None:
        result = self.difference(other)
        self._starts, self._ends, self._count = result._starts, result._ends, result._count

    def truncated(self, max_ranges: int) -> RangeSet:
        """The first ``max_ranges`` ranges: a subset, so still a true "at least" claim."""
        if len(self._starts) <= max_ranges:
            return self.copy()
        out = RangeSet()
        for lo, hi in zip(self._starts[:max_ranges], self._ends[:max_ranges], strict=True):
            out._append(lo, hi)
        return out

    def _append(self, lo: int, hi: int) -> None:
        """Append a range known to lie after (and not touch) the last one."""
        self._starts.append(lo)
        self._ends.append(hi)
        self._count += hi - lo + 1


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# -------------------------------------------------------------------------------- the base
class BroadcastBase(Node):
    """Client side of every variant: values in a ``RangeSet``, reads answered from a cache."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = RangeSet()
        self.topology: dict[str, list[str]] = {}
        self._read_cache: list[int] | None = None

    @handler("topology")
    async def on_topology(self, msg: Message) -> dict[str, Any]:
        topology = msg.body.get("topology")
        if isinstance(topology, dict):
            self.topology = {str(k): list(v) for k, v in topology.items() if isinstance(v, list)}
        return {"type": "topology_ok"}

    @handler("broadcast")
    async def on_broadcast(self, msg: Message) -> dict[str, Any]:
        value = msg.body.get("message")
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedRequest(f"broadcast message must be an integer, not {value!r}")
        if self.add_values(RangeSet([(value, value)])):
            self.on_new_values(from_peer=None)
        return {"type": "broadcast_ok"}

    @handler("read")
    async def on_read(self, msg: Message) -> dict[str, Any]:
        if self._read_cache is None:
            self._read_cache = list(self.values)
        return {"type": "read_ok", "messages": self._read_cache}

    def add_values(self, incoming: RangeSet) -> int:
        added = self.values.update(incoming)
        if added:
            self._read_cache = None
        return added

    def on_new_values(self, from_peer: str | None) -> None:
        """Hook: the local set grew (a client broadcast when ``from_peer`` is None)."""


class SingleNode(BroadcastBase):
    """3a: one node, so storing the value is all there is to do."""


# ---------------------------------------------------------------- glome-rs and the review
class _RandomPeersGossip(BroadcastBase):
    """glome-rs's shape: ignore the topology, gossip every 100 ms to ``fanout`` random peers."""

    fanout: ClassVar[int] = 4
    interval: ClassVar[float] = 0.1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gossip_peers: list[str] = []

    async def on_init(self) -> None:
        peers = list(self.peers)
        self.rng.shuffle(peers)
        self.gossip_peers = peers[: self.fanout]
        self.every(self.interval, self.gossip, jitter=0.0)

    def gossip(self) -> None:
        raise NotImplementedError

    @handler("gossip")
    async def on_gossip(self, msg: Message) -> None:
        messages = msg.body.get("messages")
        if not (isinstance(messages, list) and all(_is_int(m) for m in messages)):
            self.log.warning("ignoring gossip without an integer list from %s", msg.src)
            return
        self.received(msg.src, messages)
        if self.add_values(RangeSet.of(messages)):
            self.on_new_values(from_peer=msg.src)

    def received(self, peer: str, messages: list[int]) -> None:
        """Hook: ``peer`` sent us ``messages``."""


class FullStateGossip(_RandomPeersGossip):
    """The review's "before": the whole set to 4 random peers every 100 ms, fire and forget."""

    def gossip(self) -> None:
        if not self.values:
            return
        everything = list(self.values)
        for peer in self.gossip_peers:
            self.send(peer, {"type": "gossip", "messages": everything})


class MarkOnSendDelta(_RandomPeersGossip):
    """The review's per-peer delta with delivery assumed on send (glome-rs fb4d6c6, reverted).

    ``peer_seen[p]`` is what we believe ``p`` holds. It grows when ``p`` gossips to us and,
    the flaw, when we send to ``p``. A partition drops the send, the belief stays, the value is
    never sent to ``p`` again: ``p``'s final read misses it (a lost value). The per-peer sets
    also grow without bound (review finding on unbounded sets).
    """

    mark_on_send: ClassVar[bool] = True
    batch_limit: ClassVar[int] = 1024

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.peer_seen: dict[str, set[int]] = {}

    def gossip(self) -> None:
        for peer in self.gossip_peers:
            seen = self.peer_seen.setdefault(peer, set())
            delta = [v for v in self.values if v not in seen][: self.batch_limit]
            if not delta:
                continue
            self.send(peer, {"type": "gossip", "messages": delta})
            if self.mark_on_send:
                seen.update(delta)

    def received(self, peer: str, messages: list[int]) -> None:
        self.peer_seen.setdefault(peer, set()).update(messages)


class EvidenceDelta(MarkOnSendDelta):
    """The review's own sketch, as glome-rs finally shipped it (eff4ea8): a peer is believed
    to hold only what it sent us.

    Safe under partitions, since nothing is assumed on send. But nobody acknowledges, so a
    value our peer never gossips back (it is not among its 4 random peers, or it is but sends
    us only what we lack) is re-sent every tick forever: the message count stays that of full
    state gossip and only payloads shrink.
    """

    mark_on_send = False


# ---------------------------------------------------------------------------------- hardened
@dataclass
class PeerLink:
    """What one node knows about delivering to one peer. All state is ranges, so it is small."""

    known: RangeSet = field(default_factory=RangeSet)
    """Values the peer certainly holds: it sent them, or listed them in a digest."""
    inflight: list[tuple[float, RangeSet]] = field(default_factory=list)
    """Batches sent and not yet covered by ``known``, oldest first, with their send time."""
    rto: float = 1.0
    """Retransmission timeout; doubles on each expiry (backoff), resets when the peer speaks."""
    next_send_at: float = 0.0
    """Pacing: no data before this time (flush interval when healthy, ``rto`` when suspect)."""
    suspect: bool = False
    """A batch timed out and the peer has not spoken since."""
    ack_due_at: float | None = None
    """When a standalone ack is owed (we got data and have not answered it yet)."""

    def in_flight(self) -> RangeSet:
        out = RangeSet()
        for _, batch in self.inflight:
            out.update(batch)
        return out

    def learn(self, ranges: RangeSet) -> None:
        """The peer holds ``ranges``: drop them from the batches in flight."""
        if not ranges:
            return
        self.known.update(ranges)
        kept = []
        for sent_at, batch in self.inflight:
            batch.difference_update(self.known)
            if batch:
                kept.append((sent_at, batch))
        self.inflight = kept


class Hardened(BroadcastBase):
    """Never loses a value under partitions, and meets 3d and 3e at once.

    Overlay: the test's grid has a diameter of ~2 sqrt(n) hops of 100 ms each, too slow for
    3d's 600 ms maximum, so the node ignores it and builds a tree over ``node_ids`` (in the
    order init gives, the same on every node) with ``tree_fanout`` children per node; the
    default (``None``) is a star, whose 2-hop diameter is the smallest possible. Data floods
    the tree: each tree neighbour gets whatever we hold that it is not known to hold.

    Delivery, per tree neighbour (``PeerLink``):

    - Acknowledged delta. Every gossip carries the sender's digest (``have``: its set as
      ranges, at most ``max_digest_ranges`` of them; a truncated digest is a subset, so still
      true). The digest is the acknowledgement: ``known[p]`` grows only from what ``p`` says
      it holds, never on send. Acks ride on data going the other way; a standalone ack goes
      out ``ack_delay`` after data arrived if nothing carried it sooner.
    - Retransmission. A batch not covered by ``known[p]`` within ``rto`` is dropped from the
      in-flight list, so its values are in the next delta again. Each expiry doubles ``rto``
      up to ``rto_max`` and marks ``p`` suspect: while suspect, data to ``p`` goes out once
      per ``rto`` (a probe), not every flush (backoff for slow and unreachable peers). Any
      message from ``p`` resets both.
    - Batching and pacing, per node. A new value on an idle node goes out at once; after a
      flush the node waits ``flush_interval`` (jittered +-10%) before the next, so a busy hub
      sends one batch per leaf per interval, to all leaves together (per-link timers would
      make a value's arrival wait for the unluckiest link). Batches hold at most
      ``max_batch_ranges`` ranges; the lowest missing ranges go first and in-flight ones are
      skipped, so no value starves (glome-rs's ``take(1024)`` re-took the same HashSet prefix
      every tick). The interval is the knob between messages and latency: see
      ``docs/benchmarks.md`` (0.1 s: 3.35 msgs/op, max 354 ms on 3d).

    Anti-entropy: every ``ae_interval`` (``ae_interval_degraded`` while some tree link is
    suspect) a node sends its digest to a random peer (``sync``); the peer answers with the
    values the requester lacks plus its own digest, and the requester then pushes what the
    peer lacks (push-pull). This heals around a broken tree, such as an isolated hub, with no
    tree repair protocol. Anti-entropy pushes are not acknowledged; the next round repeats
    them if they were lost.

    Beyond the review: its per-peer delta as glome-rs first built it (fb4d6c6) marked values
    delivered on send and lost them under partitions; the review's own sketch (per-peer seen
    sets, glome-rs eff4ea8) is safe but never learns what a peer got, so it re-sends forever. Acks that
    carry range digests fix both, and keep per-peer state at a few ranges instead of the
    unbounded per-peer sets the review itself flagged. Memory: the value set cannot be
    compacted below its ranges, since reads must return every value; the review's "compact
    after all peers confirm a watermark" applies to logs, not to a set that is read whole.
    """

    tree_fanout: ClassVar[int | None] = None
    tick: ClassVar[float] = 0.05
    flush_interval: ClassVar[float] = 0.1
    ack_delay: ClassVar[float] = 0.5
    rto_initial: ClassVar[float] = 1.0
    rto_max: ClassVar[float] = 2.0
    ae_interval: ClassVar[float] = 3.0
    ae_interval_degraded: ClassVar[float] = 0.5
    max_batch_ranges: ClassVar[int] = 256
    max_digest_ranges: ClassVar[int] = 256
    jitter: ClassVar[float] = 0.1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.neighbours: list[str] = []
        self.links: dict[str, PeerLink] = {}
        self.next_ae_at = 0.0
        self.next_flush_at = 0.0
        self._flush_scheduled = False
        self._digest: list[list[int]] | None = None

    # ---------------------------------------------------------------------------- overlay
    @staticmethod
    def tree_neighbours(node_id: str, node_ids: list[str], fanout: int | None) -> list[str]:
        """Parent and children of ``node_id`` in a ``fanout``-ary tree over ``node_ids``."""
        n = len(node_ids)
        f = max(1, n - 1) if fanout is None else fanout
        if f < 1:
            raise ValueError(f"tree fanout must be >= 1, got {f}")
        i = node_ids.index(node_id)
        out = [node_ids[(i - 1) // f]] if i > 0 else []
        out.extend(node_ids[c] for c in range(i * f + 1, min(i * f + f, n - 1) + 1))
        return out

    async def on_init(self) -> None:
        self.neighbours = self.tree_neighbours(self.id, self.node_ids, self.tree_fanout)
        for peer in self.neighbours:
            self.links[peer] = PeerLink(rto=self.rto_initial)
        self.next_ae_at = self.now() + self._jittered(self.ae_interval)
        self.every(self.tick, self.on_tick, jitter=self.jitter)

    def _jittered(self, seconds: float) -> float:
        return seconds * (1 + self.rng.uniform(-self.jitter, self.jitter))

    def _link(self, peer: str) -> PeerLink:
        link = self.links.get(peer)
        if link is None:  # a non-neighbour met through anti-entropy: only ``known`` is used
            link = self.links[peer] = PeerLink(rto=self.rto_initial)
        return link

    def digest(self) -> list[list[int]]:
        if self._digest is None:
            self._digest = self.values.truncated(self.max_digest_ranges).to_json()
        return self._digest

    def add_values(self, incoming: RangeSet) -> int:
        added = super().add_values(incoming)
        if added:
            self._digest = None
        return added

    # ---------------------------------------------------------------------------- sending
    def on_new_values(self, from_peer: str | None) -> None:
        self.request_flush()

    def request_flush(self) -> None:
        """Flush now if the last batch left ``flush_interval`` ago, else once when it has."""
        now = self.now()
        if now >= self.next_flush_at:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.spawn(self._flush_later(self.next_flush_at - now), name="flush")

    async def _flush_later(self, delay: float) -> None:
        try:
            await self.sleep(delay)
        finally:
            self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """One batch to every tree neighbour that lacks something (suspects only when due).

        The whole node flushes at once, so a hub's batches to all its leaves leave together
        and a value reaches every leaf after the same wait, not after the slowest link's.
        """
        now = self.now()
        sent = False
        for peer in self.neighbours:
            link = self.links[peer]
            if link.suspect and now < link.next_send_at:
                continue
            sent = self._send_delta(peer, link, now) or sent
        if sent:
            self.next_flush_at = now + self._jittered(self.flush_interval)

    def on_tick(self) -> None:
        """Retransmit expired batches (with backoff), owed acks, and anti-entropy."""
        now = self.now()
        for peer in self.neighbours:
            link = self.links[peer]
            if link.inflight and now - link.inflight[0][0] >= link.rto:
                link.inflight = [b for b in link.inflight if now - b[0] < link.rto]
                link.rto = min(link.rto * 2, self.rto_max)
                link.suspect = True
                link.next_send_at = now  # the retransmission is the probe
        self.request_flush()
        for peer in self.neighbours:
            link = self.links[peer]
            if link.ack_due_at is not None and now >= link.ack_due_at:
                self._send(peer, RangeSet())
        if now >= self.next_ae_at and self.peers:
            self.send(
                self.rng.choice(self.peers),
                {"type": "gossip", "values": [], "have": self.digest(), "sync": True},
            )
            degraded = any(self.links[p].suspect for p in self.neighbours)
            interval = self.ae_interval_degraded if degraded else self.ae_interval
            self.next_ae_at = now + self._jittered(interval)

    def _send_delta(self, peer: str, link: PeerLink, now: float) -> bool:
        delta = self.values.difference(link.known)
        if link.inflight and delta:
            delta.difference_update(link.in_flight())
        if not delta:
            return False
        batch = delta.truncated(self.max_batch_ranges)
        self._send(peer, batch)
        link.inflight.append((now, batch))
        if link.suspect:
            link.next_send_at = now + self._jittered(link.rto)
        return True

    def _send(self, peer: str, values: RangeSet, **flags: bool) -> None:
        self.send(
            peer, {"type": "gossip", "values": values.to_json(), "have": self.digest(), **flags}
        )
        link = self.links.get(peer)
        if link is not None:
            link.ack_due_at = None  # our digest went with it

    # -------------------------------------------------------------------------- receiving
    @handler("gossip")
    async def on_gossip(self, msg: Message) -> None:
        peer = msg.src
        if peer not in self.node_ids or peer == self.id:
            self.log.warning("ignoring gossip from %r, not a peer", peer)
            return
        try:
            values = RangeSet.from_json(msg.body.get("values", []))
            have = RangeSet.from_json(msg.body.get("have", []))
        except ValueError as e:
            self.log.warning("ignoring malformed gossip from %s: %s", peer, e)
            return
        now = self.now()
        link = self._link(peer)
        link.learn(values)
        link.learn(have)
        if link.suspect or link.rto != self.rto_initial:  # it speaks: stop backing off
            link.suspect, link.rto = False, self.rto_initial
            link.next_send_at = min(link.next_send_at, now)
        added = self.add_values(values)
        if (
            values
            and peer in self.neighbours
            and not msg.body.get("ae")
            and link.ack_due_at is None
        ):
            link.ack_due_at = now + self.ack_delay
        if msg.body.get("sync"):  # anti-entropy pull: answer with what it lacks, and our digest
            lacking = self.values.difference(link.known).truncated(self.max_batch_ranges)
            self._send(peer, lacking, ae=True, sync_reply=True)
        elif msg.body.get("sync_reply"):  # the push half of push-pull
            lacking = self.values.difference(link.known).truncated(self.max_batch_ranges)
            if lacking:
                self._send(peer, lacking, ae=True)
        if added:
            self.on_new_values(from_peer=peer)


Naive = FullStateGossip
Review = MarkOnSendDelta
NODE = Hardened

if __name__ == "__main__":
    Hardened.main()
