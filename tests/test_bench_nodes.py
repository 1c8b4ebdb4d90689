"""bench/bench_nodes.py: the plan, the latency figure and a --quick run of challenge 1."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_nodes.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_nodes", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_nodes"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench_nodes = _load()


def test_quick_run_of_challenge_1_gives_one_passing_row_per_variant() -> None:
    rows, notes = bench_nodes.bench({"1"}, quick=True)
    assert notes == []
    assert [(r["challenge"], r["variant"], r["role"]) for r in rows] == [("1", "Echo", "hardened")]
    row = rows[0]
    assert set(row) == set(bench_nodes.COLUMNS)
    assert row["verdict"] == "PASS"
    assert row["flags"] == "1 nodes, 5 s"  # --quick caps the official 10 s
    assert row["msgs/op"] == 0  # echo never talks to another server
    assert row["ok-fraction"] == 1
    assert row["latency of"] == "ok ops"
    # no --latency: instant links, so an op costs one service time (uniform in [0, 8 ms))
    assert 0 < row["median ms"] <= row["max ms"] < 8.1

    table = bench_nodes.markdown_table(rows)
    assert table[0] == "| " + " | ".join(bench_nodes.COLUMNS) + " |"
    assert len(table) == 3
    assert table[2].startswith("| 1 | 1 nodes, 5 s | Echo | hardened | 1 | PASS |")
    assert table[2].count("|") == len(bench_nodes.COLUMNS) + 1


def test_plan_covers_every_challenge_and_leaves_slow_variants_out_by_default() -> None:
    jobs, notes = bench_nodes.plan(None, [1], quick=True, slow=False, faults=True)
    challenges = {j.challenge for j in jobs}
    assert challenges == set(bench_nodes.CHALLENGES)
    on_3d = {j.variant.name for j in jobs if j.challenge == "3d"}
    assert on_3d == {"MarkOnSendDelta", "Hardened"}
    assert any(n.startswith("3d: left out FullStateGossip, EvidenceDelta") for n in notes)
    faults = {(j.challenge, j.variant.name) for j in jobs if not j.official}
    assert ("5b", "RaftKafka") in faults and ("6c", "ReadCommittedTxn") in faults

    slow_jobs, slow_notes = bench_nodes.plan({"3e"}, [1, 2], quick=True, slow=True, faults=False)
    assert slow_notes == []
    assert len(slow_jobs) == 4 * 2  # four broadcast variants, two seeds, one check


def test_plan_rejects_an_unknown_challenge() -> None:
    with pytest.raises(ValueError, match="unknown challenge ids"):
        bench_nodes.plan({"7"}, [1], quick=True, slow=False, faults=False)


def test_op_latency_is_median_and_max_of_ok_client_ops() -> None:
    ms = 1_000_000
    history = [
        {"process": 0, "type": "invoke", "f": "read", "time": 0},
        {"process": 0, "type": "ok", "f": "read", "time": 10 * ms},
        {"process": 1, "type": "invoke", "f": "read", "time": 0},
        {"process": 1, "type": "fail", "f": "read", "time": 99 * ms},
        {"process": 0, "type": "invoke", "f": "write", "time": 20 * ms},
        {"process": 0, "type": "ok", "f": "write", "time": 50 * ms},
    ]
    assert bench_nodes.op_latency_ms(history) == (30.0, 30.0)
    assert bench_nodes.op_latency_ms(history[:2]) == (10.0, 10.0)
    assert bench_nodes.op_latency_ms([]) == (None, None)


def test_plan_keeps_only_the_named_variants_and_rejects_unknown_ones() -> None:
    jobs, _ = bench_nodes.plan(
        {"5b"}, [1], quick=True, slow=False, faults=True, variants_only={"RaftKafka"}
    )
    assert [(j.challenge, j.official) for j in jobs] == [("5b", True), ("5b", False)]
    assert {j.variant.name for j in jobs} == {"RaftKafka"}
    with pytest.raises(ValueError, match="unknown variants"):
        bench_nodes.plan(None, [1], quick=True, slow=False, faults=False, variants_only={"X"})


def test_summary_counts_passing_seeds_per_variant() -> None:
    def row(seed: int, verdict: str, mpo: float) -> dict[str, object]:
        return {
            "challenge": "3c",
            "flags": "f",
            "variant": "V",
            "seed": seed,
            "verdict": verdict,
            "msgs/op": mpo,
        }

    lines = bench_nodes.summary_table([row(1, "PASS", 2.0), row(2, "FAIL: valid?", 4.0)])
    assert lines[2] == "| 3c | f | V | 1 of 2 | 2 | 3.00 |"
