"""A cluster of nodes over MemoryTransport, driven by a test, with a fake lin-kv service.

Messages between nodes are delivered on the next loop turn unless the test's ``rule`` holds or
drops them; ``lin-kv`` is a dict behind a function (a test double, not a simulator). Used by the
kafka and txn node tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from glome.runtime import MemoryTransport, Node

Rule = Callable[[dict[str, Any]], str]
"""envelope -> "deliver" | "drop" | "hold"."""


class FakeLinKV:
    """lin-kv's read/write/cas over a dict, answering as Maelstrom's service does."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.cas_failures = 0

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        key, t = body.get("key"), body["type"]
        if t == "read":
            if key not in self.data:
                return {"type": "error", "code": 20, "text": "key does not exist"}
            return {"type": "read_ok", "value": self.data[key]}
        if t == "write":
            self.data[key] = body["value"]
            return {"type": "write_ok"}
        if t == "cas":
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
    """Nodes of one class over MemoryTransport, a fake lin-kv and test clients.

    Each start of a node (a restart included) seeds it with the next number from
    ``first_seed``; with ``tmp`` each node gets ``tmp / node_id`` as its state directory.
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
        self.kv = FakeLinKV()
        self.rule: Rule = lambda env: "deliver"
        self.held: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.msg_ids = itertools.count(1)
        self.seeds = itertools.count(first_seed)

    async def start(self, node_id: str | None = None) -> None:
        for nid in [node_id] if node_id else self.ids:
            state = self.tmp / nid if self.tmp else None
            node = self.node_class(seed=next(self.seeds), state_dir=state)
            transport = MemoryTransport(lambda line: self.route(orjson.loads(line)))
            self.nodes[nid], self.transports[nid] = node, transport
            self.tasks[nid] = asyncio.get_running_loop().create_task(node.serve(transport))
            await asyncio.sleep(0)  # let serve() start the transport
            reply = await self.request(nid, {"type": "init", "node_id": nid, "node_ids": self.ids})
            assert reply["type"] == "init_ok", reply

    def route(self, env: dict[str, Any]) -> None:
        self.sent.append(env)
        dest, body = env["dest"], env["body"]
        if dest.startswith("c"):
            future = self.replies.pop(body.get("in_reply_to"), None)
            if future is not None and not future.done():
                future.set_result(body)
            return
        verdict = self.rule(env)
        if verdict == "drop":
            return
        if verdict == "hold":
            self.held.append(env)
            return
        asyncio.get_running_loop().call_soon(self.deliver, env)

    def deliver(self, env: dict[str, Any]) -> None:
        dest, body = env["dest"], env["body"]
        if dest == "lin-kv":
            reply = {**self.kv.handle(body), "in_reply_to": body["msg_id"]}
            self.route({"src": "lin-kv", "dest": env["src"], "body": reply})
        elif dest in self.transports and not self.transports[dest].closed:
            self.transports[dest].deliver(orjson.dumps(env))

    def release(self, which: Callable[[dict[str, Any]], bool] = lambda env: True) -> int:
        """Deliver the held messages ``which`` selects, in the order they were sent."""
        chosen = [env for env in self.held if which(env)]
        self.held = [env for env in self.held if not which(env)]
        for env in chosen:
            asyncio.get_running_loop().call_soon(self.deliver, env)
        return len(chosen)

    async def request(
        self, node_id: str, body: dict[str, Any], client: str = "c1", timeout: float = 5.0
    ) -> dict[str, Any]:
        msg_id = next(self.msg_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[msg_id] = future
        self.inject(client, node_id, {**body, "msg_id": msg_id})
        return await asyncio.wait_for(future, timeout)

    def inject(self, src: str, dest: str, body: dict[str, Any]) -> None:
        """Hand ``dest`` a message as if ``src`` had sent it (a forged or replayed one)."""
        self.transports[dest].deliver(orjson.dumps({"src": src, "dest": dest, "body": body}))

    def submit(self, node_id: str, body: dict[str, Any]) -> asyncio.Task[dict[str, Any]]:
        return asyncio.get_running_loop().create_task(self.request(node_id, body))

    async def kill(self, node_id: str) -> None:
        """As the runner kills: cancel the serve task (no on_stop), stop its transport."""
        self.transports[node_id].closed = True
        self.tasks[node_id].cancel()
        await asyncio.gather(self.tasks[node_id], return_exceptions=True)

    async def restart(self, node_id: str) -> None:
        await self.kill(node_id)
        await self.start(node_id)

    async def stop(self) -> None:
        for nid in self.ids:
            if not self.transports[nid].closed:
                self.transports[nid].end()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def settle(turns: int = 50) -> None:
    """Let the loop run ``turns`` times: enough for in-memory messages to be handled."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) for ``cond``; fails the test instead of hanging."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async test scenario, bounded at 20 s."""
    asyncio.run(asyncio.wait_for(scenario(), 20))
