"""Per-seed failure rates of glome's flawed nodes at their challenge's official flags.

    .venv/bin/python bench/failure_rates.py [--only 4,3c] [--node NAME] [--seeds N] [--first S]

For each (challenge, node) below, grades the node on seeds 1..N with the swarm (every core)
and prints one markdown row: runs, failing seeds, the failure rate, its one-sided 95% lower
bound (Clopper-Pearson) and the seeds a grade needs so that a node failing that often is
caught in 99 of 100 invocations (``glome.challenges.seeds``). Hardened rows must show 0
failures. ``DEFAULT_SEEDS`` is set from these rows; ``docs/findings.md`` keeps the table.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from glome.challenges import grade_seeds
from glome.challenges.seeds import failure_rate_lower_bound, seeds_needed

# (challenge, node, role, seeds measured by default): the flawed node of each challenge whose
# flaw the official flags can show, then the hardened node that must pass. The counts are those
# of the last measurement (docs/findings.md): hundreds of seeds where a run costs under a CPU
# second, a few where it costs several.
PAIRS: list[tuple[str, str, str, int]] = [
    ("3c", "glome.nodes.broadcast:MarkOnSendDelta", "review", 100),
    ("3c", "glome.nodes.broadcast:Hardened", "hardened", 100),
    ("4", "glome.nodes.counter:StaleReadCounter", "naive", 200),
    ("4", "glome.nodes.counter:MarkOnSendDeltaCounter", "review", 400),
    ("4", "glome.nodes.counter:SeqKVCounter", "hardened", 60),
    ("4", "glome.nodes.counter:DeltaCounter", "hardened", 60),
    ("3d", "glome.nodes.broadcast:MarkOnSendDelta", "review", 10),
    ("6c", "glome.nodes.txn:CommitTsTxn", "review", 20),
    ("6b", "glome.nodes.txn:NaiveReplicatedTxn", "naive", 8),
    ("6b", "glome.nodes.txn:CommitTsTxn", "review", 8),
    ("2", "glome.nodes.unique_ids:ReviewSnowflakeIds", "review", 4),
    ("3d", "glome.nodes.broadcast:EvidenceDelta", "review", 2),
    ("3d", "glome.nodes.broadcast:FullStateGossip", "naive", 2),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated challenge ids")
    parser.add_argument("--seeds", type=int, help="seeds per pair (default: per pair)")
    parser.add_argument("--node", help="only this node class (its name)")
    parser.add_argument("--first", type=int, default=1, help="first seed (default 1)")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    print(
        "| challenge | node | role | seeds | failing | failing seeds | rate | 95% low | N for 99% | CPU s/run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for challenge, node, role, count in PAIRS:
        if (only and challenge not in only) or (args.node and args.node != node.rpartition(":")[2]):
            continue
        n = args.seeds or count
        began = time.perf_counter()
        with tempfile.TemporaryDirectory() as store:
            grade = grade_seeds(
                challenge,
                node=node,
                seeds=n,
                seed=args.first,
                workers=args.workers,
                store_dir=store,
                quiet=True,
                keep="none",
            )
        failing = grade.failing_seeds
        low = failure_rate_lower_bound(len(failing), n)
        needed = seeds_needed(low) if low > 0 else "-"
        cpu = grade.runs["cpu_s"].mean()
        shown = " ".join(map(str, failing))
        print(
            f"| {challenge} | `{node.rpartition(':')[2]}` | {role} | {args.first}..{args.first + n - 1} | {len(failing)} | "
            f"{shown} | {len(failing) / n:.3f} | {low:.3f} | {needed} | {cpu:.1f} |",
            flush=True,
        )
        errors = grade.runs["error"].dropna()
        if len(errors):
            print(f"<!-- {len(errors)} runs with errors, first: {errors.iloc[0][:200]} -->")
        print(f"<!-- {time.perf_counter() - began:.0f} s wall -->", flush=True)


if __name__ == "__main__":
    main()
