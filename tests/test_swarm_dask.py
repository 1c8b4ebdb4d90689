"""A real Dask cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1.

The swarm's rows through ``--cluster`` must equal the local pool's for the same seeds (same
verdicts, same figures, byte-identical history and journal), and every process started here
is stopped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from glome.flags import run_keywords
from glome.swarm import Case, run_swarm
from glome.swarm.local_cluster import local_cluster

COMPARED = ("seed", "valid", "passed", "error", "msgs_per_op", "lost", "stale", "ops")


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler with two single-threaded workers, all separate processes."""
    # one lost worker is enough to give up on a task (Dask retries 3 times by default)
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with local_cluster(2, tmp_path_factory.mktemp("dask"), env=env) as address:
        yield address


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
    assert "FAIL seed 4" in out and "FAIL seed 5" in out  # as on the local pool
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
