"""The lin-kv checker: per-key CAS-register linearizability (WGL search, Knossos-style report).

Hand-built histories that must fail (stale read, impossible cas, lost write, a value read
twice from one write) and must pass (several valid orders, open ops that did or did not
happen); the search agrees with a brute-force oracle on small random histories; the real
Maelstrom lin-kv runs are re-checked and agree with their results.edn.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glome.edn import UNKNOWN, Keyword, Tagged, dumps
from glome.sim.checkers import linearizable, workload_checker
from glome.sim.checkers.linearizable import check, explain, register_ops, wgl
from glome.sim.workloads.lin_kv import write_independent


class H:
    """A history builder: ``h.invoke(p, f, v)`` / ``h.ok(p, v)`` / ``h.info(p)`` / ``h.fail(p)``,
    values given without the key (``key`` wraps them), times equal to indices."""

    def __init__(self, key: Any = 0) -> None:
        self.ops: list[dict[str, Any]] = []
        self.key = key
        self.open: dict[int, dict[str, Any]] = {}

    def add(self, type_: str, p: int, f: str, v: Any, **extra: Any) -> H:
        i = len(self.ops)
        op = {"index": i, "time": i * 1000, "type": type_, "process": p, "f": f}
        op["value"] = [self.key, v]
        self.ops.append({**op, **extra})
        return self

    def invoke(self, p: int, f: str, v: Any = None) -> H:
        self.open[p] = {"f": f, "v": v}
        return self.add("invoke", p, f, v)

    def ok(self, p: int, v: Any = "same") -> H:
        inv = self.open.pop(p)
        return self.add("ok", p, inv["f"], inv["v"] if v == "same" else v)

    def info(self, p: int) -> H:
        inv = self.open.pop(p)
        return self.add("info", p, inv["f"], inv["v"], error=Keyword("net-timeout"))

    def fail(self, p: int) -> H:
        inv = self.open.pop(p)
        return self.add("fail", p, inv["f"], inv["v"])

    def done(self, p: int, f: str, v: Any = None, result: Any = "same") -> H:
        """A whole op, invoked and completed ok before anything else happens."""
        return self.invoke(p, f, v).ok(p, result)


def unkeyed(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One key's history as the register checker takes it: values without the key."""
    return [{**op, "value": op["value"][1]} for op in history]


def verdict(h: H) -> Any:
    return check(h.ops)["valid?"]


def lin(h: H, key: Any = 0) -> dict[str, Any]:
    return check(h.ops)["results"][key]["linearizable"]


# ------------------------------------------------------------------------ must fail
def test_stale_read_after_a_completed_write() -> None:
    h = H().done(0, "write", 1).done(1, "write", 2).done(2, "read", None, 1)
    result = check(h.ops)
    assert result["valid?"] is False and result["failures"] == [0]
    r = result["results"][0]["linearizable"]
    assert r["op"] == {
        "process": 2,
        "type": Keyword("ok"),
        "f": Keyword("read"),
        "value": 1,
        "index": 5,
        "time": 5000,
    }
    assert r["previous-ok"]["f"] == "write" and r["previous-ok"]["value"] == 2
    assert r["last-op"]["value"] == 2
    (config,) = r["configs"]
    assert config["model"] == Tagged("knossos.model.CASRegister", {"value": 2})
    assert config["pending"][0]["type"] == "invoke" and config["pending"][0]["value"] == 1
    msg = r["final-paths"][0][-1]["model"]
    assert msg == Tagged("knossos.model.Inconsistent", {"msg": "can't read 1 from register 2"})


def test_cas_success_from_a_value_that_cannot_be_current() -> None:
    h = H().done(0, "write", 1).done(1, "cas", [3, 4])
    r = lin(h)
    assert r["valid?"] is False
    assert r["op"]["f"] == "cas" and r["op"]["value"] == [3, 4]
    assert r["final-paths"][0][-1]["model"].value == {"msg": "can't CAS 1 from 3 to 4"}


def test_lost_write() -> None:
    # the write of 3 was acknowledged, then reads keep seeing the value before it
    h = H().done(0, "write", 1).done(1, "write", 3).done(2, "read", None, 1)
    h.done(0, "read", None, 1)
    assert verdict(h) is False


