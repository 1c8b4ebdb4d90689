"""Transaction reference nodes (glome.nodes.txn): divergence, Lamport order, G1b, convergence.

Nodes run over ``MemoryTransport`` (``glome.testing.Cluster``); a test's
``rule`` decides whether each node-to-node message is delivered, held (for reordering) or
dropped (a partition). Seeded whole-run tests
on the in-process runner are at the end and skip while the txn workload is not there yet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from glome.nodes.txn import (
    CommitTsTxn,
    LamportLWWTxn,
    NaiveReplicatedTxn,
    ReadCommittedTxn,
    SingleNodeTxn,
)
from glome.runtime import Node
from glome.testing import Cluster, run, settle, until


class TxnCluster(Cluster):
    """The shared harness, seeded from 0, with a txn request and a view of a node's data."""

    def __init__(self, node_class: Callable[..., Node], n: int) -> None:
        super().__init__(node_class, n, first_seed=0)

    async def txn(self, node_id: str, *mops: list[Any]) -> list[list[Any]]:
        reply = await self.request(node_id, {"type": "txn", "txn": [list(m) for m in mops]})
        assert reply["type"] == "txn_ok", reply
        txn: list[list[Any]] = reply["txn"]
        return txn

    def data(self, node_id: str) -> dict[Any, Any]:
        return dict(self.nodes[node_id].data)  # type: ignore[attr-defined]


def is_replicate(env: dict[str, Any]) -> bool:
    return env["body"].get("type") == "replicate"


# ------------------------------------------------------------------------------------ 6a
def test_single_node_reads_own_writes_and_null_for_missing() -> None:
    async def scenario() -> None:
        c = TxnCluster(SingleNodeTxn, 1)
        await c.start()
        assert await c.txn("n0", ["r", 1, None], ["w", 1, 5], ["r", 1, None], ["w", 1, 6]) == [
            ["r", 1, None],
            ["w", 1, 5],
            ["r", 1, 5],
            ["w", 1, 6],
        ]
        assert await c.txn("n0", ["r", 1, None], ["r", 2, None]) == [["r", 1, 6], ["r", 2, None]]
        for bad in ([["x", 1, 2]], [["r", 1]], "nope", [["w", True, 1]]):
            reply = await c.request("n0", {"type": "txn", "txn": bad})
            assert reply["type"] == "error" and reply["code"] == 12
        assert c.data("n0") == {1: 6}  # the refused txns changed nothing
        await c.stop()

    run(scenario)


# ------------------------------------------------------------------- 6b: two-writer race
async def two_writer_race(node_class: Callable[..., Node], n1_first: bool) -> TxnCluster:
    """n0 writes x=1 and n1 writes x=2 concurrently; each node applies its own write first,
    then the other's (held replicate messages released in the order given)."""
    c = TxnCluster(node_class, 2)
    await c.start()
    c.rule = lambda env: "hold" if is_replicate(env) else "deliver"
    await c.txn("n0", ["w", "x", 1])
    await c.txn("n1", ["w", "x", 2])
    c.rule = lambda env: "deliver"
    for src in ["n1", "n0"] if n1_first else ["n0", "n1"]:
        c.release(lambda env, src=src: env["src"] == src)  # type: ignore[misc]
        await settle()
    return c


def test_naive_replicas_diverge_on_a_two_writer_race() -> None:
    async def scenario() -> None:
        c = await two_writer_race(NaiveReplicatedTxn, n1_first=False)
        assert c.data("n0") == {"x": 2} and c.data("n1") == {"x": 1}  # apart, forever
        await c.stop()

    run(scenario)


def test_commit_ts_drops_ties_so_replicas_diverge() -> None:
    async def scenario() -> None:
        c = await two_writer_race(CommitTsTxn, n1_first=False)
        assert c.data("n0") == {"x": 1} and c.data("n1") == {"x": 2}  # (1 > 1) is false
        await c.stop()

    run(scenario)


def test_lamport_two_writer_race_resolves_deterministically() -> None:
    async def scenario() -> None:
        for n1_first in (False, True):  # whatever the arrival order...
            c = await two_writer_race(LamportLWWTxn, n1_first)
            # ... both commit at Lamport 1, and (1, "n1") > (1, "n0"): x=2 everywhere.
            assert c.data("n0") == c.data("n1") == {"x": 2}
            assert c.nodes["n0"].versions["x"] == (1, "n1")  # type: ignore[attr-defined]
            await c.stop()

    run(scenario)


