"""The kill and pause faults: target sets, history shape, fresh node objects on the same state
directory, in-flight requests timing out, combination with partitions, clear errors when a
node cannot come back, and both faults against real processes."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from glome.edn import Keyword
from glome.nodes.echo import Echo
from glome.sim import run
from glome.sim.net.faults import KillFault, PauseFault, pick_targets, target_size
from glome.sim.net.nemesis import FAULTS, NemesisContext, parse_faults

NODES = Path(__file__).parent / "nodes"
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------- targets
def test_registered_with_the_nemesis() -> None:
    assert FAULTS["kill"] is KillFault and FAULTS["pause"] is PauseFault
    assert parse_faults(["partition", "kill", "pause"]) == ["partition", "kill", "pause"]
    with pytest.raises(ValueError, match="kill, partition, pause"):
        parse_faults(["crash"])


@pytest.mark.parametrize(("n", "sizes"), [(1, (1, 0, 1, 1)), (2, (1, 1, 2, 2)), (5, (1, 2, 3, 5))])
def test_target_sizes(n: int, sizes: tuple[int, ...]) -> None:
    shapes = ("one", "minority", "majority", "all")
    assert tuple(target_size(s, n) for s in shapes) == sizes


def test_targets_are_nonempty_and_in_node_order() -> None:
    nodes = ["n3", "n1", "n2"]
    ctx = NemesisContext(network=None, host=None, node_ids=nodes, rng=random.Random(4))  # type: ignore[arg-type]
    seen = set()
    for _ in range(200):
        targets = pick_targets(ctx)
        assert targets and targets == [n for n in nodes if n in targets]
        seen.add(tuple(targets))
    assert ("n3", "n1", "n2") in seen and len(seen) > 3
    solo = NemesisContext(network=None, host=None, node_ids=["n0"], rng=random.Random(0))  # type: ignore[arg-type]
    assert all(pick_targets(solo) == ["n0"] for _ in range(20))


# ---------------------------------------------------------------------------- in-process
class CountingEcho(Echo):
    """Echo that records every object built, with its state directory."""

    built: ClassVar[list[Path]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        CountingEcho.built.append(self.state_dir)


def echo_run(tmp_path: Path, node: Any = Echo, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "node_count": 3,
        "time_limit": 10,
        "rate": 20,
        "nemesis": "kill",
        "nemesis_interval": 2,
        "seed": 2,
    }
    options.update(kw)
    return run(node, workload="echo", store_dir=tmp_path, **options)


def test_kill_and_start_ops_and_fresh_objects(tmp_path: Path) -> None:
    CountingEcho.built.clear()
    r = echo_run(tmp_path, CountingEcho)
    assert r.error is None, r.error
    nem = [op for op in r.history if op["process"] == "nemesis"]
    assert {op["f"] for op in nem} == {"kill", "start"}
    for invoke, done in zip(nem[::2], nem[1::2], strict=True):
        assert invoke["type"] == done["type"] == "info" and invoke["f"] == done["f"]
        assert invoke["value"] == [n for n in ["n0", "n1", "n2"] if n in invoke["value"]]
        outcome = Keyword("killed" if invoke["f"] == "kill" else "started")
        assert done["value"] == {n: outcome for n in invoke["value"]}
    kills = [n for op in nem[::2] if op["f"] == "kill" for n in op["value"]]
    starts = [n for op in nem[::2] if op["f"] == "start" for n in op["value"]]
    assert kills and starts
    # Each restart built a fresh object on the same state directory.
    assert len(CountingEcho.built) == 3 + len(starts)
    assert set(CountingEcho.built) == {r.store_path / "state" / n for n in ("n0", "n1", "n2")}
    text = (r.store_path / "history.edn").read_text()
    assert ':f :kill, :value ["' in text and ":killed}" in text and ":f :start" in text


def down_windows(history: list[dict[str, Any]]) -> dict[str, list[tuple[int, int]]]:
    """Node -> [(killed at, restart begun at)] from the nemesis ops."""
    killed: dict[str, int] = {}
    windows: dict[str, list[tuple[int, int]]] = {}
    for op in history:
        if op["process"] != "nemesis" or not isinstance(op["value"], dict):
            continue
        for node in op["value"]:
            if op["f"] == "kill":
                killed[node] = op["time"]
            elif op["f"] == "start":
                windows.setdefault(node, []).append((killed.pop(node), op["time"]))
    for node, since in killed.items():
        windows.setdefault(node, []).append((since, history[-1]["time"]))
    return windows


def echo_completions(
    history: list[dict[str, Any]], nodes: list[str]
) -> Iterator[tuple[dict[str, Any], str, int]]:
    """Each echo completion with the node its worker talks to and the time it was invoked."""
    invoked: dict[int, int] = {}
    for op in history:
        if op["f"] != "echo":
            continue
        if op["type"] == "invoke":
            invoked[op["process"]] = op["time"]
            continue
        # worker t talks to nodes[t mod N]
        yield op, nodes[op["process"] % len(nodes)], invoked.pop(op["process"])


def test_requests_to_a_killed_node_time_out(tmp_path: Path) -> None:
    r = echo_run(tmp_path)
    nodes = ["n0", "n1", "n2"]
    windows = down_windows(r.history)
    timeouts = 0
    for op, node, start in echo_completions(r.history, nodes):
        end = op["time"]
        overlaps = any(a <= end and start <= b for a, b in windows.get(node, []))
        if op["type"] == "info":
            timeouts += 1
            assert op["error"] == Keyword("net-timeout") and overlaps, op
    assert timeouts > 0


def test_combines_with_partitions(tmp_path: Path) -> None:
    r = echo_run(tmp_path, nemesis="partition,kill", time_limit=30, nemesis_interval=1)
    fs = {op["f"] for op in r.history if op["process"] == "nemesis"}
    assert {"kill", "start", "start-partition", "stop-partition"} <= fs


def test_pause_in_process_freezes_nodes_until_resume(tmp_path: Path) -> None:
    r = echo_run(tmp_path, nemesis="pause")
    assert r.error is None, r.error
    done = [op for op in r.history if op["process"] == "nemesis" and isinstance(op["value"], dict)]
    assert {op["f"] for op in done} == {"pause", "resume"}
    # A request to a paused node is answered only after its resume (or times out first).
    paused: dict[str, list[tuple[int, int]]] = {}
    since: dict[str, int] = {}
    for op in r.history:
        if op["process"] == "nemesis" and isinstance(op["value"], dict):
            for node in op["value"]:
                if op["f"] == "pause":
                    since[node] = op["time"]
                else:
                    paused.setdefault(node, []).append((since.pop(node), op["time"]))
    late = 0
    for op, node, start in echo_completions(r.history, ["n0", "n1", "n2"]):
        for a, b in paused.get(node, []):
            if a < start < b:  # sent while its node was paused
                assert op["type"] == "info" or op["time"] >= b, op
                late += 1
    assert late > 0


class BrokenOnRestart(Echo):
    """Marks its state directory; refuses to be built again (a corrupt-state bug)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        marker = self.state_dir / "marker"
        if marker.exists():
            raise RuntimeError("cannot parse my state file")
        marker.write_text("x")


