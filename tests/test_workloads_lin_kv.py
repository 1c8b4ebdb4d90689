"""The lin-kv workload: options, generator shape, client, and end-to-end runs in-process
(a proxy to the lin-kv service and a single-node register pass, a node that serves reads from a
stale local cache fails, open ops from unanswered writes are placed correctly)."""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from glome import cli
from glome.sim import run
from glome.sim.options import TestOptions as Opts
from glome.sim.workloads import get
from glome.sim.workloads.client import MalformedReply
from glome.sim.workloads.lin_kv import PROCESS_LIMIT, WORKLOAD, KeyGroups

sys.path.insert(0, str(Path(__file__).parent / "nodes"))
from linkv_nodes import MemRegister, ProxyLinKV, SilentProxyLinKV, StaleCacheLinKV


def opts(nodes: int, concurrency: int, **kw: Any) -> Opts:
    return Opts(
        workload="lin-kv", node_ids=[f"n{i}" for i in range(nodes)], concurrency=concurrency, **kw
    )


# ------------------------------------------------------------------------ options
def test_registered_and_flags() -> None:
    assert get("lin-kv") is WORKLOAD
    assert WORKLOAD.idempotent == frozenset({"read"})
    assert WORKLOAD.reusable_client and WORKLOAD.with_errors and not WORKLOAD.has_final_phase


def test_rpc_timeout_scales_with_latency() -> None:
    assert WORKLOAD.rpc_timeout(opts(1, 2)) == 1.0
    assert WORKLOAD.rpc_timeout(opts(1, 2, latency=50)) == 1.0
    assert WORKLOAD.rpc_timeout(opts(1, 2, latency=250)) == 2.5


def test_concurrency_must_be_a_positive_multiple_of_2n() -> None:
    for good in (6, 12, 18):
        WORKLOAD.validate(opts(3, good))
    for bad in (0, 3, 4, 9):
        with pytest.raises(ValueError, match="multiple of 2 x node count = 6"):
            WORKLOAD.validate(opts(3, bad))
    with pytest.raises(ValueError, match="not 5"):
        WORKLOAD.validate(Opts(workload="lin-kv"))  # Maelstrom's default 1n fails too


