"""Benchmark: analysis.edn against edn_format on the real Maelstrom history files.

Both readers parse every `history.edn` in ../shared/maelstrom-runs in the same process, one
after the other per file, and must produce the same number of ops. edn_format is given the whole
file at once (`loads_all`), its fastest mode; analysis.edn reads it line by line
(`loads_lines`), as `analysis.load` does. Each timing is the best of `--repeat` runs
(analysis.edn: repeated up to 1 s per file, since its runs are short and easily disturbed).
Times are CPU seconds of this process (time.process_time), which other jobs on a shared machine
disturb far less than wall-clock time; the load average is printed before and after.

    .venv/bin/python bench/bench_edn.py [--repeat 3] [--runs DIR]

Prints a Markdown table (file, size, ops, both times, speed-up) and the totals.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import edn  # noqa: E402


def _best(fn: Callable[[], Any], repeat: int, budget: float = 0.0) -> tuple[float, Any]:
    """Best time of at least `repeat` runs, repeating (up to 50) until `budget` seconds are spent:
    short runs need many tries to dodge scheduler noise on a shared machine."""
    best = float("inf")
    result = None
    spent = 0.0
    runs = 0
    while runs < repeat or (spent < budget and runs < 50):
        t0 = time.process_time()
        value = fn()
        took = time.process_time() - t0
        result = value  # frees the previous result here, outside the timed region
        best = min(best, took)
        spent += took
        runs += 1
    return best, result


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _register_tags(text: str) -> None:
    """edn_format refuses unknown tags; teach it the ones this file uses."""
    import edn_format

    for tag in set(re.findall(r"#([a-zA-Z][\w.\-$]*)", text)) - {"inst", "uuid"}:
        edn_format.add_tag(tag, lambda v, t=tag: ("tagged", t, v))


def main() -> int:
    import edn_format

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=Path, default=ROOT.parent / "shared" / "maelstrom-runs")
    args = parser.parse_args()
    files = sorted(args.runs.glob("*/store/*/*/history.edn"))
    if not files:
        print(f"no history.edn under {args.runs}", file=sys.stderr)
        return 1
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {_load()}")
    print()
    print("| run | KB | ops | edn_format CPU s | analysis.edn CPU s | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    tot_ref = tot_ours = 0.0
    for path in files:
        text = path.read_text()
        _register_tags(text)
        t_ref, ref = _best(partial(edn_format.loads_all, text), args.repeat)
        t_ours, ours = _best(partial(edn.loads_lines, text), args.repeat, budget=1.0)
        if len(ref) != len(ours):
            print(f"MISMATCH in {path}: {len(ref)} vs {len(ours)} values", file=sys.stderr)
            return 1
        tot_ref += t_ref
        tot_ours += t_ours
        name = path.relative_to(args.runs).parts[0]
        print(
            f"| {name} | {len(text) // 1024} | {len(ours)} | {t_ref:.3f} | {t_ours:.4f} "
            f"| {t_ref / t_ours:.0f}x |"
        )
    print(
        f"| **all {len(files)} files** | | | {tot_ref:.2f} | {tot_ours:.3f} "
        f"| **{tot_ref / tot_ours:.0f}x** |"
    )
    print()
    print(f"load average at the end {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
