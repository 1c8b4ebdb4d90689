"""Compatibility: glome's checkers on real Maelstrom histories reproduce real results.edn.

For each run in ``<repo>/../shared/maelstrom-runs`` of a workload these checkers cover, the
real ``history.edn`` is converted to glome's op format and re-checked; the workload, stats,
availability and exceptions results must equal the real ``results.edn`` values (after both are
read with the same EDN reader), and ``:net`` is reproduced from a journal with the real counts.
Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import corpus
from helpers.corpus import CORPUS, edn_format, parse_op_line, to_op, to_py

from glome.edn import dumps
from glome.sim.checkers import (
    availability,
    compose,
    list_append,
    net,
    perf,
    stats,
    txn,
    workload_checker,
)

WORKLOADS = ("echo", "unique-ids", "broadcast", "g-set", "g-counter", "pn-counter")


def _runs() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = []
    for results in sorted(CORPUS.glob("*/store/*/*/results.edn")):
        if results.parent.parent.name in WORKLOADS:
            found.append(results.parent)
    return found


RUNS = _runs()
pytestmark = pytest.mark.skipif(not RUNS, reason=f"no Maelstrom corpus at {CORPUS}")


def load_history(run: Path) -> list[dict[str, Any]]:
    return corpus.load_history(run / "history.edn")


def load_results(run: Path) -> dict[str, Any]:
    return corpus.load_results(run / "results.edn")


def reread(value: Any) -> Any:
    """Our result as the same reader sees it: dumps, then parse like results.edn."""
    return to_py(edn_format.loads(dumps(value)))


def availability_target(run: Path) -> str | float | None:
    log = (run / "jepsen.log").read_text(errors="replace")
    m = re.search(r":availability ([^,}\s]+)", log)
    if m is None or m.group(1) == "nil":
        return None
    return "total" if m.group(1) == ":total" else float(m.group(1))


def run_id(run: Path) -> str:
    return run.parts[-4]


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_workload_result_matches(run: Path) -> None:
    workload = run.parent.name
    ours = reread(workload_checker(workload)(load_history(run)))
    real = load_results(run)["workload"]
    assert ours == real
    assert list(ours) == list(real)  # same key order too


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_stats_and_availability_match(run: Path) -> None:
    history = load_history(run)
    real = load_results(run)
    assert reread(stats.check(history)) == real["stats"]
    if "availability" in real:
        ours = availability.check(history, availability=availability_target(run))
        assert reread(ours) == real["availability"]


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_exceptions_and_perf_match(run: Path) -> None:
    history = load_history(run)
    real = load_results(run)
    ours = reread(stats.check_exceptions(history))
    assert list(ours) == list(real["exceptions"])
    for mine, theirs in zip(
        ours.get("exceptions", []), real["exceptions"].get("exceptions", []), strict=True
    ):
        assert mine["count"] == theirs["count"] and mine["class"] == theirs["class"]
        assert mine["example"] == theirs["example"]
    mine_perf = reread(perf.check(history))
    assert {k: v for k, v in mine_perf.items() if k != perf.LATENCY_QUANTILES_KEY} == real["perf"]


def _journal_like(counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Message records with the given client/server send and receive counts."""
    records: list[dict[str, Any]] = []
    for part, src, dest in (("clients", "c1", "n0"), ("servers", "n0", "n1")):
        for i in range(counts[part]["send-count"]):
            delivered = i < counts[part]["recv-count"]
            records.append(
                {
                    "id": len(records),
                    "src": src,
                    "dest": dest,
                    "body": {},
                    "send_time": 0,
                    "recv_time": 1 if delivered else None,
                    "dropped": not delivered,
                }
            )
    return records


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_net_msgs_per_op_matches(run: Path) -> None:
    history = load_history(run)
    real = load_results(run)["net"]
    ours = reread(net.check(history, journal=_journal_like(real)))
    assert ours == real
    assert list(ours) == list(real)


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_composed_results_match(run: Path) -> None:
    history = load_history(run)
    real = load_results(run)
    from glome.sim.options import TestOptions

    opts = TestOptions(workload=run.parent.name, availability=availability_target(run))
    ours = reread(compose.check(history, opts, journal=_journal_like(real["net"])))
    assert list(ours) == list(real)
    assert ours["valid?"] == real["valid?"]
    for key in ("timeline", "stats", "availability", "net", "workload"):
        if key in real:
            assert ours[key] == real[key], key


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_fast_path_agrees_with_edn_format(run: Path) -> None:
    lines = [line for line in (run / "history.edn").read_text().splitlines() if line.strip()]
    for line in lines[:60]:
        assert parse_op_line(line) == to_op(edn_format.loads(line)), line


def test_corpus_spot_values() -> None:
    """A few numbers quoted in the corpus notes, checked directly."""
    by_name = {run_id(run): run for run in RUNS}
    run = by_name.get("broadcast-5node-partition-fail")
    if run is None:
        pytest.skip("broadcast-5node-partition-fail not in corpus")
    result = workload_checker("broadcast")(load_history(run))
    assert result["valid?"] is False
    assert result["lost"] == [1, 5, 14, 19, 26, 27]
    assert (result["stable-count"], result["stale-count"]) == (98, 25)
    assert result["stable-latencies"] == {0: 0, 0.5: 0, 0.95: 29004, 0.99: 29975, 1: 29975}
    assert result["lost-latencies"] == {0: 24979, 0.5: 27201, 0.95: 29893, 0.99: 29893, 1: 29893}


# ----------------------------------------------------------------------- txn workloads
TXN_WORKLOADS = ("txn-rw-register", "txn-list-append")
TXN_RUNS = (
    sorted(r.parent for w in TXN_WORKLOADS for r in CORPUS.glob(f"*/store/{w}/*/results.edn"))
    if CORPUS.is_dir()
    else []
)


def consistency_models(run: Path) -> list[str]:
    """The run's ``--consistency-models``, from the test map in jepsen.log."""
    log = (run / "jepsen.log").read_text(errors="replace")
    m = re.search(r":consistency-models [\[(]([^\])]*)[\])]", log)
    assert m is not None, f"no :consistency-models in {run / 'jepsen.log'}"
    return [name.lstrip(":") for name in m.group(1).split()]


@pytest.mark.skipif(not TXN_RUNS, reason=f"no Maelstrom txn runs at {CORPUS}")
@pytest.mark.parametrize("run", TXN_RUNS, ids=run_id)
def test_txn_result_and_model_boundary_match(run: Path) -> None:
    """The whole workload result, :not and :also-not included (Elle's lattice), equals the
    real one for the run's own consistency models."""
    models = consistency_models(run)
    checker = {"txn-rw-register": txn.check, "txn-list-append": list_append.check}
    ours = reread(checker[run.parent.name](load_history(run), None, models))
    real = load_results(run)["workload"]
    assert (ours["not"], ours["also-not"]) == (real["not"], real["also-not"])
    assert ours == real
    assert list(ours) == list(real)
