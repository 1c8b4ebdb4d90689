"""Drive a node, or a small cluster, over memory transports: for tests and exercises.

    from glome.testing import open_node, run

    async def scenario() -> None:
        async with open_node(Echo(), node_id="n0", node_ids=["n0"]) as node:
            reply = await node.request({"type": "echo", "echo": "hi"})
            assert reply["body"] == {"type": "echo_ok", "echo": "hi", "in_reply_to": 1}

    run(scenario)

The test plays everyone else: clients, peers and services. ``Driver`` holds one node and
records every envelope it sends (with the loop time it was sent at); ``Cluster`` wires several
nodes of one class together, with a dict standing in for ``lin-kv`` and a ``rule`` that may
hold or drop messages between them. Messages go in as JSON lines, exactly as over stdin.

``run(scenario)`` runs on a virtual clock by default, as trio's ``MockClock`` does: time jumps
to the next timer whenever nothing is ready, so a node's timeouts, backoff and periodic tasks
cost no real time and every run is the same. Every wait here has a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from glome.runtime.node import Node
from glome.runtime.transport import MemoryTransport

T = TypeVar("T")
Envelope = dict[str, Any]
"""``{"src", "dest", "body"}``, as a node sent it (the body parsed from its JSON)."""

BOUND = 20.0
"""Seconds (loop time) any wait here may take before the test fails."""


def run(scenario: Callable[[], Awaitable[T]], *, virtual: bool = True, timeout: float = BOUND) -> T:
    """Run an async test scenario to completion, on a virtual clock unless ``virtual=False``,
    failing it after ``timeout`` seconds (of its own clock)."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    if not virtual:
        return asyncio.run(bounded())
    from glome.sim.hosts.vclock import run_virtual  # the simulator's clock: only when asked for

    return run_virtual(bounded())


async def settle(turns: int = 50) -> None:
    """Let the loop run ``turns`` times: enough for in-memory messages to be handled."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def until(cond: Callable[[], bool], timeout: float = 5.0, step: float = 0.002) -> None:
    """Wait (bounded) until ``cond()`` holds; fails the test instead of hanging."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"condition not reached within {timeout:g} s")
        await asyncio.sleep(step)


def _envelope(src: str, dest: str, body: Any, body_json: bytes) -> Envelope:
    """What a node sent, with a body of the test's own (parsed from the bytes it was sent as)."""
    return {"src": src, "dest": dest, "body": orjson.loads(body_json)}