def test_one_write_cannot_be_read_on_both_sides_of_another() -> None:
    h = H().invoke(0, "write", 1).invoke(1, "write", 2)
    h.ok(0).ok(1)
    h.done(2, "read", None, 1).done(2, "read", None, 2).done(2, "read", None, 1)
    assert verdict(h) is False


def test_info_write_takes_effect_at_most_once() -> None:
    h = H().done(0, "write", 0).invoke(1, "write", 3).info(1)
    h.done(2, "read", None, 3).done(2, "read", None, 0)
    assert verdict(h) is False


def test_failed_ops_did_not_happen() -> None:
    h = H().done(0, "write", 1).invoke(1, "write", 5).fail(1).done(2, "read", None, 5)
    assert verdict(h) is False
    h = H().done(0, "write", 1).invoke(1, "cas", [1, 5]).fail(1).done(2, "read", None, 5)
    assert verdict(h) is False


def test_values_compare_as_clojure_does() -> None:
    assert verdict(H().done(0, "write", 4).done(1, "read", None, "4")) is False
    assert verdict(H().done(0, "write", 1).done(1, "read", None, True)) is False
    assert verdict(H().done(0, "write", 1).done(1, "read", None, 1.0)) is False


# ------------------------------------------------------------------------ must pass
def test_concurrent_writes_allow_either_order() -> None:
    for seen in ([1, 2], [2, 1], [2, 2]):
        h = H().invoke(0, "write", 1).invoke(1, "write", 2)
        h.invoke(2, "read").ok(2, seen[0])
        h.ok(0).ok(1)
        h.done(2, "read", None, seen[1])
        assert verdict(h) is True, seen


def test_read_concurrent_with_a_cas_sees_before_or_after() -> None:
    for seen in (1, 2):
        h = H().done(0, "write", 1).invoke(1, "cas", [1, 2]).invoke(2, "read").ok(2, seen)
        h.ok(1).done(2, "read", None, 2)
        assert verdict(h) is True


def test_info_ops_may_or_may_not_have_happened() -> None:
    happened = H().done(0, "write", 0).invoke(1, "cas", [0, 3]).info(1)
    happened.done(2, "read", None, 0).done(2, "read", None, 3)
    assert verdict(happened) is True
    never = H().done(0, "write", 0).invoke(1, "write", 3).info(1)
    never.done(2, "read", None, 0).done(2, "read", None, 0)
    assert verdict(never) is True
    unfinished = H().done(0, "write", 0).invoke(1, "write", 4)  # no completion at all
    unfinished.done(2, "read", None, 4)
    assert verdict(unfinished) is True


def test_alike_open_writes_can_each_take_effect_once() -> None:
    def history(twins: int) -> H:
        h = H()
        for p in range(twins):  # identical open writes, interchangeable for the search
            h.invoke(10 + p, "write", 1).info(10 + p)
        h.done(0, "read", None, 1).done(0, "write", 2).done(0, "read", None, 2)
        return h.done(0, "read", None, 1)  # needs a second write of 1

    assert verdict(history(1)) is False
    assert verdict(history(2)) is True
    assert verdict(history(12)) is True


def test_info_read_and_nil_read_constrain_nothing() -> None:
    h = H().done(0, "write", 2).invoke(1, "read").info(1).done(2, "read", None, None)
    assert verdict(h) is True


def test_valid_result_shape() -> None:
    h = H().done(0, "write", 2).invoke(1, "write", 3).info(1).done(2, "read", None, 2)
    r = lin(h)
    assert r["valid?"] is True and r["final-paths"] == []
    (config,) = r["configs"]
    assert config["model"] == Tagged("knossos.model.CASRegister", {"value": 2})
    assert config["last-op"]["f"] == "read"
    assert [p["value"] for p in config["pending"]] == [3]  # the open write, not linearized


def test_empty_history_is_valid() -> None:
    assert check([]) == {"valid?": True, "results": {}, "failures": []}


# ------------------------------------------------------------------ keys, bounds, errors
def test_keys_are_checked_independently() -> None:
    bad = H(key=1).done(0, "write", 1).done(1, "read", None, 2)
    good = H(key=0).done(2, "write", 1).done(3, "read", None, 1)
    nemesis = {"index": 99, "time": 0, "type": "info", "process": "nemesis", "f": "start"}
    result = check([*bad.ops, nemesis, *good.ops])
    assert result["valid?"] is False and result["failures"] == [1]
    assert list(result["results"]) == [0, 1]
    assert result["results"][0]["valid?"] is True
    assert result["results"][1]["timeline"] == {"valid?": True}
    assert "#knossos.model.CASRegister{:value 1}" in dumps(result)


