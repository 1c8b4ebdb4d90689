"""Workload checkers: echo, unique-ids, set-full (broadcast, g-set), counters."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.history import MS, Hist

from glome.edn import UNKNOWN, Keyword, Tagged, dumps
from glome.sim.checkers import compose, counter, echo, set_full, unique_ids

# -- echo ------------------------------------------------------------------------------------


def _echo_ok(text: str) -> dict[str, Any]:
    return {"type": "echo_ok", "in_reply_to": 1, "echo": text, "msg_id": 1}


def test_echo_passes_when_every_reply_matches() -> None:
    h = Hist()
    h.call(0, "echo", "Please echo 1", result=_echo_ok("Please echo 1"))
    h.call(0, "echo", "Please echo 2", done="info")  # info completions are skipped
    h.op("invoke", 1, "echo", "Please echo 3")  # never completed: skipped
    assert echo.check(h.ops) == {"valid?": True, "errors": []}
    assert dumps(echo.check(h.ops)) == "{:valid? true, :errors ()}"


def test_echo_mismatch_fails() -> None:
    h = Hist()
    h.call(0, "echo", "Please echo 1", result=_echo_ok("Please echo 2"))
    result = echo.check(h.ops)
    assert result["valid?"] is False
    assert result["errors"] == [
        [
            "Expected a message with :echo",
            "Please echo 1",
            "But received",
            _echo_ok("Please echo 2"),
        ]
    ]
    assert dumps(result).startswith('{:valid? false, :errors (["Expected a message with :echo"')


def test_echo_definite_failure_is_an_error() -> None:
    h = Hist()
    h.call(0, "echo", "Please echo 9", done="fail", error=[Keyword("crash"), "boom"])
    assert echo.check(h.ops)["errors"] == [
        ["Expected a message with :echo", "Please echo 9", "But received", "Please echo 9"]
    ]


# -- unique-ids ------------------------------------------------------------------------------


def test_unique_ids_pass() -> None:
    h = Hist()
    for i, ident in enumerate(["n1-2", "n0-1", "n2-0"]):
        h.call(i, "generate", result=ident)
    h.call(0, "generate", done="info")
    assert unique_ids.check(h.ops) == {
        "valid?": True,
        "attempted-count": 4,
        "acknowledged-count": 3,
        "duplicated-count": 0,
        "duplicated": {},
        "range": ["n0-1", "n2-0"],
    }


def test_unique_ids_duplicate_fails() -> None:
    h = Hist()
    for ident in ["a", "b", "a", "c", "a", "b", ""]:
        h.call(0, "generate", result=ident)
    result = unique_ids.check(h.ops)
    assert result["valid?"] is False
    assert result["duplicated-count"] == 2
    assert result["duplicated"] == {"a": 3, "b": 2}
    assert result["range"] == ["", "c"]
    # ids stay strings in EDN, never keywords
    assert '"a" 3, "b" 2' in dumps(result)


def test_unique_ids_shows_the_48_most_duplicated() -> None:
    h = Hist()
    for ident in range(60):
        for _ in range(2 if ident < 50 else 3):
            h.call(0, "generate", result=ident)
    result = unique_ids.check(h.ops)
    assert result["duplicated-count"] == 60
    assert len(result["duplicated"]) == 48
    assert list(result["duplicated"]) == sorted(result["duplicated"])
    assert all(ident in result["duplicated"] for ident in range(50, 60))
    assert result["range"] == [0, 59]


def test_unique_ids_mixed_types_are_unknown() -> None:
    h = Hist()
    h.call(0, "generate", result=1)
    h.call(0, "generate", result="1")
    with pytest.raises(TypeError):
        unique_ids.check(h.ops)
    result = compose.check(h.ops, workload="unique-ids", journal=[])
    assert result["workload"]["valid?"] == UNKNOWN
    assert "TypeError" in result["workload"]["error"]


# -- set-full (broadcast, g-set) -------------------------------------------------------------


def test_broadcast_all_seen_passes() -> None:
    h = Hist()
    h.call(0, "broadcast", 0)
    h.call(1, "broadcast", 1)
    h.call(0, "read", result=[0, 1], **{"final?": True})
    result = set_full.check_broadcast(h.ops)
    assert result["valid?"] is True
    assert result["stable-count"] == 2 and result["stale-count"] == 0
    assert result["stable-latencies"] == {0: 0, 0.5: 0, 0.95: 0, 0.99: 0, 1: 0}
    assert "lost-latencies" not in result
    assert list(result) == [
        "worst-stale",
        "duplicated-count",
        "valid?",
        "lost-count",
        "lost",
        "stable-count",
        "stale-count",
        "stale",
        "never-read-count",
        "stable-latencies",
        "attempt-count",
        "never-read",
        "duplicated",
    ]
    assert result["duplicated-count"] == 0 and result["duplicated"] == {}


def test_lost_broadcast_fails() -> None:
    h = Hist()
    h.op("invoke", 0, "broadcast", 0, at=1 * MS)
    h.op("ok", 0, "broadcast", 0, at=2 * MS)
    h.op("invoke", 1, "read", at=5 * MS)
    h.op("ok", 1, "read", [0], at=6 * MS)
    h.op("invoke", 1, "read", at=3000 * MS, **{"final?": True})
    h.op("ok", 1, "read", [], at=3001 * MS, **{"final?": True})
    result = set_full.check_broadcast(h.ops)
    assert result["valid?"] is False
    assert result["lost-count"] == 1 and result["lost"] == [0]
    # lost-latency: (last-present invocation time + 1) - known time, in whole ms
    assert result["lost-latencies"] == {0: 3, 0.5: 3, 0.95: 3, 0.99: 3, 1: 3}
    assert "stable-latencies" not in result
    assert result["attempt-count"] == 1


def test_never_read_and_known_but_unobserved_lost() -> None:
    h = Hist()
    h.call(0, "broadcast", 0)  # acknowledged, never in any read, then a read misses it: lost
    h.call(0, "broadcast", 1, done="info")  # never known, never seen: never-read
    h.call(1, "read", result=[])
    result = set_full.check_broadcast(h.ops)
    assert result["lost"] == [0] and result["never-read"] == [1]
    assert result["lost-latencies"][1] == 0  # known but never observed: latency 0


def test_stale_read_is_reported_with_latency() -> None:
    h = Hist()
    h.op("invoke", 0, "broadcast", 7, at=10 * MS)
    h.op("ok", 0, "broadcast", 7, at=11 * MS)  # known at 11 ms
    h.op("invoke", 1, "read", at=20 * MS)  # starts after the ack, misses 7: stale
    h.op("ok", 1, "read", [], at=21 * MS)
    h.op("invoke", 1, "read", at=500 * MS)
    h.op("ok", 1, "read", [7], at=501 * MS)
    result = set_full.check_broadcast(h.ops)
    assert result["valid?"] is True
    assert result["stale-count"] == 1 and result["stale"] == [7]
    # stable-latency = (last-absent invocation time + 1) - known time = 20 ms + 1 ns - 11 ms
    assert result["stable-latencies"] == {0: 9, 0.5: 9, 0.95: 9, 0.99: 9, 1: 9}
    [worst] = result["worst-stale"]
    assert worst["element"] == 7 and worst["outcome"] == "stable"
    assert worst["stable-latency"] == 9 and worst["lost-latency"] is None
    assert isinstance(worst["known"], Tagged)
    assert worst["known"].value["index"] == 1 and worst["last-absent"].value["index"] == 2
    text = dumps(result)
    # ops inside results print with :f :add, as Maelstrom renames :broadcast
    assert (
        "#jepsen.history.Op{:index 1, :time 11000000, :type :ok, :process 0, :f :add, :value 7}"
    ) in text
    assert ":outcome :stable, :stable-latency 9, :lost-latency nil" in text


def test_concurrent_read_that_misses_an_element_is_not_a_loss() -> None:
    h = Hist()
    h.op("invoke", 0, "add", 3)
    h.op("invoke", 1, "read")  # concurrent with the add
    h.op("ok", 0, "add", 3)
    h.op("ok", 1, "read", [])
    result = set_full.check(h.ops)  # g-set uses :add natively
    assert result["lost-count"] == 0 and result["never-read"] == [3]
    assert result["valid?"] == UNKNOWN  # no stable element at all


def test_element_first_seen_by_a_read_is_known_from_that_read() -> None:
    h = Hist()
    h.op("invoke", 0, "add", 5)
    h.op("invoke", 1, "read")
    h.op("ok", 1, "read", [5])  # seen before the add was acknowledged
    h.op("invoke", 1, "read")
    h.op("ok", 1, "read", [])  # then missing: lost (known from the first read)
    h.op("info", 0, "add", 5)
    result = set_full.check(h.ops)
    assert result["lost"] == [5]


def test_no_reads_is_unknown() -> None:
    h = Hist()
    h.call(0, "broadcast", 0)
    result = set_full.check_broadcast(h.ops)
    assert result["valid?"] == UNKNOWN and result["never-read"] == [0]
    assert set_full.check([])["valid?"] == UNKNOWN


def test_worst_stale_keeps_eight_highest_and_quantiles() -> None:
    h = Hist()
    # element k acknowledged at k ms; one read at 100 ms misses all; a later one sees all
    for k in range(12):
        h.op("invoke", 0, "broadcast", k, at=k * MS)
        h.op("ok", 0, "broadcast", k, at=k * MS + 1)
    h.op("invoke", 1, "read", at=100 * MS)
    h.op("ok", 1, "read", [], at=101 * MS)
    h.op("invoke", 1, "read", at=200 * MS)
    h.op("ok", 1, "read", list(range(12)), at=201 * MS)
    result = set_full.check_broadcast(h.ops)
    assert result["stale-count"] == 12
    assert [w["element"] for w in result["worst-stale"]] == [0, 1, 2, 3, 4, 5, 6, 7]
    lat = sorted(100 - k for k in range(12))  # (100 ms + 1 ns) - (k ms + 1 ns)
    assert [w["stable-latency"] for w in result["worst-stale"]] == sorted(lat, reverse=True)[:8]
    n = 12
    assert result["stable-latencies"] == {
        q: lat[min(n - 1, int(n * q))] for q in (0, 0.5, 0.95, 0.99, 1)
    }


def test_worst_stale_ties_come_out_in_descending_element_order() -> None:
    h = Hist()
    for k in range(3):
        h.call(
            0,
            "add",
            k,
        )
    for k in range(3):
        h.ops[2 * k + 1]["time"] = 5 * MS  # all known at the same time
    h.op("invoke", 1, "read", at=50 * MS)
    h.op("ok", 1, "read", [], at=51 * MS)
    h.op("invoke", 1, "read", at=60 * MS)
    h.op("ok", 1, "read", [0, 1, 2], at=61 * MS)
    result = set_full.check(h.ops)
    assert [w["element"] for w in result["worst-stale"]] == [2, 1, 0]


def test_set_full_rejects_malformed_reads() -> None:
    h = Hist()
    h.call(0, "add", 1)
    h.call(1, "read", result={"messages": [1]})
    with pytest.raises(TypeError, match="not a collection"):
        set_full.check(h.ops)


# -- counters --------------------------------------------------------------------------------


def test_counter_final_reads_in_range_pass() -> None:
    h = Hist()
    h.call(0, "add", 3)
    h.call(1, "add", 4)
    h.call(0, "read", result=99)  # intermediate reads are ignored
    h.call(0, "read", result=7, **{"final?": True})
    h.call(1, "read", result=7, **{"final?": True})
    result = counter.check(h.ops)
    assert result == {"valid?": True, "errors": None, "final-reads": [7, 7], "acceptable": [[7, 7]]}
    assert dumps(result) == "{:valid? true, :errors nil, :final-reads (7 7), :acceptable ([7 7])}"


def test_wrong_final_counter_fails() -> None:
    h = Hist()
    h.call(0, "add", 2)
    h.call(1, "add", 2, done="fail")  # definitely did not happen
    h.call(0, "read", result=4, **{"final?": True})
    result = counter.check(h.ops)
    assert result["valid?"] is False
    assert result["acceptable"] == [[2, 2]]
    [bad] = result["errors"]
    assert bad.tag == "jepsen.history.Op" and bad.value["value"] == 4
    assert dumps(result).startswith("{:valid? false, :errors (#jepsen.history.Op{:index 5")


def test_counter_info_adds_widen_the_acceptable_set() -> None:
    h = Hist()
    h.call(0, "add", 3)
    h.call(1, "add", 2, done="info")
    h.call(2, "add", 10, done="info")
    # acceptable: {3} -> {3, 5} -> {3, 5, 13, 15}
    h.call(0, "read", result=13, **{"final?": True})
    result = counter.check(h.ops)
    assert result["acceptable"] == [[3, 3], [5, 5], [13, 13], [15, 15]]
    assert result["valid?"] is True
    h2 = Hist()
    h2.call(0, "add", 1)
    for _ in range(3):
        h2.call(1, "add", 1, done="info")
    h2.call(0, "add", -2, done="info")
    # {1} -> {1,2} -> {1,2,3} -> {1..4} -> {-1..4}
    h2.call(0, "read", result=5, **{"final?": True})
    result2 = counter.check(h2.ops)
    assert result2["acceptable"] == [[-1, 4]]
    assert result2["valid?"] is False


def test_counter_without_final_reads_is_valid() -> None:
    h = Hist()
    h.call(0, "add", 1)
    h.call(0, "read", done="info", **{"final?": True})
    result = counter.check(h.ops)
    assert result == {"valid?": True, "errors": None, "final-reads": [], "acceptable": [[1, 1]]}
    assert ":final-reads ()" in dumps(result)


def test_counter_rejects_non_integer_reads() -> None:
    h = Hist()
    h.call(0, "read", result="7", **{"final?": True})
    with pytest.raises(ValueError, match="not an integer"):
        counter.check(h.ops)
