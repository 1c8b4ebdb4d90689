"""Processing time: single FIFO servers for in-process nodes and services."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from glome.sim import options as sim_options
from glome.sim import run
from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.network import Network
from glome.sim.net.processing import Processing, ProcessingSpec
from glome.sim.options import ZERO_COST

OFF = ZERO_COST


def _served_network(
    spec: ProcessingSpec, received: list[tuple[float, str, Any]], *ids: str
) -> tuple[Network, Processing]:
    loop = asyncio.get_running_loop()
    processing = Processing(
        spec, loop, random.Random(1), served=lambda endpoint: not endpoint.startswith("c")
    )
    net = Network(loop, processing=processing)
    net.set_origin(loop.time())  # the history's clock starts: so does processing time
    for endpoint in ids:
        net.register(
            endpoint,
            lambda env, endpoint=endpoint: received.append(
                (round(loop.time() * 1000, 6), endpoint, env["body"]["n"])
            ),
        )
    return net, processing


def _spec(
    time_ms: float, per_byte_us: float = 0.0, io_delay_ms: float = 0.0, router_us: float = 0.0
) -> ProcessingSpec:
    """Constant costs: times to assert exactly."""
    return ProcessingSpec(time_ms, "constant", per_byte_us, io_delay_ms, "constant", router_us)


def test_messages_wait_in_fifo_order_while_the_node_is_busy() -> None:
    """An idle node handles a message on arrival and is busy for its service time; the
    messages that arrive meanwhile wait, first in first out."""
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        net, _ = _served_network(_spec(5.0), received, "n1", "c1")
        for n in range(3):
            net.send("c1", "n1", {"n": n})
        net.send("n1", "c1", {"n": 9})  # a client has no server
        await asyncio.sleep(1)

    run_virtual(main())
    assert received == [(0.0, "n1", 0), (0.0, "c1", 9), (5.0, "n1", 1), (10.0, "n1", 2)]


def test_an_idle_server_handles_at_arrival_and_per_byte_cost_keeps_it_busy() -> None:
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        net, _ = _served_network(_spec(1.0, per_byte_us=2.0), received, "n1", "c1")
        net.send("c1", "n1", {"n": 0})  # {"n":0} is 7 bytes: busy 1 ms + 14 us
        net.send("c1", "n1", {"n": 1})
        await asyncio.sleep(0.5)
        net.send("c1", "n1", {"n": 2})  # long after: the server is idle again
        await asyncio.sleep(1)

    run_virtual(main())
    assert received == [(0.0, "n1", 0), (1.014, "n1", 1), (500.0, "n1", 2)]


def test_setup_before_the_origin_costs_nothing() -> None:
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        spec = _spec(5.0, io_delay_ms=3.0)
        processing = Processing(spec, loop, random.Random(1), served=lambda e: e == "n1")
        net = Network(loop, processing=processing)
        net.register("n1", lambda env: received.append((round(loop.time() * 1000, 6), "n1", 0)))
        net.send("c1", "n1", {"type": "init"})
        net.send("c1", "n1", {"type": "init"})
        await asyncio.sleep(0.001)
        net.set_origin(loop.time())
        net.send("c1", "n1", {"type": "echo"})
        net.send("c2", "n1", {"type": "echo"})
        await asyncio.sleep(1)

    run_virtual(main())
    assert received == [(0.0, "n1", 0), (0.0, "n1", 0), (4.0, "n1", 0), (9.0, "n1", 0)]


def test_killing_an_endpoint_drops_its_queue() -> None:
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        net, _ = _served_network(_spec(5.0), received, "n1", "c1")
        for n in range(3):
            net.send("c1", "n1", {"n": n})
        await asyncio.sleep(0.007)  # the first two are handled, the third waits
        net.unregister("n1")
        await asyncio.sleep(1)

    run_virtual(main())
    assert received == [(0.0, "n1", 0), (5.0, "n1", 1)]


def test_the_io_delay_does_not_queue_and_keeps_each_senders_order() -> None:
    """Every message leaves its sender after its own draw, so many senders' messages travel
    side by side; one sender's messages leave in send order, and those written at the same
    instant leave together."""
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        spec = ProcessingSpec(0.0, "constant", 0.0, 2.0, "uniform", 0.0)
        net, _ = _served_network(spec, received, "n1", *(f"c{i}" for i in range(50)))
        for i in range(50):
            net.send(f"c{i}", "n1", {"n": i})
        await asyncio.sleep(1)
        for n in range(100):  # one sender, a message every 0.1 ms: order kept
            net.send("n1", "c0", {"n": n})
            await asyncio.sleep(0.0001)
        for n in range(5):  # one sender, one instant: one departure
            net.send("n1", "c1", {"n": n})
        await asyncio.sleep(1)

    run_virtual(main())
    from_clients = [t for t, dest, _ in received if dest == "n1"]
    assert len(from_clients) == 50 and max(from_clients) < 4.0  # none waited on another
    assert len(set(from_clients)) == 50 and sum(from_clients) / 50 == pytest.approx(2.0, rel=0.3)
    to_c0 = [n for _, dest, n in received if dest == "c0"]
    assert to_c0 == list(range(100))
    to_c1 = [t for t, dest, _ in received if dest == "c1"]
    assert len(to_c1) == 5 and len(set(to_c1)) == 1


def test_the_router_is_one_queue_for_all_messages_in_send_order() -> None:
    """The router charges per byte and passes a message on at once when idle; what is sent
    while it is busy waits, whoever sends it, so one flood slows every other message."""
    received: list[tuple[float, str, Any]] = []

    async def main() -> None:
        net, _ = _served_network(_spec(0.0, router_us=1.0), received, "n1", "n2", "c1")
        net.send("n1", "n2", {"n": 0, "pad": "x" * 4984})  # 5,000 bytes: the router 5 ms
        net.send("c1", "n1", {"n": 1})  # {"n":1}: 7 bytes
        await asyncio.sleep(0.1)
        net.send("c1", "n1", {"n": 2})  # the router is idle again
        await asyncio.sleep(1)

    run_virtual(main())
    assert received == [(0.0, "n2", 0), (5.0, "n1", 1), (100.0, "n1", 2)]


@pytest.mark.parametrize(
    ("dist", "low", "high"), [("uniform", 0, 8), ("exponential", 0, 60), ("constant", 4, 4)]
)
def test_service_time_distributions(dist: str, low: float, high: float) -> None:
    loop = asyncio.new_event_loop()
    try:
        model = Processing(ProcessingSpec(4.0, dist, 0.0), loop, random.Random(3), served=bool)
        draws = [model.cost(({"body": {}},)) * 1000 for _ in range(4000)]
    finally:
        loop.close()
    assert all(low <= d <= high for d in draws)
    assert sum(draws) / len(draws) == pytest.approx(4.0, rel=0.08)


@pytest.mark.parametrize("dist", ["constant", "uniform", "exponential"])
def test_a_service_time_is_the_documented_formula_on_the_runs_stream(dist: str) -> None:
    """draw(dist, mean) + per_byte x size, to the last bit, from the run's own stream: the
    draws of a seeded run stay what they are whatever shape the cost function takes."""
    loop = asyncio.new_event_loop()
    try:
        model = Processing(ProcessingSpec(4.0, dist, 0.2), loop, random.Random(5), served=bool)
        body_json = b'{"type":"gossip","values":[1,2,3]}'
        costs = [model.cost((1, "n1", "n2", None, body_json)) for _ in range(100)]
    finally:
        loop.close()
    stream, mean = random.Random(5), 4.0 / 1000.0
    draw = {
        "constant": lambda: mean,
        "uniform": lambda: stream.random() * 2.0 * mean,
        "exponential": lambda: stream.expovariate(1.0 / mean),
    }[dist]
    assert costs == [draw() + 0.2 / 1e6 * len(body_json) for _ in range(100)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"processing_dist": "normal"},
        {"processing_time": -1},
        {"processing_per_byte": -0.5},
        {"io_delay": -1},
        {"io_delay_dist": "pareto"},
    ],
)
def test_bad_processing_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"processing|io-delay"):
        sim_options.TestOptions(**kwargs)


def test_the_test_map_omits_processing_only_when_it_is_off() -> None:
    assert {"io_delay", "processing_time"} <= set(sim_options.TestOptions().to_json())
    zero_cost = sim_options.TestOptions(**ZERO_COST).to_json()
    assert not set(sim_options.PROCESSING_OPTIONS) & set(zero_cost)
    assert "io_delay" in sim_options.TestOptions(processing_time=0, processing_per_byte=0).to_json()


def _latencies(store: Path) -> list[int]:
    import analysis

    ops = analysis.load(store).client_ops
    return [int(x * 1e6) for x in ops["latency_ms"].dropna()]


def test_in_process_runs_now_have_latency_and_zero_restores_the_old_model(
    tmp_path: Path,
) -> None:
    on = run(
        "glome.nodes.echo:Echo",
        workload="echo",
        node_count=1,
        time_limit=3,
        seed=2,
        store_dir=tmp_path / "on",
    )
    off = run(
        "glome.nodes.echo:Echo",
        workload="echo",
        node_count=1,
        time_limit=3,
        seed=2,
        store_dir=tmp_path / "off",
        **OFF,
    )
    lat_on, lat_off = _latencies(on.store_path), _latencies(off.store_path)
    assert set(lat_off) == {0}
    assert min(lat_on) > 0 and max(lat_on) < 8_000_000  # two I/O delays, uniform in [0, 4 ms)
    quantiles = on.results["perf"]["glome/latency-quantiles"]["echo"]
    assert quantiles[0.5] > 0


def test_processing_time_is_deterministic_by_seed(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "workload": "broadcast",
        "node_count": 5,
        "time_limit": 3,
        "rate": 20,
        "latency": 10,
        "latency_dist": "uniform",
        "processing_dist": "exponential",
    }
    stores = [
        run("glome.nodes.broadcast:Hardened", seed=5, store_dir=tmp_path / str(i), **options)
        for i in range(2)
    ]
    for name in ("history.edn", "net-journal.jsonl"):
        first, second = ((s.store_path / name).read_bytes() for s in stores)
        assert first == second, name


def test_a_service_is_a_server_too(tmp_path: Path) -> None:
    """kafka on lin-kv: the node handles the client's request at once and is then busy, so the
    lin-kv reply its first rpc gets waits one service time: no send completes sooner."""
    result = run(
        "glome.nodes.kafka:LinKVKafka",
        workload="kafka",
        node_count=1,
        concurrency="2n",
        time_limit=3,
        rate=50,
        seed=1,
        store_dir=tmp_path,
        io_delay=0,
        processing_time=4,
        processing_dist="constant",
        processing_per_byte=0,
    )
    sends = result.results["perf"]["glome/latency-quantiles"]["send"]
    assert sends[0] >= 4.0
