"""explain.failing_reasons: why a run failed, expected against got, one sentence per finding."""

from __future__ import annotations

from typing import Any

from analysis import edn
from glome.edn import EdnList, Keyword, Tagged
from glome.sim.explain import failing_reasons, seed_note
from glome.sim.glossary import anomaly_meaning


def _results(**checkers: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: {"valid?": True} for name in ("perf", "stats", "net")}
    base.update(checkers)
    base["valid?"] = all(c.get("valid?") is True for c in base.values())
    return base


def _op(**fields: object) -> Tagged:
    return Tagged("jepsen.history.Op", fields)


def test_a_valid_run_has_no_reasons_and_a_missing_one_says_so() -> None:
    assert failing_reasons(_results()) == []
    assert failing_reasons({"valid?": True, "workload": {"valid?": True}}) == []
    assert failing_reasons(None) == ["no results: the run aborted or the analysis never ran"]


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
        "stats: expected some send requests to succeed; got 0 ok of 37 (7 failed, 30 with no reply)"
    ]


def test_a_crash_entry_inside_a_valid_stats_is_not_a_failure() -> None:
    stats = {"valid?": True, "by-f": {"crash": {"valid?": False, "count": 3, "ok-count": 0}}}
    assert failing_reasons(_results(stats=stats)) == []


def test_counter_names_acceptable_totals_final_reads_and_the_wrong_reads_as_sentences() -> None:
    read = _op(index=7, time=29_982_311_567, type=Keyword("ok"), process=0, f=Keyword("read"),
               value=1252)  # fmt: skip
    workload = {
        "valid?": False,
        "errors": EdnList([read]),
        "final-reads": EdnList([1252, 1254, 1254]),
        "acceptable": EdnList([[1254, 1254], [1260, 1262]]),
    }
    assert failing_reasons(_results(workload=workload)) == [
        "workload: every final read must be one of the acceptable totals 1254, 1260..1262 (the "
        "sum of the acknowledged adds, give or take those whose outcome is unknown); got final "
        "reads 1252, 1254, 1254 (1 of 3 off)",
        "workload: wrong read: process 0 read 1252 (ok, at 29.98 s, op #7)",
    ]


def test_each_workload_says_expected_and_got() -> None:
    cases = {
        "ids": {"valid?": False, "attempted-count": 10, "acknowledged-count": 10,
                "duplicated-count": 1, "duplicated": {"": 2}},
        "txn": {"valid?": False, "anomaly-types": [Keyword("G1a")],
                "anomalies": {"G1a": [{"op": _op(process=1, f=Keyword("txn"), type=Keyword("ok"),
                                                 value=[[Keyword("r"), 1, 5]]),
                                       "mop": [Keyword("r"), 1, 5]}]}},
        "echo": {"valid?": False, "errors": [["Expected a message with :echo", "hi",
                                              "But received", {"echo": "ho"}]]},
    }  # fmt: skip
    expected = {
        "ids": "every acknowledged id must be distinct; got 1 id(s) handed out more than once "
        '(of 10 acknowledged), e.g. "" (2 times)',
        "txn": "G1a: aborted read: a committed transaction read a value written by a transaction "
        "that failed (aborted); expected none, found 1. First: op = process 1 txn [[r, 1, 5]] "
        "(ok); mop = [r, 1, 5]",
        "echo": "expected a reply echoing hi; got {echo: ho}",
    }
    for name, workload in cases.items():
        assert failing_reasons({"valid?": False, "workload": workload}) == [
            f"workload: {expected[name]}"
        ], name


def test_reads_maelstrom_results_as_the_edn_reader_gives_them() -> None:
    text = (
        "{:stats {:valid? true}, :availability {:valid? false, :ok-fraction 0.5}, "
        ":workload {:valid? false, :lost-count 2, :lost #{4 3}, :stale-count 0, "
        ":duplicated-count 0, :never-read-count 0}, :valid? false}"
    )
    assert failing_reasons(edn.loads(text)) == [
        "workload: every acknowledged value must be in the final reads of every node; 2 "
        "acknowledged value(s) went missing for good (lost): 3, 4",
        "availability: expected at least the --availability share of requests answered ok (all "
        "of them for 'total'); got 50.0%",
    ]


