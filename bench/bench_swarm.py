"""The swarm's costs: pool speed-up, Dask overhead per run, a default `glome challenge`.

    .venv/bin/python bench/bench_swarm.py speedup [--seeds 100]
    .venv/bin/python bench/bench_swarm.py dask [--seeds 40]
    .venv/bin/python bench/bench_swarm.py challenges [--only 3c,4] [--sample K]
    .venv/bin/python bench/bench_swarm.py bin-concurrency [--seeds 4]

- ``speedup``: 3c in-process (``Hardened``, official flags) on seeds 1..N, serially
  (``--workers 1``) then on the local pool (one process per core), in this invocation. Prints
  wall time, the summed CPU of the runs, the speed-up, and the load average before and after
  (the machine is shared: a speed-up means little under load).
- ``dask``: the same cases on the local pool and on a Dask cluster of this machine's cores
  (``dask scheduler`` and ``dask worker`` processes started here); the overhead per run is the
  difference of wall time divided by the runs. Rows must be identical.
- ``challenges``: a default ``glome challenge ID --node HARDENED`` for each challenge: wall time,
  runs, CPU per run, and that it passes; ``--sample K`` runs K seeds only and estimates the
  default grade's wall time on idle cores from the CPU per run (for the costly challenges on a
  shared machine).
- ``bin-concurrency``: 3b with the ``glome-broadcast`` binary (real time) at 1, 2 and 4 runs
  per core: msgs-per-op and verdicts must not move with concurrency.

Every figure goes to ``docs/benchmarks.md`` with the command and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from glome.challenges import CHALLENGES, DEFAULT_SEEDS, challenge_cases, grade_seeds
from glome.swarm import Case, cores, run_swarm
from glome.swarm.local_cluster import local_cluster

HARDENED = {
    "1": "glome.nodes.echo:Echo",
    "2": "glome.nodes.unique_ids:SnowflakeIds",
    "3a": "glome.nodes.broadcast:Hardened",
    "3b": "glome.nodes.broadcast:Hardened",
    "3c": "glome.nodes.broadcast:Hardened",
    "3d": "glome.nodes.broadcast:Hardened",
    "3e": "glome.nodes.broadcast:Hardened",
    "4": "glome.nodes.counter:SeqKVCounter",
    "5a": "glome.nodes.kafka:RaftKafka",
    "5b": "glome.nodes.kafka:RaftKafka",
    "5c": "glome.nodes.kafka:OwnerKafka",
    "6a": "glome.nodes.txn:ReadCommittedTxn",
    "6b": "glome.nodes.txn:ReadCommittedTxn",
    "6c": "glome.nodes.txn:ReadCommittedTxn",
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cases_3c(seeds: int) -> list[Case]:
    return challenge_cases(CHALLENGES["3c"], range(1, seeds + 1), node=HARDENED["3c"])


def timed(cases: list[Case], **kw: Any) -> tuple[Any, float]:
    with tempfile.TemporaryDirectory() as store:
        began = time.perf_counter()
        runs = run_swarm(cases, store_dir=store, keep="none", progress=False, **kw)
        return runs, time.perf_counter() - began


def speedup(seeds: int) -> None:
    cases = cases_3c(seeds)
    print(f"load average before: {load()}; {cores()} cores")
    serial, serial_wall = timed(cases, workers=1)
    pool, pool_wall = timed(cases)
    print(f"load average after: {load()}")
    assert serial["history_sha256"].tolist() == pool["history_sha256"].tolist()
    print("| executor | runs | wall s | CPU s (sum of runs) | wall s per run | passed |")
    print("|---|---|---|---|---|---|")
    for name, runs, wall in (("--workers 1", serial, serial_wall), ("pool", pool, pool_wall)):
        print(
            f"| {name} | {len(runs)} | {wall:.1f} | {runs['cpu_s'].sum():.1f} | "
            f"{wall / len(runs):.3f} | {int(runs['passed'].sum())} |"
        )
    print(f"speed-up of the pool over --workers 1: {serial_wall / pool_wall:.2f}x")


@contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded worker processes on 127.0.0.1."""
    # Same session as this script: with the kernel's autogroup scheduling a new session would
    # get its own CPU share on a loaded machine, and Dask would look faster than the local
    # pool for that reason alone.
    with (
        tempfile.TemporaryDirectory() as folder,
        local_cluster(workers, Path(folder), own_sessions=False) as address,
    ):
        yield address


