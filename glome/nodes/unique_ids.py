"""Challenge 2, unique ids: ``generate`` -> ``generate_ok {id}``, unique across the cluster.

Three nodes, naive to hardened:

- ``RandomIds`` (``Naive``): a random ``bits``-bit integer per request, as glome-rs did before
  the review (536b803). No coordination, so it is totally available under partitions, but two
  draws can collide. ``birthday_collision_probability`` gives the chance; at 64 bits it is tiny
  (about 2.7e-8 for a million ids), at a narrow width (``RandomIds.with_bits(16)``) a short run
  shows duplicates, which is how the tests measure it.
- ``ReviewSnowflakeIds``: the review's "Snowflake-lite" exactly as glome-rs implemented it
  (6b4160c): 42 bits of epoch ms, 10 bits of a *hash* of the node name, a 12-bit sequence that
  is incremented as a wrapping u16 and never masked. It has three flaws the review did not
  catch: two node names can hash to the same 10 bits (deterministic for given names), more than
  4096 ids in one ms spill the sequence into the node bits, and a wall clock that steps
  backwards re-issues (ms, seq) pairs already used. Each one yields duplicate ids.
- ``SnowflakeIds`` (``Hardened``): 41 bits of ms since 2020, 10 node bits, 12 sequence bits
  (63 bits: a positive signed 64-bit integer, so JVM checkers never see a BigInt). The node
  bits are the node's *index* in the sorted ``node_ids``, unique by construction, not a hash.
  The generator keeps its last timestamp and never goes backwards, and when 4096 ids are used
  up in one ms it waits rather than wrapping. See ``SnowflakeGenerator`` for why the wait is
  "one real millisecond" rather than "until the wall clock reaches the next ms".

Binaries: ``python -m glome.nodes.unique_ids`` runs the hardened node; any variant runs as
``python -m glome.runtime glome.nodes.unique_ids:RandomIds``. Challenge 2's command is
``maelstrom test -w unique-ids --bin <that> --time-limit 30 --rate 1000 --node-count 3
--availability total --nemesis partition``.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, ClassVar

from glome.runtime import Message, Node, handler

EPOCH_MS = 1_577_836_800_000
"""2020-01-01T00:00:00Z: a custom epoch keeps 41 bits of ms good until 2089."""


def birthday_collision_probability(n: int, bits: int = 64) -> float:
    """Probability that ``n`` independent uniform ``bits``-bit ids contain a duplicate.

    Exact product ``1 - prod_{i<n} (1 - i/2**bits)`` for small ``n`` (computed in log space
    with ``log1p`` so it stays accurate when each factor is within 1e-19 of 1), and the
    standard approximation ``1 - exp(-n(n-1) / 2**(bits+1))`` for large ``n``, where the two
    agree to many digits.
    """
    if n < 0 or bits <= 0:
        raise ValueError(f"need n >= 0 and bits > 0, got n={n}, bits={bits}")
    space = 2**bits
    if n > space:
        return 1.0
    if n <= 100_000:
        log_no_collision = math.fsum(math.log1p(-i / space) for i in range(1, n))
        return -math.expm1(log_no_collision)
    return -math.expm1(-n * (n - 1) / (2 * space))


# ------------------------------------------------------------------------------------- naive
class RandomIds(Node):
    """A fresh random ``bits``-bit integer per request: unique only with high probability."""

    bits: ClassVar[int] = 64

    @classmethod
    def with_bits(cls, bits: int) -> type[RandomIds]:
        """A subclass drawing ``bits``-bit ids: a narrow width makes collisions observable."""
        if not 1 <= bits <= 64:
            raise ValueError(f"bits must be in 1..64, got {bits}")
        return type(f"RandomIds{bits}", (cls,), {"bits": bits, "__module__": cls.__module__})

    @handler("generate")
    async def generate(self, msg: Message) -> dict[str, Any]:
        return {"type": "generate_ok", "id": self.rng.getrandbits(self.bits)}


# ------------------------------------------------------------------------ the review's flaws
def name_hash_10(name: str) -> int:
    """10 bits of a stable hash of a node name (glome-rs used xxh3; CRC-32 collides the same way).

    A 10-bit hash has 1024 slots, so among ``k`` names the chance that two share one is
    ``birthday_collision_probability(k, 10)``: about 26% for the 25 nodes of challenge 3d.
    """
    return zlib.crc32(name.encode()) & 0x3FF


class ReviewSnowflakeGenerator:
    """glome-rs's ``IdGen`` (6b4160c), line for line, flaws included.

    ``seq`` wraps as a u16 (0..65535) and is OR-ed in unmasked, so past 4095 it overwrites the
    node bits; a timestamp different from the last one (earlier or later) resets ``seq`` to 0,
    so a clock step backwards re-issues old ids.
    """

    def __init__(self, node_id: str) -> None:
        self.node_bits = name_hash_10(node_id)
        self.last_ms = 0
        self.seq = 0

    def generate(self, wall_ms: int) -> int:
        now = wall_ms & ((1 << 42) - 1)
        if now == self.last_ms:
            self.seq = (self.seq + 1) & 0xFFFF
        else:
            self.last_ms = now
            self.seq = 0
        return (now << 22) | (self.node_bits << 12) | self.seq


class ReviewSnowflakeIds(Node):
    """The review's Snowflake-lite as glome-rs shipped it: duplicates on hash collisions,
    sequence overflow, and clock steps backwards."""

    def setup(self) -> None:
        self.gen: ReviewSnowflakeGenerator | None = None

    async def on_init(self) -> None:
        self.gen = ReviewSnowflakeGenerator(self.id)

    @handler("generate")
    async def generate(self, msg: Message) -> dict[str, Any]:
        assert self.gen is not None
        return {"type": "generate_ok", "id": self.gen.generate(self.wall_ms())}


# ---------------------------------------------------------------------------------- hardened
class SnowflakeGenerator:
    """Snowflake ids: ``(ms since epoch) << 22 | node_index << 12 | sequence``.

    Guarantees, for one generator: every id is larger than the previous one (so unique), and
    ids of generators with different ``node_index`` never collide (the node bits differ).

    - Clock steps backwards: the timestamp used is ``max(wall, last)``, so a step back keeps
      issuing ids in the last millisecond until its sequence runs out.
    - Sequence overflow (more than 4096 ids in one timestamp): ``try_next`` returns ``None``
      and the caller waits. The review says "sleep/spin until the next ms"; taken literally,
      after a clock step back of an hour that spin lasts an hour. So the caller sleeps one
      *real* (monotonic) millisecond and then calls ``next_after_wait``, which moves to
      ``max(wall, last + 1)``. The timestamp then runs ahead of a stepped-back wall clock by at
      most the size of the step (each borrowed ms was paid for with a real ms of waiting), and
      the rate stays bounded at 4096 ids per real ms: backpressure, never a wrap.
    """

    TIME_BITS = 41
    NODE_BITS = 10
    SEQ_BITS = 12
    MAX_NODES = 1 << NODE_BITS
    MAX_SEQ = (1 << SEQ_BITS) - 1
    MAX_MS = (1 << TIME_BITS) - 1

    def __init__(self, node_index: int, *, epoch_ms: int = EPOCH_MS) -> None:
        if not 0 <= node_index < self.MAX_NODES:
            raise ValueError(
                f"node index {node_index} does not fit in {self.NODE_BITS} bits "
                f"(at most {self.MAX_NODES} nodes)"
            )
        self.node_index = node_index
        self.epoch_ms = epoch_ms
        self.last_ms = -1
        self.seq = 0
        self.waits = 0
        """How many times the sequence ran out and a caller had to wait."""

    def _elapsed(self, wall_ms: int) -> int:
        return max(0, wall_ms - self.epoch_ms)  # a wall clock before the epoch counts as 0

    def _compose(self) -> int:
        if self.last_ms > self.MAX_MS:
            raise OverflowError("timestamp no longer fits in 41 bits (after 2089)")
        return (
            (self.last_ms << (self.NODE_BITS + self.SEQ_BITS))
            | (self.node_index << self.SEQ_BITS)
            | self.seq
        )

    def try_next(self, wall_ms: int) -> int | None:
        """The next id, or ``None`` when this millisecond's sequence is used up."""
        ms = self._elapsed(wall_ms)
        if ms > self.last_ms:
            self.last_ms, self.seq = ms, 0
        elif self.seq < self.MAX_SEQ:
            self.seq += 1  # same ms, or the clock stepped back: keep the last timestamp
        else:
            self.waits += 1
            return None
        return self._compose()

    def next_after_wait(self, wall_ms: int) -> int:
        """After the caller waited one real ms: the next id, borrowing a ms if the wall lags."""
        issued = self.try_next(wall_ms)
        if issued is not None:
            return issued
        self.waits -= 1  # try_next counted a wait; this call resolves it instead
        self.last_ms, self.seq = self.last_ms + 1, 0
        return self._compose()

    @classmethod
    def decode(cls, id_: int, *, epoch_ms: int = EPOCH_MS) -> tuple[int, int, int]:
        """``(wall ms, node index, sequence)`` of an id."""
        seq = id_ & cls.MAX_SEQ
        node = (id_ >> cls.SEQ_BITS) & (cls.MAX_NODES - 1)
        return (id_ >> (cls.NODE_BITS + cls.SEQ_BITS)) + epoch_ms, node, seq


