"""Benchmark: every challenge's reference nodes, naive to hardened, at the official flags.

    .venv/bin/python bench/bench_nodes.py [--quick] [--only 3d,5c] [--variants RaftKafka,...]
                                          [--seeds 1,2] [--slow] [--no-faults] [--jobs 2]
                                          [--out FILE]

For each challenge (1 to 6c) this runs each check of ``glome.challenges.CHALLENGES`` (the
official command line, in-process on the virtual clock, deterministic per seed) with every
relevant variant of ``glome/nodes``: the naive node, the review's / glome-rs's version where
one exists, and the hardened node. It prints one Markdown table, one row per (check, variant,
seed):

- verdict: the grader's (``glome.challenges.evaluate``): PASS when every graded criterion of
  that check passes, else FAIL and the criteria that failed; ABORT when the run aborted;
- servers msgs-per-op (``:net :servers :msgs-per-op``);
- latency median and maximum in ms: for broadcast the checker's stable latencies (what 3d/3e
  grade), for the other workloads the latency of every ``:ok`` client operation (invocation to
  completion, all ``:f`` together) computed from the history. The official command lines set
  no ``--latency``, so links are instant and most op latencies are 0: only service round trips
  (lin-kv, seq-kv), timers and retries show up there;
- availability ok-fraction; wall seconds of the run on this machine.

Extra "fault" rows (``--no-faults`` leaves them out) run the kafka and txn nodes under
``--nemesis kill``, where in-memory nodes lose acknowledged state and ``RaftKafka``'s WAL does
not. They are not official checks; they are graded on ``valid?`` only.

``--slow`` adds the full-state broadcast variants (``FullStateGossip``, ``EvidenceDelta``) on
3d/3e: their payloads grow with the set, so each 25-node run takes many minutes in-process.
``--quick`` caps every time limit at 5 s (a smoke run; its figures are not the official ones).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glome.challenges import CHALLENGES, VALID, Challenge, Check, evaluate  # noqa: E402
from glome.sim.checkers import frequency_distribution, pairs  # noqa: E402

QUICK_TIME_LIMIT = 5.0
"""``--quick`` caps every run's ``--time-limit`` at this many seconds."""

SLOW_VARIANTS = frozenset({"broadcast:FullStateGossip", "broadcast:EvidenceDelta"})
"""Variants that take many minutes per 25-node run; on 3d/3e only with ``--slow``."""

SLOW_CHALLENGES = frozenset({"3d", "3e"})


@dataclasses.dataclass(frozen=True)
class Variant:
    """A node class under test and its place on the naive-to-hardened line."""

    spec: str
    """``module:Class`` relative to ``glome.nodes``, e.g. ``kafka:RaftKafka``."""
    role: str
    """naive, review (the review's or glome-rs's version), hardened, or step."""

    @property
    def name(self) -> str:
        return self.spec.split(":")[1]


def _v(role: str, *specs: str) -> list[Variant]:
    return [Variant(s, role) for s in specs]


_BROADCAST = [
    *_v("naive", "broadcast:FullStateGossip"),
    *_v("review", "broadcast:MarkOnSendDelta", "broadcast:EvidenceDelta"),
    *_v("hardened", "broadcast:Hardened"),
]
_TXN_REPLICATED = [
    *_v("naive", "txn:NaiveReplicatedTxn"),
    *_v("review", "txn:CommitTsTxn"),
    *_v("step", "txn:LamportLWWTxn"),
    *_v("hardened", "txn:ReadCommittedTxn"),
]
_KAFKA_REPLICATED = [
    *_v("naive", "kafka:StaticLeaderKafka"),
    *_v("review", "kafka:DedupAckStaticLeaderKafka"),
    *_v("hardened", "kafka:RaftKafka"),
]