class Driver:
    """One node on a memory transport, as ``node_id`` among ``node_ids``."""

    def __init__(
        self, node: Node, node_id: str = "n1", node_ids: Sequence[str] = ("n1", "n2", "n3")
    ) -> None:
        self.node = node
        self.node_id = node_id
        self.node_ids = list(node_ids)
        self.sent: list[Envelope] = []
        """Every envelope the node sent, in order."""
        self.sent_at: list[float] = []
        """The loop time each of ``sent`` was sent at."""
        self.on_send: Callable[[Envelope], None] | None = None
        """Called with each envelope the node sends: lets a test answer as a peer would."""
        self.transport = MemoryTransport(self._sent)
        self.task: asyncio.Task[None] | None = None
        self._next_msg_id = 0

    def _sent(self, src: str, dest: str, body: Any, body_json: bytes) -> None:
        envelope = _envelope(src, dest, body, body_json)
        self.sent.append(envelope)
        self.sent_at.append(asyncio.get_running_loop().time())
        if self.on_send is not None:
            self.on_send(envelope)

    # ----------------------------------------------------------------------- lifecycle
    async def start(self, *, init: bool = True) -> None:
        """Serve the node, and (``init``) initialise it from ``c0`` (with msg_id 0)."""
        self.task = asyncio.get_running_loop().create_task(self.node.serve(self.transport))
        await asyncio.sleep(0)  # serve() starts the transport
        if init:  # msg_id 0: the test's own requests count from 1
            body = {"type": "init", "msg_id": 0, "node_id": self.node_id, "node_ids": self.node_ids}
            self.deliver(body, src="c0")
            reply = await self.reply_to(0, dest="c0")
            assert reply["body"]["type"] == "init_ok", reply

    async def stop(self) -> None:
        """End the node's input, as Maelstrom closing stdin does; wait for it to finish."""
        self.transport.end()
        if self.task is not None:
            await asyncio.wait_for(self.task, BOUND)

    async def kill(self) -> None:
        """Stop the node abruptly, as the simulator kills one: no ``on_stop``."""
        self.transport.closed = True
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def settle(self, turns: int = 20) -> None:
        """Let the loop run ``turns`` times: the node handles what it was given."""
        await settle(turns)

    # -------------------------------------------------------------------------- input
    def deliver(self, body: dict[str, Any], src: str = "c1", dest: str | None = None) -> None:
        """Hand the node a message from ``src`` (as one JSON line)."""
        envelope = {"src": src, "dest": dest or self.node_id, "body": body}
        self.transport.deliver_line(orjson.dumps(envelope))

    def deliver_line(self, line: bytes) -> None:
        """Hand the node a raw line, valid or not."""
        self.transport.deliver_line(line)

    def send_request(self, body: dict[str, Any], src: str = "c1") -> int:
        """Deliver a request with the next msg_id (from 1); return that msg_id."""
        self._next_msg_id += 1
        self.deliver({**body, "msg_id": self._next_msg_id}, src=src)
        return self._next_msg_id

    async def request(self, body: dict[str, Any], src: str = "c1") -> Envelope:
        """Deliver a request and wait for the node's reply envelope."""
        return await self.reply_to(self.send_request(body, src), dest=src)

    # ------------------------------------------------------------------------- output
    async def reply_to(self, msg_id: int, dest: str = "c1", timeout: float = BOUND) -> Envelope:
        """Wait for the envelope the node sends to ``dest`` in reply to ``msg_id``."""

        def found() -> Envelope | None:
            for m in self.sent:
                if m["dest"] == dest and m["body"].get("in_reply_to") == msg_id:
                    return m
            return None

        await until(lambda: found() is not None, timeout, step=0.001)
        reply = found()
        assert reply is not None
        return reply

    async def sent_to(self, dest: str, count: int = 1, timeout: float = BOUND) -> list[Envelope]:
        """Wait until the node has sent ``count`` messages to ``dest``; return them all."""
        await until(lambda: len(self.to(dest)) >= count, timeout, step=0.001)
        return [m for m in self.sent if m["dest"] == dest]

    def to(self, dest: str, type_: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        """``(time, body)`` of what was sent to ``dest`` (only bodies of ``type_`` if given)."""
        return [
            (t, m["body"])
            for t, m in zip(self.sent_at, self.sent, strict=True)
            if m["dest"] == dest and (type_ is None or m["body"].get("type") == type_)
        ]


@contextlib.asynccontextmanager
async def open_node(
    node: Node,
    node_id: str = "n1",
    node_ids: Sequence[str] = ("n1", "n2", "n3"),
    *,
    init: bool = True,
) -> AsyncIterator[Driver]:
    """``async with open_node(MyNode()) as driver``: started (and initialised) on entry,
    stopped (end of input) on exit."""
    driver = Driver(node, node_id, node_ids)
    await driver.start(init=init)
    try:
        yield driver
    finally:
        if driver.task is not None and not driver.task.done():
            await driver.stop()


# ---------------------------------------------------------------------------- clusters
Rule = Callable[[Envelope], str]
"""envelope -> ``"deliver"`` | ``"drop"`` | ``"hold"``."""


class LinKVStub:
    """``lin-kv``'s read, write and cas over a dict, answering as Maelstrom's service does.
    A test double: no latency, no history; the simulator has the real service."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.cas_failures = 0

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        key, kind = body.get("key"), body["type"]
        if kind == "read":
            if key not in self.data:
                return {"type": "error", "code": 20, "text": "key does not exist"}
            return {"type": "read_ok", "value": self.data[key]}
        if kind == "write":
            self.data[key] = body["value"]
            return {"type": "write_ok"}
        if kind == "cas":
            if key not in self.data:
                if not body.get("create_if_not_exists"):
                    return {"type": "error", "code": 20, "text": "key does not exist"}
                self.data[key] = body["to"]
                return {"type": "cas_ok"}
            if self.data[key] != body["from"]:
                self.cas_failures += 1
                return {"type": "error", "code": 22, "text": "precondition failed"}
            self.data[key] = body["to"]
            return {"type": "cas_ok"}
        raise AssertionError(f"unexpected lin-kv request {body}")


class Cluster:
    """``n`` nodes of one class on memory transports, ``lin-kv`` as a ``LinKVStub``, and the
    test as every client.

    Messages between nodes arrive on the next loop turn unless ``rule`` holds them (``release``
    delivers them later) or drops them. Each start of a node (a restart included) seeds it with
    the next number from ``first_seed``; with ``tmp`` each node gets ``tmp / node_id`` as its
    state directory.
    """

    def __init__(
        self,
        node_class: Callable[..., Node],
        n: int,
        tmp: Path | None = None,
        first_seed: int = 1,
    ) -> None:
        self.node_class = node_class
        self.ids = [f"n{i}" for i in range(n)]
        self.tmp = tmp
        self.nodes: dict[str, Node] = {}
        self.transports: dict[str, MemoryTransport] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.kv = LinKVStub()
        self.rule: Rule = lambda envelope: "deliver"
        self.held: list[Envelope] = []
        self.sent: list[Envelope] = []
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.msg_ids = itertools.count(1)
        self.seeds = itertools.count(first_seed)

    async def start(self, node_id: str | None = None) -> None:
        """Start (and initialise) one node, or all of them."""
        for nid in [node_id] if node_id else self.ids:
            state = self.tmp / nid if self.tmp else None
            node = self.node_class(seed=next(self.seeds), state_dir=state)
            transport = MemoryTransport(lambda *sent: self.route(_envelope(*sent)))
            self.nodes[nid], self.transports[nid] = node, transport
            self.tasks[nid] = asyncio.get_running_loop().create_task(node.serve(transport))
            await asyncio.sleep(0)  # serve() starts the transport
            reply = await self.request(nid, {"type": "init", "node_id": nid, "node_ids": self.ids})
            assert reply["type"] == "init_ok", reply

    def route(self, envelope: Envelope) -> None:
        """A node sent ``envelope``: to a client's waiting request, or through ``rule``."""
        self.sent.append(envelope)
        dest, body = envelope["dest"], envelope["body"]
        if dest.startswith("c"):
            future = self.replies.pop(body.get("in_reply_to"), None)
            if future is not None and not future.done():
                future.set_result(body)
            return
        verdict = self.rule(envelope)
        if verdict == "drop":
            return
        if verdict == "hold":
            self.held.append(envelope)
            return
        asyncio.get_running_loop().call_soon(self.deliver, envelope)

    def deliver(self, envelope: Envelope) -> None:
        dest, body = envelope["dest"], envelope["body"]
        if dest == "lin-kv":
            reply = {**self.kv.handle(body), "in_reply_to": body["msg_id"]}
            self.route({"src": "lin-kv", "dest": envelope["src"], "body": reply})
        elif dest in self.transports:
            self.transports[dest].deliver_line(orjson.dumps(envelope))

    def release(self, which: Callable[[Envelope], bool] = lambda envelope: True) -> int:
        """Deliver the held messages ``which`` selects, in the order they were sent."""
        chosen = [e for e in self.held if which(e)]
        self.held = [e for e in self.held if not which(e)]
        for envelope in chosen:
            asyncio.get_running_loop().call_soon(self.deliver, envelope)
        return len(chosen)

    async def request(
        self, node_id: str, body: dict[str, Any], client: str = "c1", timeout: float = 5.0
    ) -> dict[str, Any]:
        """A client request to ``node_id``; returns the reply body."""
        msg_id = next(self.msg_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[msg_id] = future
        self.inject(client, node_id, {**body, "msg_id": msg_id})
        return await asyncio.wait_for(future, timeout)

    def inject(self, src: str, dest: str, body: dict[str, Any]) -> None:
        """Hand ``dest`` a message as if ``src`` had sent it (a forged or replayed one)."""
        envelope = {"src": src, "dest": dest, "body": body}
        self.transports[dest].deliver_line(orjson.dumps(envelope))

    def submit(self, node_id: str, body: dict[str, Any]) -> asyncio.Task[dict[str, Any]]:
        """``request`` in a task of its own (for requests in parallel)."""
        return asyncio.get_running_loop().create_task(self.request(node_id, body))

    async def kill(self, node_id: str) -> None:
        """As the simulator kills: close its transport and cancel it (no ``on_stop``)."""
        self.transports[node_id].closed = True
        self.tasks[node_id].cancel()
        await asyncio.gather(self.tasks[node_id], return_exceptions=True)

    async def restart(self, node_id: str) -> None:
        await self.kill(node_id)
        await self.start(node_id)

    async def stop(self) -> None:
        """End every node's input and wait for them (bounded)."""
        for nid in self.ids:
            if not self.transports[nid].closed:
                self.transports[nid].end()
        await asyncio.wait_for(asyncio.gather(*self.tasks.values(), return_exceptions=True), BOUND)


@contextlib.asynccontextmanager
async def open_cluster(
    node_class: Callable[..., Node], n: int, tmp: Path | None = None, first_seed: int = 1
) -> AsyncIterator[Cluster]:
    """``async with open_cluster(MyNode, 3) as cluster``: all started on entry, stopped on exit."""
    cluster = Cluster(node_class, n, tmp, first_seed)
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()