def test_search_budget_gives_unknown_not_a_hang() -> None:
    h = H()
    for p in range(8):  # many concurrent writes, then a read no order can explain
        h.invoke(p, "write", p)
    for p in range(8):
        h.ok(p)
    h.done(20, "read", None, 99)
    r = check(h.ops, max_steps=50)
    assert r["valid?"] == UNKNOWN and r["failures"] == []
    assert "budget" in r["results"][0]["linearizable"]["cause"]
    assert check(h.ops)["valid?"] is False


def test_total_time_budget_leaves_keys_unknown() -> None:
    h = H(key=0).done(0, "write", 1)
    r = check(h.ops, total_time_limit=0)
    assert r["valid?"] == UNKNOWN and r["failures"] == []
    assert "budget for all keys" in r["results"][0]["linearizable"]["cause"]


def test_explanation_falls_back_when_configurations_explode() -> None:
    h = H().done(0, "write", 0)
    for p in range(1, 9):
        h.invoke(p, "write", p).info(p)
    h.done(20, "read", None, 99)
    ops, entries = register_ops(unkeyed(h.ops))
    assert explain(ops, entries, max_configs=5) is None
    r = linearizable.check_register(unkeyed(h.ops), max_configs=5)  # explain gives up too
    assert r["valid?"] is False and r["op"]["value"] == 99
    # still Knossos's shape: the search's stuck configuration and its final paths
    assert list(r) == ["valid?", "configs", "final-paths", "previous-ok", "last-op", "op"]
    assert r["previous-ok"]["index"] == 1 and r["last-op"] is not None
    assert r["final-paths"] and all(
        p[-1]["model"].tag == "knossos.model.Inconsistent" for p in r["final-paths"]
    )


def test_bad_histories_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="key value"):
        check([{"index": 0, "time": 0, "type": "invoke", "process": 0, "f": "read", "value": 3}])
    h = H().done(0, "append", 1)
    with pytest.raises(ValueError, match="unknown :f"):
        check(h.ops)
    with pytest.raises(ValueError, match=r"\[from to\]"):
        check(H().done(0, "cas", 3).ops)


def test_registered_as_the_lin_kv_checker() -> None:
    assert workload_checker("lin-kv") is linearizable.check


def test_check_is_pure_and_the_workload_writes_independent_files(tmp_path: Path) -> None:
    h = H(key=3).done(0, "write", 1).done(1, "read", None, 2)
    result = check(h.ops, store_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the checker wrote nothing
    write_independent(tmp_path, h.ops, result)
    assert (
        (tmp_path / "independent" / "3" / "results.edn")
        .read_text()
        .startswith("{:linearizable {:valid? false")
    )
    lines = (tmp_path / "independent" / "3" / "history.edn").read_text().splitlines()
    assert lines[0] == "{:index 0, :time 0, :type :invoke, :process 0, :f :write, :value 1}"


# ------------------------------------------------------------------ against an oracle
def brute_force(history: list[dict[str, Any]]) -> bool:
    """Linearizable iff some order of all ok ops plus any subset of open updates respects
    real time and the register: the definition, tried exhaustively."""
    ops, _ = register_ops(history)
    pos = {id(op): i for i, op in enumerate(history)}
    must = [o for o in ops if o.complete is not None]
    optional = [o for o in ops if o.complete is None]

    def before(a: Any, b: Any) -> bool:  # a must precede b
        return a.complete is not None and pos[id(a.complete)] < pos[id(b.invoke)]

    for k in range(len(optional) + 1):
        for extra in itertools.combinations(optional, k):
            for order in itertools.permutations([*must, *extra]):
                if any(before(b, a) for i, a in enumerate(order) for b in order[i + 1 :]):
                    continue
                state: Any = None
                for o in order:
                    ok, state = linearizable.step(state, o)
                    if not ok:
                        break
                else:
                    return True
    return False


@st.composite
def small_histories(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 6))
    events: list[tuple[int, int, str]] = []
    specs = []
    for p in range(n):
        f = draw(st.sampled_from(["read", "write", "cas"]))
        v: Any = None
        if f == "write":
            v = draw(st.integers(0, 2))
        elif f == "cas":
            v = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
        end = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail", "open"]))
        result = draw(st.sampled_from([0, 1, 2, None])) if f == "read" else "same"
        start = draw(st.integers(0, 20))
        length = draw(st.integers(1, 10))
        specs.append((f, v, end, result))
        events.append((start, 0, f"i{p}"))
        if end != "open":
            events.append((start + length, 1, f"c{p}"))
    h = H()
    for _, _, name in sorted(events):
        p = int(name[1:])
        f, v, end, result = specs[p]
        if name[0] == "i":
            h.invoke(p, f, v)
        elif end == "ok":
            h.ok(p, result)
        else:
            getattr(h, end)(p)
    return h.ops


