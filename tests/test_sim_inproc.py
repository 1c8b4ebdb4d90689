"""InProcessHost: crashes survive restarts, a kill silences the node at once, pause freezes a
node (no timers, no handlers) until resume, and integers beyond 64 bits stay exact."""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path
from typing import Any

import orjson
from helpers.tapped import Tapped

from glome.protocol import dumps_exact, loads_exact
from glome.runtime import Message, Node, Transport, handler
from glome.sim.hosts.inproc import InProcessHost
from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.network import Network

BIG = 123456789012345678901234567890  # a 128-bit id


class Ticker(Node):
    """Counts its own timer ticks; answers ``count`` with them and the messages it saw."""

    def setup(self) -> None:
        self.ticks = 0
        self.seen: list[int] = []

    async def on_init(self) -> None:
        self.every(0.1, self._tick, jitter=0)

    def _tick(self) -> None:
        self.ticks += 1

    @handler("note")
    def note(self, msg: Message) -> None:
        self.seen.append(msg.body["n"])

    @handler("slow")
    async def slow(self, msg: Message) -> dict[str, Any]:
        await self.sleep(0.5)
        return {"type": "slow_ok", "ticks": self.ticks}


class LoudDeath(Node):
    """Sends a message from a task being cancelled (what a kill does)."""

    async def on_init(self) -> None:
        self.spawn(self._wait())

    async def _wait(self) -> None:
        try:
            await self.sleep(1000)
        finally:
            self.send("c9", {"type": "ghost"})


class BreaksOnSecondMessage(Node):
    def setup(self) -> None:
        self.received = 0

    async def serve(self, transport: Transport) -> None:
        await super().serve(Tapped(transport, self._tap))

    def _tap(self, message: Message) -> bool:
        self.received += 1
        if self.received == 2 and not (self.state_dir / "broke").exists():
            (self.state_dir / "broke").write_text("x")
            raise RuntimeError("the node object broke")
        return True


def host_run(tmp_path: Path, node: type[Node], scenario: Any, node_ids: list[str]) -> Any:
    async def main() -> Any:
        loop = asyncio.get_running_loop()
        journal = io.BytesIO()
        network = Network(loop, latency_ms=0, rng=random.Random(1), journal=journal)
        host = InProcessHost(node, node_ids=node_ids, network=network, store_dir=tmp_path, seed=1)
        inbox: list[dict[str, Any]] = []
        network.register("c9", inbox.append)
        for nid in node_ids:
            await host.start(nid)
            network.send(
                "c9", nid, {"type": "init", "node_id": nid, "node_ids": node_ids, "msg_id": 1}
            )
        await asyncio.sleep(0.01)  # init_ok is back
        try:
            return await scenario(loop, network, host, inbox)
        finally:
            await host.stop()
            network.close()
            host.journal = journal.getvalue()  # type: ignore[attr-defined]

    return run_virtual(main())


def test_a_crash_stays_reported_after_a_restart(tmp_path: Path) -> None:
    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        network.send("c9", "n0", {"type": "x"})
        await asyncio.sleep(0.01)
        crashed = host.crashed()
        await host.restart("n0")  # as the kill nemesis does
        return crashed, host.crashed(), await host.stop()

    before, after, problems = host_run(tmp_path, BreaksOnSecondMessage, scenario, ["n0"])
    assert "the node object broke" in before["n0"]
    assert after == before  # ProcessHost keeps a crash across restarts too
    assert problems and problems[0].startswith("n0 crashed before teardown")


def test_a_killed_node_is_silent_while_it_unwinds(tmp_path: Path) -> None:
    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        await asyncio.sleep(0.01)
        inbox.clear()
        await host.kill("n0")
        await asyncio.sleep(0.01)
        return list(inbox)

    assert host_run(tmp_path, LoudDeath, scenario, ["n0"]) == []