def test_commit_ts_never_advances_and_loses_a_later_write() -> None:
    """n0 writes x three times (commit_ts 3); n1 sees them, then writes x=9 with its own
    commit_ts 1: n1 keeps 9, n0 drops it as older. The later write is lost on n0."""

    async def scenario() -> None:
        c = TxnCluster(CommitTsTxn, 2)
        await c.start()
        for v in (1, 2, 3):
            await c.txn("n0", ["w", "x", v])
        await settle()
        assert c.data("n1") == {"x": 3}
        await c.txn("n1", ["r", "x", None], ["w", "x", 9])  # it read 3, then wrote over it
        await settle()
        assert c.data("n1") == {"x": 9} and c.data("n0") == {"x": 3}
        await c.stop()

    run(scenario)


def test_lamport_clock_advances_on_receipt_so_later_writes_win() -> None:
    async def scenario() -> None:
        c = TxnCluster(LamportLWWTxn, 2)
        await c.start()
        for v in (1, 2, 3):
            await c.txn("n0", ["w", "x", v])
        await settle()
        assert c.nodes["n1"].lamport == 3  # type: ignore[attr-defined]
        await c.txn("n1", ["r", "x", None], ["w", "x", 9])
        await settle()
        assert c.data("n0") == c.data("n1") == {"x": 9}
        assert c.nodes["n0"].versions["x"] == (4, "n1")  # type: ignore[attr-defined]
        await c.stop()

    run(scenario)


# ---------------------------------------------------------------- G1b: intermediate writes
def test_commit_ts_replica_shows_an_intermediate_write_g1b() -> None:
    async def scenario() -> None:
        c = TxnCluster(CommitTsTxn, 2)
        await c.start()
        await c.txn("n0", ["w", "x", 1], ["w", "x", 2])
        await settle()
        # n1 applied x=1 (v1) and dropped x=2 (v1 is not > v1): 1 was never a final value.
        assert await c.txn("n1", ["r", "x", None]) == [["r", "x", 1]]
        assert await c.txn("n0", ["r", "x", None]) == [["r", "x", 2]]
        await c.stop()

    run(scenario)


def test_hardened_nodes_publish_final_writes_only() -> None:
    async def scenario() -> None:
        for cls in (LamportLWWTxn, ReadCommittedTxn):
            c = TxnCluster(cls, 2)
            seen: list[dict[str, Any]] = []
            c.rule = lambda env, seen=seen: seen.append(env) or "deliver"  # type: ignore[misc]
            await c.start()
            await c.txn("n0", ["w", "x", 1], ["r", "x", None], ["w", "x", 2], ["w", "y", 7])
            await until(lambda c=c: c.data("n1") == {"x": 2, "y": 7})  # type: ignore[misc]
            sent = [w for env in seen if is_replicate(env) for w in env["body"]["writes"]]
            assert sorted((k, v) for k, v, _ in sent) == [("x", 2), ("y", 7)]
            assert await c.txn("n1", ["r", "x", None]) == [["r", "x", 2]]
            await c.stop()

    run(scenario)


# ------------------------------------------------------------- partitions and convergence
async def partitioned_writes(node_class: Callable[..., Node]) -> TxnCluster:
    """Both nodes write during a partition (every txn must still succeed), then it heals."""
    c = TxnCluster(node_class, 2)
    await c.start()
    c.rule = lambda env: (
        "drop" if is_replicate(env) or env["body"].get("type") == "replicate_ok" else "deliver"
    )
    for i in range(5):
        await c.txn("n0", ["w", "a", i], ["r", "b", None])
        await c.txn("n1", ["w", "b", 10 + i], ["w", "a", 10 + i])
    await settle()
    assert c.data("n0") != c.data("n1")
    c.rule = lambda env: "deliver"
    return c


def test_lamport_fire_and_forget_stays_diverged_after_a_partition() -> None:
    async def scenario() -> None:
        c = await partitioned_writes(LamportLWWTxn)
        await c.txn("n0", ["w", "c", 1])  # traffic after healing does not repair a or b
        await settle()
        assert c.data("n0") == {"a": 4, "c": 1}  # n1's a=14 and b never arrive
        assert c.data("n1") == {"a": 14, "b": 14, "c": 1}
        await c.stop()

    run(scenario)


