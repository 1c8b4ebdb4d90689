"""The processing-time model against real Maelstrom runs, and what it costs the simulator.

    .venv/bin/python bench/bench_processing.py calibrate [--seeds 1-5]
    .venv/bin/python bench/bench_processing.py gossip    [--seeds 1-5]
    .venv/bin/python bench/bench_processing.py speed     [--repeat 3]
    .venv/bin/python bench/bench_processing.py instructions [--baseline REV]

``calibrate``: for each corpus run below, the equivalent glome node at the corpus run's flags
(default processing options), op latency p50/p99 over seeds (median of the per-seed
quantiles) beside the real run's (read with ``analysis.load``; the corpus is found through
``GLOME_CORPUS`` or by walking up to ``shared/maelstrom-runs``).
``gossip``: challenge 3d's configuration, naive full-state gossip against the hardened node,
same seeds: p99 op latency and messages per op.
``speed``: CPU time (``time.process_time``) of ``bench_sim.py``'s 3d run (its acknowledged
gossip node) with processing on and off, side by side in this one process, alternating, best
of ``--repeat``; also per message sent, since the two runs' schedules differ.
``instructions``: the same run, processing off and on, each in its own process under
``valgrind --tool=callgrind`` (instruction counts: robust on a loaded machine), for this tree
and, with ``--baseline``, for that git revision's tree (exported to a temporary directory), all
in this one invocation.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from glome.sim import run  # noqa: E402
from glome.sim.options import ZERO_COST  # noqa: E402

CALIBRATION: list[tuple[str, str, dict[str, Any]]] = [
    # (corpus run, glome node, the corpus run's flags as run() keywords)
    ("echo-1node-pass", "glome.nodes.echo:Echo", {"workload": "echo", "node_count": 1}),
    (
        "unique-ids-1node-fail",
        "glome.nodes.unique_ids:SnowflakeIds",
        {"workload": "unique-ids", "node_count": 1},
    ),
    (
        "broadcast-1node-pass",
        "glome.nodes.broadcast:SingleNode",
        {"workload": "broadcast", "node_count": 1, "time_limit": 20, "rate": 10},
    ),
    (
        "broadcast-5node-pass",
        "glome.nodes.broadcast:Hardened",
        {"workload": "broadcast", "node_count": 5, "time_limit": 20, "rate": 10},
    ),
    (
        "broadcast-25node-efficiency-pass",
        "glome.nodes.broadcast:Hardened",
        {
            "workload": "broadcast",
            "node_count": 25,
            "time_limit": 20,
            "rate": 100,
            "latency": 100,
        },
    ),
    (
        "kafka-1node-pass",
        "glome.nodes.kafka:SingleNodeKafka",
        {
            "workload": "kafka",
            "node_count": 1,
            "concurrency": "2n",
            "time_limit": 20,
            "rate": 1000,
        },
    ),
]

GOSSIP_3D: dict[str, Any] = {
    "workload": "broadcast",
    "node_count": 25,
    "time_limit": 20,
    "rate": 100,
    "latency": 100,
}
NAIVE, HARDENED = "glome.nodes.broadcast:FullStateGossip", "glome.nodes.broadcast:Hardened"


def corpus_root() -> Path | None:
    env = os.environ.get("GLOME_CORPUS")
    if env:
        return Path(env)
    for parent in ROOT.parents:
        candidate = parent / "shared" / "maelstrom-runs"
        if candidate.is_dir():
            return candidate
    return None


def quantiles(store: Path) -> tuple[float, float, float]:
    """(p50, p99, messages per op) of a run's client operations."""
    import analysis  # here, not at the top: ``one`` counts a run's instructions without it

    loaded = analysis.load(store)
    latency = loaded.client_ops["latency_ms"].dropna()
    per_op = loaded.figures.get("net.servers.msgs-per-op", float("nan"))
    return float(latency.quantile(0.5)), float(latency.quantile(0.99)), float(per_op)


def simulate(node: str, options: dict[str, Any], seed: int, **extra: Any) -> Path:
    store_root = Path(tempfile.mkdtemp(prefix="bench-processing-"))
    result = run(node, seed=seed, store_dir=store_root, **options, **extra)
    return Path(result.store_path)


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def calibrate(seeds: list[int]) -> None:
    corpus = corpus_root()
    print("| run | glome node | real p50 | glome p50 | real p99 | glome p99 | within 2x |")
    print("|---|---|---|---|---|---|---|")
    for name, node, options in CALIBRATION:
        real = (float("nan"), float("nan"))
        if corpus is not None:
            stores = sorted((corpus / name / "store").glob("*/*"))
            if stores:
                real = quantiles(stores[0])[:2]
        ours = [quantiles(simulate(node, options, seed))[:2] for seed in seeds]
        p50 = statistics.median(q[0] for q in ours)
        p99 = statistics.median(q[1] for q in ours)
        ok = all(0.5 <= mine / theirs <= 2 for mine, theirs in ((p50, real[0]), (p99, real[1])))
        print(
            f"| {name} | `{node.rsplit(':', 1)[1]}` | {real[0]:.1f} ms | {p50:.1f} ms "
            f"| {real[1]:.1f} ms | {p99:.1f} ms | {'yes' if ok else 'no'} |",
            flush=True,
        )


