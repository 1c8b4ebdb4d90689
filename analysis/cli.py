"""``glome analyze PATH [--out DIR]``: print a run's summary and write its plots as PNG files.

PATH is a run directory, a workload directory, a ``store/`` directory (its latest run) or any
directory holding one; with ``--all``, every run below PATH is summarised and compared.
Exit status: 0 when the run loaded (whatever its verdict), 1 when PATH holds no run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.compare import compare, plot_compare
from analysis.load import Run, find_runs, load
from analysis.plots import all_plots


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glome analyze", description=__doc__.split("\n")[0])
    p.add_argument("path", type=Path, help="run, workload, store/ or parent directory")
    p.add_argument("--out", type=Path, help="directory for the PNG plots (default: none)")
    p.add_argument(
        "--all", action="store_true", help="every run below PATH: summaries and a comparison table"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        runs = [load(r) for r in find_runs(args.path)] if args.all else [load(args.path)]
    except (FileNotFoundError, NotADirectoryError) as err:
        print(f"glome analyze: {err}", file=sys.stderr)
        return 1
    if not runs:
        print(f"glome analyze: no run directory below {args.path}", file=sys.stderr)
        return 1
    for run in runs:
        print(run.summary())
        print()
    if args.all and len(runs) > 1:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(compare(runs).to_string(index=False))
    if args.out:
        _write_plots(runs, args.out, compare_all=args.all and len(runs) > 1)
    return 0


def _write_plots(runs: list[Run], out: Path, compare_all: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for run in runs:
        prefix = run.name.replace("/", "_") + "_" if len(runs) > 1 else ""
        for name, plot in all_plots().items():
            ax = plot(run)
            target = out / f"{prefix}{name}.png"
            ax.figure.savefig(target, dpi=110, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(target)
    if compare_all:
        fig = plot_compare(runs)
        target = out / "compare.png"
        fig.savefig(target, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(target)
    print(f"wrote {len(written)} plots to {out}")


if __name__ == "__main__":
    raise SystemExit(main())
