"""analysis.load on the real corpus (figures checked against results.edn) and on a hand-written
glome-style store directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.glome_store import GLOME_HISTORY, GLOME_RESULTS, make_glome_store
from helpers.paths import maelstrom_runs

import analysis
from analysis.load import find_runs, load, resolve_run_dir

RUNS = maelstrom_runs()
CORPUS = [p.name for p in sorted(RUNS.iterdir()) if p.is_dir()] if RUNS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS, reason="../shared/maelstrom-runs is absent")

_CACHE: dict[str, analysis.Run] = {}


def corpus_run(name: str) -> analysis.Run:
    if name not in _CACHE:
        _CACHE[name] = load(RUNS / name)
    return _CACHE[name]


def _raw(run: analysis.Run, *path: str) -> Any:
    value: Any = run.raw_results
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


# --- every corpus run ------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_run_loads_and_agrees_with_results_edn(name: str) -> None:
    run = corpus_run(name)
    assert run.path.parent.parent.name == "store"
    for frame in (
        run.ops,
        run.history,
        run.results,
        run.net,
        run.anomalies,
        run.nemesis,
        run.messages,
        run.node_logs,
    ):
        assert frame is not None
    if run.raw_results is None:
        assert any("results.edn is missing" in m for m in run.missing)
        return
    # validity of every checker, as results.edn says
    checks = dict(zip(run.results["checker"], run.results["valid"], strict=True))
    for checker, sub in run.raw_results.items():
        if isinstance(sub, dict) and "valid?" in sub:
            expected = sub["valid?"] if isinstance(sub["valid?"], bool) else "unknown"
            assert checks[str(checker)] == expected, checker
    assert run.valid == (
        run.raw_results["valid?"] if isinstance(run.raw_results["valid?"], bool) else "unknown"
    )
    # network figures
    net = run.net.set_index("group")
    for group in ("all", "clients", "servers"):
        raw = _raw(run, "net", group)
        assert net.loc[group, "msg_count"] == raw["msg-count"]
        if "msgs-per-op" in raw:
            assert net.loc[group, "msgs_per_op"] == pytest.approx(raw["msgs-per-op"])
        assert run.figures[f"net.{group}.msg-count"] == raw["msg-count"]
    # the ops frame counts what :stats counts (completed client ops, nemesis excluded)
    stats = _raw(run, "stats")
    done = run.client_ops[run.client_ops["type"] != "incomplete"]
    assert len(done) == stats["count"]
    assert (done["type"] == "ok").sum() == stats["ok-count"]
    assert (done["type"] == "fail").sum() == stats["fail-count"]
    assert (done["type"] == "info").sum() == stats["info-count"]
    for f, by_f in (stats.get("by-f") or {}).items():
        assert (done["f"] == str(f)).sum() == by_f["count"], f
    # messages.svg shows every delivered message except init/init_ok (2 per node)
    svg = run.path / "messages.svg"
    if svg.exists() and "Additional network events" not in svg.read_text():
        nodes = len(list((run.path / "node-logs").glob("*.log")))
        assert len(run.messages) == _raw(run, "net", "all", "recv-count") - 2 * nodes


@needs_corpus
@pytest.mark.parametrize("name", [n for n in CORPUS if n.startswith("broadcast")])
def test_broadcast_lost_and_stale_counts(name: str) -> None:
    run = corpus_run(name)
    kinds = run.anomalies["kind"].value_counts()
    assert kinds.get("lost", 0) == run.figures["workload.lost-count"]
    assert kinds.get("stale", 0) == run.figures["workload.stale-count"]
    assert kinds.get("never-read", 0) == run.figures["workload.never-read-count"]
    lost = run.anomalies[run.anomalies["kind"] == "lost"]
    assert sorted(lost["key"]) == sorted(_raw(run, "workload", "lost"))
    assert lost["invalidating"].all()


@needs_corpus
def test_figures_quoted_in_provenance() -> None:
    run = corpus_run("broadcast-5node-partition-fail")
    assert run.figures["net.servers.msgs-per-op"] == pytest.approx(5.029851)
    assert run.figures["workload.lost-count"] == 6
    assert run.figures["workload.stable-latencies.0.95"] == 29004
    assert run.valid is False
    assert len(run.nemesis) >= 1 and (run.nemesis["stop_s"] > run.nemesis["start_s"]).all()
    eff = corpus_run("broadcast-25node-efficiency-pass")
    assert eff.figures["net.servers.msgs-per-op"] == pytest.approx(27.874565)
    assert eff.figures["workload.stable-latencies.0.5"] == 450


@needs_corpus
def test_anomalies_of_other_workloads() -> None:
    ids = corpus_run("unique-ids-1node-fail").anomalies
    assert ids[["kind", "key"]].values.tolist() == [["duplicated-id", ""]]
    assert ids["details"].iloc[0] == {"count": 42}
    lin = corpus_run("lin-kv-1node-nonlinearizable").anomalies
    assert lin["kind"].tolist() == ["nonlinearizable"] and lin["key"].tolist() == [0]
    assert lin["details"].iloc[0]["inconsistent"]
    txn = corpus_run("txn-rw-register-1node-fail").anomalies
    assert txn["kind"].tolist() == ["empty-transaction-graph"]
    assert corpus_run("kafka-1node-pass").anomalies.empty
    assert corpus_run("broadcast-1node-pass").anomalies.empty


@needs_corpus
def test_crashed_run_states_the_crash_reason() -> None:
    run = corpus_run("echo-crashed-no-results")
    assert run.valid is None and run.ops.empty and run.raw_results is None
    assert run.crash_reason and "ImportError" in run.crash_reason
    text = " ".join(run.missing)
    assert "results.edn is missing: the test crashed before analysis" in text
    assert "history.edn is missing" in text
    assert "ImportError" in run.summary()
    assert len(run.node_logs) > 0


@needs_corpus
def test_unfinished_analysis_is_stated() -> None:
    run = corpus_run("kafka-2node-no-results")
    assert run.valid is None
    assert any("did not finish analysis" in m and "Analyzing" in m for m in run.missing)
    assert len(run.ops) > 16000  # the history is all there
    assert run.net.empty  # no results.edn, no journal, no svg


@needs_corpus
def test_store_dir_without_latest_picks_the_newest_run() -> None:
    store = RUNS / "echo-1node-pass" / "store"
    assert resolve_run_dir(store).name == "20240106T144701.874+0530"
    assert resolve_run_dir(store / "echo") == resolve_run_dir(RUNS / "echo-1node-pass")
    assert len(find_runs(RUNS)) == len(CORPUS)


@needs_corpus
def test_latency_and_times() -> None:
    ops = corpus_run("lin-kv-3node-pass").client_ops
    ok = ops[ops["type"] == "ok"]
    assert (ok["latency_ms"] > 0).all()
    assert (ok["complete_time_s"] >= ok["invoke_time_s"]).all()
    assert set(ops["f"]) <= {"read", "write", "cas"}


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="holds no run directory"):
        load(tmp_path)


# --- a glome-style store directory ----------------------------------------------------------


def test_glome_store_dir_loads(tmp_path: Path) -> None:
    run_dir = make_glome_store(tmp_path)
    run = load(tmp_path / "store" / "latest")
    assert run.path.resolve() == run_dir.resolve()
    assert load(tmp_path / "store").path.resolve() == run_dir.resolve()
    assert run.workload == "broadcast" and run.valid is True
    assert run.missing == [] and run.problems == []
    assert run.options["node-count"] in (2, "2")
    ops = run.client_ops
    assert ops["f"].tolist() == ["broadcast", "read", "read"]
    assert ops["type"].tolist() == ["ok", "info", "ok"]
    assert ops["latency_ms"].tolist() == pytest.approx([5.0, 1.0, 2.0])
    assert ops["error"].tolist()[1] == "net-timeout"
    assert ops["final"].tolist() == [False, False, True]
    # nemesis: one partition window from the first start half to the heal's completion
    (window,) = run.nemesis.itertuples()
    assert (window.fault, window.start_s, window.stop_s) == ("partition", 0.001, 3.0001)
    assert window.target == "one" and window.detail == ["isolated", {"n0": ["n1"], "n1": ["n0"]}]
    # messages from the journal, in send order, with real times
    msgs = run.messages
    assert msgs["id"].tolist() == [0, 1, 2, 3, 4, 5]
    dropped = msgs[msgs["dropped"]]
    assert dropped["type"].tolist() == ["gossip"] and dropped["recv_time_s"].isna().all()
    assert msgs.loc[msgs["id"] == 3, "latency_ms"].item() == pytest.approx(1.0)
    # no :net in results.edn: counted from the journal, Maelstrom's way
    net = run.net.set_index("group")
    assert net.loc["all", "send_count"] == 6 and net.loc["all", "recv_count"] == 5
    assert net.loc["clients", "msg_count"] == 4 and net.loc["servers", "msg_count"] == 2
    assert net.loc["servers", "msgs_per_op"] == pytest.approx(2 / 3)
    assert net["source"].eq("net-journal.jsonl").all()
    assert run.node_logs["node"].tolist() == ["n0", "n0"]
    assert run.anomalies.empty
    assert "broadcast" in run.summary()


def test_glome_store_with_nested_net_layout(tmp_path: Path) -> None:
    results = GLOME_RESULTS.replace(
        ":valid? true}\n",
        ":net {:stats {:all {:send-count 6, :recv-count 5, :msg-count 6, :msgs-per-op 2.0},"
        " :clients {:send-count 4, :recv-count 4, :msg-count 4},"
        " :servers {:send-count 2, :recv-count 1, :msg-count 2, :msgs-per-op 0.6666667}},"
        " :valid? true},\n :valid? true}\n",
    )
    make_glome_store(tmp_path, results=results)
    run = load(tmp_path / "store")
    net = run.net.set_index("group")
    assert net.loc["servers", "msgs_per_op"] == pytest.approx(0.6666667)
    assert net["source"].eq("results.edn").all()


def test_truncated_history_and_missing_results(tmp_path: Path) -> None:
    history = [*GLOME_HISTORY[:4], "{:index 4, :time 8000000, :type :invoke, :proc"]
    make_glome_store(tmp_path, results=None, history=history)
    run = load(tmp_path / "store")
    assert len(run.raw_history) == 4
    assert any("history.edn line 5 is broken" in p for p in run.problems)
    assert any(
        m.startswith("results.edn is missing: the test did not finish analysis")
        for m in run.missing
    )
    assert run.valid is True  # from jepsen.log's verdict line
    assert run.ops["type"].tolist()[:2] == ["info", "ok"]