VARIANTS: dict[str, list[Variant]] = {
    "1": _v("hardened", "echo:Echo"),
    "2": [
        *_v("naive", "unique_ids:RandomIds"),
        *_v("review", "unique_ids:ReviewSnowflakeIds"),
        *_v("hardened", "unique_ids:SnowflakeIds"),
    ],
    "3a": [*_v("naive", "broadcast:SingleNode"), *_v("hardened", "broadcast:Hardened")],
    "3b": _BROADCAST,
    "3c": _BROADCAST,
    "3d": _BROADCAST,
    "3e": _BROADCAST,
    "4": [
        *_v("naive", "counter:StaleReadCounter", "counter:FullStateGossipCounter"),
        *_v("review", "counter:MarkOnSendDeltaCounter"),
        *_v("hardened", "counter:SeqKVCounter", "counter:DeltaCounter"),
    ],
    "5a": [*_v("naive", "kafka:SingleNodeKafka"), *_v("hardened", "kafka:RaftKafka")],
    "5b": [*_v("step", "kafka:LinKVKafka"), *_KAFKA_REPLICATED],
    "5c": [*_v("naive", "kafka:LinKVKafka"), *_v("hardened", "kafka:OwnerKafka")],
    "6a": [*_v("naive", "txn:SingleNodeTxn"), *_v("hardened", "txn:ReadCommittedTxn")],
    "6b": _TXN_REPLICATED,
    "6c": _TXN_REPLICATED,
}

_KILL = "--node-count 3 --concurrency 2n --time-limit 20 --rate 100 --nemesis kill "
FAULT_CHECKS: dict[str, tuple[Check, list[Variant]]] = {
    "5b": (
        Check(_KILL + "--nemesis-interval 3", (VALID,)),
        [
            *_v("naive", "kafka:SingleNodeKafka"),
            *_KAFKA_REPLICATED,
            *_v("step", "kafka:LinKVKafka", "kafka:OwnerKafka"),
        ],
    ),
    "6c": (
        Check(_KILL + "--nemesis-interval 3 --consistency-models read-committed", (VALID,)),
        _TXN_REPLICATED,
    ),
}
"""Not official: kafka and txn under ``--nemesis kill`` (3 nodes, so a majority survives)."""

COLUMNS = (
    "challenge",
    "flags",
    "variant",
    "role",
    "seed",
    "verdict",
    "msgs/op",
    "median ms",
    "max ms",
    "latency of",
    "ok-fraction",
    "wall s",
)


@dataclasses.dataclass(frozen=True)
class Job:
    """One run: a challenge's check, a variant, a seed."""

    challenge: str
    flags: str
    variant: Variant
    seed: int
    quick: bool
    official: bool


def _node_class(spec: str) -> Any:
    from glome.runtime.loader import load_node_class

    return load_node_class("glome.nodes." + spec)


def _argv(flags: str, quick: bool) -> list[str]:
    argv = shlex.split(flags)
    if quick and "--time-limit" in argv:
        i = argv.index("--time-limit") + 1
        argv[i] = f"{min(float(argv[i]), QUICK_TIME_LIMIT):g}"
    return argv