@settings(max_examples=200, deadline=None)
@given(small_histories())
def test_search_agrees_with_brute_force(history: list[dict[str, Any]]) -> None:
    expected = brute_force(unkeyed(history))
    assert (check(history)["valid?"] is True) == expected
    ops, entries = register_ops(unkeyed(history))
    assert (explain(ops, entries) is None) == expected  # the explanation finds the same
    assert wgl(ops, entries).valid is expected


# ------------------------------------------------------------------- the real corpus
from helpers.corpus import CORPUS, edn_format, load_history, load_results, to_py  # noqa: E402


def corpus_runs() -> list[Path]:
    return sorted(CORPUS.glob("lin-kv-*/store/lin-kv/*/results.edn")) if CORPUS.is_dir() else []


def load(results: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return load_history(results.parent / "history.edn"), load_results(results)


@pytest.mark.skipif(not corpus_runs(), reason=f"no Maelstrom lin-kv runs at {CORPUS}")
@pytest.mark.parametrize("results", corpus_runs(), ids=lambda p: p.parts[-5])
def test_corpus_verdicts_agree(results: Path) -> None:
    history, real = load(results)
    ours = to_py(edn_format.loads(dumps(check(history))))
    real_w = real["workload"]
    assert ours["valid?"] == real_w["valid?"]
    assert ours["failures"] == real_w["failures"]
    assert sorted(ours["results"]) == sorted(real_w["results"])
    for k, r in real_w["results"].items():
        assert ours["results"][k]["valid?"] == r["valid?"], k
        assert ours["results"][k]["timeline"] == r["timeline"]
        if r["valid?"] is False:  # the explanation is Knossos's, field for field
            assert ours["results"][k]["linearizable"] == r["linearizable"]
            assert list(ours["results"][k]["linearizable"]) == list(r["linearizable"])


def test_corpus_nonlinearizable_run_is_there() -> None:
    names = {p.parts[-5] for p in corpus_runs()}
    if not names:
        pytest.skip("no corpus")
    assert {"lin-kv-1node-nonlinearizable", "lin-kv-3node-pass"} <= names


@pytest.mark.skipif(not corpus_runs(), reason=f"no Maelstrom lin-kv runs at {CORPUS}")
@pytest.mark.parametrize("results", corpus_runs(), ids=lambda p: p.parts[-5])
def test_corpus_independent_files_agree(results: Path, tmp_path: Path) -> None:
    """The lin-kv workload's ``independent/<k>/`` files, against the real run's: the same
    per-key histories op for op (byte for byte from Jepsen 0.3 on), and the same per-key results (Knossos's report in full
    where the key is invalid), with models untagged as Maelstrom prints them there."""
    history, _ = load(results)
    write_independent(tmp_path, history, check(history))
    real_dirs = sorted((results.parent / "independent").iterdir())
    assert sorted(d.name for d in (tmp_path / "independent").iterdir()) == sorted(
        d.name for d in real_dirs
    )
    for real in real_dirs:
        ours = tmp_path / "independent" / real.name
        mine_lines = (ours / "history.edn").read_text().splitlines()
        real_lines = (real / "history.edn").read_text().splitlines()
        assert [to_py(edn_format.loads(x)) for x in mine_lines] == [
            to_py(edn_format.loads(x)) for x in real_lines
        ]
        if real_lines and real_lines[0].startswith("{:index"):  # Jepsen 0.3's key order
            assert mine_lines == real_lines
        text = (ours / "results.edn").read_text()
        assert "#knossos" not in text
        mine, theirs = to_py(edn_format.loads(text)), load_results(real / "results.edn")
        assert mine["valid?"] == theirs["valid?"] and list(mine) == list(theirs)
        if theirs["valid?"] is False:
            assert mine == theirs
