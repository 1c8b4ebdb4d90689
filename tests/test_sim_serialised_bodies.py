"""Bodies sent already serialised (an in-process node's own line) journal and deliver exactly
as the same bodies sent as dicts: the simulator's speed path changes no byte of output."""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path
from typing import Any

import orjson

from glome.runtime import Message, Node
from glome.runtime.node import handler
from glome.sim import run
from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.network import Network

BODIES: list[dict[str, Any]] = [
    {"type": "a", "n": 1},
    {"type": "b", "v": [1, 2.5, -0.0, None, True, 'é\n"\\', 2**64 - 1, -(2**63)]},
    {"type": "c", "deep": {"x": [{"y": {}}], "s": "1234567890123456789012"}},
]


def journal_of(serialised: bool) -> tuple[bytes, list[tuple[str, Any]]]:
    """Every way a message is settled (delivered, refused, dropped by a partition, sent to an
    unregistered endpoint, still in flight at close), with dict or serialised bodies."""
    journal = io.BytesIO()
    received: list[tuple[str, Any]] = []

    async def main() -> None:
        net = Network(
            asyncio.get_running_loop(), latency_ms=10, journal=journal, rng=random.Random(3)
        )
        net.register("n1", lambda env: received.append(("n1", env)))
        net.register("n2", lambda env: False)  # refuses
        net.register("n3", lambda env: received.append(("n3", env)))

        def send(src: str, dest: str, body: dict[str, Any]) -> None:
            if serialised:
                net.send(src, dest, None, orjson.dumps(body))
            else:
                net.send(src, dest, body)

        for body in BODIES:
            for dest in ("n1", "n2", "n9", "c1"):
                send("n0", dest, body)
        await asyncio.sleep(1)
        net.partition({"n3": {"n0"}})
        for body in BODIES:
            send("n0", "n3", body)
            send("n1", "n3", body)
        await asyncio.sleep(1)
        for body in BODIES:
            send("n0", "n1", body)  # in flight at close
        net.close()

    run_virtual(main())
    return journal.getvalue(), received


def test_serialised_bodies_journal_and_deliver_the_same() -> None:
    journal_dicts, received_dicts = journal_of(serialised=False)
    journal_bytes, received_bytes = journal_of(serialised=True)
    assert journal_bytes == journal_dicts
    assert received_bytes == received_dicts
    lines = journal_bytes.splitlines()
    assert len(lines) == 4 * len(BODIES) + 2 * len(BODIES) + len(BODIES)
    assert b'"dropped":true' in journal_bytes and b'"recv_time":null' in journal_bytes


def test_delivered_serialised_body_is_a_fresh_copy_each_time() -> None:
    _, received = journal_of(serialised=True)
    bodies = [env["body"] for _, env in received]
    assert bodies and len({id(b) for b in bodies}) == len(bodies)


class KeyMixer(Node):
    """Sends bodies with keys that are not strings: those must take the parsed-line path."""

    @handler("topology")
    def topology(self, msg: Message) -> dict[str, Any]:
        for peer in self.peers:
            self.send(peer, {"type": "mixed", "m": {1: "int", "1": "str", 2: [3]}})
            self.send(peer, {"type": "plain", "m": {"k": [1, 2]}})
        return {"type": "topology_ok"}

    @handler("mixed")
    def mixed(self, msg: Message) -> None:
        self.log.info("got", extra={"m": msg.body["m"]})

    @handler("plain")
    def plain(self, msg: Message) -> None:
        self.log.info("got", extra={"m": msg.body["m"]})

    @handler("broadcast")
    def broadcast(self, msg: Message) -> dict[str, Any]:
        return {"type": "broadcast_ok"}

    @handler("read")
    def read(self, msg: Message) -> dict[str, Any]:
        return {"type": "read_ok", "messages": []}


def test_non_string_keys_are_journaled_as_parsed(tmp_path: Path) -> None:
    result = run(
        KeyMixer,
        workload="broadcast",
        node_count=2,
        time_limit=1,
        rate=1,
        recovery_time=0,
        seed=1,
        store_dir=tmp_path,
    )
    journal = (result.store_path / "net-journal.jsonl").read_bytes()
    # {1: "int", "1": "str"} reaches the journal (and the peer) with one "1" key, as it does
    # when the node's line is parsed back: JSON objects have no duplicate keys.
    assert journal.count(b'"m":{"1":"str","2":[3]}') == 2
    assert journal.count(b'"m":{"k":[1,2]}') == 2
    log = (result.store_path / "node-logs" / "n1.log").read_text()
    assert '"m": {"1": "str", "2": [3]}' in log or '"m":{"1":"str","2":[3]}' in log
