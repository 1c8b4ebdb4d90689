"""This tree against another checkout, side by side, in one invocation: 3d in-process speed.

    git worktree add /tmp/base 523db65        # any other commit, outside the repository
    .venv/bin/python bench/bench_versus.py --base /tmp/base [--rounds 3] [--seed 1]
    .venv/bin/python bench/bench_versus.py --base /tmp/base --callgrind [--time-limit 5]

Runs ``bench_sim.inprocess`` (challenge 3d's configuration, 25 nodes, 20 s) in a fresh
interpreter for each tree, alternating the trees round after round so both see the same load
on a shared machine. Reports each run's CPU seconds up to the network's close (the simulation
proper) and simulated seconds per CPU second, then the median of each tree and their ratio.
CPU time (``time.process_time``) is used, not wall time: other processes on the machine
change the latter far more. Both trees run with this interpreter.

``--callgrind`` counts instructions instead (valgrind's callgrind, one run per tree, the load
of the machine does not change them): the whole child process, start-up and the store's
analysis included, so the difference between the trees is the figure to read. Under valgrind
a run is some 50 times slower: ``--time-limit`` shortens the test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/bench")
import bench_sim
bench_sim.CONFIG["time_limit"] = int(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    row = bench_sim.inprocess(int(sys.argv[2]), Path(tmp))
print(json.dumps({"sim_cpu_s": row["sim_cpu_s"], "sim_s": row["sim_s"], "valid": str(row["valid"])}))
"""


def one_run(tree: Path, seed: int, time_limit: int) -> dict[str, float | str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(seed), str(time_limit)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=600,
    ).stdout
    result: dict[str, float | str] = json.loads(out.strip().splitlines()[-1])
    return result


def instructions(tree: Path, seed: int, time_limit: int) -> int:
    """Instructions the child executes, counted by callgrind."""
    return callgrind.instructions(
        [sys.executable, "-c", CHILD, str(tree), str(seed), str(time_limit)]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=int, default=20)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "this": ROOT}
    if args.callgrind:
        counts = {
            name: instructions(tree, args.seed, args.time_limit) for name, tree in trees.items()
        }
        for name, n in counts.items():
            print(
                f"{name}: {n:,} instructions (3d, time limit {args.time_limit} s, seed {args.seed})"
            )
        print(f"this/base: {counts['this'] / counts['base']:.4f}")
        return 0
    rates: dict[str, list[float]] = {name: [] for name in trees}
    print("round | tree | valid | sim_cpu_s | sim_s per cpu_s")
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for name in order:
            row = one_run(trees[name], args.seed, args.time_limit)
            rate = float(row["sim_s"]) / float(row["sim_cpu_s"])
            rates[name].append(rate)
            print(f"{r} | {name} | {row['valid']} | {float(row['sim_cpu_s']):.2f} | {rate:.2f}")
    base, this = statistics.median(rates["base"]), statistics.median(rates["this"])
    print(
        f"\nmedian sim-s per CPU-s: base {base:.2f}, this {this:.2f}, this/base {this / base:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
