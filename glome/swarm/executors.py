"""Where the cases of a swarm run: here, in forked local processes, or on a Dask cluster.

Each executor calls ``on_row(index, row)`` as runs finish (in any order) and returns normally;
a KeyboardInterrupt is handled where it arrives: running work is stopped, and the caller is
told through ``Interrupted`` which rows it already has.

The local pool forks one fresh process per case (at most ``workers`` at a time) instead of
keeping long-lived workers: a node that crashes the interpreter (``os._exit``, a segfault in an
extension) takes only its own case with it, a run that hangs past its budget is killed with
everything it started, no state leaks from one case into the next, and a Node class defined in
a notebook reaches the child without pickling. A fork costs milliseconds; a run, seconds.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from glome.swarm.case import Case, empty_row

Row = dict[str, Any]
RunOne = Callable[[Case], Row]
OnRow = Callable[[int, Row], None]

STOP_GRACE_S = 3.0
"""Seconds an interrupted child gets to tear its run down (kill its node processes)."""


class Interrupted(Exception):
    """Ctrl-C (KeyboardInterrupt) stopped the swarm; the rows given so far stand."""


def run_serial(cases: Sequence[Case], run_one: RunOne, on_row: OnRow) -> None:
    """Every case in this process, one after the other."""
    for index, case in enumerate(cases):
        try:
            row = run_one(case)
        except KeyboardInterrupt:
            raise Interrupted() from None
        on_row(index, row)


def _child(run_one: RunOne, case: Case, conn: multiprocessing.connection.Connection) -> None:
    """In the forked child: run the case, send its row, exit without any parent clean-up."""
    # SIGTERM from the parent (Ctrl-C in a notebook, a hang) unwinds like Ctrl-C, so a --bin
    # run's finally blocks stop its node processes.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    code = 0
    try:
        conn.send(run_one(case))
    except KeyboardInterrupt:
        code = 130
    except BaseException as e:
        with contextlib.suppress(Exception):
            conn.send(empty_row(case, f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        code = 1
    finally:
        conn.close()
    os._exit(code)


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"the run's process was killed by signal {signal.Signals(-exitcode).name}"
    return f"the run's process exited with code {exitcode} before sending its row"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the pool runs, SIGTERM to this process stops it as Ctrl-C does (children
    stopped, rows so far kept) instead of leaving its children running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; Ctrl-C still works there
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@_sigterm_as_interrupt()
def run_forked(
    cases: Sequence[Case],
    run_one: RunOne,
    on_row: OnRow,
    *,
    workers: int,
    budget: Callable[[Case], float],
) -> None:
    """At most ``workers`` forked children at once, one per case; see the module docstring.

    A child still running ``budget(case)`` seconds after it started is killed and its case
    becomes a row with an error; so does a child that dies without sending its row.
    SIGTERM stops it as Ctrl-C does (``_sigterm_as_interrupt``).
    """
    context = multiprocessing.get_context("fork")
    waiting = list(enumerate(cases))
    waiting.reverse()  # pop() from the end gives case order
    running: dict[Any, tuple[int, Any, Any, float]] = {}  # conn -> index, process, case, deadline
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index, case = waiting.pop()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(run_one, case, send), daemon=True)
                process.start()
                send.close()
                running[receive] = (index, process, case, time.monotonic() + budget(case))
            soonest = min(deadline for *_, deadline in running.values())
            sentinels = [p.sentinel for _, p, _, _ in running.values()]
            ready = multiprocessing.connection.wait(
                [*running, *sentinels], timeout=max(0.0, soonest - time.monotonic())
            )
            now = time.monotonic()
            for conn, (index, process, case, deadline) in list(running.items()):
                row = None
                if conn in ready or process.sentinel in ready:
                    try:
                        row = conn.recv() if conn.poll() else None
                    except (EOFError, OSError):
                        row = None
                    process.join(STOP_GRACE_S)
                    if row is None:
                        row = empty_row(case, _died(process.exitcode))
                elif now >= deadline:
                    _stop(process)
                    row = empty_row(
                        case, f"the run hung past its wall budget of {budget(case):g} s"
                    )
                else:
                    continue
                conn.close()
                del running[conn]
                on_row(index, row)
    except KeyboardInterrupt:
        for _, process, _, _ in running.values():
            _stop(process, already_signalled=True)
        raise Interrupted() from None


def _stop(process: Any, *, already_signalled: bool = False) -> None:
    """Stop a child: let it unwind (SIGTERM acts as Ctrl-C there), then kill it."""
    if already_signalled:  # a terminal's Ctrl-C reached the children too: give them a moment
        process.join(STOP_GRACE_S)
    if process.is_alive():
        process.terminate()
        process.join(STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()


def run_dask(
    cases: Sequence[Case],
    run_one: RunOne,
    on_row: OnRow,
    *,
    cluster: Any,
) -> None:
    """Every case as one task on a Dask cluster (``"tcp://HOST:PORT"`` or a ``Client``).

    A task whose worker dies is retried by Dask on another worker (its ``allowed-failures``);
    when Dask gives up, the case is a row with the error. Hangs are bounded inside the run
    (its wall budget and the simulator's watchdog): Dask cannot kill a running task.
    """
    from distributed import Client, as_completed

    own = not isinstance(cluster, Client)
    client = Client(cluster, timeout=30) if own else cluster
    futures: list[Any] = []
    try:
        futures = [client.submit(run_one, case, pure=False) for case in cases]
        index_of = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            index = index_of[future.key]
            try:
                row = future.result()
            except Exception as e:  # KilledWorker, CancelledError, a lost connection
                row = empty_row(
                    cases[index], f"the run's Dask worker was lost: {type(e).__name__}: {e}"
                )
            on_row(index, row)
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise Interrupted() from None
    finally:
        if own:
            client.close()