def test_ops_are_shown_plainly_never_as_records() -> None:
    read = _op(process=0, type=Keyword("ok"), f=Keyword("read"), value=4, index=5)
    write = _op(process=1, type=Keyword("ok"), f=Keyword("write"), value=4, index=4)
    config = {"model": Tagged("knossos.model.CASRegister", {"value": 2})}
    analysis = {"valid?": False, "op": read, "previous-ok": write, "configs": [config]}
    workload = {
        "valid?": False,
        "failures": [0],
        "results": {0: {"valid?": False, "linearizable": analysis}},
    }
    (line,) = failing_reasons(_results(workload=workload))
    assert line == (
        "workload: not linearizable: key 0: no order of the operations explains process 0 read 4 "
        "(ok, op #5), right after process 1 write 4 (ok, op #4); at that point the register "
        "could only hold 2"
    )
    assert "Tagged" not in line


def test_unknown_checkers_say_why_they_could_not_decide() -> None:
    perf = {"valid?": Keyword("unknown"), "error": "Traceback ...\nRuntimeError: no gnuplot"}
    txn = {"valid?": Keyword("unknown"), "anomaly-types": [Keyword("empty-transaction-graph")]}
    assert failing_reasons(_results(perf=perf, workload=txn)) == [
        "workload: could not decide: empty-transaction-graph (no transaction completed ok, so "
        "there was nothing to check)",
        "perf: could not decide: RuntimeError: no gnuplot",
    ]


def test_elle_anomalies_in_plain_words_with_their_suffixes_and_the_models_ruled_out() -> None:
    cycle = {"cycle": [], "explanation": "T3 read 'x'=1, which T4 overwrote with 2; ..."}
    workload = {
        "valid?": False,
        "anomaly-types": [Keyword("G2-item-realtime"), Keyword("lost-update")],
        "anomalies": {"G2-item-realtime": [cycle, cycle]},
        "not": frozenset({Keyword("serializable"), Keyword("cursor-stability")}),
    }
    lines = failing_reasons(_results(workload=workload))
    assert lines[0].startswith("workload: G2-item-realtime: anti-dependency cycle (write skew)")
    assert "through reads and writes of single keys; counting real time too" in lines[0]
    assert lines[0].endswith(
        "expected none, found 2. First, with T<n> the transaction of op #<n>: T3 read 'x'=1, "
        "which T4 overwrote with 2; ..."
    )
    assert lines[1].startswith("workload: lost-update: two transactions read the same value")
    assert lines[1].endswith("; expected none, found some")
    assert lines[2] == (
        "workload: so the history is not even cursor-stability or serializable "
        "(nor anything stronger)"
    )


def test_every_elle_name_has_plain_words() -> None:
    from glome.sim.checkers.consistency_model import IMPLIED_ANOMALIES

    names = set(IMPLIED_ANOMALIES) | {b for bs in IMPLIED_ANOMALIES.values() for b in bs}
    for name in sorted(names):
        assert "results.edn" not in anomaly_meaning(name), name
    assert "each client's own order" in anomaly_meaning("G-single-item-process")
    assert anomaly_meaning("G-nonadjacent-item").startswith("a dependency cycle with several")


def test_kafka_error_types_with_their_counts() -> None:
    workload = {
        "valid?": False,
        "bad-error-types": [Keyword("lost-write")],
        "lost-write": {"count": 3, "errs": []},
    }
    assert failing_reasons(_results(workload=workload)) == [
        "workload: lost-write: an acknowledged send never showed up in polls that reached past "
        "it; expected none, found 3"
    ]


def test_seed_note_says_what_a_bin_replay_cannot_reproduce() -> None:
    assert "not the processes' own timing" in seed_note(True, 7)
    assert "byte for byte" in seed_note(False, 7)
