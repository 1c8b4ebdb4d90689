"""Parameter sweeps: ``glome test`` over a grid of flag values and many seeds.

    glome sweep --seeds 20 --out sweep-3d -- -w broadcast --node glome.nodes.broadcast:Hardened \\
        --node-count 25 --time-limit 20 --rate 10,100 --latency 0,100

A flag given a comma-separated list is a dimension of the grid. Flags whose value is itself a
comma list (``--nemesis``, ``--nodes``, ``--consistency-models``) separate grid values with
``;`` instead (``--nemesis 'partition;partition,kill'``). Every grid point runs on seeds S ..
S+N-1 through the swarm. Writes ``DIR/runs.csv`` (one row per run: seed, valid, the swept
parameters, figures, replay line), prints a summary per grid point and draws ``DIR/sweep.png``
(pass rate and msgs-per-op by parameter). In Python, ``sweep(...)`` returns the runs DataFrame.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glome.swarm.case import Case

LIST_VALUED_FLAGS = ("--nemesis", "--nodes", "--consistency-models")
"""Flags whose one value is a comma list: their grid values are separated by ';'."""


def _value_flags() -> dict[str, str]:
    """Every ``glome test`` option string that takes a value -> its column name."""
    from glome.flags import _test_parser

    out = {}
    for action in _test_parser()._actions:
        if action.nargs == 0 or not action.option_strings:
            continue
        for flag in action.option_strings:
            out[flag] = action.dest
    return out


def _typed(text: str) -> Any:
    """A grid value as a column value: a number where it is one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def grid(test_args: Sequence[str]) -> tuple[list[str], list[list[tuple[int, str]]]]:
    """The swept parameter names and, per grid point, the (token index, value) substitutions."""
    flags = _value_flags()
    names: list[str] = []
    dimensions: list[list[tuple[int, str]]] = []
    tokens = list(test_args)
    for i, token in enumerate(tokens[:-1]):
        if token not in flags or token in ("--node", "--bin"):
            continue
        separator = ";" if token in LIST_VALUED_FLAGS else ","
        value = tokens[i + 1]
        if separator not in value:
            continue
        values = [v.strip() for v in value.split(separator) if v.strip()]
        names.append(flags[token])
        dimensions.append([(i + 1, v) for v in values])
    return names, [list(point) for point in itertools.product(*dimensions)]


def sweep_cases(test_args: Sequence[str], seeds: Sequence[int]) -> tuple[list[Case], list[str]]:
    """One case per (grid point, seed) and the swept parameter names."""
    from glome.flags import _test_parser, run_keywords

    names, points = grid(test_args)
    cases = []
    for point in points:
        argv = list(test_args)
        for index, value in point:
            argv[index] = value
        ns = _test_parser().parse_intermixed_args(argv)
        if (ns.node is None) == (ns.bin is None):
            raise ValueError("the test arguments need exactly one of --node or --bin")
        if ns.seed is not None:
            raise ValueError("give seeds to the sweep (--seed S --seeds N), not to the test")
        options = run_keywords(argv)
        options.pop("seed")
        labels = {name: _typed(value) for name, (_, value) in zip(names, point, strict=True)}
        binary = (ns.bin, *ns.args) if ns.bin is not None else None
        if binary is not None:
            options["extra_args"] = []  # they are the binary's own, part of bin=
        for seed in seeds:
            cases.append(Case(seed, options, node=ns.node, bin=binary, labels=labels))
    return cases, names


def sweep(
    test_args: Sequence[str] | str,
    *,
    seeds: int = 10,
    seed: int = 1,
    workers: int | None = None,
    cluster: Any = None,
    out: str | Path | None = None,
    store_dir: str | Path = "store",
    keep: str = "failing",
    progress: bool = True,
) -> Any:
    """Run the grid of ``test_args`` (``glome test`` flags) on seeds ``seed .. seed+seeds-1``;
    the runs DataFrame (``.attrs["parameters"]``: the swept names). With ``out``, also write
    ``out/runs.csv`` and ``out/sweep.png``."""
    from glome.swarm import run_swarm

    argv = shlex.split(test_args) if isinstance(test_args, str) else list(test_args)
    cases, names = sweep_cases(argv, range(seed, seed + seeds))
    runs = run_swarm(
        cases, workers=workers, cluster=cluster, keep=keep, store_dir=store_dir, progress=progress
    )
    runs.attrs["parameters"] = names
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        runs.to_csv(folder / "runs.csv", index=False)
        save_plot(runs, names, folder / "sweep.png")
    return runs


def summary(runs: Any, parameters: Sequence[str]) -> Any:
    """Per grid point: runs, pass rate, msgs-per-op (mean, max), latency p50 and max (median)."""
    keys = list(parameters) or (lambda _: "all")
    grouped = runs.groupby(keys, sort=True)
    table = grouped.agg(
        runs=("seed", "size"),
        pass_rate=("passed", "mean"),
        msgs_per_op=("msgs_per_op", "mean"),
        msgs_per_op_max=("msgs_per_op", "max"),
        latency_p50_ms=("latency_p50_ms", "median"),
        latency_max_ms=("latency_max_ms", "median"),
        errors=("error", "count"),
    )
    return table


def plot_sweep(runs: Any, parameters: Sequence[str], metric: str, ax: Any = None) -> Any:
    """``metric`` ("passed" for the pass rate, or a figure column) by the first swept
    parameter, one line per value of the others (mean over seeds, min-max band)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    data = runs.assign(passed=runs["passed"].astype(float))
    x = parameters[0] if parameters else None
    others = list(parameters[1:])
    groups = data.groupby(others) if others else [((), data)]
    for key, part in groups:
        label = ", ".join(
            f"{n}={v}"
            for n, v in zip(others, key if isinstance(key, tuple) else (key,), strict=True)
        )
        if x is None:
            stats = part[metric].agg(["mean", "min", "max"]).to_frame().T
            xs: Any = ["all"]
        else:
            stats = part.groupby(x)[metric].agg(["mean", "min", "max"])
            xs = stats.index
        ax.plot(xs, stats["mean"], marker="o", label=label or None)
        if metric != "passed":
            ax.fill_between(xs, stats["min"], stats["max"], alpha=0.2)
    ax.set_xlabel(x or "")
    ax.set_ylabel("pass rate" if metric == "passed" else metric.replace("_", " "))
    if metric == "passed":
        ax.set_ylim(-0.05, 1.05)
    if others:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def save_plot(runs: Any, parameters: Sequence[str], path: Path) -> None:
    """Pass rate and msgs-per-op side by side, as one PNG."""
    from matplotlib.figure import Figure  # no pyplot: leaves a notebook's backend alone

    figure = Figure(figsize=(11, 4))
    left, right = figure.subplots(1, 2)
    plot_sweep(runs, parameters, "passed", ax=left)
    plot_sweep(runs, parameters, "msgs_per_op", ax=right)
    seeds = runs["seed"].nunique()
    figure.suptitle(f"{len(runs)} runs, {seeds} seeds per point")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
