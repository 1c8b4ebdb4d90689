"""explain.failing_reasons: one readable line per failing checker."""

from __future__ import annotations

from typing import Any

from analysis import edn
from glome.edn import EdnList, Keyword, Tagged
from glome.sim.explain import failing_reasons, seed_note


def _results(**checkers: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: {"valid?": True} for name in ("perf", "stats", "net")}
    base.update(checkers)
    base["valid?"] = all(c.get("valid?") is True for c in base.values())
    return base


def test_a_valid_run_has_no_reasons() -> None:
    assert failing_reasons(_results()) == []


def test_kafka_under_partition_names_the_sends_without_success() -> None:
    stats = {
        "valid?": False,
        "count": 60,
        "ok-count": 20,
        "by-f": {
            "crash": {"valid?": False, "count": 3, "ok-count": 0, "info-count": 3},
            "poll": {"valid?": True, "count": 20, "ok-count": 20},
            "send": {
                "valid?": False,
                "count": 37,
                "ok-count": 0,
                "fail-count": 7,
                "info-count": 30,
            },
        },
    }
    assert failing_reasons(_results(stats=stats)) == [
        "stats: no :send succeeded (0 ok of 37; 7 failed; 30 indeterminate)"
    ]


def test_a_crash_entry_inside_a_valid_stats_is_not_a_failure() -> None:
    stats = {"valid?": True, "by-f": {"crash": {"valid?": False, "count": 3, "ok-count": 0}}}
    assert failing_reasons(_results(stats=stats)) == []


def test_counter_reads_outside_the_acceptable_totals() -> None:
    workload = {
        "valid?": False,
        "final-reads": EdnList([5, 7]),
        "acceptable": EdnList([[9, 9]]),
    }
    assert failing_reasons(_results(workload=workload)) == [
        "workload: final reads [5, 7] not in acceptable totals [9..9]"
    ]


def test_ops_are_shown_plainly_never_as_records() -> None:
    op = Tagged(
        "jepsen.history.Op", {"process": 0, "type": Keyword("ok"), "f": Keyword("read"), "value": 4}
    )
    workload = {
        "valid?": False,
        "failures": [0],
        "results": {0: {"valid?": False, "linearizable": {"valid?": False, "op": op}}},
    }
    (line,) = failing_reasons(_results(workload=workload))
    assert (
        line
        == "workload: not linearizable on 1 key(s) [0]; first on key 0: 0 :read 4 has no linearization"
    )
    assert "Tagged" not in line


def test_reads_maelstrom_results_as_the_edn_reader_gives_them() -> None:
    text = (
        "{:stats {:valid? true}, :availability {:valid? false, :ok-fraction 0.5}, "
        ":workload {:valid? false, :lost-count 2, :lost #{3 4}, :stale-count 0, "
        ":duplicated-count 0}, :valid? false}"
    )
    assert failing_reasons(edn.loads(text)) == [
        "workload: 2 value(s) lost [3, 4]",
        "availability: only 50.0% of operations succeeded, below --availability",
    ]


def test_unknown_checkers_say_why_they_could_not_decide() -> None:
    perf = {"valid?": Keyword("unknown"), "error": "Traceback ...\nRuntimeError: no gnuplot"}
    txn = {"valid?": Keyword("unknown"), "anomaly-types": [Keyword("empty-transaction-graph")]}
    assert failing_reasons(_results(perf=perf, workload=txn)) == [
        "workload: could not decide: :empty-transaction-graph",
        "perf: could not decide: RuntimeError: no gnuplot",
    ]


def test_anomalies_and_models() -> None:
    workload = {
        "valid?": False,
        "anomaly-types": [Keyword("G2-item"), Keyword("lost-update")],
        "not": frozenset({Keyword("serializable"), Keyword("cursor-stability")}),
    }
    assert failing_reasons(_results(workload=workload)) == [
        "workload: anomalies :G2-item, :lost-update; not cursor-stability, serializable"
    ]


def test_seed_note_says_what_a_bin_replay_cannot_reproduce() -> None:
    assert "not the processes' own timing" in seed_note(True, 7)
    assert "byte for byte" in seed_note(False, 7)
