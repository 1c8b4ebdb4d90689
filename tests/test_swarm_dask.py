"""A real Dask cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1.

The swarm's rows through ``--cluster`` must equal the local pool's for the same seeds (same
verdicts, same figures, byte-identical history and journal), and every process started here
is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from glome.flags import run_keywords
from glome.swarm import Case, run_swarm

STARTUP_S = 90.0
COMPARED = ("seed", "valid", "passed", "error", "msgs_per_op", "lost", "stale", "ops")


def _dask() -> str:
    return str(Path(sys.executable).parent / "dask")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler with two single-threaded workers, all separate processes."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    # one lost worker is enough to give up on a task (Dask retries 3 times by default)
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    common: dict[str, Any] = {
        "cwd": folder,
        "env": env,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,  # its own group, so _stop gets the nanny's children too
    }
    processes = [
        subprocess.Popen(
            [
                _dask(),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            **common,
        )
    ]
    try:
        deadline = time.monotonic() + STARTUP_S
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for name in ("w1", "w2"):
            processes.append(
                subprocess.Popen(
                    [
                        _dask(),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--name",
                        name,
                        "--no-dashboard",
                        "--local-directory",
                        str(folder / name),
                    ],
                    **common,
                )
            )
        from distributed import Client

        with Client(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(2, timeout=STARTUP_S)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)
    assert all(p.poll() is not None for p in processes)


def test_cluster_rows_equal_the_local_pools(scheduler: str, tmp_path: Path) -> None:
    options = run_keywords(
        [
            "-w",
            "broadcast",
            "--node-count",
            "5",
            "--time-limit",
            "5",
            "--rate",
            "10",
            "--nemesis",
            "partition",
        ]
    )
    options.pop("seed")
    cases = [Case(s, options, node="glome.nodes.broadcast:MarkOnSendDelta") for s in (1, 2, 3, 4)]
    local = run_swarm(cases, workers=2, store_dir=tmp_path / "local", progress=False)
    remote = run_swarm(cases, cluster=scheduler, store_dir=tmp_path / "dask", progress=False)
    assert remote["error"].isna().all(), remote["error"].tolist()
    for column in (*COMPARED, "history_sha256", "journal_sha256"):
        assert local[column].tolist() == remote[column].tolist(), column
    kept = [Path(s) for s in remote["store"].dropna()]
    assert kept and all(p.is_relative_to(tmp_path / "dask") and p.is_dir() for p in kept)


def test_glome_challenge_runs_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glome.cli",
            "challenge",
            "4",
            "--node",
            "glome.nodes.counter:StaleReadCounter",
            "--seed",
            "3",
            "--seeds",
            "6",
            "--cluster",
            scheduler,
            "--quiet",
            "--store",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 1, out + done.stderr.decode()
    assert "FAIL seed 7" in out and "FAIL seed 8" in out  # as on the local pool
    assert "6 runs (seeds 3..8, 1 per seed): 4 passed" in out


CRASHER = """
import os
from glome.runtime import Node, handler


class Crasher(Node):
    @handler("echo")
    def echo(self, msg):
        os._exit(3)  # takes the Dask worker process down with it
"""


def test_a_run_that_kills_its_worker_is_a_row_with_an_error(scheduler: str, tmp_path: Path) -> None:
    node_file = tmp_path / "crasher.py"
    node_file.write_text(CRASHER)
    options = run_keywords(["-w", "echo", "--node-count", "1", "--time-limit", "2"])
    options.pop("seed")
    cases = [
        Case(1, options, node=f"{node_file}:Crasher"),
        Case(1, options, node="glome.nodes.echo:Echo"),
    ]
    runs = run_swarm(cases, cluster=scheduler, store_dir=tmp_path / "store", progress=False)
    assert "the run's Dask worker was lost" in runs["error"][0], runs["error"][0]
    assert not runs["passed"][0] and runs["valid"][0] == "unknown"
    assert runs["passed"][1], runs["error"][1]
