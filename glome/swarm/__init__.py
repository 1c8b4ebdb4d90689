"""Verdicts over many seeds: run a list of cases on every core or on a Dask cluster.

    from glome.swarm import Case, run_swarm
    cases = [Case(seed, {"workload": "broadcast", "node_count": 5, "time_limit": 20,
                         "rate": 10, "nemesis": "partition"},
                  node="glome.nodes.broadcast:MarkOnSendDelta") for seed in range(1, 41)]
    runs = run_swarm(cases)                 # a DataFrame, one row per case, in case order
    runs.groupby("valid").size()

Executors: ``workers=1`` runs serially in this process; ``workers=None`` (the default) forks
one process per case, one per core at a time (``glome.swarm.executors``); ``cluster=
"tcp://HOST:PORT"`` or a ``distributed.Client`` sends each case to a Dask cluster. The same case
gives byte-identical ``history.edn`` and ``net-journal.jsonl`` on every executor (the rows carry
their sha256). A run that crashes, hangs past its budget or loses its worker is a row with an
``error``; the swarm goes on. Ctrl-C stops every run, leaves no child process behind and returns
the rows that finished (``runs.attrs["interrupted"]`` is True).

Real-time (``bin=``) cases share cores: ``BIN_RUNS_PER_CORE`` of them run per core by default
(measured in ``docs/benchmarks.md``: msgs-per-op and verdicts do not move at that concurrency).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from glome.swarm.case import KEEP_CHOICES, Case, empty_row, flags_for, replay_command, run_case

__all__ = [
    "BIN_RUNS_PER_CORE",
    "Case",
    "case_budget",
    "default_workers",
    "flags_for",
    "replay_command",
    "run_case",
    "run_swarm",
]

BIN_RUNS_PER_CORE = 2
"""Real-time runs per core: their nodes mostly wait on the clock (measured, see the README)."""
HARD_BUDGET_MARGIN_S = 60.0
"""Seconds past the in-run wall budget before the pool kills a child that did not stop."""

FIRST_COLUMNS = (
    "seed",
    "valid",
    "passed",
    "error",
    "msgs_per_op",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
)
LAST_COLUMNS = ("wall_s", "cpu_s", "store", "replay", "history_sha256", "journal_sha256")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(cases: Iterable[Case]) -> int:
    """One in-process run per core; ``BIN_RUNS_PER_CORE`` real-time runs per core."""
    real_time = any(case.bin is not None or case.sandbox is not None for case in cases)
    return cores() * (BIN_RUNS_PER_CORE if real_time else 1)


def case_budget(case: Case, wall_budget: float | None) -> float:
    """Real seconds the pool lets a case run before it kills it."""
    from glome.sim import build_options, default_wall_budget

    if wall_budget is not None:
        return wall_budget + HARD_BUDGET_MARGIN_S
    try:
        opts = build_options(**{**case.options, "seed": case.seed})
    except (TypeError, ValueError):
        return HARD_BUDGET_MARGIN_S  # the run fails at once; the row will say why
    return default_wall_budget(opts) + HARD_BUDGET_MARGIN_S


def _run_one(case: Case, *, store_dir: str, keep: str, wall_budget: float | None) -> dict[str, Any]:
    if case.sandbox is not None:
        from glome.swarm.sandboxed import run_sandboxed

        return run_sandboxed(
            case, store_dir=store_dir, keep=keep, timeout=case_budget(case, wall_budget)
        )
    return run_case(case, store_dir=store_dir, keep=keep, wall_budget=wall_budget)


def run_swarm(
    cases: Iterable[Case],
    *,
    workers: int | None = None,
    cluster: Any = None,
    keep: str = "failing",
    store_dir: str | os.PathLike[str] = "store",
    wall_budget: float | None = None,
    progress: bool = True,
) -> Any:
    """Run every case; a pandas DataFrame with one row per case, in case order.

    ``keep``: ``"failing"`` keeps the store of runs that did not pass, ``"all"`` every
    store, ``"none"`` none. ``wall_budget``: real seconds an in-process run may take (default:
    ``glome.sim.default_wall_budget``). ``progress``: a tqdm bar on stderr counting runs.
    """
    from tqdm import tqdm

    from glome.swarm import executors

    cases = list(cases)
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {keep!r}")
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    store = str(Path(store_dir).resolve())  # Dask workers and sandboxes have other cwds
    run_one = functools.partial(_run_one, store_dir=store, keep=keep, wall_budget=wall_budget)
    rows: dict[int, dict[str, Any]] = {}
    failing = [0]
    with tqdm(
        total=len(cases), unit="run", desc="swarm", disable=not progress, file=sys.stderr
    ) as bar:

        def on_row(index: int, row: dict[str, Any]) -> None:
            rows[index] = row
            failing[0] += not row.get("passed")
            bar.update(1)
            bar.set_postfix(failing=failing[0], refresh=False)

        interrupted = False
        try:
            if cluster is not None:
                executors.run_dask(cases, run_one, on_row, cluster=cluster)
            elif (workers or default_workers(cases)) == 1 or len(cases) <= 1:
                executors.run_serial(cases, run_one, on_row)
            else:
                count = workers or default_workers(cases)
                executors.run_forked(
                    cases,
                    run_one,
                    on_row,
                    workers=count,
                    budget=lambda case: case_budget(case, wall_budget),
                )
        except executors.Interrupted:
            interrupted = True
    if interrupted:
        print(
            f"glome swarm: interrupted; {len(rows)} of {len(cases)} runs finished",
            file=sys.stderr,
        )
    frame = _frame([rows[i] for i in sorted(rows)])
    frame.attrs["interrupted"] = interrupted
    return frame


def _frame(rows: list[dict[str, Any]]) -> Any:
    """Rows as a DataFrame, the usual columns first and the bookkeeping last."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    for column in FIRST_COLUMNS + LAST_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column in ("error", "store"):  # None, not NaN, where there is none
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    middle = [c for c in frame.columns if c not in FIRST_COLUMNS + LAST_COLUMNS]
    return frame[[*FIRST_COLUMNS, *middle, *LAST_COLUMNS]]


__all__ += ["cores", "empty_row"]
