"""glome's Maelstrom-compatible runner.

For notebooks and scripts::

    from glome.sim import run
    result = run(MyBroadcast, workload="broadcast", node_count=5, time_limit=10, rate=10,
                 nemesis="partition", seed=1)
    result.valid, result.results["workload"]["stable-latencies"], result.store_path

``node`` is a glome ``Node`` subclass (or ``"module:Class"``): it runs in-process on a virtual
clock, deterministically by seed and much faster than real time. ``bin=["./node", "arg"]``
runs any binary as processes in real time instead, as Maelstrom does. Other keyword arguments
are ``TestOptions`` fields (``time_limit``, ``rate``, ``latency``, ``latency_dist``,
``concurrency`` (int or ``"2n"``), ``nemesis_interval``, ``availability``, ``topology``,
``recovery_time``, ...), plus ``store_dir`` (default ``./store``), ``verbose`` (print the
results and verdict), ``wall_budget`` and ``hang_timeout`` (in-process safety limits, see
``run_options``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glome.runtime.node import Node
from glome.sim.hosts.vclock import run_virtual
from glome.sim.options import TestOptions, parse_concurrency
from glome.sim.runner import HostBuilder, RunResult, run_test

__all__ = [
    "RunResult",
    "TestOptions",
    "build_options",
    "default_wall_budget",
    "inprocess_builder",
    "process_builder",
    "run",
    "run_options",
]


def inprocess_builder(node_class: type[Node]) -> HostBuilder:
    """A host builder running ``node_class`` objects in-process."""
    from glome.sim.hosts.inproc import InProcessHost

    def build(
        *, node_ids: list[str], network: Any, store_dir: Path, seed: int, on_log_line: Any = None
    ) -> InProcessHost:
        return InProcessHost(
            node_class,
            node_ids=node_ids,
            network=network,
            store_dir=store_dir,
            seed=seed,
            on_log_line=on_log_line,
        )

    return build


def process_builder(command: Sequence[str], *, log_stderr: bool = False) -> HostBuilder:
    """A host builder running ``command`` (binary and its args) as one process per node."""
    from glome.sim.hosts.processes import ProcessHost

    def build(
        *, node_ids: list[str], network: Any, store_dir: Path, seed: int, on_log_line: Any = None
    ) -> Any:
        # No GLOME_SEED for the processes: one shared value would give every node the same
        # random stream, and real-time runs are not replayable anyway.
        return ProcessHost(
            list(command),
            node_ids,
            network,
            store_dir,
            log_stderr=log_stderr,
            on_log_line=on_log_line,
        )

    return build


def build_options(
    *,
    workload: str,
    node_count: int | None = None,
    nodes: Sequence[str] | None = None,
    nemesis: str | Sequence[str] | None = None,
    seed: int = 0,
    concurrency: int | str | None = None,
    **options: Any,
) -> TestOptions:
    """TestOptions from ``run``'s keywords (ValueError for unknown ones)."""
    known = {f.name for f in dataclasses.fields(TestOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown run options {unknown}; known: {sorted(known)}")
    if node_count is not None:
        node_ids = [f"n{i}" for i in range(node_count)]
    elif nodes is not None:
        node_ids = list(nodes)
    else:
        node_ids = TestOptions().node_ids
    if not node_ids:
        raise ValueError("a test needs at least one node")
    if isinstance(nemesis, str):
        faults = tuple(x.strip() for x in nemesis.split(",") if x.strip())
    else:
        faults = tuple(nemesis or ())
    workers = (
        parse_concurrency(concurrency, len(node_ids))
        if isinstance(concurrency, str)
        else concurrency
    )
    if workers is not None and workers < 0:
        raise ValueError("concurrency must be >= 0")
    return TestOptions(
        workload=workload,
        node_ids=node_ids,
        nemesis=faults,
        seed=seed,
        concurrency=workers,
        **options,
    )


def run_options(
    opts: TestOptions,
    *,
    node: type[Node] | str | None = None,
    bin: Sequence[str] | str | None = None,
    store_dir: str | os.PathLike[str] = "store",
    verbose: bool = False,
    argv: list[str] | None = None,
    wall_budget: float | None = None,
    hang_timeout: float = 60.0,
) -> RunResult:
    """Run a test described by ``opts`` (see ``run``).

    ``wall_budget``: real seconds an in-process run may take before it is wound down and
    aborted (a node that keeps the loop busy freezes virtual time); default
    ``default_wall_budget(opts)``, ``math.inf`` for none. ``hang_timeout``: real seconds one
    piece of node code may run without returning to the event loop before it is interrupted
    (``VirtualClockStalled`` is raised).
    """
    echo = print if verbose else None
    if (node is None) == (bin is None):
        raise ValueError("give exactly one of node= (in-process) or bin= (processes)")
    if node is not None:
        if isinstance(node, str):
            from glome.runtime.loader import load_node_class

            node_class = load_node_class(node)
            spec = node
        else:
            node_class = node
            spec = f"{node.__module__}:{node.__qualname__}"
        coro = run_test(
            opts,
            inprocess_builder(node_class),
            store_root=store_dir,
            argv=argv,
            description={"mode": "in-process", "node": spec},
            echo=echo,
            wall_budget=default_wall_budget(opts) if wall_budget is None else wall_budget,
        )
        return _run_blocking(lambda: run_virtual(coro, hang_timeout=hang_timeout))
    command = [bin] if isinstance(bin, str) else list(bin or [])
    command += list(opts.extra_args)
    coro = run_test(
        opts,
        process_builder(command, log_stderr=opts.log_stderr),
        store_root=store_dir,
        argv=argv,
        description={"mode": "process", "bin": command},
        echo=echo,
        progress=verbose,
    )
    return _run_blocking(lambda: asyncio.run(coro))


def default_wall_budget(opts: TestOptions) -> float:
    """Real seconds an in-process run may take: generous (10 per simulated second, plus 120)."""
    return 120.0 + 10.0 * (opts.time_limit + opts.recovery_time)


def _run_blocking(fn: Any) -> RunResult:
    """Run ``fn`` here, or in a helper thread when this thread already runs a loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result: RunResult = fn()
        return result
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        outcome: RunResult = pool.submit(fn).result()
        return outcome


def run(
    node: type[Node] | str | None = None,
    *,
    workload: str = "echo",
    node_count: int | None = None,
    nemesis: str | Sequence[str] | None = None,
    seed: int = 0,
    bin: Sequence[str] | str | None = None,
    store_dir: str | os.PathLike[str] = "store",
    verbose: bool = False,
    wall_budget: float | None = None,
    hang_timeout: float = 60.0,
    **options: Any,
) -> RunResult:
    """Run one test and return its ``RunResult`` (``.results``, ``.history``, ``.store_path``,
    ``.valid``). See the module docstring."""
    opts = build_options(
        workload=workload, node_count=node_count, nemesis=nemesis, seed=seed, **options
    )
    return run_options(
        opts,
        node=node,
        bin=bin,
        store_dir=store_dir,
        verbose=verbose,
        wall_budget=wall_budget,
        hang_timeout=hang_timeout,
    )