def dask_overhead(seeds: int, rounds: int = 2) -> None:
    """Local pool and Dask alternately, ``rounds`` times each: on a shared machine one pair
    says little, the spread between rounds says how much."""
    cases = cases_3c(seeds)
    print("| round | executor | runs | wall s | wall s per run | CPU s (sum of runs) |")
    print("|---|---|---|---|---|---|")
    walls: dict[str, list[float]] = {"local pool": [], "Dask": []}
    same = True
    with dask_cluster(cores()) as address:
        print(f"load average before: {load()}; {cores()} cores, {cores()} Dask workers")
        for round_ in range(1, rounds + 1):
            pool, pool_wall = timed(cases)
            remote, remote_wall = timed(cases, cluster=address)
            same = same and pool["history_sha256"].tolist() == remote["history_sha256"].tolist()
            for name, runs, wall in (
                ("local pool", pool, pool_wall),
                ("Dask", remote, remote_wall),
            ):
                walls[name].append(wall)
                print(
                    f"| {round_} | {name} | {len(runs)} | {wall:.1f} | {wall / len(runs):.3f} | "
                    f"{runs['cpu_s'].sum():.1f} |"
                )
        print(f"load average after: {load()}")
    per_run = (sum(walls["Dask"]) - sum(walls["local pool"])) / (rounds * len(cases))
    print(
        f"Dask overhead per run (mean over rounds): {per_run * 1000:.0f} ms; rows byte-identical: {same}"
    )


def challenges(only: set[str] | None, sample: int | None) -> None:
    """A default grade per challenge; with ``sample``, only that many seeds, and the default
    grade's time on idle cores estimated from their CPU (runs x CPU per run / cores)."""
    print(f"load average before: {load()}; {cores()} cores")
    print(
        "| challenge | node | default seeds | runs done | verdict | wall s | CPU s per run | "
        "default grade: runs | default grade: est. wall s on idle cores |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for challenge, node in HARDENED.items():
        if only and challenge not in only:
            continue
        seeds = (
            DEFAULT_SEEDS[challenge] if sample is None else min(sample, DEFAULT_SEEDS[challenge])
        )
        with tempfile.TemporaryDirectory() as store:
            began = time.perf_counter()
            grade = grade_seeds(
                challenge, node=node, seeds=seeds, seed=1, store_dir=store, quiet=True, keep="none"
            )
            wall = time.perf_counter() - began
        verdict = "PASS" if grade.passed else f"FAIL seeds {grade.failing_seeds}"
        per_run = grade.runs["cpu_s"].mean()
        default_runs = DEFAULT_SEEDS[challenge] * len(CHALLENGES[challenge].checks)
        print(
            f"| {challenge} | `{node.rpartition(':')[2]}` | {DEFAULT_SEEDS[challenge]} | "
            f"{len(grade.runs)} | {verdict} | {wall:.0f} | {per_run:.2f} | {default_runs} | "
            f"{default_runs * per_run / cores():.0f} |",
            flush=True,
        )
    print(f"load average after: {load()}")


def bin_concurrency(seeds: int) -> None:
    binary = str(Path(sys.executable).parent / "glome-broadcast")
    base = challenge_cases(CHALLENGES["3b"], range(1, seeds + 1), bin=[binary])
    print(f"load average before: {load()}; {cores()} cores")
    print("| runs per core | runs at once | seeds | msgs-per-op per seed | valid | wall s |")
    print("|---|---|---|---|---|---|")
    for per_core in (1, 2, 4):
        runs, wall = timed(base, workers=per_core * cores())
        msgs = " ".join(f"{m:.2f}" for m in runs["msgs_per_op"])
        print(
            f"| {per_core} | {per_core * cores()} | {seeds} | {msgs} | "
            f"{' '.join(runs['valid'])} | {wall:.0f} |",
            flush=True,
        )
    print(f"load average after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("speedup", "dask", "challenges", "bin-concurrency"))
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--only", help="challenges: comma-separated ids")
    parser.add_argument("--sample", type=int, help="challenges: seeds to run (default: all)")
    args = parser.parse_args()
    if args.part == "speedup":
        speedup(args.seeds or 100)
    elif args.part == "dask":
        dask_overhead(args.seeds or 40)
    elif args.part == "challenges":
        challenges(set(args.only.split(",")) if args.only else None, args.sample)
    else:
        bin_concurrency(args.seeds or 4)


if __name__ == "__main__":
    main()