def test_pause_freezes_timers_and_handlers_until_resume(tmp_path: Path) -> None:
    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        node = host.node("n0")
        assert isinstance(node, Ticker)
        network.send("c9", "n0", {"type": "slow", "msg_id": 7})  # sleeping inside its handler
        await asyncio.sleep(0.25)
        ticks = node.ticks
        assert ticks == 2
        await host.pause("n0")
        for n in range(3):
            network.send("c9", "n0", {"type": "note", "n": n})
        await asyncio.sleep(2.0)
        frozen = (node.ticks, list(node.seen), [m["body"]["type"] for m in inbox])
        await host.resume("n0")
        await asyncio.sleep(0.001)
        resumed = (list(node.seen), [m["body"] for m in inbox if m["body"]["type"] == "slow_ok"])
        await asyncio.sleep(0.35)
        return ticks, frozen, resumed, node.ticks

    ticks, frozen, resumed, later = host_run(tmp_path, Ticker, scenario, ["n0"])
    assert frozen == (ticks, [], ["init_ok"])  # nothing ran for 2 s
    seen, slow = resumed
    assert seen == [0, 1, 2]  # held messages, in order, on resume
    assert slow == [{"type": "slow_ok", "ticks": ticks + 1, "in_reply_to": 7}]  # overdue timers
    assert ticks + 1 < later <= ticks + 1 + 4  # and it keeps ticking afterwards


def test_kill_while_paused_drops_the_held_messages(tmp_path: Path) -> None:
    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        node = host.node("n0")
        await host.pause("n0")
        network.send("c9", "n0", {"type": "note", "n": 1})
        await asyncio.sleep(0.5)
        await host.kill("n0")
        await asyncio.sleep(0.5)
        return node.seen, node.ticks  # type: ignore[union-attr]

    assert host_run(tmp_path, Ticker, scenario, ["n0"]) == ([], 0)


def test_integers_beyond_64_bits_reach_a_node_exactly(tmp_path: Path) -> None:
    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        network.send("c9", "n0", {"type": "note", "n": BIG})
        await asyncio.sleep(0.01)
        return host.node("n0").seen  # type: ignore[union-attr]

    [received] = host_run(tmp_path, Ticker, scenario, ["n0"])
    assert received == BIG and type(received) is int


def test_the_journal_keeps_big_integers(tmp_path: Path) -> None:
    async def main() -> bytes:
        journal = io.BytesIO()
        network = Network(asyncio.get_running_loop(), journal=journal)
        network.register("n0", lambda env: None)
        network.send("c1", "n0", {"type": "x", "ids": [BIG, -BIG, 1], "s": "h\u00e9"})
        await asyncio.sleep(0)
        network.close()
        return journal.getvalue()

    line = run_virtual(main())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = loads_exact(line)
    assert record["body"] == {"type": "x", "ids": [BIG, -BIG, 1], "s": "h\u00e9"}
    assert record["recv_time"] == 0 and record["dropped"] is False
    # Same layout as orjson's for everything else.
    assert dumps_exact({"a": 1, "b": [2]}) == orjson.dumps({"a": 1, "b": [2]})
    assert dumps_exact({"a": BIG}) == b'{"a":%d}' % BIG
    assert dumps_exact({"s": "\ud800"}) == b'{"s":"\\ud800"}'


def test_parsed_delivery_counts_the_bytes_a_line_would_have(tmp_path: Path) -> None:
    """Messages reach glome nodes already parsed; bytes_in still counts the JSON lines."""
    from glome.nodes.echo import Echo
    from glome.sim import run

    result = run(Echo, workload="echo", node_count=2, time_limit=2, rate=20, store_dir=tmp_path)
    assert result.valid is True
    journal = [
        orjson.loads(line)
        for line in (result.store_path / "net-journal.jsonl").read_bytes().splitlines()
    ]
    for node in ("n0", "n1"):
        expected = sum(
            len(orjson.dumps({k: r[k] for k in ("id", "src", "dest", "body")})) + 1
            for r in journal
            if r["dest"] == node and r["recv_time"] is not None
        )
        log = (result.store_path / "node-logs" / f"{node}.log").read_text().splitlines()
        [metrics] = [orjson.loads(line)["metrics"] for line in log if '"metrics"' in line]
        assert metrics["bytes_in"] == expected > 0


def test_a_client_body_is_copied_for_the_node(tmp_path: Path) -> None:
    """A node that changes a request body must not change what the sender keeps."""

    class Mutator(Node):
        @handler("txn")
        def txn(self, msg: Message) -> dict[str, Any]:
            msg.body["txn"][0][2] = 99  # fill in a read, in place
            return {"type": "txn_ok", "txn": msg.body["txn"]}

    async def scenario(loop: Any, network: Network, host: InProcessHost, inbox: Any) -> Any:
        kept = {"type": "txn", "txn": [["r", 1, None]], "msg_id": 2}
        network.send("c9", "n0", kept)
        await asyncio.sleep(0.01)
        return kept, inbox[-1]["body"]

    kept, reply = host_run(tmp_path, Mutator, scenario, ["n0"])
    assert kept["txn"] == [["r", 1, None]]
    assert reply["txn"] == [["r", 1, 99]]
