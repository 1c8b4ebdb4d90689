"""glome.testing: the harness itself (a node, a cluster, the virtual clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler
from glome.testing import Cluster, Driver, open_cluster, open_node, run, until


class Sleeper(Node):
    @handler("nap")
    async def nap(self, msg: Message) -> dict[str, Any]:
        await self.sleep(10)
        return {"type": "nap_ok"}


class Register(Node):
    """A register on lin-kv: a node that needs a service."""

    @handler("put")
    async def put(self, msg: Message) -> dict[str, Any]:
        await self.rpc("lin-kv", {"type": "write", "key": "r", "value": msg.body["value"]})
        return {"type": "put_ok"}


def test_open_node_initialises_and_records_what_the_node_sends() -> None:
    async def scenario() -> Driver:
        async with open_node(Echo(seed=1), "n0", ["n0"]) as node:
            reply = await node.request({"type": "echo", "echo": "hi"})
            assert reply == {
                "src": "n0",
                "dest": "c1",
                "body": {"type": "echo_ok", "echo": "hi", "in_reply_to": 1},
            }
        return node

    node = run(scenario)
    assert [m["body"]["type"] for m in node.sent] == ["init_ok", "echo_ok"]
    assert node.task is not None and node.task.done()


def test_the_virtual_clock_makes_sleeping_cost_nothing() -> None:
    async def scenario() -> float:
        async with open_node(Sleeper(seed=1), "n0", ["n0"]) as node:
            start = asyncio.get_running_loop().time()
            await node.request({"type": "nap"})
            return asyncio.get_running_loop().time() - start

    assert run(scenario) == pytest.approx(10, abs=0.01)  # plus the polling steps


def test_waits_are_bounded() -> None:
    async def scenario() -> None:
        async with open_node(Echo(seed=1), "n0", ["n0"]) as node:
            await node.reply_to(99, timeout=1.0)  # nobody asked: never comes

    with pytest.raises(AssertionError, match="not reached"):
        run(scenario)


def test_a_cluster_with_lin_kv_and_held_messages() -> None:
    async def scenario() -> Cluster:
        async with open_cluster(Register, 2) as cluster:
            cluster.rule = lambda env: "hold" if env["dest"] == "lin-kv" else "deliver"
            put = cluster.submit("n1", {"type": "put", "value": 5})
            await until(lambda: len(cluster.held) == 1)
            assert cluster.kv.data == {}
            assert cluster.release() == 1
            assert await put == {"type": "put_ok", "in_reply_to": 3}
            assert cluster.kv.data == {"r": 5}
        return cluster

    cluster = run(scenario)
    assert all(task.done() for task in cluster.tasks.values())