def node_index(node_id: str, node_ids: list[str]) -> int:
    """The node's position in the sorted cluster list: distinct per node, the same on every node.

    Sorted, so nodes agree even if their init lists were ordered differently.
    """
    ordered = sorted(node_ids)
    if node_id not in ordered:
        raise ValueError(f"node {node_id!r} is not in node_ids {ordered!r}")
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"node_ids has duplicates: {ordered!r}")
    return ordered.index(node_id)


class SnowflakeIds(Node):
    """Unique, per-node increasing 63-bit ids from (wall ms, node index, sequence)."""

    overflow_wait_s: ClassVar[float] = 0.001
    """How long to sleep when a millisecond's 4096 ids are used up."""

    def setup(self) -> None:
        self.gen: SnowflakeGenerator | None = None

    async def on_init(self) -> None:
        self.gen = SnowflakeGenerator(node_index(self.id, self.node_ids))

    async def next_id(self) -> int:
        assert self.gen is not None, "generate before init"
        issued = self.gen.try_next(self.wall_ms())
        while issued is None:  # bounded: next_after_wait always returns an id
            await self.sleep(self.overflow_wait_s)
            issued = self.gen.next_after_wait(self.wall_ms())
        return issued

    @handler("generate")
    async def generate(self, msg: Message) -> dict[str, Any]:
        return {"type": "generate_ok", "id": await self.next_id()}


Naive = RandomIds
Review = ReviewSnowflakeIds
Hardened = SnowflakeIds
NODE = SnowflakeIds

if __name__ == "__main__":
    SnowflakeIds.main()
