"""End-to-end in-process runs: correct nodes pass, broken ones fail, crashes abort."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from nodes.sim_nodes import BadIds, Crasher, Flood, Forgetful, GCounter, Gossip, Ids, Silent

from glome.edn import Keyword
from glome.errors import TemporarilyUnavailable
from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler
from glome.sim import RunResult, run
from glome.sim.render.store import Store


def quick(node: Any, tmp_path: Path, **kwargs: Any) -> RunResult:
    kwargs.setdefault("time_limit", 3)
    kwargs.setdefault("rate", 20)
    kwargs.setdefault("recovery_time", 2)
    return run(node, store_dir=tmp_path, **kwargs)


def journal(result: RunResult) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for line in (result.store_path / "net-journal.jsonl").read_bytes().splitlines()
    ]


def test_echo_passes_and_records_maelstrom_shaped_ops(tmp_path: Path) -> None:
    result = quick(Echo, tmp_path, workload="echo", node_count=1)
    assert result.valid is True and result.exit_code == 0
    ops = result.history
    assert [op["index"] for op in ops] == list(range(len(ops)))
    assert ops[0]["type"] == "invoke" and ops[0]["value"].startswith("Please echo ")
    ok = ops[1]
    assert ok["type"] == "ok" and ok["value"]["type"] == "echo_ok"
    assert ok["value"]["echo"] == ops[0]["value"] and ok["value"]["in_reply_to"] == 1
    assert result.results is not None
    assert list(result.results) == [
        "perf",
        "timeline",
        "exceptions",
        "stats",
        "availability",
        "net",
        "workload",
        "valid?",
    ]
    assert 40 <= result.results["stats"]["count"] <= 80  # rate 20 for 3 s


def test_concurrency_and_node_assignment(tmp_path: Path) -> None:
    result = quick(Echo, tmp_path, workload="echo", node_count=3, concurrency="2n")
    processes = {op["process"] for op in result.history}
    assert processes == set(range(6))
    sent = journal(result)
    dest_of = {}
    client_of = {}
    for record in sent:
        if record["src"].startswith("c") and record["body"]["type"] == "echo":
            dest_of.setdefault(record["src"], set()).add(record["dest"])
    assert all(len(d) == 1 for d in dest_of.values())
    # init clients c0..c2 first, then one client per worker c3..c8
    inits = [r for r in sent if r["body"]["type"] == "init"]
    assert [r["src"] for r in inits] == ["c0", "c1", "c2"]
    assert sorted(dest_of) == [f"c{i}" for i in range(3, 9)]
    for client, dests in dest_of.items():
        worker = int(client[1:]) - 3
        assert dests == {f"n{worker % 3}"}
    del client_of


class SlowEcho(Node):
    """Never answers echoes of numbers divisible by 4: those time out."""

    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any] | None:
        if int(msg.body["echo"].split()[-1]) % 4 == 0:
            return None
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_timeouts_become_info_and_bump_the_process(tmp_path: Path) -> None:
    result = quick(SlowEcho, tmp_path, workload="echo", node_count=2, time_limit=30, rate=5)
    infos = [op for op in result.history if op["type"] == "info"]
    assert infos and all(op["error"] == Keyword("net-timeout") for op in infos)
    by_worker: dict[int, list[int]] = {}
    for op in result.history:
        if op["type"] == "invoke":
            by_worker.setdefault(op["process"] % 2, []).append(op["process"])
    for processes in by_worker.values():
        assert processes == sorted(processes)
        assert all((b - a) in (0, 2) for a, b in itertools.pairwise(processes))
    # the invoke after an info uses a fresh client (echo clients are not reusable)
    clients = {r["src"] for r in journal(result) if r["body"]["type"] == "echo"}
    # (a worker whose last op crashed opens a client it never uses)
    assert 2 + len(infos) - 2 <= len(clients) <= 2 + len(infos)
    assert result.valid is True  # echo's checker skips :info completions


def test_broadcast_flood_passes_with_final_reads(tmp_path: Path) -> None:
    result = quick(Flood, tmp_path, workload="broadcast", node_count=5, latency=20)
    assert result.valid is True, result.results
    workload = result.results["workload"] if result.results else {}
    assert workload["lost-count"] == 0 and workload["stable-count"] > 0
    finals = [op for op in result.history if op.get("final?")]
    assert len(finals) == 10 and {op["type"] for op in finals} == {"invoke", "ok"}
    topo = [r for r in journal(result) if r["body"]["type"] == "topology"]
    assert len(topo) == 5 and len({r["src"] for r in topo}) == 5
    assert topo[0]["body"]["topology"]["n0"] == ["n3", "n1"]
    assert result.results["net"]["servers"]["msg-count"] > 0 if result.results else False


def test_broadcast_gossip_survives_partitions(tmp_path: Path) -> None:
    result = quick(
        Gossip,
        tmp_path,
        workload="broadcast",
        node_count=5,
        latency=10,
        nemesis="partition",
        nemesis_interval=1,
        time_limit=6,
        recovery_time=5,
    )
    assert result.valid is True
    nemesis = [op for op in result.history if op["process"] == "nemesis"]
    assert nemesis[0]["f"] == "start-partition"
    assert nemesis[-1]["f"] == "stop-partition" and nemesis[-1]["value"] == "network-healed"
    assert any(r["dropped"] for r in journal(result))


def test_broadcast_that_loses_values_fails(tmp_path: Path) -> None:
    result = quick(Forgetful, tmp_path, workload="broadcast", node_count=3)
    assert result.valid is False and result.exit_code == 1
    workload = result.results["workload"] if result.results else {}
    assert workload["lost-count"] > 0
    assert all(x % 3 == 0 for x in workload["lost"])


def test_g_counter_passes_under_partitions(tmp_path: Path) -> None:
    result = quick(
        GCounter,
        tmp_path,
        workload="g-counter",
        node_count=3,
        nemesis="partition",
        nemesis_interval=1,
        recovery_time=3,
    )
    assert result.valid is True
    workload = result.results["workload"] if result.results else {}
    assert len(set(workload["final-reads"])) == 1
    adds = [op for op in result.history if op["f"] == "add" and op["type"] == "invoke"]
    assert adds and all(0 <= op["value"] <= 4 for op in adds)


def test_pn_counter_catches_a_counter_that_drops_decrements(tmp_path: Path) -> None:
    result = quick(GCounter, tmp_path, workload="pn-counter", node_count=2, time_limit=5)
    adds = [op["value"] for op in result.history if op["f"] == "add" and op["type"] == "invoke"]
    assert any(d < 0 for d in adds)
    assert result.valid is False


class RefusingCounter(GCounter):
    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        raise TemporarilyUnavailable("not now")


def test_counter_errors_are_info_with_exceptions(tmp_path: Path) -> None:
    result = quick(RefusingCounter, tmp_path, workload="g-counter", node_count=1)
    infos = [op for op in result.history if op["type"] == "info"]
    assert infos and all(op["error"].startswith("indeterminate: throw+:") for op in infos)
    assert result.results is not None
    assert result.results["exceptions"]["exceptions"][0]["count"] == len(infos)
    assert result.results["stats"]["by-f"]["add"]["valid?"] is False
    assert result.valid is False


class GSetNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.elements: set[int] = set()

    async def on_init(self) -> None:
        self.every(0.2, self._gossip)

    def _gossip(self) -> None:
        for peer in self.peers:
            self.send(peer, {"type": "merge", "elements": sorted(self.elements)})

    @handler("merge")
    async def merge(self, msg: Message) -> None:
        self.elements.update(msg.body["elements"])

    @handler("add")
    async def add(self, msg: Message) -> dict[str, Any]:
        self.elements.add(msg.body["element"])
        return {"type": "add_ok"}

    @handler("read")
    async def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "value": sorted(self.elements)}


def test_g_set_passes(tmp_path: Path) -> None:
    result = quick(GSetNode, tmp_path, workload="g-set", node_count=3, latency=5)
    assert result.valid is True
    finals = [op for op in result.history if op["f"] == "read"][-6:]
    assert not any(op.get("final?") for op in finals)  # g-set's final reads carry no flag


def test_unique_ids_pass_and_fail(tmp_path: Path) -> None:
    good = quick(Ids, tmp_path, workload="unique-ids", node_count=3, nemesis="partition")
    assert good.valid is True
    bad = quick(BadIds, tmp_path, workload="unique-ids", node_count=1)
    assert bad.valid is False
    assert bad.results is not None and bad.results["workload"]["duplicated-count"] == 1


def test_a_node_that_crashes_aborts_without_results(tmp_path: Path) -> None:
    result = quick(Crasher, tmp_path, workload="echo", node_count=1)
    assert result.exit_code == 255 and result.valid is None
    assert result.error is not None and "n0" in result.error and "broke" in result.error
    assert not (result.store_path / "results.edn").exists()
    assert (result.store_path / "history.edn").exists()
    assert "Test aborted" in (result.store_path / "jepsen.log").read_text()


def test_a_node_that_never_answers_init_aborts(tmp_path: Path) -> None:
    result = quick(Silent, tmp_path, workload="echo", node_count=2)
    assert result.exit_code == 255
    assert result.error is not None
    assert "Expected node n0 to respond to an init message" in result.error


class CrashesAtStart(Node):
    """The node object breaks as it starts serving: no init_ok will ever come."""

    async def serve(self, transport: Any) -> None:
        raise RuntimeError("cannot start: no disk")


def test_a_node_that_crashes_at_start_aborts_at_once_with_the_crash(tmp_path: Path) -> None:
    result = quick(CrashesAtStart, tmp_path, workload="echo", node_count=3)
    assert result.exit_code == 255 and result.results is None
    assert result.error == (
        "Expected node n0 to respond to an init message, but it crashed: "
        "RuntimeError: cannot start: no disk"
    )
    assert result.sim_seconds < 1.0  # not the 10 s init timeout
    assert "did not respond" not in (result.store_path / "jepsen.log").read_text()


def test_rate_zero_issues_no_client_ops(tmp_path: Path) -> None:
    result = quick(Echo, tmp_path, workload="echo", node_count=1, rate=0)
    assert [op for op in result.history if op["process"] != "nemesis"] == []
    assert result.sim_seconds >= 3


def test_unknown_workload_and_options_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        quick(Echo, tmp_path, workload="nope", node_count=1)
    with pytest.raises(ValueError, match="unknown run options"):
        quick(Echo, tmp_path, workload="echo", bogus_option=1)
    with pytest.raises(ValueError, match=r"exactly one of node= .* or bin="):
        run(workload="echo", store_dir=tmp_path)


def test_api_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    import asyncio

    async def notebook_cell() -> RunResult:
        return quick(Echo, tmp_path, workload="echo", node_count=1, time_limit=1)

    result = asyncio.run(notebook_cell())
    assert result.valid is True


def test_node_logs_are_captured_per_node(tmp_path: Path) -> None:
    result = quick(Gossip, tmp_path, workload="broadcast", node_count=2, time_limit=1)
    logs = sorted(p.name for p in (result.store_path / "node-logs").iterdir())
    assert logs == ["n0.log", "n1.log"]
    lines = (result.store_path / "node-logs" / "n1.log").read_text().splitlines()
    assert lines and all(orjson.loads(line)["node"] == "n1" for line in lines)


class Noisy(Node):
    """Sends a message to an address that is not a string before each echo reply."""

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        self.send(7, {"type": "x"})  # type: ignore[arg-type]
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_bad_output_lines_are_dropped_logged_and_reported(tmp_path: Path) -> None:
    result = quick(Noisy, tmp_path, workload="echo", node_count=1, time_limit=1)
    assert result.valid is True
    assert result.warnings and "not valid envelopes" in result.warnings[0]
    log = (result.store_path / "node-logs" / "n0.log").read_text()
    assert "dropping a malformed message (src and dest must be strings)" in log
    assert "not valid envelopes" in (result.store_path / "jepsen.log").read_text()


class Flooder(Node):
    """Floods its peer forever without ever letting virtual time pass."""

    async def on_init(self) -> None:
        self.spawn(self._flood())

    async def _flood(self) -> None:
        import asyncio

        while True:
            for peer in self.peers:
                self.send(peer, {"type": "junk"})
            await asyncio.sleep(0)

    @handler("junk")
    def junk(self, msg: Message) -> None:
        return None

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_a_node_that_freezes_virtual_time_is_wound_down(tmp_path: Path) -> None:
    import time

    wall = time.perf_counter()
    result = quick(Flooder, tmp_path, workload="echo", node_count=2, wall_budget=2)
    assert time.perf_counter() - wall < 30
    assert result.exit_code == 255
    assert result.error is not None and "wall-clock budget of 2 s" in result.error
    assert (result.store_path / "history.edn").exists()


class Spinner(Node):
    """Answers a few echoes, then gets stuck in a loop that never awaits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        self.count += 1
        while self.count > 3:
            pass
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_node_code_that_never_returns_is_interrupted(tmp_path: Path) -> None:
    import time

    from glome.sim.hosts.vclock import VirtualClockStalled

    wall = time.perf_counter()
    with pytest.raises(VirtualClockStalled, match="never awaits"):
        quick(Spinner, tmp_path, workload="echo", node_count=1, hang_timeout=1)
    assert time.perf_counter() - wall < 60


