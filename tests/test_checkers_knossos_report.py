"""Knossos-grade reports for a lin-kv key that is not linearizable: ``:op``, ``:previous-ok``,
``:last-op``, ``:configs`` and distinct ``:final-paths`` through the pending operations."""

from __future__ import annotations

import time
from typing import Any

from glome.edn import Keyword, Tagged
from glome.sim.checkers.knossos_report import REPORT_LIMIT
from glome.sim.checkers.linearizable import check


class H:
    """Ops of key 0 one at a time; ``index`` and ``time`` are the position."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []
        self.calls: dict[int, tuple[str, Any]] = {}

    def _add(self, type_: str, p: int, f: str, v: Any) -> H:
        i = len(self.ops)
        self.ops.append(
            {"index": i, "time": i, "type": type_, "process": p, "f": f, "value": [0, v]}
        )
        return self

    def invoke(self, p: int, f: str, v: Any = None) -> H:
        self.calls[p] = (f, v)
        return self._add("invoke", p, f, v)

    def ok(self, p: int, v: Any = "same") -> H:
        f, called = self.calls.pop(p)
        return self._add("ok", p, f, called if v == "same" else v)


def report(h: H) -> dict[str, Any]:
    result = check(h.ops)
    assert result["valid?"] is False
    lin: dict[str, Any] = result["results"][0]["linearizable"]
    return lin


def shape(path: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """A path as (op index, op type, register value or refusal message) per step."""
    out = []
    for t in path:
        m: Tagged = t["model"]
        shown = m.value["msg"] if m.tag == "knossos.model.Inconsistent" else m.value["value"]
        out.append((t["op"]["index"], str(t["op"]["type"]), shown))
    return out


def test_final_paths_are_distinct_and_go_through_pending_ops() -> None:
    # write 2 stays open across write 1, so after write 1 completes the register may have
    # taken write 2 before it (a config with nothing pending) or not yet (write 2 pending)
    h = H().invoke(1, "write", 2).invoke(0, "write", 1).ok(0)
    h.invoke(2, "read").ok(2, 3)  # no order of the writes gives 3
    r = report(h)
    assert len(r["configs"]) == 2
    paths = [shape(p) for p in r["final-paths"]]
    assert paths == [
        [(2, "ok", 1), (4, "ok", "can't read 3 from register 1")],
        [(2, "ok", 1), (0, "invoke", 2), (4, "ok", "can't read 3 from register 2")],
    ]
    assert r["op"]["index"] == 4 and r["previous-ok"]["index"] == 2
    assert r["last-op"]["index"] == 2
    assert r["op"]["type"] == Keyword("ok") and r["op"]["value"] == 3


def test_a_path_may_end_at_a_pending_op_the_register_refuses() -> None:
    h = H().invoke(0, "write", 1).ok(0).invoke(1, "cas", [5, 6])
    h.invoke(2, "read").ok(2, 7)
    paths = [shape(p) for p in report(h)["final-paths"]]
    assert [(1, "ok", 1), (2, "invoke", "can't CAS 1 from 5 to 6")] in paths
    assert [(1, "ok", 1), (4, "ok", "can't read 7 from register 1")] in paths
    assert len(paths) == 2


def test_last_op_is_the_latest_of_the_configs_last_ops() -> None:
    h = H().invoke(1, "write", 2).invoke(0, "write", 1).ok(0).ok(1)
    h.invoke(2, "read").ok(2, 3)
    r = report(h)
    lasts = sorted(c["last-op"]["index"] for c in r["configs"])
    assert lasts == [2, 3]  # write 1 then 2, or write 2 before write 1
    assert r["last-op"]["index"] == 3 and r["previous-ok"]["index"] == 3
    paths = sorted(shape(p) for p in r["final-paths"])
    assert paths == [
        [(2, "ok", 1), (5, "ok", "can't read 3 from register 1")],
        [(3, "ok", 2), (5, "ok", "can't read 3 from register 2")],
    ]


def test_many_pending_ops_give_at_most_ten_paths_shortest_first_and_quickly() -> None:
    h = H().invoke(0, "write", 0).ok(0)
    for p in range(1, 9):
        h.invoke(p, "write", p)  # eight writes that never complete: 2^8 pending sets
    h.invoke(20, "read").ok(20, 99)
    started = time.process_time()
    r = report(h)
    assert time.process_time() - started < 5
    paths = [shape(p) for p in r["final-paths"]]
    assert len(paths) == REPORT_LIMIT
    assert len({tuple(p) for p in paths}) == REPORT_LIMIT
    assert [len(p) for p in paths] == sorted(len(p) for p in paths)
    assert all(p[-1][2] == f"can't read 99 from register {p[-2][2]}" for p in paths)


def test_final_path_without_a_last_op_starts_at_the_failing_op() -> None:
    r = report(H().invoke(0, "read").ok(0, 5))
    assert r["last-op"] is None and r["previous-ok"] is None
    assert [shape(p) for p in r["final-paths"]] == [[(1, "ok", "can't read 5 from register ")]]
