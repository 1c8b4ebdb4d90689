"""The txn-list-append checker: each anomaly it claims is found and explained, serial and
concurrent-but-serializable histories pass, the real Maelstrom run agrees, and the workload runs
end to end against an atomic node (valid) and one that shows its appends early (invalid)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs

from glome.edn import UNKNOWN, Keyword, dumps
from glome.runtime import Message, Node, handler
from glome.sim import run
from glome.sim.checkers import list_append
from glome.sim.options import TestOptions as Opts
from glome.sim.workloads import get

RUNS = maelstrom_runs()

Mop = tuple[str, Any, Any]
Txn = tuple[int, str, list[Mop]]


def _op(ops: list[dict[str, Any]], typ: str, process: int, value: Any) -> None:
    ops.append(
        {
            "index": len(ops),
            "time": len(ops) * 1000,
            "type": typ,
            "process": process,
            "f": "txn",
            "value": value,
        }
    )


def _values(mops: list[Mop], completed: bool) -> tuple[list[Any], list[Any]]:
    invoked = [[Keyword(f), k, None if f == "r" else v] for f, k, v in mops]
    done = [[Keyword(f), k, v] for f, k, v in mops] if completed else invoked
    return invoked, done


def history(*txns: Txn) -> list[dict[str, Any]]:
    """Sequential txns: (process, completion type, micro-ops as completed)."""
    ops: list[dict[str, Any]] = []
    for process, typ, mops in txns:
        invoked, done = _values(mops, typ == "ok")
        _op(ops, "invoke", process, invoked)
        _op(ops, typ, process, done)
    return ops


def concurrent(*txns: Txn) -> list[dict[str, Any]]:
    """All txns invoked before any completes (every pair overlaps in real time)."""
    ops: list[dict[str, Any]] = []
    for process, _, mops in txns:
        _op(ops, "invoke", process, _values(mops, False)[0])
    for process, typ, mops in txns:
        _op(ops, typ, process, _values(mops, typ == "ok")[1])
    return ops


def anomalies(result: dict[str, Any]) -> set[str]:
    return {str(t) for t in result["anomaly-types"]}


def check(h: list[dict[str, Any]], model: str = "serializable") -> dict[str, Any]:
    return list_append.check(h, consistency_models=[model])


# ------------------------------------------------------------------------------ valid
def test_serial_history_passes_every_model() -> None:
    h = history(
        (0, "ok", [("append", "x", 1), ("r", "y", None)]),
        (1, "ok", [("r", "x", [1]), ("append", "x", 2), ("append", "y", 1)]),
        (0, "ok", [("r", "x", [1, 2]), ("r", "y", [1]), ("append", "x", 3), ("r", "x", [1, 2, 3])]),
        (2, "fail", [("append", "x", 9)]),
        (1, "info", [("append", "y", 2)]),
    )
    for model in ("read-uncommitted", "read-committed", "serializable", "strict-serializable"):
        result = check(h, model)
        assert result["valid?"] is True, (model, result)
        assert result["anomaly-types"] == [] and result["anomalies"] == {}
        assert result["not"] == set() and result["also-not"] == set()


def test_concurrent_but_serializable_passes() -> None:
    # Serial order T2 (reads x empty), T1 (appends x 1, reads y [1]), T3 ... all overlapping.
    h = concurrent(
        (0, "ok", [("append", "x", 1), ("r", "y", [1])]),
        (1, "ok", [("r", "x", []), ("append", "y", 1)]),
        (2, "ok", [("r", "x", [1]), ("r", "y", [1]), ("append", "y", 2)]),
        (3, "ok", [("r", "y", [1, 2]), ("append", "x", 2)]),
    )
    result = check(h, "strict-serializable")
    assert result["valid?"] is True, result


def test_info_appender_gives_edges() -> None:
    # An info txn's append that someone read did happen: its reader depends on it (wr), and a
    # reader that missed it anti-depends on it, so this read skew is still found.
    h = history(
        (0, "info", [("append", "x", 1), ("append", "y", 1)]),
        (1, "ok", [("r", "x", []), ("r", "y", [1])]),
        (2, "ok", [("r", "x", [1])]),
    )
    assert anomalies(check(h)) == {"G-single-item"}


# ------------------------------------------------------------------------------ anomalies
def test_g0_write_cycle() -> None:
    h = history(
        (0, "ok", [("append", "x", 1), ("append", "y", 2)]),
        (1, "ok", [("append", "x", 2), ("append", "y", 1)]),
        (2, "ok", [("r", "x", [1, 2]), ("r", "y", [1, 2])]),
    )
    result = check(h, "read-uncommitted")
    assert result["valid?"] is False
    assert anomalies(result) == {"G0"}
    (case,) = result["anomalies"]["G0"]
    assert [op.value["index"] for op in case["cycle"]] == [1, 3, 1]
    assert [(s["type"], s["key"], s["value"], s["value'"]) for s in case["steps"]] == [
        ("ww", "x", 1, 2),
        ("ww", "y", 1, 2),
    ]
    assert "T1 appended 1 to 'x' before T3 appended 2" in case["explanation"]
    assert result["not"] == {Keyword("read-uncommitted")}
    assert Keyword("serializable") in result["also-not"]


def test_g1a_aborted_read() -> None:
    h = history(
        (0, "fail", [("append", "x", 1)]),
        (1, "ok", [("r", "x", [1])]),
        (2, "ok", [("append", "y", 1)]),
        (1, "ok", [("r", "y", [1])]),
    )
    result = check(h, "read-committed")
    assert result["valid?"] is False
    assert anomalies(result) == {"G1a"}
    (case,) = result["anomalies"]["G1a"]
    assert case["op"].value["index"] == 3 and case["writer"].value["index"] == 1
    assert case["mop"] == [Keyword("r"), "x", [1]] and case["element"] == 1
    assert result["not"] == {Keyword("read-committed")}
    assert check(h, "read-uncommitted")["valid?"] is True


def test_g1b_intermediate_read() -> None:
    h = history(
        (0, "ok", [("append", "x", 1), ("append", "x", 2)]),
        (1, "ok", [("r", "x", [1])]),
        (1, "ok", [("r", "x", [1, 2])]),
    )
    result = check(h, "read-committed")
    assert anomalies(result) == {"G1b"}
    (case,) = result["anomalies"]["G1b"]
    assert case["op"].value["index"] == 3 and case["writer"].value["index"] == 1
    assert case["element"] == 1


def test_g1c_circular_information_flow() -> None:
    h = history(
        (0, "ok", [("append", "x", 1), ("r", "y", [1])]),
        (1, "ok", [("append", "y", 1), ("r", "x", [1])]),
    )
    result = check(h, "read-committed")
    assert anomalies(result) == {"G1c"}
    (case,) = result["anomalies"]["G1c"]
    assert [s["type"] for s in case["steps"]] == ["wr", "wr"]
    assert "observed T1's append of 1 to 'x'" in case["explanation"]
    assert "value'" not in case["steps"][0]


def test_g_single_read_skew_only_under_stronger_models() -> None:
    h = history(
        (0, "ok", [("r", "x", []), ("r", "y", [1])]),  # T1 misses T3's x but sees its y
        (1, "ok", [("append", "x", 1), ("append", "y", 1)]),
        (0, "ok", [("r", "x", [1])]),
    )
    result = check(h, "snapshot-isolation")
    assert anomalies(result) == {"G-single-item"}
    (case,) = result["anomalies"]["G-single-item"]
    rels = [s["type"] for s in case["steps"]]
    assert rels.count("rw") == 1 and rels[0] == "rw"
    assert "read 'x' (nothing) and missed T3's next append of 1" in case["explanation"]
    assert check(h, "read-committed")["valid?"] is True
    assert Keyword("consistent-view") in result["not"]


def test_g2_item_write_skew_only_under_serializable() -> None:
    h = history(
        (0, "ok", [("r", "x", []), ("append", "y", 1)]),
        (1, "ok", [("r", "y", []), ("append", "x", 1)]),
        (2, "ok", [("r", "x", [1]), ("r", "y", [1])]),
    )
    result = check(h, "serializable")
    assert anomalies(result) == {"G2-item"}
    (case,) = result["anomalies"]["G2-item"]
    assert [s["type"] for s in case["steps"]] == ["rw", "rw"]
    assert check(h, "snapshot-isolation")["valid?"] is True
    assert result["not"] == {Keyword("repeatable-read")}


def test_incompatible_order() -> None:
    h = history(
        (0, "ok", [("append", "x", 1)]),
        (1, "ok", [("append", "x", 2)]),
        (2, "ok", [("append", "x", 3)]),
        (3, "ok", [("r", "x", [1, 2])]),
        (3, "ok", [("r", "x", [1, 3])]),
    )
    result = check(h, "read-committed")
    assert "incompatible-order" in anomalies(result)
    (case,) = result["anomalies"]["incompatible-order"]
    assert case == {"key": "x", "values": [[1, 2], [1, 3]]}
    assert result["not"] == {Keyword("read-committed")}
    assert "incompatible-order" not in anomalies(check(h, "read-uncommitted"))


def test_duplicate_elements() -> None:
    h = history(
        (0, "ok", [("append", "x", 1)]),
        (1, "ok", [("r", "x", [1, 1])]),
    )
    result = check(h, "read-uncommitted")
    assert anomalies(result) == {"duplicate-elements"}
    (case,) = result["anomalies"]["duplicate-elements"]
    assert case["duplicates"] == {1: 2} and case["op"].value["index"] == 3
    assert result["not"] == {Keyword("read-uncommitted")}


def test_internal_inconsistency() -> None:
    appended_then_read = history(
        (0, "ok", [("append", "x", 1)]),
        (1, "ok", [("append", "x", 5), ("r", "x", [1])]),
    )
    result = check(appended_then_read)
    assert "internal" in anomalies(result)
    (case,) = result["anomalies"]["internal"]
    assert case["expected"] == [Keyword("..."), 5]
    assert case["mop"] == [Keyword("r"), "x", [1]]
    assert "[:... 5]" in dumps(case)
    read_twice = history(
        (0, "ok", [("append", "x", 1)]),
        (1, "ok", [("r", "x", [1]), ("append", "x", 2), ("r", "x", [1])]),
    )
    (case,) = check(read_twice)["anomalies"]["internal"]
    assert case["expected"] == [1, 2]
    assert "internal" not in anomalies(check(read_twice, "read-committed"))


def test_empty_transaction_graph_is_unknown_as_in_maelstrom() -> None:
    h = history((0, "fail", [("append", "x", 1)]), (1, "info", [("r", "x", None)]))
    result = list_append.check(h, Opts())  # Maelstrom's default strict-serializable
    assert result == {
        "valid?": UNKNOWN,
        "anomaly-types": [Keyword("empty-transaction-graph")],
        "anomalies": {"empty-transaction-graph": True},
        "not": set(),
        "also-not": set(),
    }
    # Unknown yields to a real anomaly found alongside it.
    h = history((0, "ok", [("r", "x", [1, 1])]))
    result = check(h)
    assert result["valid?"] is False
    assert anomalies(result) == {"duplicate-elements", "empty-transaction-graph"}


def test_models_from_opts_unknown_models_and_bad_input() -> None:
    h = history(
        (0, "ok", [("r", "x", [])]),
        (1, "ok", [("append", "x", 1), ("r", "x", [1])]),
        (0, "ok", [("r", "x", [1])]),
    )
    result = list_append.check(h, Opts(consistency_models=("serializable",)))
    assert result["valid?"] is True
    with pytest.raises(ValueError, match="unknown consistency model"):
        list_append.check(h, consistency_models=["linearizable-ish"])
    with pytest.raises(ValueError, match="bad micro-op"):
        list_append.check(history((0, "ok", [("w", "x", 1)])))
    with pytest.raises(ValueError, match="neither nil nor a list"):
        list_append.check(history((0, "ok", [("r", "x", 3)])))


def test_result_writes_as_maelstrom_edn() -> None:
    h = history(
        (0, "ok", [("append", "x", 1), ("r", "y", [1])]),
        (1, "ok", [("append", "y", 1), ("r", "x", [1])]),
    )
    text = dumps(check(h))
    assert text.startswith("{:valid? false, :anomaly-types (:G1c), :anomalies {:G1c [{:cycle [")
    assert "#jepsen.history.Op{" in text and ":type :wr" in text
    assert text.endswith(":not #{:read-committed}, :also-not #{" + text.split("also-not #{")[1])


def test_large_serial_history_is_valid() -> None:
    # 3000 txns on 5 keys, serial and atomic: valid, and cheap enough to stay in the suite.
    rng = random.Random(3)
    state: dict[int, list[int]] = {}
    txns: list[Txn] = []
    fresh = iter(range(10**6))
    for i in range(3000):
        mops: list[Mop] = []
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(5)
            if rng.random() < 0.5:
                mops.append(("r", k, list(state.get(k, []))))
            else:
                v = next(fresh)
                state.setdefault(k, []).append(v)
                mops.append(("append", k, v))
        txns.append((i % 7, "ok", mops))
    assert check(history(*txns), "strict-serializable")["valid?"] is True


# ------------------------------------------------------------------------------ real run
def test_real_maelstrom_run_with_no_ok_txns() -> None:
    run_dir = RUNS / "txn-list-append-1node-fail" / "store" / "txn-list-append"
    if not run_dir.is_dir():
        pytest.skip("maelstrom-runs corpus not present")
    from helpers.corpus import load_history, load_results  # skips without edn_format

    (store,) = sorted(d for d in run_dir.iterdir() if (d / "results.edn").is_file())
    expected = load_results(store / "results.edn")["workload"]
    result = list_append.check(load_history(store / "history.edn"), Opts())
    assert result == expected
    assert dumps(result) == (
        "{:valid? :unknown, :anomaly-types (:empty-transaction-graph), "
        ":anomalies {:empty-transaction-graph true}, :not #{}, :also-not #{}}"
    )


# ------------------------------------------------------------------------------ end to end
class AppendNode(Node):
    """One node, each txn applied atomically to a dict of lists: serializable."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data: dict[Any, list[Any]] = {}

    def apply(self, mop: list[Any]) -> list[Any]:
        f, k, v = mop
        if f == "r":
            return [f, k, list(self.data[k]) if k in self.data else None]
        self.data.setdefault(k, []).append(v)
        return [f, k, v]

    @handler("txn")
    def txn(self, msg: Message) -> dict[str, Any]:
        return {"type": "txn_ok", "txn": [self.apply(m) for m in msg.body["txn"]]}