def test_read_committed_converges_after_a_partition_and_never_aborts() -> None:
    async def scenario() -> None:
        c = await partitioned_writes(_FastRetryRC)
        await until(lambda: c.data("n0") == c.data("n1"))
        assert c.data("n0") == {"a": 14, "b": 14}  # n0 and n1 both ended at Lamport 5: n1 wins
        await until(lambda: all(n.pending() == 0 for n in c.nodes.values()))  # type: ignore[attr-defined]
        assert sum(n.replication_failures for n in c.nodes.values()) > 0  # type: ignore[attr-defined]
        await c.stop()

    run(scenario)


class _FastRetryRC(ReadCommittedTxn):
    replicate_timeout = 0.05
    backoff_base = 0.01
    backoff_cap = 0.05


def test_read_committed_outbox_keeps_only_the_newest_version_per_key() -> None:
    async def scenario() -> None:
        c = TxnCluster(ReadCommittedTxn, 2)
        c.rule = lambda env: "hold" if is_replicate(env) else "deliver"
        await c.start()
        for v in range(50):
            await c.txn("n0", ["w", "x", v])
        node = c.nodes["n0"]
        assert isinstance(node, ReadCommittedTxn)
        assert node.outbox["n1"] == {"x": (49, (50, "n0"))}  # 50 writes, one entry
        c.rule = lambda env: "deliver"
        c.release()
        await until(lambda: c.data("n1") == {"x": 49} and node.pending() == 0)
        await c.stop()

    run(scenario)


# ------------------------------------------------------------- seeded in-process runs
def _sim_run(node: type[Node], store: Path, model: str, **options: Any) -> Any:
    pytest.importorskip("glome.sim.workloads.txn")
    from glome.sim import run as sim_run

    return sim_run(
        node,
        workload="txn-rw-register",
        concurrency="2n",
        time_limit=3,
        rate=100,
        consistency_models=(model,),
        availability="total",
        store_dir=store,
        **options,
    )


def test_sim_single_node_txn_is_totally_available(tmp_path: Path) -> None:
    result = _sim_run(SingleNodeTxn, tmp_path, "read-uncommitted", node_count=1, seed=1)
    assert result.valid is True
    assert result.results["availability"]["ok-fraction"] == 1.0


def test_sim_commit_ts_shows_g1b_and_read_committed_passes_with_partitions(tmp_path: Path) -> None:
    """Seed 1, read committed: glome-rs's LWW fix leaks intermediate writes to the replica
    (G1b); ReadCommittedTxn passes the same seed even with partitions, and never aborts."""
    naive = _sim_run(CommitTsTxn, tmp_path / "naive", "read-committed", node_count=2, seed=1)
    assert naive.valid is False
    assert "G1b" in {str(a) for a in naive.results["workload"]["anomaly-types"]}
    hardened = _sim_run(
        ReadCommittedTxn,
        tmp_path / "rc",
        "read-committed",
        node_count=2,
        seed=1,
        nemesis="partition",
        nemesis_interval=1,
    )
    assert hardened.valid is True
    assert hardened.results["availability"]["ok-fraction"] == 1.0
    assert any(op["process"] == "nemesis" for op in hardened.history)


def test_sim_naive_replication_diverges_where_lamport_versions_do_not(tmp_path: Path) -> None:
    """Latency 50 ms, seed 1, read uncommitted: both pass the checker (it never looks at
    convergence), but at the end the naive replicas disagree on keys no message is still
    carrying: divergence for good. Every key the Lamport replicas disagree on is in a
    replicate message still undelivered when the run stopped."""

    def diverged(result: Any) -> set[Any]:
        a, b = result.host.node("n0").data, result.host.node("n1").data
        return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}

    def in_flight(result: Any) -> set[Any]:
        lines = (result.store_path / "net-journal.jsonl").read_text().splitlines()
        return {
            w[0]
            for m in map(orjson.loads, lines)
            if m["recv_time"] is None and m["body"].get("type") == "replicate"
            for w in m["body"]["writes"]
        }

    naive, lamport = (
        _sim_run(cls, tmp_path / cls.__name__, "read-uncommitted", node_count=2, seed=1, latency=50)
        for cls in (NaiveReplicatedTxn, LamportLWWTxn)
    )
    assert naive.valid is True and lamport.valid is True
    assert len(diverged(naive) - in_flight(naive)) > 5
    assert diverged(lamport) <= in_flight(lamport)
