"""txn-list-append reference nodes over lin-kv (glome.nodes.txn.list_append), end to end on the
in-process runner: the per-key node is caught by the list-append checker, the root-CAS node is
strict-serializable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glome.edn import Keyword
from glome.errors import MalformedRequest
from glome.nodes.txn import PerKeyListAppend, RootListAppend
from glome.nodes.txn.list_append import parse_list_txn
from glome.sim import run


def list_append_run(node: Any, tmp_path: Path, model: str, seed: int = 1) -> Any:
    return run(
        node,
        workload="txn-list-append",
        store_dir=tmp_path,
        consistency_models=(model,),
        node_count=3,
        concurrency=6,
        time_limit=5,
        rate=60,
        key_count=3,
        seed=seed,
        latency=10,  # with no latency every txn finishes before the next starts: no overlap
    )


def test_malformed_txns_are_refused_before_anything_runs() -> None:
    assert parse_list_txn({"txn": [["r", 1, None], ["append", "k", 2]]})
    for bad in ([["w", 1, 2]], [["r", 1]], "nope", [["append", True, 1]], None):
        with pytest.raises(MalformedRequest):
            parse_list_txn({"txn": bad})


def test_root_cas_node_is_strict_serializable(tmp_path: Path) -> None:
    r = list_append_run(RootListAppend, tmp_path, "strict-serializable")
    assert r.valid is True, r.results["workload"]
    oks = [op for op in r.history if op["type"] == "ok"]
    fails = [op for op in r.history if op["type"] == "fail"]
    assert len(oks) > 100
    # reads saw non-empty lists, so the check had something to order
    assert any(m[0] == Keyword("r") and m[2] for op in oks for m in op["value"])
    # contention on the one root key aborts some txns, definitely (error 30), never silently
    assert all(op["error"][0] == Keyword("txn-conflict") for op in fails), fails[:3]


def test_per_key_node_is_caught(tmp_path: Path) -> None:
    r = list_append_run(PerKeyListAppend, tmp_path, "read-committed")
    assert r.valid is False
    workload = r.results["workload"]
    assert workload["valid?"] is False
    found = set(workload["anomaly-types"])
    # other txns see its appends before it finishes, and txns interleave
    assert found & {Keyword("G1b"), Keyword("G1c"), Keyword("G-single"), Keyword("G2-item")}, found