class EarlyAppendNode(AppendNode):
    """Applies micro-ops one at a time with a pause between them, so other txns see its
    appends before it commits (intermediate reads, cycles)."""

    @handler("txn")
    async def txn(self, msg: Message) -> dict[str, Any]:  # type: ignore[override]
        done = []
        for mop in msg.body["txn"]:
            done.append(self.apply(mop))
            await self.sleep(0.01)
        return {"type": "txn_ok", "txn": done}


def append_run(node: Any, tmp_path: Path, model: str) -> Any:
    return run(
        node,
        workload="txn-list-append",
        store_dir=tmp_path,
        consistency_models=(model,),
        node_count=1,
        concurrency=4,
        time_limit=5,
        rate=50,
        key_count=3,
        seed=1,
        availability="total",
    )


def test_workload_is_enabled() -> None:
    workload = get("txn-list-append")
    workload.validate(Opts(workload="txn-list-append"))
    assert workload.check(history((0, "ok", [("r", 1, None)])))["valid?"] is UNKNOWN


def test_atomic_append_node_passes(tmp_path: Path) -> None:
    r = append_run(AppendNode, tmp_path, "strict-serializable")
    assert r.valid is True, r.results["workload"]
    oks = [op for op in r.history if op["type"] == "ok"]
    assert len(oks) > 100
    assert any(m[0] == Keyword("r") and m[2] for op in oks for m in op["value"])
    assert any(m[0] == Keyword("append") for op in oks for m in op["value"])
    assert r.results["workload"]["anomaly-types"] == []


def test_early_append_node_fails(tmp_path: Path) -> None:
    r = append_run(EarlyAppendNode, tmp_path, "read-committed")
    assert r.valid is False
    w = r.results["workload"]
    assert w["valid?"] is False
    assert Keyword("G1b") in w["anomaly-types"], w["anomaly-types"]
    case = w["anomalies"]["G1b"][0]
    f, k, read = case["mop"]
    assert f == Keyword("r")
    writer = case["writer"].value
    appends = [m[2] for m in writer["value"] if m[0] == Keyword("append") and m[1] == k]
    assert read[-1] in appends[:-1]  # the writer appended again after what was read
    # Its interleaved appends also make write cycles, so even read-uncommitted is ruled out.
    assert Keyword("read-committed") in w["not"] | w["also-not"]
