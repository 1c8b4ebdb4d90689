"""Partition shapes, the nemesis schedule and its history ops, topologies."""

from __future__ import annotations

import asyncio
import random

import pytest

from glome.edn import Keyword, Str, dumps
from glome.sim.history import History
from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.nemesis import (
    FAULTS,
    Nemesis,
    NemesisContext,
    grudge_value,
    parse_faults,
    partition_grudge,
)
from glome.sim.net.network import Network
from glome.sim.workloads.topology import topology

NODES = [f"n{i}" for i in range(5)]


def _sees(grudge: dict[str, set[str]], node: str, nodes: list[str]) -> set[str]:
    return {n for n in nodes if n not in grudge.get(node, set())}


@pytest.mark.parametrize("n", [1, 3, 4, 5, 7, 9])
def test_one_isolates_exactly_one_node(n: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    grudge = partition_grudge("one", nodes, random.Random(n))
    isolated = [x for x in nodes if _sees(grudge, x, nodes) == {x}]
    if n > 2:  # with two nodes both are alone
        assert len(isolated) == 1
        loner = isolated[0]
        for other in nodes:
            if other != loner:
                assert grudge[other] == {loner}


@pytest.mark.parametrize("n", [2, 3, 5, 6, 9])
def test_majority_splits_floor_half_from_the_rest(n: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    grudge = partition_grudge("majority", nodes, random.Random(n))
    sizes = sorted(len(_sees(grudge, x, nodes)) for x in nodes)
    small, big = n // 2, n - n // 2
    assert sizes == [small] * small + [big] * big


@pytest.mark.parametrize(("n", "cut"), [(3, 0), (4, 1), (5, 1), (7, 2), (10, 3)])
def test_minority_third_cuts_floor_n_minus_1_over_3(n: int, cut: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    grudge = partition_grudge("minority-third", nodes, random.Random(n))
    minority = [x for x in nodes if len(_sees(grudge, x, nodes)) == cut]
    assert len(minority) == cut
    if cut == 0:
        assert all(not g for g in grudge.values())


@pytest.mark.parametrize("n", [3, 5, 7, 9])
def test_majorities_ring_every_node_sees_a_distinct_majority(n: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    grudge = partition_grudge("majorities-ring", nodes, random.Random(n))
    views = [frozenset(_sees(grudge, x, nodes)) for x in nodes]
    assert all(len(v) == n // 2 + 1 and x in v for v, x in zip(views, nodes, strict=True))
    assert len(set(views)) == n


def test_grudge_value_prints_like_maelstrom() -> None:
    value = grudge_value({"n1": {"n0"}, "n0": {"n1"}}, ["n0", "n1"])
    assert value[0] == Keyword("isolated")
    assert isinstance(next(iter(value[1])), Str)
    assert dumps(value) == '[:isolated {"n0" #{"n1"}, "n1" #{"n0"}}]'


def test_unknown_fault_is_refused_and_registry_is_open() -> None:
    assert parse_faults(["partition", " partition", ""]) == ["partition"]
    assert "partition" in FAULTS
    with pytest.raises(ValueError, match="unknown nemesis fault 'bogus'"):
        parse_faults(["bogus"])


def test_nemesis_alternates_and_records_info_pairs() -> None:
    async def main() -> tuple[list[dict[str, object]], Network]:
        loop = asyncio.get_running_loop()
        net = Network(loop)
        history = History(loop)
        ctx = NemesisContext(network=net, host=None, node_ids=NODES, rng=random.Random(4))
        nemesis = Nemesis(ctx, history, ["partition"], interval=1.0)
        await nemesis.run(loop.time() + 20)
        partitioned_at_end = bool(net.grudge)
        await nemesis.final()
        assert not net.grudge
        assert partitioned_at_end or len(history.ops) % 4 == 0
        return history.ops, net

    ops, _ = run_virtual(main())
    assert all(op["process"] == "nemesis" and op["type"] == "info" for op in ops)
    fs = [op["f"] for op in ops]
    pairs = list(zip(fs[::2], fs[1::2], strict=True))
    assert all(a == b for a, b in pairs)
    kinds = [a for a, _ in pairs]
    assert kinds[0] == "start-partition" and ops[0]["time"] == 0
    assert all(k != kinds[i + 1] for i, k in enumerate(kinds[:-2]))  # alternation
    assert kinds[-1] == "stop-partition" and ops[-1]["value"] == Keyword("network-healed")
    starts = [op for op in ops if op["f"] == "start-partition"]
    assert {str(op["value"]) for op in starts[::2]} <= {
        "one",
        "minority-third",
        "majority",
        "majorities-ring",
    }
    assert all(op["value"][0] == "isolated" for op in starts[1::2])
    gaps = [b["time"] - a["time"] for a, b in zip(ops[::2], ops[2::2], strict=False)]
    assert all(0 <= g < 2e9 for g in gaps[:-1])  # U[0, 2 x interval)


def test_topologies_match_the_spec() -> None:
    nodes = NODES
    assert topology("grid", nodes) == {
        "n0": ["n3", "n1"],
        "n1": ["n4", "n2", "n0"],
        "n2": ["n1"],
        "n3": ["n0", "n4"],
        "n4": ["n1", "n3"],
    }
    assert topology("grid", ["n0"]) == {"n0": []}
    assert topology("line", nodes) == {
        "n0": ["n1"],
        "n1": ["n0", "n2"],
        "n2": ["n1", "n3"],
        "n3": ["n2", "n4"],
        "n4": ["n3"],
    }
    assert topology("line", ["n0"]) == {}
    assert topology("tree2", nodes) == {
        "n0": ["n1", "n2"],
        "n1": ["n0", "n3", "n4"],
        "n2": ["n0"],
        "n3": ["n1"],
        "n4": ["n1"],
    }
    assert topology("tree", nodes) == topology("tree2", nodes)
    assert topology("tree4", nodes)["n0"] == ["n1", "n2", "n3", "n4"]
    assert topology("tree3", nodes)["n4"] == ["n1"]
    assert topology("total", nodes)["n2"] == ["n0", "n1", "n3", "n4"]
    grid25 = topology("grid", [f"n{i}" for i in range(25)])
    assert grid25["n12"] == ["n17", "n7", "n13", "n11"] and grid25["n24"] == ["n19", "n23"]
    with pytest.raises(ValueError, match="unknown topology"):
        topology("star", nodes)