def test_cli_default_workload_with_default_concurrency_exits_254(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = cli.main(["test", "--node", "linkv_nodes:ProxyLinKV", "--store", str(tmp_path)])
    assert code == 254
    assert "--concurrency 2n" in capsys.readouterr().err


# ---------------------------------------------------------------------- generator
class GenWorker:
    """What ``next_op`` touches: index, process, shared state and the generator rng."""

    def __init__(self, state: dict[str, Any], index: int, rng: random.Random) -> None:
        self.index = index
        self.process = index
        self.state = state
        self.rng = rng


def workers(o: Opts, seed: int = 1) -> list[GenWorker]:
    rng = random.Random(seed)
    state = WORKLOAD.new_state(o, rng)
    return [GenWorker(state, i, rng) for i in range(o.worker_count)]


def test_groups_of_2n_readers_and_writers_on_their_own_keys() -> None:
    ws = workers(opts(2, 8))  # two groups of four: workers 0,1 and 4,5 read
    ops = {w.index: [WORKLOAD.next_op(w) for _ in range(600)] for w in ws}  # type: ignore[arg-type]
    for i, drawn in ops.items():
        keys = {op["value"][0] for op in drawn if op}
        assert keys == {i // 4}
        kinds = Counter(op["f"] for op in drawn if op)
        if i % 4 < 2:
            assert kinds == {"read": 600}
            assert all(op["value"] == [i // 4, None] for op in drawn if op)
        else:
            assert set(kinds) == {"write", "cas"}
            assert 1.6 < kinds["cas"] / kinds["write"] < 2.5
    values: Counter[Any] = Counter()
    for drawn in ops.values():
        for op in drawn:
            if op and op["f"] == "write":
                values[op["value"][1]] += 1
            elif op and op["f"] == "cas":
                a, b = op["value"][1]
                values[a] += 1
                values[b] += 1
    assert sorted(values) == [0, 1, 2, 3, 4]


def test_a_group_moves_to_a_fresh_key_after_20_processes() -> None:
    o = opts(1, 4)  # two groups of two: keys 0 and 1 at first
    ws = workers(o)
    keys = KeyGroups.for_options(o)
    assert [g.key for g in keys.groups] == [0, 1]
    assert WORKLOAD.next_op(ws[0])["value"][0] == 0  # type: ignore[arg-type, index]
    w = ws[1]
    seen = []
    for _ in range(PROCESS_LIMIT + 3):
        seen.append(WORKLOAD.next_op(w)["value"][0])  # type: ignore[arg-type, index]
        w.process += o.worker_count  # as after an :info op
    # worker 0's process and 19 of worker 1's touched key 0; the 20th of worker 1 moves on
    assert seen[: PROCESS_LIMIT - 1] == [0] * (PROCESS_LIMIT - 1)
    assert seen[PROCESS_LIMIT - 1 :] == [2] * 4  # key 1 belongs to group 1: 2 is next unused
    assert WORKLOAD.next_op(ws[0])["value"][0] == 2  # type: ignore[arg-type, index]
    assert WORKLOAD.next_op(ws[2])["value"][0] == 1  # type: ignore[arg-type, index]


# ------------------------------------------------------------------------- client
class FakeWorker:
    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.sent: list[dict[str, Any]] = []

    async def call(self, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(body)
        return {"in_reply_to": 1, **self.reply}


def invoke(worker: FakeWorker, op: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(WORKLOAD.invoke(worker, op))  # type: ignore[arg-type]


def test_client_requests_and_completions() -> None:
    w = FakeWorker({"type": "read_ok", "value": 3})
    assert invoke(w, {"f": "read", "value": [0, None]}) == {"type": "ok", "value": [0, 3]}
    assert w.sent == [{"type": "read", "key": 0}]
    w = FakeWorker({"type": "write_ok"})
    assert invoke(w, {"f": "write", "value": [1, 4]}) == {"type": "ok"}
    assert w.sent == [{"type": "write", "key": 1, "value": 4}]
    w = FakeWorker({"type": "cas_ok"})
    assert invoke(w, {"f": "cas", "value": [0, [1, 2]]}) == {"type": "ok"}
    assert w.sent == [{"type": "cas", "key": 0, "from": 1, "to": 2}]


def test_malformed_replies_raise() -> None:
    with pytest.raises(MalformedReply):
        invoke(FakeWorker({"type": "read_ok"}), {"f": "read", "value": [0, None]})
    with pytest.raises(MalformedReply):
        invoke(FakeWorker({"type": "read_ok", "value": 1}), {"f": "write", "value": [0, 1]})


# ---------------------------------------------------------------------- end to end
def lin_kv_run(node: Any, tmp_path: Path, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "node_count": 3,
        "concurrency": "2n",
        "time_limit": 10,
        "rate": 30,
        "seed": 3,
        **kw,
    }
    return run(node, workload="lin-kv", store_dir=tmp_path, **options)


def test_proxy_to_lin_kv_passes(tmp_path: Path) -> None:
    r = lin_kv_run(ProxyLinKV, tmp_path, latency=5)
    w = r.results["workload"]
    assert r.valid is True and w["valid?"] is True and w["failures"] == []
    assert list(w["results"]) == [0]
    fs = Counter((op["f"], op["type"]) for op in r.history if op["type"] != "invoke")
    assert fs[("read", "ok")] > 20 and fs[("write", "ok")] > 5 and fs[("cas", "ok")] > 0
    assert fs[("cas", "fail")] > 0  # precondition failures are expected, and definite
    reads = [op for op in r.history if op["f"] == "read" and op["type"] == "ok"]
    assert all(op["value"][0] == 0 and op["value"][1] in range(5) for op in reads)
    assert (r.store_path / "independent" / "0" / "results.edn").exists()


def test_single_node_register_passes_on_two_keys(tmp_path: Path) -> None:
    r = lin_kv_run(MemRegister, tmp_path, node_count=1, concurrency="4n")
    assert r.valid is True
    assert list(r.results["workload"]["results"]) == [0, 1]


def test_stale_cache_reads_fail(tmp_path: Path) -> None:
    r = lin_kv_run(StaleCacheLinKV, tmp_path)
    w = r.results["workload"]
    assert r.valid is False and w["failures"] == [0]
    report = w["results"][0]["linearizable"]
    assert report["op"]["f"] == "read"
    assert "can't read" in report["final-paths"][0][-1]["model"].value["msg"]


def test_unanswered_writes_are_open_ops_and_still_pass(tmp_path: Path) -> None:
    r = lin_kv_run(SilentProxyLinKV, tmp_path, time_limit=8)
    infos = [op for op in r.history if op["type"] == "info"]
    assert infos and all(op["error"] == "net-timeout" for op in infos)
    assert r.results["workload"]["valid?"] is True
    # the client is reusable: the worker keeps its c* id across the new process ids
    assert max(op["process"] for op in r.history) >= 6
