"""Unique ids: the birthday bound, the three generators, and the nodes over a MemoryTransport."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glome.nodes.unique_ids import (
    EPOCH_MS,
    RandomIds,
    ReviewSnowflakeGenerator,
    ReviewSnowflakeIds,
    SnowflakeGenerator,
    SnowflakeIds,
    birthday_collision_probability,
    name_hash_10,
    node_index,
)
from glome.runtime import Node
from glome.sim import run
from glome.sim.options import ZERO_COST
from glome.testing import Driver

NOW_MS = 1_700_000_000_000


# ------------------------------------------------------------------------- birthday bound
def test_birthday_probability_known_values() -> None:
    assert birthday_collision_probability(0) == 0.0
    assert birthday_collision_probability(1) == 0.0
    # 2 ids in a 1-bit space collide half the time; 3 always do
    assert birthday_collision_probability(2, bits=1) == pytest.approx(0.5)
    assert birthday_collision_probability(3, bits=1) == 1.0
    # 64 bits, a million ids: n^2 / 2^65 ~ 2.71e-8
    assert birthday_collision_probability(10**6) == pytest.approx(2.7105e-8, rel=1e-3)
    # exact and approximate branches agree where they meet
    exact = birthday_collision_probability(100_000, bits=40)
    approx = -math.expm1(-100_000 * 99_999 / 2**41)
    assert exact == pytest.approx(approx, rel=1e-3)
    assert birthday_collision_probability(1000, bits=16) == pytest.approx(0.9995, abs=1e-3)
    with pytest.raises(ValueError):
        birthday_collision_probability(-1)


# ---------------------------------------------------------------- hardened generator units
def test_snowflake_layout_and_decode() -> None:
    gen = SnowflakeGenerator(5)
    first = gen.try_next(NOW_MS)
    assert first is not None and first < 2**63
    assert SnowflakeGenerator.decode(first) == (NOW_MS, 5, 0)
    assert SnowflakeGenerator.decode(gen.try_next(NOW_MS) or 0) == (NOW_MS, 5, 1)
    assert SnowflakeGenerator.decode(gen.try_next(NOW_MS + 3) or 0) == (NOW_MS + 3, 5, 0)


def test_snowflake_refuses_node_index_out_of_range() -> None:
    with pytest.raises(ValueError, match="10 bits"):
        SnowflakeGenerator(1024)
    with pytest.raises(ValueError):
        SnowflakeGenerator(-1)


def test_node_index_is_position_in_sorted_ids_not_a_hash() -> None:
    ids = ["n2", "n0", "n1"]
    assert [node_index(n, ids) for n in ("n0", "n1", "n2")] == [0, 1, 2]
    # the review's hash collides for these names; the index cannot
    assert name_hash_10("n0") == name_hash_10("n44")
    assert node_index("n0", ["n0", "n44"]) != node_index("n44", ["n0", "n44"])
    with pytest.raises(ValueError):
        node_index("n9", ids)


def test_clock_step_backwards_never_goes_backwards() -> None:
    gen = SnowflakeGenerator(1)
    a = gen.try_next(NOW_MS)
    b = gen.try_next(NOW_MS - 60_000)  # NTP stepped the clock back a minute
    c = gen.try_next(NOW_MS - 59_999)
    assert a is not None and b is not None and c is not None
    assert a < b < c
    assert SnowflakeGenerator.decode(b)[0] == NOW_MS  # kept the last timestamp


def test_sequence_overflow_waits_instead_of_wrapping() -> None:
    gen = SnowflakeGenerator(3)
    ids = [gen.try_next(NOW_MS) for _ in range(4096)]
    assert None not in ids
    assert gen.try_next(NOW_MS) is None and gen.waits == 1  # used up: the caller must wait
    after = gen.next_after_wait(NOW_MS)  # the wall clock did not move (or stepped back)
    assert after > max(i for i in ids if i is not None)
    assert SnowflakeGenerator.decode(after) == (NOW_MS + 1, 3, 0)  # borrowed one ms, seq 0
    assert SnowflakeGenerator.decode(gen.next_after_wait(NOW_MS + 5)) == (NOW_MS + 5, 3, 0)


def test_wall_clock_before_epoch_still_unique() -> None:
    gen = SnowflakeGenerator(0)
    ids = [gen.try_next(EPOCH_MS - 10_000) for _ in range(10)]
    assert len(set(ids)) == 10 and None not in ids


class _TinySeq(SnowflakeGenerator):
    """3 sequence bits (8 ids per ms), so short bursts exercise overflow and borrowing."""

    SEQ_BITS = 3
    MAX_SEQ = 7


@settings(max_examples=150, deadline=None)
@given(
    nodes=st.integers(min_value=1, max_value=8),
    steps=st.lists(
        st.tuples(st.integers(0, 7), st.integers(-3000, 50), st.integers(1, 30)),
        min_size=1,
        max_size=60,
    ),
)
def test_property_unique_across_nodes_and_monotone_per_node(
    nodes: int, steps: list[tuple[int, int, int]]
) -> None:
    """Any interleaving of nodes, clock jumps (back and forth) and bursts past a ms's ids."""
    gens = [_TinySeq(i) for i in range(nodes)]
    clocks = [NOW_MS] * nodes
    last = [-1] * nodes
    seen: set[int] = set()
    for who, jump, burst in steps:
        i = who % nodes
        clocks[i] += jump
        for _ in range(burst):
            issued = gens[i].try_next(clocks[i])
            if issued is None:
                issued = gens[i].next_after_wait(clocks[i])
            assert issued > last[i], "ids must increase per node"
            assert issued not in seen, "ids must be unique across nodes"
            assert _TinySeq.decode(issued)[1] == i
            last[i] = issued
            seen.add(issued)


