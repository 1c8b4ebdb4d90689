"""A Dask cluster on this machine, for trying ``--cluster`` without one: ``local_cluster``.

    with local_cluster(2, folder) as address:      # "tcp://127.0.0.1:PORT"
        runs = run_swarm(cases, cluster=address)

``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1, each
a separate process as on a real cluster (the test suite and ``bench/bench_swarm.py`` use it),
all stopped when the block ends, however it ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STARTUP_S = 90.0
"""Seconds the scheduler and the workers get to come up."""
STOP_S = 20.0
"""Seconds each process gets to stop after SIGTERM before it is killed."""


@contextmanager
def local_cluster(
    workers: int,
    folder: Path,
    *,
    own_sessions: bool = True,
    env: Mapping[str, str] | None = None,
    startup_s: float = STARTUP_S,
) -> Iterator[str]:
    """Start a scheduler and ``workers`` workers (their files under ``folder``); the address.

    ``own_sessions``: each process in its own session, so stopping it stops a worker's nanny
    children too; False keeps them in this session, so that on a loaded machine the kernel's
    autogroup scheduling gives them no CPU share of their own (a benchmark then compares
    executors fairly). ``env``: extra environment variables (Dask settings).
    """
    dask = str(Path(sys.executable).parent / "dask")
    info = folder / "scheduler.json"
    common: dict[str, Any] = {
        "cwd": folder,
        "env": {**os.environ, **(env or {})},
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": own_sessions,
    }
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    started = [subprocess.Popen([*scheduler, "--scheduler-file", str(info)], **common)]
    try:
        deadline = time.monotonic() + startup_s
        while not info.exists():
            if time.monotonic() > deadline or started[0].poll() is not None:
                raise RuntimeError(f"the Dask scheduler did not start within {startup_s:g} s")
            time.sleep(0.2)
        address = str(json.loads(info.read_text())["address"])
        for i in range(1, workers + 1):
            name = f"w{i}"
            worker = [dask, "worker", address, "--nthreads", "1", "--nworkers", "1"]
            worker += ["--name", name, "--no-dashboard", "--local-directory", str(folder / name)]
            started.append(subprocess.Popen(worker, **common))
        from distributed import Client

        with Client(address, timeout=startup_s) as client:
            client.wait_for_workers(workers, timeout=startup_s)
        yield address
    finally:
        for process in reversed(started):  # workers first; a worker's nanny stops its worker
            _stop(process, own_sessions)


def _stop(process: subprocess.Popen[bytes], own_session: bool) -> None:
    """SIGTERM (to its whole session when it has one), then SIGKILL after ``STOP_S``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        if own_session:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        try:
            process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            continue
