"""Generic checkers: helpers, stats, exceptions, availability, net, perf, timeline, compose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.history import Hist

from glome.edn import UNKNOWN, Keyword, dumps
from glome.sim.checkers import (
    availability,
    clj_compare,
    clj_sorted,
    compose,
    frequency_distribution,
    jfloat,
    merge_valid,
    net,
    perf,
    stats,
    workload_checker,
)
from glome.sim.options import TestOptions as Options

# -- helpers ---------------------------------------------------------------------------------


def test_merge_valid_false_beats_unknown_beats_true() -> None:
    assert merge_valid([]) is True
    assert merge_valid([True, True]) is True
    assert merge_valid([True, UNKNOWN]) == UNKNOWN
    assert merge_valid([UNKNOWN, False, True]) is False
    assert merge_valid([None]) == UNKNOWN


def test_jfloat_prints_like_clojure_float() -> None:
    assert repr(jfloat(1433 / 201)) == "7.129353"
    assert repr(jfloat(16 / 3)) == "5.3333335"
    assert repr(jfloat(1 / 9)) == "0.11111111"
    assert repr(jfloat(2 / 3)) == "0.6666667"
    assert jfloat(1.0) == 1.0
    assert dumps(jfloat(3 / 20)) == "0.15"


def test_frequency_distribution_uses_jepsen_index_rule() -> None:
    assert frequency_distribution([]) is None
    dist = frequency_distribution(range(10))
    assert dist == {0: 0, 0.5: 5, 0.95: 9, 0.99: 9, 1: 9}
    assert list(dist) == [0, 0.5, 0.95, 0.99, 1]
    assert frequency_distribution([7]) == {0: 7, 0.5: 7, 0.95: 7, 0.99: 7, 1: 7}


def test_clj_compare_orders_vectors_by_length_and_rejects_mixed_types() -> None:
    assert clj_sorted([[2], [1, 1], [0]]) == [[0], [2], [1, 1]]
    assert clj_sorted([None, 3, 1]) == [None, 1, 3]
    with pytest.raises(TypeError):
        clj_compare(1, "1")


def test_workload_checker_registry() -> None:
    assert workload_checker("g-counter") is workload_checker("pn-counter")
    with pytest.raises(KeyError, match="no checker registered"):
        workload_checker("no-such-workload")


# -- stats -----------------------------------------------------------------------------------


def test_stats_counts_completions_per_f_and_passes() -> None:
    h = Hist()
    h.op("info", "nemesis", "start-partition", Keyword("majority"))
    h.call(0, "read", result=[1])
    h.call(1, "broadcast", 1)
    h.call(0, "broadcast", 2, done="info", error=Keyword("net-timeout"))
    h.op("info", "nemesis", "start-partition", Keyword("majority"))
    result = stats.check(h.ops)
    assert result == {
        "valid?": True,
        "count": 3,
        "ok-count": 2,
        "fail-count": 0,
        "info-count": 1,
        "by-f": {
            "broadcast": {
                "valid?": True,
                "count": 2,
                "ok-count": 1,
                "fail-count": 0,
                "info-count": 1,
            },
            "read": {"valid?": True, "count": 1, "ok-count": 1, "fail-count": 0, "info-count": 0},
        },
    }
    assert list(result) == ["valid?", "count", "ok-count", "fail-count", "info-count", "by-f"]


def test_stats_fails_when_an_f_never_succeeds() -> None:
    h = Hist()
    h.call(0, "broadcast", 1)
    h.call(0, "read", done="fail", error=[Keyword("timeout"), "t"])
    h.call(1, "read", done="info")
    result = stats.check(h.ops)
    assert result["valid?"] is False
    assert result["by-f"]["read"]["valid?"] is False
    assert result["by-f"]["broadcast"]["valid?"] is True
    assert dumps(result).startswith("{:valid? false, :count 3")


def test_stats_ignores_crash_and_debug_topic_partitions() -> None:
    h = Hist()
    h.call(0, "send", ["k", 1])
    h.call(1, "crash", done="info")
    h.call(2, "debug-topic-partitions", done="fail")
    result = stats.check(h.ops)
    assert result["by-f"]["crash"]["valid?"] is False
    assert result["valid?"] is True


def test_stats_of_empty_history_is_valid() -> None:
    assert stats.check([]) == {
        "valid?": True,
        "count": 0,
        "ok-count": 0,
        "fail-count": 0,
        "info-count": 0,
        "by-f": {},
    }


# -- exceptions ------------------------------------------------------------------------------


def test_exceptions_groups_by_class_largest_first() -> None:
    h = Hist()
    h.call(0, "add", 1, done="info", exception={"via": [{"type": "A", "message": "m"}]})
    h.call(1, "read", done="info", exception={"via": [{"type": "B"}]})
    h.call(2, "read", done="info", exception={"via": [{"type": "B"}]})
    h.call(3, "read", done="info", error=Keyword("net-timeout"))
    result = stats.check_exceptions(h.ops)
    assert result["valid?"] is True
    assert [(e["count"], e["class"]) for e in result["exceptions"]] == [(2, "B"), (1, "A")]
    assert result["exceptions"][0]["example"].value["index"] == 3
    assert "(" in dumps(result) and "#jepsen.history.Op{" in dumps(result)
    assert stats.check_exceptions(h.ops[-2:]) == {"valid?": True}


# -- availability ----------------------------------------------------------------------------


def _two_of_three() -> list[dict[str, Any]]:
    h = Hist()
    h.call(0, "echo", "a", result={"echo": "a"})
    h.call(1, "echo", "b", done="info")
    h.call(0, "echo", "c", result={"echo": "c"})
    h.op("info", "nemesis", "stop-partition")
    return h.ops


def test_availability_targets() -> None:
    ops = _two_of_three()
    assert availability.check(ops) == {"valid?": True, "ok-fraction": 0.6666667}
    assert availability.check(ops, Options(availability="total"))["valid?"] is False
    assert availability.check(ops, availability=0.5)["valid?"] is True
    assert availability.check(ops, availability=0.9)["valid?"] is False
    assert availability.check(ops, availability="0.6")["valid?"] is True
    assert availability.check([], availability="total") == {"valid?": True, "ok-fraction": 1}


def test_availability_total_needs_every_op() -> None:
    h = Hist()
    h.call(0, "generate", result="x")
    assert availability.check(h.ops, availability="total")["valid?"] is True
    h.call(0, "generate", done="fail")
    assert availability.check(h.ops, availability="total") == {"valid?": False, "ok-fraction": 0.5}


def test_availability_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match="availability"):
        availability.check([], availability="most")
    with pytest.raises(ValueError, match="availability"):
        availability.check([], availability=1.5)


# -- net -------------------------------------------------------------------------------------


def _journal() -> list[dict[str, Any]]:
    def msg(i: int, src: str, dest: str, recv: bool = True, dropped: bool = False) -> dict:
        return {
            "id": i,
            "src": src,
            "dest": dest,
            "body": {"type": "x"},
            "send_time": i,
            "recv_time": i + 1 if recv else None,
            "dropped": dropped,
        }

    return [
        msg(0, "c0", "n0"),
        msg(1, "n0", "c0"),  # init and its reply
        msg(2, "c1", "n0"),
        msg(3, "n0", "c1"),
        msg(4, "n0", "n1"),
        msg(5, "n1", "n0", recv=False, dropped=True),
        msg(6, "n0", "lin-kv"),
        msg(7, "lin-kv", "n0", recv=False),
    ]


def test_net_counts_clients_servers_and_msgs_per_op() -> None:
    h = Hist()
    h.op("info", "nemesis", "start-partition")
    h.call(0, "read", result=[])
    h.call(1, "read", result=[])
    h.call(2, "read", result=[])
    result = net.check(h.ops, journal=_journal())
    assert result == {
        "all": {"send-count": 8, "recv-count": 6, "msg-count": 8, "msgs-per-op": 2.6666667},
        "clients": {"send-count": 4, "recv-count": 4, "msg-count": 4},
        "servers": {"send-count": 4, "recv-count": 2, "msg-count": 4, "msgs-per-op": 1.3333334},
        "valid?": True,
    }


def test_net_without_invokes_omits_msgs_per_op(tmp_path: Path) -> None:
    path = tmp_path / "net-journal.jsonl"
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in _journal()))
    result = net.check([], journal=path)
    assert "msgs-per-op" not in result["all"] and "msgs-per-op" not in result["servers"]
    assert result["all"]["msg-count"] == 8
    assert net.check([], journal=str(path)) == result


def test_net_reports_bad_journals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="journal"):
        net.check([])
    bad = tmp_path / "j.jsonl"
    bad.write_text('{"id": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"j.jsonl:2"):
        net.check([], journal=bad)


# -- perf and timeline -----------------------------------------------------------------------


def test_perf_shape_and_latency_quantiles() -> None:
    h = Hist()
    for i in range(10):
        h.op("invoke", 0, "read", at=i * 100_000_000)
        h.op("ok", 0, "read", [], at=i * 100_000_000 + (i + 1) * 1_000_000)
    h.call(1, "broadcast", 1, done="info")
    result = perf.check(h.ops)
    assert list(result) == ["latency-graph", "rate-graph", "valid?", "glome/latency-quantiles"]
    assert result["glome/latency-quantiles"] == {
        "read": {0: 1.0, 0.5: 6.0, 0.95: 10.0, 0.99: 10.0, 1: 10.0}
    }
    assert dumps(result).startswith(
        "{:latency-graph {:valid? true}, :rate-graph {:valid? true}, :valid? true, "
        ":glome/latency-quantiles {:read {0 1.0, 0.5 6.0"
    )
    assert perf.check_timeline(h.ops) == {"valid?": True}


# -- compose ---------------------------------------------------------------------------------


def test_compose_key_order_and_validity() -> None:
    h = Hist()
    h.call(0, "echo", "a", result={"echo": "a"})
    result = compose.check(h.ops, Options(workload="echo"), journal=_journal())
    assert list(result) == [
        "perf",
        "timeline",
        "exceptions",
        "stats",
        "availability",
        "net",
        "workload",
        "valid?",
    ]
    assert result["valid?"] is True
    assert result["workload"] == {"valid?": True, "errors": []}


def test_compose_turns_a_raising_checker_into_unknown() -> None:
    def broken(history: Any, opts: Any = None, **_: Any) -> dict:
        raise RuntimeError("checker bug")

    h = Hist()
    h.call(0, "echo", "a", result={"echo": "a"})
    result = compose.check(h.ops, workload=broken, journal=_journal())
    assert result["workload"]["valid?"] == UNKNOWN
    assert "RuntimeError: checker bug" in result["workload"]["error"]
    assert result["valid?"] == UNKNOWN
    # without a journal, :net is unknown too, with a readable reason
    no_net = compose.check(h.ops, workload="echo")
    assert no_net["net"]["valid?"] == UNKNOWN and "journal" in no_net["net"]["error"]


def test_compose_false_beats_unknown() -> None:
    h = Hist()
    h.call(0, "echo", "a", done="fail")  # echo error and stats failure
    result = compose.check(h.ops, Options(workload="echo"))  # :net unknown (no journal)
    assert result["net"]["valid?"] == UNKNOWN
    assert result["valid?"] is False
    assert dumps(result).endswith(":valid? false}")


def test_compose_needs_a_workload() -> None:
    with pytest.raises(ValueError, match="workload"):
        compose.check([])