# ------------------------------------------------------------- the review's generator flaws
def test_review_generator_duplicates_on_hash_collision() -> None:
    a, b = ReviewSnowflakeGenerator("n0"), ReviewSnowflakeGenerator("n44")
    assert a.generate(NOW_MS) == b.generate(NOW_MS)


def test_review_generator_duplicates_on_clock_step_back() -> None:
    gen = ReviewSnowflakeGenerator("n1")
    first = gen.generate(NOW_MS)
    gen.generate(NOW_MS + 1)
    assert gen.generate(NOW_MS) == first  # seq reset to 0 in an old ms: the same id again


def test_review_generator_sequence_spills_into_node_bits() -> None:
    """Past 4095 ids in one ms the unmasked sequence ORs into the node bits: n1's 8193rd id in
    a millisecond is n188's first (their hashes differ only in bit 1 of the node field)."""
    n1, n188 = ReviewSnowflakeGenerator("n1"), ReviewSnowflakeGenerator("n188")
    assert name_hash_10("n188") == name_hash_10("n1") | 0b10
    burst = [n1.generate(NOW_MS) for _ in range(8193)]
    assert burst[-1] == n188.generate(NOW_MS)
    wrapped = [n1.generate(NOW_MS) for _ in range(65536 - 8193 + 1)]
    assert wrapped[-1] == burst[0]  # and after 65536 the u16 wraps onto its own first id


# --------------------------------------------------------------------- nodes on a transport
def _run_node(
    node: Node, requests: list[dict[str, Any]], *, node_ids: list[str]
) -> list[dict[str, Any]]:
    """Init a node and feed it requests over a MemoryTransport; return the reply bodies."""
    out: list[dict[str, Any]] = []

    async def main() -> None:
        driver = Driver(node, node_ids[0], node_ids)
        driver.on_send = lambda envelope: out.append(envelope["body"])
        await driver.start(init=False)
        init = {"type": "init", "msg_id": 1, "node_id": node_ids[0], "node_ids": node_ids}
        driver.deliver(init, src="c0")
        for i, body in enumerate(requests):
            driver.deliver({**body, "msg_id": i + 2})
        for _ in range(200):
            await asyncio.sleep(0.001)
            if len(out) >= len(requests) + 1:
                break
        await driver.stop()

    asyncio.run(main())
    return out


def test_snowflake_node_generates_unique_increasing_ids() -> None:
    replies = _run_node(SnowflakeIds(seed=1), [{"type": "generate"}] * 50, node_ids=["n1", "n0"])
    ids = [r["id"] for r in replies if r["type"] == "generate_ok"]
    assert len(ids) == 50 and ids == sorted(ids) and len(set(ids)) == 50
    assert {SnowflakeGenerator.decode(i)[1] for i in ids} == {1}  # n1 is second in sorted order


def test_snowflake_node_init_fails_clearly_beyond_1024_nodes() -> None:
    ids = sorted(f"n{i}" for i in range(1100))
    replies = _run_node(SnowflakeIds(seed=1), [], node_ids=[ids[-1], *ids[:-1]])
    assert replies[0]["type"] == "error" and "10 bits" in replies[0]["text"]


def test_random_ids_node_and_width_knob() -> None:
    narrow = RandomIds.with_bits(8)
    assert narrow.bits == 8 and issubclass(narrow, RandomIds)
    replies = _run_node(narrow(seed=3), [{"type": "generate"}] * 100, node_ids=["n0"])
    ids = [r["id"] for r in replies if r["type"] == "generate_ok"]
    assert all(0 <= i < 256 for i in ids)
    assert len(set(ids)) < len(ids)  # 100 draws from 256: P(no dup) ~ 1e-9
    with pytest.raises(ValueError):
        RandomIds.with_bits(65)


