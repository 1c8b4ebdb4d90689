"""The kafka checker: each error type is detected with the offending key/offsets and ops, valid
and merely suspicious histories pass, and a real Maelstrom run gives Maelstrom's result."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs

from glome.edn import Keyword, dumps
from glome.sim.checkers import kafka

RUNS = maelstrom_runs()
K = "7"  # kafka keys are strings in the history


class Hist:
    """Builds a kafka history; each call is one invoke/completion pair, in sequence."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []

    def _add(self, process: int, typ: str, f: str, value: Any, **extra: Any) -> dict[str, Any]:
        op = {"index": len(self.ops), "time": len(self.ops) * 1_000_000, "type": typ}
        op.update(process=process, f=f, value=value, **extra)
        self.ops.append(op)
        return op

    def pair(
        self, process: int, f: str, invoked: Any, done: Any, typ: str = "ok"
    ) -> dict[str, Any]:
        self._add(process, "invoke", f, invoked)
        return self._add(process, typ, f, done)

    def send(self, p: int, msg: Any, offset: int | None, typ: str = "ok", key: str = K) -> None:
        done = [Keyword("send"), key, [offset, msg]] if typ == "ok" else [Keyword("send"), key, msg]
        self.pair(p, "send", [[Keyword("send"), key, msg]], [done], typ)

    def poll(self, p: int, msgs: dict[str, list[list[Any]]]) -> None:
        self.pair(p, "poll", [[Keyword("poll")]], [[Keyword("poll"), msgs]])

    def assign(self, p: int, keys: list[str]) -> None:
        self.pair(p, "assign", keys, keys)

    def crash(self, p: int) -> None:
        self.pair(p, "crash", None, None, typ="info")


def base() -> Hist:
    """Three messages a, b, c at offsets 0, 1, 2 of key 7, sent by process 0."""
    h = Hist()
    for off, msg in enumerate("abc"):
        h.send(0, msg, off)
    return h


