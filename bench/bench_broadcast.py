"""Benchmark: the broadcast nodes on challenges 3b, 3c and 3d, naive to hardened.

    .venv/bin/python bench/bench_broadcast.py [--seeds 50] [--jobs 2] [--skip-slow] [--out FILE]

Runs in-process on the virtual clock (deterministic per seed):

1. 3d's configuration (25 nodes, rate 100, 20 s, latency 100), each variant at seed 1 and the
   hardened node at seeds 1-3: verdict,
   servers msgs-per-op, stable latency median and maximum (the figures 3d/3e grade), against
   the targets (3d: < 30, < 400 ms, < 600 ms; 3e: < 20, < 1 s, < 2 s; issue 5 asks < 20 with
   3d's latencies, aiming at <= 5 msgs-per-op).
2. The same with ``--nemesis partition`` for the hardened node (3d must still be safe).
3. 3c (5 nodes, rate 10, 20 s, partitions) for seeds 0..N-1: how many pass, per variant.

``--skip-slow`` leaves out the full-state variants (their payloads grow with the set: at 25
nodes each run takes minutes). ``--sweep`` runs only a sweep of the hardened node's batching
interval and tree fan-out on 3d. ``--out`` also writes the markdown tables to FILE.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glome.nodes import broadcast  # noqa: E402
from glome.sim import run  # noqa: E402

VARIANTS = ["Hardened", "MarkOnSendDelta", "EvidenceDelta", "FullStateGossip"]
SLOW = {"EvidenceDelta", "FullStateGossip"}
C3D: dict[str, Any] = {"node_count": 25, "rate": 100, "time_limit": 20, "latency": 100}
SWEEP: list[tuple[str, dict[str, Any], int, dict[str, Any]]] = [
    ("Hardened", C3D, 1, {"flush_interval": 0.05}),
    ("Hardened", C3D, 1, {"flush_interval": 0.2}),
    ("Hardened", C3D, 1, {"flush_interval": 0.3}),
    ("Hardened", C3D, 1, {"tree_fanout": 4}),
    ("Hardened", C3D, 1, {"tree_fanout": 2}),
]
"""Variations of ``Hardened`` (default: flush_interval 0.1, a star) for ``--sweep``."""
C3C: dict[str, Any] = {"node_count": 5, "rate": 10, "time_limit": 20, "nemesis": "partition"}


def one_run(
    variant: str, config: dict[str, Any], seed: int, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one test; return the graded figures (picklable, for the process pool).

    ``overrides`` sets class attributes (``flush_interval``, ``tree_fanout``...) on a subclass.
    """
    started = time.perf_counter()
    node = getattr(broadcast, variant)
    if overrides:
        node = type(variant, (node,), {**overrides, "__module__": node.__module__})
        variant += " " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    with tempfile.TemporaryDirectory() as store:
        result = run(node, workload="broadcast", seed=seed, store_dir=store, **config)
    if result.results is None:
        return {"variant": variant, "seed": seed, "valid": None, "error": result.error}
    workload = result.results["workload"]
    latencies = workload.get("stable-latencies") or {}
    return {
        "variant": variant,
        "seed": seed,
        "valid": result.valid is True,
        "lost": workload.get("lost-count", 0),
        "msgs_per_op": result.results["net"]["servers"].get("msgs-per-op"),
        "median": latencies.get(0.5),
        "max": latencies.get(1),
        "wall": time.perf_counter() - started,
    }


def _fmt(x: Any, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _meets(r: dict[str, Any], msgs_per_op: float, median_ms: float, max_ms: float) -> bool:
    """Valid, and every figure under its target (a missing figure fails)."""
    mpo, med, mx = r.get("msgs_per_op"), r.get("median"), r.get("max")
    if r.get("valid") is not True or mpo is None or med is None or mx is None:
        return False
    return bool(mpo < msgs_per_op and med < median_ms and mx < max_ms)


def efficiency_table(rows: list[dict[str, Any]], title: str, *, graded: bool = True) -> list[str]:
    """One row per run; with ``graded`` the 3d and 3e verdicts (valid and all three targets)."""
    head = "| node | seed | valid | lost | servers msgs/op | median ms | max ms |"
    rule = "|---|---|---|---|---|---|---|"
    if graded:
        head, rule = head + " 3d | 3e |", rule + "---|---|"
    lines = [f"### {title}", "", head + " wall s |", rule + "---|"]
    for r in rows:
        mpo, med, mx = r.get("msgs_per_op"), r.get("median"), r.get("max")
        cells = [r["variant"], r["seed"], r.get("valid"), r.get("lost"), _fmt(mpo), med, mx]
        if graded:
            cells.append("PASS" if _meets(r, 30, 400, 600) else "FAIL")
            cells.append("PASS" if _meets(r, 20, 1000, 2000) else "FAIL")
        cells.append(_fmt(r.get("wall"), 1))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def seeds_row(variant: str, rows: list[dict[str, Any]]) -> str:
    valid = sum(r["valid"] is True for r in rows)
    losing = [r["seed"] for r in rows if r.get("lost")]
    shown = ", ".join(map(str, losing[:8])) + (", ..." if len(losing) > 8 else "")
    mean_mpo = sum(r["msgs_per_op"] or 0 for r in rows) / len(rows)
    lost = sum(r.get("lost") or 0 for r in rows)
    return (
        f"| {variant} | {len(rows)} | {valid} | {len(losing)}"
        f"{f' (seeds {shown})' if losing else ''} | {lost} | {mean_mpo:.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="3c seeds per variant")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs")
    parser.add_argument("--skip-slow", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="only: Hardened's batching interval and tree shape on 3d",
    )
    args = parser.parse_args(argv)

    out: list[str] = []

    def emit(lines: list[str]) -> None:
        for line in lines:
            print(line, flush=True)
        out.extend(lines)

    variants = [v for v in VARIANTS if not (args.skip_slow and v in SLOW)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        if args.sweep:
            emit(
                efficiency_table(
                    list(pool.map(one_run, *zip(*SWEEP, strict=True))),
                    "Hardened on 3d, seed 1: batching interval and overlay",
                )
            )
            return _write(args.out, out)
        runs = [("Hardened", 1), ("Hardened", 2), ("Hardened", 3)]
        runs += [(v, 1) for v in variants if v != "Hardened"]
        rows = list(
            pool.map(one_run, [v for v, _ in runs], [C3D] * len(runs), [seed for _, seed in runs])
        )
        emit(efficiency_table(rows, "3d configuration (25 nodes, rate 100, 20 s, latency 100)"))
        part = {**C3D, "nemesis": "partition"}
        rows = list(pool.map(one_run, ["Hardened"] * 3, [part] * 3, [1, 2, 3]))
        emit(
            [
                "",
                *efficiency_table(
                    rows,
                    "3d configuration with --nemesis partition: safety only (a value cannot cross "
                    "a partition before it heals, so latencies here measure the partitions)",
                    graded=False,
                ),
            ]
        )
        emit(
            [
                "",
                f"### 3c (5 nodes, rate 10, 20 s, partitions), seeds 0..{args.seeds - 1}",
                "",
                "| node | runs | valid | runs losing values | values lost (total) | "
                "mean servers msgs/op |",
                "|---|---|---|---|---|---|",
            ]
        )
        for variant in variants:
            seeds = list(range(args.seeds))
            rows = list(pool.map(one_run, [variant] * len(seeds), [C3C] * len(seeds), seeds))
            emit([seeds_row(variant, rows)])
    return _write(args.out, out)


def _write(path: Path | None, lines: list[str]) -> int:
    if path is not None:
        path.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
