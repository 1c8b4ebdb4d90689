"""Benchmark: the in-process simulator on challenge 3d's configuration.

    .venv/bin/python bench/bench_sim.py [--repeat 3] [--seed 1] [--bin CMD ...]
    .venv/bin/python bench/bench_sim.py --compare     # in-process vs processes, same verdict?

Configuration (Gossip Glomers 3d): broadcast, 25 nodes, rate 100, time limit 20 s, latency
100 ms, default (grid) topology, with a simple correct gossip node defined below. Reports, per
run: wall seconds, CPU seconds (``sim_cpu_s``: of which the simulation itself, up to the network's
close; the rest writes the history files, timeline.html and messages.svg and runs the analysis),
simulated seconds (main phase + 10 s recovery + setup) and the simulated/wall ratio, plus the
verdict and the efficiency figures Gossip Glomers grades on.

``--bin`` runs the same test through real processes (``process_mode``) so both modes can be
compared on verdict; it takes real time (about 30 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from nodes.sim_nodes import Gossip  # noqa: E402

from glome.runtime import Node  # noqa: E402
from glome.sim import RunResult, run  # noqa: E402
from glome.sim.net.network import Network  # noqa: E402

CONFIG: dict[str, Any] = {
    "workload": "broadcast",
    "node_count": 25,
    "rate": 100,
    "time_limit": 20,
    "latency": 100,
    "topology": "grid",
}


SimpleGossip = Gossip
"""The benchmark's node (``bench_sim:SimpleGossip``): correct broadcast by acknowledged gossip,
every 200 ms each neighbour gets the values it has not acknowledged. It is the simulator tests'
``Gossip``, so the node measured here is the node those tests prove correct."""


def _row(mode: str, result: RunResult, wall: float, cpu: float) -> dict[str, Any]:
    results = result.results or {}
    workload = results.get("workload", {})
    latencies = workload.get("stable-latencies") or {}
    return {
        "mode": mode,
        "valid": result.valid,
        "wall_s": wall,
        "cpu_s": cpu,
        "sim_s": result.sim_seconds,
        "ratio": result.sim_seconds / wall if wall else float("nan"),
        "cpu_ratio": result.sim_seconds / cpu if cpu else float("nan"),
        "msgs_per_op": results.get("net", {}).get("servers", {}).get("msgs-per-op"),
        "median_ms": latencies.get(0.5),
        "max_ms": latencies.get(1),
        "ops": len(result.history),
    }


@contextlib.contextmanager
def _network_closed_at() -> Iterator[list[float]]:
    """Note the CPU time at which the run's network closes: the end of the simulation proper
    (history files, timeline.html, messages.svg and the analysis come after it)."""
    closed_at: list[float] = []
    original = Network.close

    def close(self: Network) -> None:
        if not closed_at:
            closed_at.append(time.process_time())
        original(self)

    Network.close = close  # type: ignore[method-assign]
    try:
        yield closed_at
    finally:
        Network.close = original  # type: ignore[method-assign]


def inprocess(seed: int, store: Path, node: type[Node] = SimpleGossip) -> dict[str, Any]:
    """One in-process run of the 3d configuration."""
    wall, cpu = time.perf_counter(), time.process_time()
    with _network_closed_at() as closed_at:
        result = run(node, seed=seed, store_dir=store, **CONFIG)
    row = _row("in-process", result, time.perf_counter() - wall, time.process_time() - cpu)
    row["sim_cpu_s"] = closed_at[0] - cpu if closed_at else float("nan")
    return row


def process_mode(command: Sequence[str], seed: int, store: Path) -> dict[str, Any]:
    """The same test with real node processes (``--bin``), in real time."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(bin=list(command), seed=seed, store_dir=store, **CONFIG)
    return _row("process", result, time.perf_counter() - wall, time.process_time() - cpu)


def _print(rows: list[dict[str, Any]]) -> None:
    header = (
        "mode",
        "valid",
        "wall_s",
        "cpu_s",
        "sim_cpu_s",
        "sim_s",
        "ratio",
        "cpu_ratio",
        "msgs_per_op",
        "median_ms",
        "max_ms",
        "ops",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        cells = []
        for key in header:
            value = row.get(key, "-")
            cells.append(f"{value:.2f}" if isinstance(value, float) else str(value))
        print(" | ".join(cells))


def machine_speed() -> float:
    """Microseconds for ``sum(range(1000))`` (best of 5): ~10 on an idle modern laptop core."""
    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--bin",
        nargs=argparse.REMAINDER,
        help="also run this node command as processes (real time)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run 3d three ways instead: in-process, this node class as processes, and "
        "tests/nodes/plain_node.py as processes; check the verdicts agree (about 70 s)",
    )
    args = parser.parse_args(argv)
    if args.compare:
        rows = compare_modes(args.seed)
        return 0 if len({str(row["valid"]) for row in rows}) == 1 else 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            rows.append(inprocess(args.seed + i, Path(tmp) / "inproc"))
        if args.bin:
            rows.append(process_mode(args.bin, args.seed, Path(tmp) / "proc"))
    _print(rows)
    best = max(r["ratio"] for r in rows if r["mode"] == "in-process")
    best_cpu = max(r["cpu_ratio"] for r in rows if r["mode"] == "in-process")
    print(
        f"\nbest in-process simulated/wall ratio: {best:.1f}x, simulated/CPU: {best_cpu:.1f}x "
        "(target >= 20x)"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: sum(range(1000)) = {machine_speed():.1f} us, load average {load:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    return 0


# ==========================================================================================
# Both modes, same node (appended by the process-host helper; this section only).
#
#     .venv/bin/python -c "import sys; sys.path.insert(0, 'bench'); import bench_sim; \
#         bench_sim.compare_modes()"
#
# SimpleGossip in-process, the very same class as real processes over pipes
# (``python -m glome.runtime bench_sim:SimpleGossip``), and the third-party stand-in
# tests/nodes/plain_node.py (plain json, no glome import) as processes. Shows that both modes
# reach the same verdict on 3d's configuration, and what real time costs.

PLAIN_NODE = ROOT / "tests" / "nodes" / "plain_node.py"


def compare_modes(seed: int = 1, store: Path | None = None) -> list[dict[str, Any]]:
    """Run 3d three ways, print the table and whether the verdicts agree (about 70 s)."""
    import os

    own_store = tempfile.TemporaryDirectory() if store is None else None
    root = Path(own_store.name) if own_store is not None else Path(store or ".")
    # The node processes import bench_sim (and through it glome) from the repository.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "bench"), str(ROOT), saved) if p
    )
    try:
        rows = [inprocess(seed, root / "inproc")]
        rows.append(
            process_mode(
                [sys.executable, "-m", "glome.runtime", "bench_sim:SimpleGossip"],
                seed,
                root / "proc",
            )
        )
        rows[-1]["mode"] = "process (same class)"
        rows.append(process_mode([sys.executable, str(PLAIN_NODE)], seed, root / "plain"))
        rows[-1]["mode"] = "process (plain_node.py)"
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        if own_store is not None:
            own_store.cleanup()
    _print(rows)
    verdicts = {str(row["valid"]) for row in rows}
    listing = ", ".join(f"{row['mode']}={row['valid']}" for row in rows)
    print(f"\nverdicts: {listing}; {'all agree' if len(verdicts) == 1 else 'DISAGREE'}")
    return rows


if __name__ == "__main__":
    sys.exit(main())