def errs(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return result[kind]["errs"]


def test_valid_history_passes_with_maelstrom_keys() -> None:
    h = base()
    h.assign(1, [K])
    h.poll(1, {K: [[0, "a"], [1, "b"]]})
    h.poll(1, {K: []})
    h.poll(1, {K: [[2, "c"]]})
    result = kafka.check(h.ops)
    assert list(result) == [
        "valid?",
        "worst-realtime-lag",
        "bad-error-types",
        "error-types",
        "info-txn-causes",
    ]
    assert result["valid?"] is True
    assert result["error-types"] == [] and result["bad-error-types"] == []
    assert result["worst-realtime-lag"]["key"] == K


def test_duplicate_message_at_two_offsets() -> None:
    h = base()
    h.poll(1, {K: [[0, "a"], [1, "b"], [2, "c"], [3, "a"]]})
    result = kafka.check(h.ops)
    assert result["valid?"] is False
    (case,) = errs(result, "duplicate")
    assert case == {"key": K, "value": "a", "count": 2, "offsets": [0, 3]}


def test_inconsistent_offsets() -> None:
    h = Hist()
    h.send(0, "a", 0)
    h.send(1, "b", 0)
    h.poll(2, {K: [[0, "a"]]})
    result = kafka.check(h.ops)
    (case,) = errs(result, "inconsistent-offsets")
    assert case == {"key": K, "offset": 0, "index": 0, "values": {"a", "b"}}


def test_int_poll_skip_and_lost_write() -> None:
    h = base()
    h.poll(1, {K: [[0, "a"], [2, "c"]]})
    result = kafka.check(h.ops)
    (skip,) = errs(result, "int-poll-skip")
    assert skip["key"] == K and skip["values"] == ["a", "c"]
    assert skip["delta"] == 2 and skip["skipped"] == ["b"]
    assert skip["op"].value["index"] == 7
    (lost,) = errs(result, "lost-write")
    assert (lost["key"], lost["value"], lost["index"], lost["max-read-index"]) == (K, "b", 1, 2)
    assert lost["writer"].value["value"] == [["send", K, [1, "b"]]]
    assert lost["max-read"].value["index"] == 7
    assert {"int-poll-skip", "lost-write"} <= set(result["bad-error-types"])


def test_int_nonmonotonic_poll() -> None:
    h = base()
    h.poll(1, {K: [[1, "b"], [0, "a"], [2, "c"]]})
    (case,) = errs(kafka.check(h.ops), "int-nonmonotonic-poll")
    assert case["values"] == ["b", "a"] and case["delta"] == -1


def _multi_send(h: Hist, pairs: list[tuple[int, str]]) -> None:
    h.pair(
        0,
        "send",
        [[Keyword("send"), K, m] for _, m in pairs],
        [[Keyword("send"), K, [o, m]] for o, m in pairs],
    )


def test_int_send_skip_is_allowed_but_reported() -> None:
    h = Hist()
    _multi_send(h, [(0, "a"), (2, "c")])
    h.send(1, "b", 1)
    h.poll(2, {K: [[0, "a"], [1, "b"], [2, "c"]]})
    result = kafka.check(h.ops)
    assert result["valid?"] is True
    assert result["error-types"] == ["int-send-skip"]
    (case,) = errs(result, "int-send-skip")
    assert case["skipped"] == ["b"]


def test_int_nonmonotonic_send() -> None:
    h = Hist()
    _multi_send(h, [(1, "a"), (0, "b")])
    h.poll(2, {K: [[0, "b"], [1, "a"]]})
    (case,) = errs(kafka.check(h.ops), "int-nonmonotonic-send")
    assert case["values"] == ["a", "b"] and case["delta"] == -1


def test_precommitted_read() -> None:
    h = Hist()
    h.pair(
        0,
        "txn",
        [[Keyword("send"), K, "a"], [Keyword("poll")]],
        [[Keyword("send"), K, [0, "a"]], [Keyword("poll"), {K: [[0, "a"]]}]],
    )
    (case,) = errs(kafka.check(h.ops), "precommitted-read")
    assert case["key"] == K and case["value"] == "a"


def test_g1a_poll_of_failed_send() -> None:
    h = Hist()
    h.send(0, "a", None, typ="fail")
    h.poll(1, {K: [[0, "a"]]})
    result = kafka.check(h.ops)
    (case,) = errs(result, "G1a")
    assert case["key"] == K and case["value"] == "a"
    assert case["writer"].value["type"] == "fail" and case["reader"].value["f"] == "poll"


def test_poll_skip_across_consecutive_polls_and_an_empty_poll() -> None:
    h = base()
    h.poll(1, {K: [[0, "a"]]})
    h.poll(1, {K: []})
    h.poll(1, {K: [[2, "c"]]})
    h.poll(2, {K: [[1, "b"]]})
    result = kafka.check(h.ops)
    (case,) = errs(result, "poll-skip")
    assert case["key"] == K and case["delta"] == 2 and case["skipped"] == ["b"]
    assert [op.value["index"] for op in case["ops"]] == [7, 11]
    assert "lost-write" not in result


def test_poll_skip_resets_after_assign_and_crash() -> None:
    h = base()
    h.send(0, "x", 0, key="8")
    h.poll(1, {K: [[0, "a"]]})
    h.assign(1, ["8"])  # drops process 1's position in key 7
    h.poll(1, {K: [[2, "c"]]})
    h.poll(2, {K: [[0, "a"]]})
    h.crash(2)
    h.poll(2, {K: [[2, "c"]]})
    h.poll(3, {K: [[1, "b"]], "8": [[0, "x"]]})
    result = kafka.check(h.ops)
    assert result["valid?"] is True, dumps(result)


def test_nonmonotonic_poll() -> None:
    h = base()
    h.poll(1, {K: [[1, "b"]]})
    h.poll(1, {K: [[0, "a"]]})
    h.poll(2, {K: [[2, "c"]]})
    (case,) = errs(kafka.check(h.ops), "nonmonotonic-poll")
    assert case["values"] == ["b", "a"] and case["delta"] == -1


def test_nonmonotonic_send() -> None:
    h = Hist()
    h.send(0, "a", 1)
    h.send(0, "b", 0)
    h.poll(1, {K: [[0, "b"], [1, "a"]]})
    (case,) = errs(kafka.check(h.ops), "nonmonotonic-send")
    assert case["key"] == K and case["values"] == ["a", "b"] and case["delta"] == -1
    assert [op.value["index"] for op in case["ops"]] == [1, 3]


def test_unseen_acknowledged_sends() -> None:
    h = base()
    h.send(0, "d", 0, key="8")
    h.poll(1, {K: [[0, "a"]]})
    result = kafka.check(h.ops)
    assert result["valid?"] is False
    assert result["unseen"] == {
        "time": result["unseen"]["time"],
        "unseen": {K: 2, "8": 1},
        "messages": {K: ["b", "c"], "8": ["d"]},
    }


def test_future_read_is_a_realtime_cycle() -> None:
    h = Hist()
    h.poll(1, {K: [[0, "a"]]})
    h.send(0, "a", 0)
    h.send(0, "b", 1)
    h.poll(1, {K: [[1, "b"]]})
    result = kafka.check(h.ops)
    (case,) = errs(result, "G1c-realtime")
    assert [op.value["index"] for op in case["cycle"]] == [3, 1, 3]
    assert case["steps"][0] == {"type": "wr", "key": K, "value": "a"}


def test_suspicious_but_unprovable_history_passes() -> None:
    h = Hist()
    h.send(0, "a", 0)
    h.send(0, "b", None, typ="info")  # may never have happened; nobody saw it
    h.send(0, "c", 2)
    # Gap in offsets (offset 1 is unknown): a consumer jumping 0 -> 2 skipped nothing known.
    h.poll(1, {K: [[0, "a"]]})
    h.poll(1, {K: [[2, "c"]]})
    # A fresh consumer resumes mid-log after assign (committed offsets are not in the history).
    h.assign(2, [K])
    h.poll(2, {K: [[2, "c"]]})
    result = kafka.check(h.ops)
    assert result["valid?"] is True, dumps(result)
    assert result["info-txn-causes"] == [None]


def test_empty_transaction_graph_invalidates() -> None:
    h = Hist()
    h.send(0, "a", None, typ="info")
    result = kafka.check(h.ops)
    assert result["valid?"] is False
    assert result["empty-transaction-graph"] == {"count": 1, "errs": True}


def test_truncation_keeps_the_largest_skips() -> None:
    h = Hist()
    for off in range(40):
        h.send(0, off, off)
    h.poll(1, {K: [[o, o] for o in range(0, 40, 2)]})
    h.poll(2, {K: [[o, o] for o in range(40)]})
    result = kafka.check(h.ops)
    assert result["int-poll-skip"]["count"] == 19
    assert len(errs(result, "int-poll-skip")) == 8


_TOKEN = re.compile(
    r'\s+|,|(?P<open>[\[{(])|(?P<close>[\]})])|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<kw>:[^\s,\[\]{}()]+)|(?P<atom>[^\s,\[\]{}()]+)"
)
_ATOMS = {"nil": None, "true": True, "false": False}


def read_edn_line(line: str) -> Any:
    """A small EDN reader for history lines (maps, vectors, lists, strings, keywords, numbers);
    edn_format takes seconds on a whole history."""
    stack: list[tuple[str, list[Any]]] = [("[", [])]
    for m in _TOKEN.finditer(line):
        kind = m.lastgroup
        text = m.group()
        if kind == "open":
            stack.append((text, []))
        elif kind == "close":
            opener, items = stack.pop()
            value: Any = dict(zip(items[::2], items[1::2], strict=True)) if opener == "{" else items
            stack[-1][1].append(value)
        elif kind == "str":
            stack[-1][1].append(json.loads(text))
        elif kind == "kw":
            stack[-1][1].append(Keyword(text[1:]))
        elif kind == "atom":
            if text in _ATOMS:
                stack[-1][1].append(_ATOMS[text])
            else:
                stack[-1][1].append(float(text) if "." in text or "E" in text else int(text))
    return stack[0][1][0]


def load_history(path: Path) -> list[dict[str, Any]]:
    """A Maelstrom history.edn as design.md ops (type/f plain str, keywords in values)."""
    ops = []
    for line in path.read_text().splitlines():
        if line.strip():
            op = {str(k): v for k, v in read_edn_line(line).items()}
            op["type"], op["f"] = str(op["type"]), str(op["f"])
            if op["process"] == "nemesis":
                op["process"] = "nemesis"
            ops.append(op)
    return ops


def test_edn_line_reader_agrees_with_edn_format() -> None:
    edn_format = pytest.importorskip("edn_format")
    line = '{:index 3, :type :ok, :value [[:poll {"9" [[0 1] [1 2]]}]], :error nil, :x -1.5}'
    ours = read_edn_line(line)
    ref = edn_format.loads(line)
    assert ours["value"] == [["poll", {"9": [[0, 1], [1, 2]]}]]
    assert ours["index"] == ref[edn_format.Keyword("index")] and ours["x"] == -1.5
    assert ours["error"] is None and isinstance(ours["type"], Keyword)


def test_real_maelstrom_kafka_run_matches_its_results() -> None:
    runs = sorted(RUNS.glob("kafka-1node-pass/store/kafka/*/history.edn"))
    if not runs:
        pytest.skip("maelstrom-runs corpus not present")
    history = load_history(runs[0])
    # The results.edn :workload of that run, verbatim. That (2023) Maelstrom did not report
    # unseen messages, so compare with unseen left out...
    assert dumps(kafka.check(history, unseen=False)) == (
        '{:valid? true, :worst-realtime-lag {:time 0.074950273, :process 2, :key "9", '
        ":lag 0.0}, :bad-error-types (), :error-types (), :info-txn-causes ()}"
    )
    # ...because the run has acknowledged sends no poll ever returned: its final polls came
    # back empty. E.g. key "47": offset 6 (message 7) was polled, offsets 7..12 never were.
    result = kafka.check(history)
    assert result["bad-error-types"] == ["unseen"]
    assert result["unseen"]["unseen"] == {"31": 2, "46": 1, "47": 6}
    assert result["unseen"]["messages"]["47"] == [8, 9, 10, 11, 12, 13]