def op_latency_ms(history: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Median and maximum latency (ms) of the ``:ok`` client operations, all ``:f`` together."""
    latencies = [
        (int(done["time"]) - int(invoke["time"])) / 1e6
        for invoke, done in pairs(history)
        if done is not None and done.get("type") == "ok"
    ]
    dist = frequency_distribution(latencies)
    if dist is None:
        return None, None
    return float(dist[0.5]), float(dist[1])


def _stable_latency_ms(results: dict[str, Any], q: float) -> float | None:
    for k, v in (results.get("workload", {}).get("stable-latencies") or {}).items():
        if float(k) == q:
            return float(v)
    return None


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its row (a dict keyed by ``COLUMNS``; picklable)."""
    from glome.flags import run_keywords
    from glome.sim import build_options, run_options

    challenge = CHALLENGES[job.challenge]
    argv = _argv(job.flags, job.quick)
    # Parsed exactly as `glome test` and the grader parse them.
    opts = build_options(**run_keywords(["-w", challenge.workload, "--seed", str(job.seed), *argv]))
    slow = job.variant.spec in SLOW_VARIANTS and job.challenge in SLOW_CHALLENGES
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as store:
        result = run_options(
            opts,
            node=_node_class(job.variant.spec),
            store_dir=store,
            wall_budget=math.inf if slow else None,
        )
    wall = time.perf_counter() - started
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(
        flags=_short_flags(job.flags, job.quick),
        variant=job.variant.name,
        role=job.variant.role,
        seed=job.seed,
        **{"wall s": wall},
    )
    results = result.results
    if results is None or result.error:
        row["verdict"] = f"ABORT ({result.error})"
        return row
    row["_graded"] = _graded_part(results)
    row["msgs/op"] = results.get("net", {}).get("servers", {}).get("msgs-per-op")
    row["ok-fraction"] = results.get("availability", {}).get("ok-fraction")
    if challenge.workload == "broadcast":
        row["median ms"] = _stable_latency_ms(results, 0.5)
        row["max ms"] = _stable_latency_ms(results, 1.0)
        row["latency of"] = "stable"
    else:
        row["median ms"], row["max ms"] = op_latency_ms(result.history)
        row["latency of"] = "ok ops"
    return row


def _graded_part(results: dict[str, Any]) -> dict[str, Any]:
    """The parts of a results map the challenge criteria read (small, so it pickles cheaply)."""
    return {
        "valid?": results.get("valid?"),
        "availability": results.get("availability"),
        "net": {"servers": results.get("net", {}).get("servers")},
        "workload": {"stable-latencies": results.get("workload", {}).get("stable-latencies")},
    }


def verdict(job: Job, graded: dict[str, Any] | None) -> str:
    """PASS, or FAIL and the criteria of the job's check that failed."""
    if graded is None:
        return "ABORT"
    failed = [
        v.criterion
        for v in evaluate(CHALLENGES[job.challenge], _find_check(job), graded)
        if v.passed is False
    ]
    return "PASS" if not failed else "FAIL: " + ", ".join(failed)


def _find_check(job: Job) -> Check:
    if not job.official:
        return FAULT_CHECKS[job.challenge][0]
    for check in CHALLENGES[job.challenge].checks:
        if check.flags == job.flags:
            return check
    raise KeyError(f"challenge {job.challenge} has no check {job.flags!r}")


def _short_flags(flags: str, quick: bool) -> str:
    """The flags that tell a challenge's checks apart (the full lines are in glome.challenges)."""
    argv = _argv(flags, quick)

    def value(name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv else None

    keep = [f"{value('--node-count')} nodes, {value('--time-limit')} s"]
    if value("--nemesis"):
        keep.append(f"{value('--nemesis')}")
    if value("--availability"):
        keep.append(f"availability {value('--availability')}")
    return ", ".join(keep)


def plan(
    only: set[str] | None,
    seeds: Sequence[int],
    *,
    quick: bool,
    slow: bool,
    faults: bool,
    variants_only: set[str] | None = None,
) -> tuple[list[Job], list[str]]:
    """The jobs to run, in table order, and notes on what was left out.

    ``variants_only``: class names (``RaftKafka``...) to keep; None keeps every variant.
    """
    jobs: list[Job] = []
    notes: list[str] = []
    unknown = sorted((only or set()) - set(CHALLENGES))
    if unknown:
        raise ValueError(f"unknown challenge ids {unknown}; known: {', '.join(CHALLENGES)}")
    known_names = {v.name for vs in VARIANTS.values() for v in vs}
    unknown = sorted((variants_only or set()) - known_names)
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(sorted(known_names))}")

    def kept(variants: Sequence[Variant]) -> list[Variant]:
        return [v for v in variants if variants_only is None or v.name in variants_only]

    for cid, challenge in CHALLENGES.items():
        if only is not None and cid not in only:
            continue
        variants = kept(VARIANTS[cid])
        if cid in SLOW_CHALLENGES and not slow:
            skipped = [v.name for v in variants if v.spec in SLOW_VARIANTS]
            variants = [v for v in variants if v.spec not in SLOW_VARIANTS]
            if skipped:
                notes.append(
                    f"{cid}: left out {', '.join(skipped)} (minutes per run; --slow adds them)"
                )
        jobs += _jobs_for(challenge, challenge.checks, variants, seeds, quick, official=True)
        if faults and cid in FAULT_CHECKS:
            check, fault_variants = FAULT_CHECKS[cid]
            jobs += _jobs_for(
                challenge, (check,), kept(fault_variants), seeds, quick, official=False
            )
    return jobs, notes


def _jobs_for(
    challenge: Challenge,
    checks: Sequence[Check],
    variants: Sequence[Variant],
    seeds: Sequence[int],
    quick: bool,
    *,
    official: bool,
) -> list[Job]:
    return [
        Job(challenge.id, check.flags, variant, seed, quick, official)
        for check in checks
        for variant in variants
        for seed in seeds
    ]


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value).replace("|", "/")
    if column == "ok-fraction":
        return f"{value:.5g}"
    if column == "wall s":
        return f"{value:.1f}"
    if column == "msgs/op":
        return f"{value:.2f}" if value >= 0.1 or value == 0 else f"{value:.2g}"
    return f"{value:g}"


