"""The txn-rw-register checker: each anomaly it claims is found and explained, valid and merely
suspicious histories pass, and Maelstrom's result shape and real run agree."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.paths import maelstrom_runs

from glome.edn import Keyword, dumps
from glome.sim.checkers import txn

RUNS = maelstrom_runs()

Mop = tuple[str, Any, Any]


def history(*txns: tuple[int, str, list[Mop]]) -> list[dict[str, Any]]:
    """Sequential txns: (process, completion type, micro-ops as completed)."""
    ops: list[dict[str, Any]] = []
    for process, typ, mops in txns:
        invoked = [[Keyword(f), k, None if f == "r" else v] for f, k, v in mops]
        done = [[Keyword(f), k, v] for f, k, v in mops] if typ == "ok" else invoked
        for t, value in (("invoke", invoked), (typ, done)):
            ops.append(
                {
                    "index": len(ops),
                    "time": len(ops) * 1000,
                    "type": t,
                    "process": process,
                    "f": "txn",
                    "value": value,
                }
            )
    return ops


def anomalies(result: dict[str, Any]) -> set[str]:
    return {str(t) for t in result["anomaly-types"]}


def test_valid_serial_history_passes_every_model() -> None:
    h = history(
        (0, "ok", [("w", "x", 1)]),
        (1, "ok", [("r", "x", 1), ("w", "x", 2)]),
        (0, "ok", [("r", "x", 2), ("r", "y", None)]),
    )
    for model in ("read-uncommitted", "read-committed", "serializable", "strict-serializable"):
        result = txn.check(h, consistency_models=[model])
        assert result["valid?"] is True, (model, result)
        assert result["anomaly-types"] == [] and result["anomalies"] == {}


def test_g0_interleaved_writes_of_maelstrom_issue_56() -> None:
    # The history from Maelstrom issue #56: t2's writes 1..3 interleave with t3's 10..11.
    t2 = [("w", 0, 1), ("r", 0, 1), ("r", 0, 10), ("w", 0, 2), ("w", 0, 3), ("r", 0, 3)]
    t3 = [("r", 0, 1), ("w", 0, 10), ("r", 0, 3), ("w", 0, 11)]
    result = txn.check(
        history((2, "ok", t2), (3, "ok", t3)), consistency_models=["read-uncommitted"]
    )
    assert result["valid?"] is False
    assert anomalies(result) == {"G0"}
    (case,) = result["anomalies"]["G0"]
    assert [op.value["index"] for op in case["cycle"]] == [1, 3, 1]
    assert [(s["type"], s["value"], s["value'"]) for s in case["steps"]] == [
        ("ww", 1, 10),
        ("ww", 10, 2),
    ]
    assert "T1 wrote 0=1 before T3 wrote 0=10" in case["explanation"]
    assert result["not"] == {Keyword("read-uncommitted")}
    assert Keyword("serializable") in result["also-not"]


def test_g0_simple_write_cycle() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("r", "x", 2), ("w", "x", 3)]),
        (1, "ok", [("r", "x", 1), ("w", "x", 2)]),
    )
    ru = txn.check(h, consistency_models=["read-uncommitted"])
    assert anomalies(ru) == {"G0"}
    rc = txn.check(h, consistency_models=["read-committed"])
    assert {"G0", "G1b", "G1c"} <= anomalies(rc)


def test_g1a_aborted_read() -> None:
    h = history(
        (0, "fail", [("w", "x", 1)]),
        (1, "ok", [("r", "x", 1)]),
        (2, "ok", [("w", "y", 1)]),
        (3, "ok", [("r", "y", 1)]),
    )
    rc = txn.check(h, consistency_models=["read-committed"])
    assert anomalies(rc) == {"G1a"}
    (case,) = rc["anomalies"]["G1a"]
    assert case["mop"] == ["r", "x", 1]
    assert case["writer"].value["type"] == "fail"
    assert case["op"].value["index"] == 3
    # Read-uncommitted allows aborted reads.
    assert txn.check(h, consistency_models=["read-uncommitted"])["valid?"] is True


def test_g1b_intermediate_read() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("w", "x", 2)]),
        (1, "ok", [("r", "x", 1)]),
    )
    rc = txn.check(h, consistency_models=["read-committed"])
    assert anomalies(rc) == {"G1b"}
    (case,) = rc["anomalies"]["G1b"]
    assert case["mop"] == ["r", "x", 1] and case["writer"].value["index"] == 1
    assert txn.check(h, consistency_models=["read-uncommitted"])["valid?"] is True


def test_g1c_circular_information_flow() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("r", "y", 1)]),
        (1, "ok", [("w", "y", 1), ("r", "x", 1)]),
    )
    rc = txn.check(h, consistency_models=["read-committed"])
    assert anomalies(rc) == {"G1c"}
    (case,) = rc["anomalies"]["G1c"]
    assert [s["type"] for s in case["steps"]] == ["wr", "wr"]
    assert "which T3 read" in case["explanation"] or "which T1 read" in case["explanation"]
    assert txn.check(h, consistency_models=["read-uncommitted"])["valid?"] is True


def test_g_single_read_skew_only_under_stronger_models() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("w", "y", 1)]),
        (1, "ok", [("r", "x", 1), ("r", "y", None)]),
    )
    assert txn.check(h, consistency_models=["read-committed"])["valid?"] is True
    ser = txn.check(h, consistency_models=["serializable"])
    assert anomalies(ser) == {"G-single-item"}
    (case,) = ser["anomalies"]["G-single-item"]
    assert sorted(s["type"] for s in case["steps"]) == ["rw", "wr"]
    # Elle: a G-single-item is also a nonadjacent item cycle, so G2-item: it rules out
    # repeatable-read as well as consistent-view
    assert ser["not"] == {Keyword("consistent-view"), Keyword("repeatable-read")}
    assert txn.check(h, consistency_models=["repeatable-read"])["valid?"] is False


def test_write_skew_is_g2_item_and_lost_update() -> None:
    h = history(
        (0, "ok", [("r", "x", None), ("w", "x", 1)]),
        (1, "ok", [("r", "x", None), ("w", "x", 2)]),
    )
    ser = txn.check(h, consistency_models=["serializable"])
    assert {"G2-item", "lost-update"} <= anomalies(ser)
    assert txn.check(h, consistency_models=["read-committed"])["valid?"] is True


def test_two_nonadjacent_anti_dependencies_are_g_nonadjacent_item() -> None:
    # T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1: no two rw edges in a row, which snapshot
    # isolation forbids too (unlike write skew, whose rw edges are adjacent)
    h = history(
        (1, "ok", [("r", "x", None), ("r", "w", 1)]),
        (2, "ok", [("w", "x", 1), ("w", "y", 1)]),
        (3, "ok", [("r", "y", 1), ("r", "z", None)]),
        (4, "ok", [("w", "z", 1), ("w", "w", 1)]),
    )
    si = txn.check(h, consistency_models=["snapshot-isolation"])
    assert anomalies(si) == {"G-nonadjacent-item"}
    (case,) = si["anomalies"]["G-nonadjacent-item"]
    assert [str(s["type"]) for s in case["steps"]].count("rw") == 2
    assert si["not"] == {Keyword("repeatable-read"), Keyword("snapshot-isolation")}
    assert txn.check(h, consistency_models=["read-committed"])["valid?"] is True


def test_internal_inconsistency() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("r", "x", 1)]),
        (1, "ok", [("w", "x", 2), ("r", "x", 1)]),
    )
    ser = txn.check(h, consistency_models=["serializable"])
    (case,) = ser["anomalies"]["internal"]
    assert case["expected"] == 2 and case["mop"] == ["r", "x", 1]


def test_cyclic_versions_reported_and_not_used_for_ww() -> None:
    h = history(
        (0, "ok", [("r", "x", 1), ("w", "x", 2)]),
        (1, "ok", [("r", "x", 2), ("w", "x", 1)]),
    )
    ru = txn.check(h, consistency_models=["read-uncommitted"])
    assert anomalies(ru) == {"cyclic-versions"}
    assert ru["anomalies"]["cyclic-versions"][0]["scc"] == {1, 2}


def test_suspicious_but_unprovable_histories_pass() -> None:
    # Two blind writers and a reader that sees x from one and y from the other: it looks as
    # if the writes interleaved, but no version order between 1 and 2 is proven.
    h = history(
        (0, "ok", [("w", "x", 1), ("w", "y", 1)]),
        (1, "ok", [("w", "x", 2), ("w", "y", 2)]),
        (2, "ok", [("r", "x", 2), ("r", "y", 1)]),
        # Non-repeatable reads in both directions: legal at read-committed, and two reads
        # prove no version order.
        (3, "ok", [("r", "x", 1), ("r", "x", 2)]),
        (4, "ok", [("r", "x", 2), ("r", "x", 1)]),
        # A stale read long after a later write completed: realtime is not proof.
        (5, "ok", [("r", "y", 1)]),
    )
    result = txn.check(h, consistency_models=["read-committed"])
    assert result["valid?"] is True, dumps(result)


def test_info_writer_counts_for_wr_edges() -> None:
    h = history((0, "info", [("w", "x", 1)]), (1, "ok", [("r", "x", 1)]))
    assert txn.check(h, consistency_models=["read-committed"])["valid?"] is True


def test_empty_transaction_graph_is_invalid_as_in_maelstrom() -> None:
    result = txn.check(history((0, "ok", [("w", "x", 1)])), consistency_models=["read-committed"])
    assert result == {
        "valid?": False,
        "anomaly-types": [Keyword("empty-transaction-graph")],
        "anomalies": {"empty-transaction-graph": True},
        "not": set(),
        "also-not": set(),
    }


def test_models_come_from_opts_and_unknown_models_are_rejected() -> None:
    class Opts:
        consistency_models = ("serializable",)

    h = history(
        (0, "ok", [("w", "x", 1), ("w", "y", 1)]),
        (1, "ok", [("r", "x", 1), ("r", "y", None)]),
    )
    assert txn.check(h, Opts())["valid?"] is False
    with pytest.raises(ValueError, match="unknown consistency model"):
        txn.check(h, consistency_models=["snapshot-serializable-ish"])
    with pytest.raises(ValueError, match="bad micro-op"):
        txn.check(history((0, "ok", [("append", "x", 1)])))


def test_result_writes_as_maelstrom_edn() -> None:
    h = history(
        (0, "ok", [("w", "x", 1), ("r", "y", 1)]),
        (1, "ok", [("w", "y", 1), ("r", "x", 1)]),
    )
    text = dumps(txn.check(h))
    assert text.startswith("{:valid? false, :anomaly-types (:G1c), :anomalies {:G1c [{:cycle [")
    assert "#jepsen.history.Op{" in text and ":not #{:read-committed}" in text


def test_real_maelstrom_run_with_no_ok_txns() -> None:
    runs = sorted(RUNS.glob("txn-rw-register-1node-fail/store/txn-rw-register/*/history.edn"))
    if not runs:
        pytest.skip("maelstrom-runs corpus not present")
    from helpers.corpus import load_history  # skips this test alone without edn_format

    ops = load_history(runs[0])
    assert ops[0]["value"] == [["w", 8, 1], ["r", 6, None]]
    assert isinstance(ops[0]["value"][0][0], Keyword)
    result = txn.check(ops, consistency_models=["read-committed"])
    assert result["valid?"] is False
    assert result["anomaly-types"] == [Keyword("empty-transaction-graph")]
