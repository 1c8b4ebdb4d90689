"""Benchmark: analysis.edn against edn_format on the real Maelstrom history files.

edn_format and analysis.edn parse every `history.edn` in ../shared/maelstrom-runs in the same
process, one after the other per file, and must produce the same number of ops. edn_format is
given the whole file at once (`loads_all`), its fastest mode; analysis.edn reads it line by line
(`loads_lines`), as `analysis.load` does, twice: as installed (the compiled reader
analysis/_cedn.c first, "C") and with the compiled reader switched off ("pure Python", what an
install without a C compiler gets). Each timing is the best of `--repeat` runs
(analysis.edn: repeated up to 1 s per file, since its runs are short and easily disturbed).
Times are CPU seconds of this process (time.process_time), which other jobs on a shared machine
disturb far less than wall-clock time; the load average is printed before and after.

    .venv/bin/python bench/bench_edn.py [--repeat 3] [--runs DIR]

Prints a Markdown table (file, size, ops, the three times, speed-ups over edn_format) and the
totals.
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


def _pure_loads_lines(text: str) -> Any:
    """analysis.edn.loads_lines with the compiled reader switched off."""
    saved = edn._cedn
    edn._cedn = None  # type: ignore[assignment]
    try:
        return edn.loads_lines(text)
    finally:
        edn._cedn = saved


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
    if not edn.ACCELERATED:
        print("analysis._cedn is not built: reinstall with a C compiler", file=sys.stderr)
        return 1
    print(
        "| run | KB | ops | edn_format CPU s | pure Python CPU s | speed-up | C CPU s | speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    tot_ref = tot_pure = tot_c = 0.0
    for path in files:
        text = path.read_text()
        _register_tags(text)
        t_ref, ref = _best(partial(edn_format.loads_all, text), args.repeat)
        t_pure, pure = _best(partial(_pure_loads_lines, text), args.repeat, budget=1.0)
        t_c, ours = _best(partial(edn.loads_lines, text), args.repeat, budget=1.0)
        if not len(ref) == len(pure) == len(ours):
            print(f"MISMATCH in {path}: {len(ref)}, {len(pure)}, {len(ours)}", file=sys.stderr)
            return 1
        tot_ref += t_ref
        tot_pure += t_pure
        tot_c += t_c
        name = path.relative_to(args.runs).parts[0]
        print(
            f"| {name} | {len(text) // 1024} | {len(ours)} | {t_ref:.3f} | {t_pure:.4f} "
            f"| {t_ref / t_pure:.0f}x | {t_c:.4f} | {t_ref / t_c:.0f}x |"
        )
    print(
        f"| **all {len(files)} files** | | | {tot_ref:.2f} | {tot_pure:.3f} "
        f"| **{tot_ref / tot_pure:.0f}x** | {tot_c:.3f} | **{tot_ref / tot_c:.0f}x** |"
    )
    print()
    print(f"load average at the end {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
