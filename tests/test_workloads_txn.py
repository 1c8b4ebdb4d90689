"""The txn-rw-register workload: Elle's wr-txns generator, the client's reply checks, and
end-to-end runs (an atomic single node passes read-committed, one exposing intermediate writes
fails with G1b naming the transactions)."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from glome.edn import Keyword
from glome.sim import run
from glome.sim.options import TestOptions as Opts
from glome.sim.workloads import get
from glome.sim.workloads.client import MalformedReply
from glome.sim.workloads.txn import LIST_APPEND, RW_REGISTER, WrTxns, wr_txns_for

sys.path.insert(0, str(Path(__file__).parent / "nodes"))
from w4_txn import DirtyTxn, TxnNode


# ------------------------------------------------------------------------------ generator
def test_lengths_keys_and_values() -> None:
    gen = WrTxns(key_count=4, max_length=3, max_writes_per_key=5)
    rng = random.Random(7)
    txns = [gen.next_txn(rng) for _ in range(3000)]
    assert Counter(len(t) for t in txns).keys() == {1, 2, 3}
    writes: dict[int, list[int]] = {}
    for txn in txns:
        for f, k, v in txn:
            assert f in ("r", "w")
            if f == "r":
                assert v is None
            else:
                writes.setdefault(k, []).append(v)
    # Values 1..max per key, in order, each once; exhausted keys retire to max(active) + 1.
    assert all(vs == list(range(1, len(vs) + 1)) and len(vs) <= 5 for vs in writes.values())
    assert len(writes) > 4
    assert max(writes) == max(gen.active)
    assert len(gen.active) == 4 and len(set(gen.active)) == 4


def test_later_pool_keys_are_exponentially_hotter() -> None:
    gen = WrTxns(key_count=5, max_length=1, max_writes_per_key=10**9)
    rng = random.Random(1)
    counts = Counter(gen.rand_key(rng) for _ in range(62_000))
    # Weights 1:2:4:8:16 over 31 parts.
    for key, weight in enumerate((1, 2, 4, 8, 16)):
        assert abs(counts[key] / 62_000 - weight / 31) < 0.01


def test_huge_key_pool_does_not_overflow() -> None:
    gen = WrTxns(key_count=5000, max_length=2, max_writes_per_key=16)
    rng = random.Random(0)
    keys = [gen.rand_key(rng) for _ in range(200)]
    assert all(0 <= k < 5000 for k in keys) and max(keys) > 4990


def test_options_feed_the_generator() -> None:
    gen = wr_txns_for(Opts(workload="txn-rw-register", key_count=2, max_txn_length=6))
    assert gen.active == [0, 1] and gen.max_length == 6 and gen.max_writes_per_key == 16
    assert wr_txns_for(Opts(workload="txn-rw-register")).active == list(range(10))
    with pytest.raises(ValueError, match="key-count"):
        RW_REGISTER.validate(Opts(workload="txn-rw-register", key_count=0))
    with pytest.raises(ValueError, match="consistency model"):
        RW_REGISTER.validate(Opts(workload="txn-rw-register", consistency_models=("bogus",)))
    RW_REGISTER.validate(Opts(workload="txn-rw-register", consistency_models=("read-committed",)))


def test_registered_flags() -> None:
    assert get("txn-rw-register") is RW_REGISTER
    assert RW_REGISTER.reusable_client and RW_REGISTER.idempotent == frozenset()
    assert not RW_REGISTER.has_final_phase and RW_REGISTER.with_errors


def test_list_append_runs_now_that_it_has_a_checker() -> None:
    assert get("txn-list-append") is LIST_APPEND
    LIST_APPEND.validate(Opts(workload="txn-list-append"))  # no longer refused


# ---------------------------------------------------------------------------------- client
REQUEST = [["r", 1, None], ["w", 1, 3], ["r", 2, None]]


def reply(txn: Any) -> dict[str, Any]:
    return {"type": "txn_ok", "in_reply_to": 1, "txn": txn}


def test_completed_txn_gets_keywords() -> None:
    done = RW_REGISTER.completed(REQUEST, reply([["r", 1, 2], ["w", 1, 3], ["r", 2, None]]))
    assert done == [[Keyword("r"), 1, 2], [Keyword("w"), 1, 3], [Keyword("r"), 2, None]]
    assert all(isinstance(m[0], Keyword) for m in done)


@pytest.mark.parametrize(
    "txn",
    [
        [["r", 1, 2], ["w", 1, 3]],  # a micro-op missing
        [["r", 1, 2], ["w", 1, 4], ["r", 2, None]],  # write value changed
        [["r", 9, 2], ["w", 1, 3], ["r", 2, None]],  # key changed
        [["w", 1, 3], ["r", 1, 2], ["r", 2, None]],  # reordered
        [["r", 1, [2]], ["w", 1, 3], ["r", 2, None]],  # a list read from a register
        [["r", 1], ["w", 1, 3], ["r", 2, None]],  # not a triple
        [["r", "1", 2], ["w", 1, 3], ["r", 2, None]],  # key type changed
    ],
)
def test_reply_that_is_not_the_request_completed_is_malformed(txn: Any) -> None:
    with pytest.raises(MalformedReply):
        RW_REGISTER.completed(REQUEST, reply(txn))


def test_list_append_reads_are_lists() -> None:
    req = [["r", 1, None], ["append", 1, 3]]
    done = LIST_APPEND.completed(req, reply([["r", 1, [1, 2]], ["append", 1, 3]]))
    assert done == [[Keyword("r"), 1, [1, 2]], [Keyword("append"), 1, 3]]
    with pytest.raises(MalformedReply):
        LIST_APPEND.completed(req, reply([["r", 1, 2], ["append", 1, 3]]))


# ------------------------------------------------------------------------------ end to end
def txn_run(node: Any, tmp_path: Path, models: tuple[str, ...], **kw: Any) -> Any:
    options: dict[str, Any] = {
        "node_count": 1,
        "concurrency": 4,
        "time_limit": 5,
        "rate": 50,
        "key_count": 3,
        "seed": 1,
    }
    options.update(kw)
    return run(
        node,
        workload="txn-rw-register",
        store_dir=tmp_path,
        consistency_models=models,
        **options,
    )


def test_atomic_node_passes_read_committed(tmp_path: Path) -> None:
    r = txn_run(TxnNode, tmp_path, ("read-committed",), availability="total")
    assert r.valid is True, r.results
    ops = [op for op in r.history if op["type"] == "ok"]
    assert len(ops) > 100
    assert any(m[0] == Keyword("r") and m[2] is not None for op in ops for m in op["value"])
    assert any(len(op["value"]) == 4 for op in ops)  # --max-txn-length 4
    assert r.results["workload"]["anomaly-types"] == []


def test_intermediate_reads_fail_with_g1b(tmp_path: Path) -> None:
    # seed 3: G1b alone (seed 1 adds G0, whose read-uncommitted then heads :not)
    r = txn_run(DirtyTxn, tmp_path, ("read-committed",), seed=3)
    assert r.valid is False
    w = r.results["workload"]
    assert w["anomaly-types"] == [Keyword("G1b")]
    case = w["anomalies"]["G1b"][0]
    reader, writer = case["op"].value, case["writer"].value
    f, k, v = case["mop"]
    assert f == Keyword("r")
    writes = [m[2] for m in writer["value"] if m[0] == Keyword("w") and m[1] == k]
    assert v in writes[:-1]  # the value read was overwritten by its own writer
    assert reader["index"] != writer["index"]
    assert w["not"] == {Keyword("read-committed")}


def test_same_seed_same_history(tmp_path: Path) -> None:
    a = txn_run(DirtyTxn, tmp_path / "a", ("read-committed",), time_limit=2)
    b = txn_run(DirtyTxn, tmp_path / "b", ("read-committed",), time_limit=2)
    assert (a.store_path / "history.edn").read_bytes() == (
        b.store_path / "history.edn"
    ).read_bytes()