class LateEcho(Node):
    """Answers every third echo after 6 s, when the client has given up and gone."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any]:
        self.count += 1
        if self.count % 3 == 0:
            await self.sleep(6)
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_late_replies_to_closed_clients_are_journaled_and_logged(tmp_path: Path) -> None:
    result = quick(LateEcho, tmp_path, workload="echo", node_count=1, time_limit=10, rate=2)
    late = [r for r in journal(result) if r["src"] == "n0" and r["recv_time"] is None]
    assert late and all(r["dropped"] is False for r in late)
    log = (result.store_path / "jepsen.log").read_text()
    assert "to unregistered endpoint" in log
    assert not (result.store_path / "node-logs" / "n0.log").read_text().count("unregistered")


def test_a_missing_binary_aborts_cleanly(tmp_path: Path) -> None:
    result = run(
        bin=str(tmp_path / "no-such-node"),
        workload="echo",
        node_count=1,
        time_limit=1,
        store_dir=tmp_path / "store",
    )
    assert result.exit_code == 255 and result.error
    assert "Test aborted" in (result.store_path / "jepsen.log").read_text()


def test_the_checkers_get_the_journal_from_memory_not_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store writes the journal; the net checker and messages.svg never read it back."""
    written: list[bytes] = []
    monkeypatch.setattr(Store, "write_journal", lambda self, data: written.append(data))
    result = quick(Flood, tmp_path, workload="broadcast", node_count=3)
    assert result.valid is True and len(written) == 1
    lines = written[0].splitlines()
    assert not (result.store_path / "net-journal.jsonl").exists()
    assert result.results is not None
    assert result.results["net"]["all"]["send-count"] == len(lines) > 0
    assert "<title" in (result.store_path / "messages.svg").read_text()


def test_a_missing_binary_tears_down_the_one_way_every_run_ends(tmp_path: Path) -> None:
    """A host that cannot be built still closes the network and writes the (empty) journal
    and history, through the same teardown as a run that got going."""
    result = run(
        bin=str(tmp_path / "no-such-node"),
        workload="echo",
        node_count=1,
        time_limit=1,
        store_dir=tmp_path / "store",
    )
    assert result.error and result.host is None
    assert (result.store_path / "net-journal.jsonl").read_bytes() == b""
    assert (result.store_path / "history.edn").read_text() == ""
    log = (result.store_path / "jepsen.log").read_text()
    assert "Tearing down" not in log  # no node was ever started
    assert log.rstrip().endswith(f"Test aborted: {result.error}")
