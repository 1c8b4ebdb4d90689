"""The simulated network: latency rules, ordering, partitions at delivery, the journal."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
import pytest

from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.network import Network


def simulate(
    body: Callable[[Network, list[tuple[float, dict[str, Any]]]], Coroutine[Any, Any, None]],
    **kwargs: Any,
) -> tuple[list[tuple[float, dict[str, Any]]], list[dict[str, Any]]]:
    """Run ``body(network, received)`` on a virtual loop; return deliveries and journal."""
    journal = io.BytesIO()
    received: list[tuple[float, dict[str, Any]]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        net = Network(loop, journal=journal, rng=random.Random(1), **kwargs)
        await body(net, received)
        net.close()

    run_virtual(main())
    records = [orjson.loads(line) for line in journal.getvalue().splitlines()]
    return received, records


def recorder(net: Network, received: list[tuple[float, dict[str, Any]]], *ids: str) -> None:
    for endpoint in ids:
        net.register(endpoint, lambda env: received.append((net.loop.time(), env)))


def test_client_traffic_has_no_latency_and_server_traffic_does() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "c1", "n0", "n1", "lin-kv")
        net.send("c1", "n0", {"type": "a"})
        net.send("n0", "c1", {"type": "b"})
        net.send("n0", "n1", {"type": "c"})
        net.send("n1", "lin-kv", {"type": "d"})
        await asyncio.sleep(1)

    received, _ = simulate(body, latency_ms=100)
    times = {env["body"]["type"]: t for t, env in received}
    assert times["a"] == 0 and times["b"] == 0
    assert times["c"] == pytest.approx(0.1) and times["d"] == pytest.approx(0.1)


def test_envelope_has_global_ids_and_journal_records_times() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "n0", "n1")
        net.set_origin(net.loop.time())
        net.send("n0", "n1", {"type": "x"})
        net.send("n1", "n0", {"type": "y"})
        await asyncio.sleep(1)

    received, journal = simulate(body, latency_ms=5)
    assert [env["id"] for _, env in received] == [0, 1]
    assert received[0][1] == {"id": 0, "src": "n0", "dest": "n1", "body": {"type": "x"}}
    assert journal[0] == {
        "id": 0,
        "src": "n0",
        "dest": "n1",
        "body": {"type": "x"},
        "send_time": 0,
        "recv_time": 5_000_000,
        "dropped": False,
    }
    assert list(journal[0]) == ["id", "src", "dest", "body", "send_time", "recv_time", "dropped"]


def test_random_latency_reorders_but_each_receiver_gets_deadline_order() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "n0", "n1")
        for i in range(200):
            net.send("n0", "n1", {"type": "m", "i": i})
        await asyncio.sleep(10)

    received, journal = simulate(body, latency_ms=50, latency_dist="uniform")
    order = [env["body"]["i"] for _, env in received]
    assert sorted(order) == list(range(200))
    assert order != list(range(200))  # reordered
    times = [t for t, _ in received]
    assert times == sorted(times)
    latencies = [(r["recv_time"] - r["send_time"]) / 1e6 for r in journal]
    assert all(0 <= lat < 100 and lat == int(lat) for lat in latencies)


def test_exponential_latency_has_the_right_mean() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "n0", "n1")
        for _ in range(2000):
            net.send("n0", "n1", {"type": "m"})
        await asyncio.sleep(100)

    _, journal = simulate(body, latency_ms=100, latency_dist="exponential")
    mean = sum((r["recv_time"] - r["send_time"]) / 1e6 for r in journal) / len(journal)
    assert 85 < mean < 110  # truncation to whole ms lowers the mean by about 0.5


def test_exponential_with_zero_latency_is_refused() -> None:
    async def main() -> None:
        Network(asyncio.get_running_loop(), latency_ms=0, latency_dist="exponential")

    with pytest.raises(ValueError, match="exponential"):
        run_virtual(main())


def test_partition_is_checked_at_delivery_not_at_send() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "n0", "n1", "c1", "lin-kv")
        net.send("n0", "n1", {"type": "sent-before-partition"})
        net.partition({"n1": {"n0"}})  # takes effect for messages still in flight
        net.send("n0", "n1", {"type": "during"})
        net.send("c1", "n1", {"type": "client"})  # clients are never cut off
        net.send("lin-kv", "n1", {"type": "service"})
        await asyncio.sleep(0.05)
        net.heal()
        net.send("n0", "n1", {"type": "after-heal"})
        await asyncio.sleep(1)

    received, journal = simulate(body, latency_ms=10)
    got = [env["body"]["type"] for _, env in received]
    assert got == ["client", "service", "after-heal"]
    dropped = [r["body"]["type"] for r in journal if r["dropped"]]
    assert dropped == ["sent-before-partition", "during"]
    assert all(r["recv_time"] is None for r in journal if r["dropped"])


def test_unregistered_destination_is_journaled_undelivered() -> None:
    notes: list[str] = []

    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        net._on_undeliverable = notes.append
        recorder(net, received, "n0")
        net.send("n0", "c9", {"type": "late reply"})
        await asyncio.sleep(0.1)

    _, journal = simulate(body)
    assert journal[0]["recv_time"] is None and journal[0]["dropped"] is False
    assert "c9" in notes[0]


def test_close_settles_messages_in_flight_and_ignores_later_sends() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        recorder(net, received, "n0", "n1")
        net.send("n0", "n1", {"type": "slow"})
        net.close()
        assert net.send("n0", "n1", {"type": "after"}) is None

    received, journal = simulate(body, latency_ms=1000)
    assert received == []
    assert [r["body"]["type"] for r in journal] == ["slow"]
    assert journal[0]["recv_time"] is None


def test_deliver_returning_false_means_undelivered() -> None:
    async def body(net: Network, received: list[tuple[float, dict[str, Any]]]) -> None:
        net.register("n0", lambda env: False)
        net.send("c0", "n0", {"type": "x"})
        await asyncio.sleep(0.1)

    _, journal = simulate(body)
    assert journal[0]["recv_time"] is None


def test_a_refused_message_is_journaled_undelivered_with_its_body() -> None:
    async def main() -> bytes:
        journal = io.BytesIO()
        net = Network(asyncio.get_running_loop(), journal=journal)
        net.register("n0", lambda env: False)  # e.g. a process whose stdin pipe is full
        net.send("c1", "n0", {"type": "echo", "echo": "x\u00e9", "msg_id": 1})
        await asyncio.sleep(0)
        net.close()
        assert net.undelivered == 1 and net.delivered == 0
        return journal.getvalue()

    line = run_virtual(main())
    assert (
        line
        == orjson.dumps(
            {
                "id": 0,
                "src": "c1",
                "dest": "n0",
                "body": {"type": "echo", "echo": "x\u00e9", "msg_id": 1},
                "send_time": 0,
                "recv_time": None,
                "dropped": False,
            }
        )
        + b"\n"
    )