def test_review_snowflake_node_answers() -> None:
    replies = _run_node(ReviewSnowflakeIds(seed=1), [{"type": "generate"}] * 3, node_ids=["n0"])
    assert [r["type"] for r in replies] == ["init_ok"] + ["generate_ok"] * 3


# ------------------------------------------------------------------------- seeded runs
def _ids_run(node: type, tmp_path: Any, **kw: Any) -> Any:
    opts = {
        "workload": "unique-ids",
        "node_count": 3,
        "time_limit": 1,
        "rate": 1000,
        "availability": "total",
        "nemesis": "partition",
        "seed": 0,
        **kw,
    }
    return run(node, store_dir=tmp_path, **opts)


def _ok_ids(result: Any) -> list[int]:
    return [op["value"] for op in result.history if op["type"] == "ok" and op["f"] == "generate"]


def test_narrow_random_ids_collide_as_the_birthday_bound_predicts(tmp_path: Any) -> None:
    """14-bit random ids, ~500 per run: count duplicates over seeds, compare with theory."""
    bits, measured, expected, runs_with_dup, predicted = 14, 0, 0.0, 0, 0.0
    for seed in range(4):
        # zero-cost delivery: ~500 ids per half second (with processing time, each op waits
        # for its reply and a run hands out fewer ids than the bound below assumes)
        result = _ids_run(
            RandomIds.with_bits(bits),
            tmp_path,
            seed=seed,
            time_limit=0.5,
            **ZERO_COST,
        )
        n = len(_ok_ids(result))
        dups = result.results["workload"]["duplicated-count"]
        measured += dups
        expected += n * (n - 1) / 2 / 2**bits  # expected colliding pairs
        runs_with_dup += dups > 0
        predicted += birthday_collision_probability(n, bits)
    assert 0.5 * expected <= measured <= 1.5 * expected
    assert runs_with_dup == 4 and predicted > 3.9  # P(some duplicate) ~ 0.9995 per run
    # the same width of ids, 64 bits wide, over the challenge's ~30000 ids: 2.4e-11
    assert birthday_collision_probability(30_000) < 1e-10


def test_snowflake_ids_unique_and_monotone_per_node_under_partitions(tmp_path: Any) -> None:
    result = _ids_run(SnowflakeIds, tmp_path)
    assert result.valid is True
    assert result.results["workload"]["duplicated-count"] == 0
    assert result.results["availability"]["ok-fraction"] == 1.0
    ids = _ok_ids(result)
    per_node: dict[int, list[int]] = {}
    for i in ids:
        per_node.setdefault(SnowflakeGenerator.decode(i)[1], []).append(i)
    assert sorted(per_node) == [0, 1, 2]
    assert all(seq == sorted(seq) for seq in per_node.values())


def test_review_snowflake_duplicates_when_node_hashes_collide(tmp_path: Any) -> None:
    flawed = _ids_run(ReviewSnowflakeIds, tmp_path, node_count=None, nodes=["n0", "n44"])
    assert flawed.valid is False and flawed.results["workload"]["duplicated-count"] > 0
    hardened = _ids_run(SnowflakeIds, tmp_path, node_count=None, nodes=["n0", "n44"])
    assert hardened.valid is True


def _with_clock_step_back(cls: type[Node], at_s: float, by_ms: int) -> type[Node]:
    """The node's wall clock jumps back ``by_ms`` at ``at_s`` seconds (an NTP step)."""

    class Stepped(cls):  # type: ignore[valid-type,misc]
        def wall_ms(self) -> int:
            wall: int = super().wall_ms()
            return wall - by_ms if self.now() >= at_s else wall

    Stepped.__name__ = Stepped.__qualname__ = f"{cls.__name__}ClockStep"
    return Stepped


def test_clock_step_backwards_duplicates_review_ids_not_hardened(tmp_path: Any) -> None:
    flawed = _ids_run(_with_clock_step_back(ReviewSnowflakeIds, 0.5, 400), tmp_path)
    assert flawed.valid is False and flawed.results["workload"]["duplicated-count"] > 0
    result = _ids_run(_with_clock_step_back(SnowflakeIds, 0.5, 400), tmp_path)
    assert result.valid is True
    per_node: dict[int, list[int]] = {}
    for i in _ok_ids(result):
        per_node.setdefault(SnowflakeGenerator.decode(i)[1], []).append(i)
    assert all(seq == sorted(seq) for seq in per_node.values())