def markdown_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The rows as a Markdown table with ``COLUMNS``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row.get(c), c) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def bench(
    only: set[str] | None = None,
    seeds: Sequence[int] = (1,),
    *,
    quick: bool = False,
    slow: bool = False,
    faults: bool = True,
    jobs: int = 1,
    variants_only: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the plan; return its rows in table order and the notes. ``jobs`` > 1 runs a pool."""
    todo, notes = plan(
        only, seeds, quick=quick, slow=slow, faults=faults, variants_only=variants_only
    )
    # Runs are deterministic per (flags, node, seed): 3e's check is 3d's first, and 5b and 5c
    # share theirs, so each distinct run happens once and its figures fill every row it serves.
    distinct = sorted({_run_key(j) for j in todo})
    firsts = {_run_key(j): j for j in reversed(todo)}
    done: dict[tuple[str, str, str, int, bool], dict[str, Any]] = {}

    def finished(key: tuple[str, str, str, int, bool], row: dict[str, Any]) -> None:
        done[key] = row
        print(
            f"[{len(done)}/{len(distinct)}] {key[2]} seed {key[3]} {key[1]}: "
            f"{row['verdict'] or 'ran'}, {row['wall s']:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    if jobs <= 1:
        for key in distinct:
            finished(key, run_job(firsts[key]))
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            rows_done = pool.map(run_job, [firsts[k] for k in distinct])
            for key, row in zip(distinct, rows_done, strict=True):
                finished(key, row)
    rows = []
    for job in todo:
        row = dict(done[_run_key(job)])
        graded = row.pop("_graded", None)
        if row["verdict"] is None:
            row["verdict"] = verdict(job, graded)
        row["challenge"] = job.challenge if job.official else f"{job.challenge} (fault)"
        rows.append(row)
    return rows, notes


def _run_key(job: Job) -> tuple[str, str, str, int, bool]:
    return (CHALLENGES[job.challenge].workload, job.flags, job.variant.spec, job.seed, job.quick)


def report(rows: Sequence[dict[str, Any]], notes: Sequence[str], command: str) -> list[str]:
    """The Markdown document: how it was run, the table, the notes."""
    lines = [
        f"Command: `{command}`",
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        *markdown_table(rows),
    ]
    if len({row["seed"] for row in rows}) > 1:
        lines += ["", *summary_table(rows)]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return lines


def summary_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per (challenge, flags, variant), in table order: seeds passed and mean msgs-per-op."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["challenge"], row["flags"], row["variant"]), []).append(row)
    lines = [
        "| challenge | flags | variant | seeds passed | failed seeds | mean msgs/op |",
        "|---|---|---|---|---|---|",
    ]
    for (challenge, flags, variant), group in groups.items():
        failed = [str(r["seed"]) for r in group if r["verdict"] != "PASS"]
        mpo = [r["msgs/op"] for r in group if r["msgs/op"] is not None]
        mean = _cell(sum(mpo) / len(mpo), "msgs/op") if mpo else ""
        lines.append(
            f"| {challenge} | {flags} | {variant} | {len(group) - len(failed)} of {len(group)} "
            f"| {', '.join(failed)} | {mean} |"
        )
    return lines


def _names(text: str | None) -> set[str] | None:
    return {x.strip() for x in text.split(",") if x.strip()} if text else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated challenge ids, e.g. 3d,5c")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds (default 1)")
    parser.add_argument("--quick", action="store_true", help=f"time limits <= {QUICK_TIME_LIMIT}s")
    parser.add_argument("--slow", action="store_true", help="full-state broadcast on 3d/3e too")
    parser.add_argument("--no-faults", action="store_true", help="leave out the kill rows")
    parser.add_argument("--variants", help="comma-separated class names, e.g. RaftKafka")
    parser.add_argument("--jobs", type=int, default=1, help="parallel runs (default 1)")
    parser.add_argument("--out", type=Path, help="also write the Markdown to FILE")
    args = parser.parse_args(argv)
    only = {x.lower() for x in _names(args.only) or ()} if args.only else None
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        rows, notes = bench(
            only,
            seeds or [1],
            quick=args.quick,
            slow=args.slow,
            faults=not args.no_faults,
            jobs=args.jobs,
            variants_only=_names(args.variants),
        )
    except ValueError as e:
        parser.error(str(e))
    shown = ["bench/bench_nodes.py", *(sys.argv[1:] if argv is None else argv)]
    lines = report(rows, notes, " ".join(shown))
    print("\n".join(lines))
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