def gossip(seeds: list[int]) -> None:
    print("| seed | naive p99 | hardened p99 | naive msgs/op | hardened msgs/op |")
    print("|---|---|---|---|---|")
    for seed in seeds:
        naive = quantiles(simulate(NAIVE, GOSSIP_3D, seed))
        hardened = quantiles(simulate(HARDENED, GOSSIP_3D, seed))
        print(
            f"| {seed} | {naive[1]:.1f} ms | {hardened[1]:.1f} ms | {naive[2]:.1f} "
            f"| {hardened[2]:.1f} |",
            flush=True,
        )


def speed(repeat: int) -> None:
    from bench_sim import CONFIG, SimpleGossip

    off = PROCESSING_OFF
    times: dict[str, list[float]] = {"off": [], "on": []}
    sent: dict[str, int] = {}
    for _ in range(repeat):
        for label, extra in (("off", off), ("on", {})):
            store_root = Path(tempfile.mkdtemp(prefix="bench-processing-"))
            started = time.process_time()
            result = run(SimpleGossip, seed=1, store_dir=store_root, **CONFIG, **extra)
            times[label].append(time.process_time() - started)
            sent[label] = (result.results or {})["net"]["all"]["send-count"]
    best_off, best_on = min(times["off"]), min(times["on"])
    print(f"bench_sim 3d (SimpleGossip), seed 1, CPU s per run (best of {repeat}):")
    print(f"  processing off {best_off:.2f}   on {best_on:.2f}   ratio {best_on / best_off:.3f}")
    per_off, per_on = best_off / sent["off"] * 1e6, best_on / sent["on"] * 1e6
    print(
        f"  per message sent: off {per_off:.1f} us ({sent['off']} msgs)   on {per_on:.1f} us "
        f"({sent['on']} msgs)   ratio {per_on / per_off:.3f}"
    )
    print(f"  all runs: off {times['off']}  on {times['on']}")


PROCESSING_OFF: dict[str, Any] = dict(ZERO_COST)


def one_run(mode: str) -> None:
    """``bench_sim.py``'s 3d run, seed 1, processing ``on`` (defaults) or ``off``: the program
    ``instructions`` counts (it prints the messages sent)."""
    from bench_sim import CONFIG, SimpleGossip

    extra = PROCESSING_OFF if mode == "off" else {}
    store_root = Path(tempfile.mkdtemp(prefix="bench-processing-"))
    result = run(
        SimpleGossip, seed=1, store_dir=store_root, wall_budget=float("inf"), **CONFIG, **extra
    )
    shutil.rmtree(store_root, ignore_errors=True)
    print((result.results or {})["net"]["all"]["send-count"])


def _count_instructions(tree: Path, mode: str) -> tuple[int, int]:
    """(instructions, messages sent) of ``one_run(mode)`` with ``tree``'s code, under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as scratch:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={scratch}/callgrind.out",
                sys.executable,
                str(tree / "bench" / "bench_processing.py"),
                "one",
                "--mode",
                mode,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{done.stderr}")
    return int(collected.group(1)), int(done.stdout.split()[-1])


def instructions(baseline: str | None) -> None:
    trees = [("this tree", ROOT)]
    scratch = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    if baseline is not None:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", baseline], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive.stdout, check=True)
        # This script drives both trees (the baseline's may predate ``one``).
        shutil.copy(Path(__file__), scratch / "bench" / "bench_processing.py")
        trees.insert(0, (f"baseline {baseline}", scratch))
    for _, tree in trees:  # compile first, so no run counts the compiler
        compileall.compile_dir(tree / "glome", quiet=1)
    print("| tree | processing | instructions | messages sent | per message sent |")
    print("|---|---|---|---|---|")
    ratios = []
    for label, tree in trees:
        counts = {mode: _count_instructions(tree, mode) for mode in ("off", "on")}
        for mode, (count, sent) in counts.items():
            print(
                f"| {label} | {mode} | {count / 1e9:.3f} G | {sent:,} | {count / sent / 1e3:.0f} k |",
                flush=True,
            )
        ratios.append(f"{label}: on/off {counts['on'][0] / counts['off'][0]:.3f}")
    print("  ".join(ratios))
    shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("calibrate", "gossip", "speed", "instructions", "one"))
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="git revision to measure beside this tree")
    parser.add_argument("--mode", choices=("off", "on"), default="on", help="for ``one``")
    args = parser.parse_args(argv)
    if args.action == "instructions":
        instructions(args.baseline)
    elif args.action == "one":
        one_run(args.mode)
    elif args.action == "calibrate":
        calibrate(_seeds(args.seeds))
    elif args.action == "gossip":
        gossip(_seeds(args.seeds))
    else:
        speed(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