class MuteAfterRestart(Echo):
    """Never finishes init once it finds its own marker (hangs on restart)."""

    async def on_init(self) -> None:
        marker = self.state_dir / "marker"
        if marker.exists():
            await self.sleep(60)
        marker.write_text("x")


def test_node_that_cannot_restart_aborts_the_test(tmp_path: Path) -> None:
    r = echo_run(tmp_path, BrokenOnRestart)
    assert r.aborted and "could not restart" in (r.error or "")
    assert "cannot parse my state file" in (r.error or "")


def test_node_that_does_not_answer_init_after_restart_aborts(tmp_path: Path) -> None:
    r = echo_run(tmp_path, MuteAfterRestart)
    assert r.aborted and "did not answer init" in (r.error or "")


# ------------------------------------------------------------------------------ processes
@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Node processes import glome from this checkout; RPCs time out fast to keep runs short."""
    from glome.sim.workloads.kafka import Kafka

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setattr(Kafka, "rpc_timeout", lambda self, opts: 0.5)


def kafka_process_run(tmp_path: Path, nemesis: str) -> Any:
    return run(
        bin=[sys.executable, str(NODES / "w4_kafka.py")],
        workload="kafka",
        node_count=1,
        concurrency=2,
        time_limit=2.5,
        rate=30,
        recovery_time=0.2,
        nemesis=nemesis,
        nemesis_interval=1,
        seed=1,
        store_dir=tmp_path,
    )


@pytest.mark.slow
def test_process_kill_restarts_in_the_same_directory(tmp_path: Path, process_env: None) -> None:
    r = kafka_process_run(tmp_path, "kill")
    assert r.error is None, r.error
    nem = [op for op in r.history if op["process"] == "nemesis" and op["value"]]
    assert {op["f"] for op in nem} == {"kill", "start"}
    assert r.valid is True, r.results["workload"]
    assert (r.store_path / "state" / "n0" / "kafka.json").exists()
    sends = [op for op in r.history if op["f"] == "send" and op["type"] == "ok"]
    assert sends


@pytest.mark.slow
def test_process_pause_and_resume(tmp_path: Path, process_env: None) -> None:
    r = kafka_process_run(tmp_path, "pause")
    assert r.error is None, r.error
    done = [op for op in r.history if op["process"] == "nemesis" and isinstance(op["value"], dict)]
    assert {op["f"] for op in done} == {"pause", "resume"}
    assert any(op["value"] == {"n0": Keyword("paused")} for op in done)
    assert r.valid is True, r.results["workload"]
