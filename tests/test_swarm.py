"""glome.swarm: rows, executors, crashes, hangs, notebook classes, sandboxed cases."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import glome.swarm
from glome.flags import run_keywords
from glome.runtime import Message, Node, handler
from glome.swarm import Case, run_swarm
from glome.swarm.case import discard_store

ECHO = "glome.nodes.echo:Echo"


def options(flags: str) -> dict[str, Any]:
    out = run_keywords(flags.split())
    out.pop("seed")
    return out


BROADCAST_3C = options("-w broadcast --node-count 5 --time-limit 5 --rate 10 --nemesis partition")
ECHO_QUICK = options("-w echo --node-count 1 --time-limit 2 --rate 5")


def test_rows_come_in_case_order_with_figures_labels_and_replay(tmp_path: Path) -> None:
    cases = [
        Case(seed, BROADCAST_3C, node="glome.nodes.broadcast:MarkOnSendDelta", labels={"k": seed})
        for seed in (3, 1, 2)
    ]
    runs = run_swarm(cases, workers=2, store_dir=tmp_path, progress=False)
    assert list(runs["seed"]) == [3, 1, 2] and list(runs["k"]) == [3, 1, 2]
    assert set(runs["valid"]) <= {"true", "false", "unknown"}
    for column in ("msgs_per_op", "latency_p50_ms", "latency_max_ms", "lost", "wall_s", "cpu_s"):
        assert column in runs, column
    assert "results" not in runs
    row = runs.iloc[0]
    assert row["replay"].startswith("glome test --node glome.nodes.broadcast:MarkOnSendDelta")
    assert "--nemesis partition" in row["replay"] and row["replay"].endswith("--seed 3")
    # the replay line gives back the same options
    assert run_keywords(row["replay"].split()[2:]) | {"seed": 0} == BROADCAST_3C | {"seed": 0}
    for _, r in runs.iterrows():  # stores kept for failing runs only
        assert (r["store"] is not None) == (not r["passed"])
        if r["store"]:
            assert Path(r["store"]).is_relative_to(tmp_path)


def test_keep_all_and_none(tmp_path: Path) -> None:
    cases = [Case(1, ECHO_QUICK, node=ECHO)]
    kept = run_swarm(cases, workers=1, keep="all", store_dir=tmp_path / "a", progress=False)
    assert kept["passed"].all() and Path(kept["store"][0]).is_dir()
    assert (tmp_path / "a" / "latest").resolve() == Path(kept["store"][0]).resolve()
    dropped = run_swarm(cases, workers=1, keep="none", store_dir=tmp_path / "b", progress=False)
    assert dropped["store"][0] is None
    assert not list((tmp_path / "b").glob("echo/2*"))
    links = [p for p in (tmp_path / "b").rglob("*") if p.is_symlink()]
    assert links == [], "no latest link left pointing at a deleted store"
    with pytest.raises(ValueError, match="keep"):
        run_swarm(cases, keep="some")


def test_a_discarded_store_takes_only_its_own_latest_links(tmp_path: Path) -> None:
    older, newer = tmp_path / "echo" / "1", tmp_path / "echo" / "2"
    for store in (older, newer):
        (store / "node-logs").mkdir(parents=True)
    (tmp_path / "latest").symlink_to(Path("echo") / "2")
    (tmp_path / "echo" / "latest").symlink_to("2")
    discard_store(older)  # the links name a later run: left alone
    assert not older.exists()
    assert (tmp_path / "latest").resolve() == (tmp_path / "echo" / "latest").resolve() == newer
    discard_store(newer)
    assert not newer.exists() and not list(tmp_path.rglob("latest"))


def test_serial_and_pool_give_byte_identical_history_and_journal(tmp_path: Path) -> None:
    cases = [Case(seed, BROADCAST_3C, node="glome.nodes.broadcast:Hardened") for seed in (1, 2, 3)]
    serial = run_swarm(cases, workers=1, store_dir=tmp_path / "s", progress=False)
    pool = run_swarm(cases, workers=3, store_dir=tmp_path / "p", progress=False)
    for column in ("history_sha256", "journal_sha256", "valid", "msgs_per_op", "lost"):
        assert list(serial[column]) == list(pool[column]), column
    assert serial["history_sha256"].nunique() == 3  # the seeds differ, so do the runs


class ExitsMidRun(Node):
    """Takes the whole interpreter down on its first echo (as a segfaulting extension would)."""

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        os._exit(3)


class BlocksTheLoop(Node):
    """Never returns to the event loop: only a kill stops it."""

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        time.sleep(600)
        return {"type": "echo_ok", "echo": msg.body["echo"]}


def test_a_crash_and_a_hang_are_rows_with_errors_and_the_swarm_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(glome.swarm, "HARD_BUDGET_MARGIN_S", 2.0)
    cases = [
        Case(1, ECHO_QUICK, node=ExitsMidRun),
        Case(1, ECHO_QUICK, node=BlocksTheLoop),
        Case(1, ECHO_QUICK, node=ECHO),
        Case(1, ECHO_QUICK, node="no.such.module:Node"),
    ]
    began = time.monotonic()
    runs = run_swarm(cases, workers=2, store_dir=tmp_path, wall_budget=1.0, progress=False)
    assert time.monotonic() - began < 60
    crash, hang, good, bad = (runs.iloc[i] for i in range(4))
    assert "exited with code 3" in crash["error"] and not crash["passed"]
    assert "hung past its wall budget" in hang["error"] and hang["valid"] == "unknown"
    assert good["passed"] and good["error"] is None
    assert "ModuleNotFoundError" in bad["error"]


def test_a_class_defined_in_a_function_runs_in_the_forked_pool(tmp_path: Path) -> None:
    class LocalEcho(Node):  # as a notebook cell would define it: no import path
        @handler("echo")
        def echo(self, msg: Message) -> dict[str, Any]:
            return {"type": "echo_ok", "echo": msg.body["echo"]}

    runs = run_swarm(
        [Case(s, ECHO_QUICK, node=LocalEcho) for s in (1, 2)],
        workers=2,
        store_dir=tmp_path,
        progress=False,
    )
    assert runs["passed"].all(), runs["error"].tolist()
    assert runs["replay"][0].startswith("glome.sim.run(LocalEcho, workload='echo'")


def test_bin_cases_run_in_parallel(tmp_path: Path) -> None:
    binary = shutil.which("glome-echo", path=str(Path(sys.executable).parent))
    assert binary is not None
    quick = options("-w echo --node-count 2 --time-limit 1 --rate 10 --recovery-time 0")
    runs = run_swarm(
        [Case(s, quick, bin=(binary,)) for s in (1, 2, 3)], store_dir=tmp_path, progress=False
    )
    assert runs["passed"].all(), runs["error"].tolist()
    assert runs["replay"][0].split()[-2:] == ["--bin", binary]
    assert (runs["cpu_s"] > 0).all()


def test_case_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Case(1, ECHO_QUICK)
    with pytest.raises(ValueError, match="seed"):
        Case(1, {**ECHO_QUICK, "seed": 4}, node=ECHO)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_every_run_and_leaves_no_child(tmp_path: Path, how: str) -> None:
    marker = f"glome-swarm-test-{os.getpid()}-{time.time_ns()}"
    script = (
        "import sys\n"
        "from glome.flags import run_keywords\n"
        "from glome.swarm import Case, run_swarm\n"
        "o = run_keywords('-w broadcast --node-count 25 --time-limit 200 --rate 100 "
        "--latency 100'.split()); o.pop('seed')\n"
        "runs = run_swarm([Case(s, o, node='glome.nodes.broadcast:Hardened') for s in range(6)],"
        " workers=2, progress=False)\n"
        "print('ROWS', len(runs), runs.attrs['interrupted'], flush=True)\n"
    )
    env = {**os.environ, "GLOME_TEST_MARKER": marker}
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C reaches the whole foreground group, as in a terminal
    )
    deadline = time.monotonic() + 60
    while len(_marked(marker)) < 3 and time.monotonic() < deadline:  # parent + 2 children
        time.sleep(0.2)
    assert len(_marked(marker)) >= 3, "the pool never started its children"
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # to the whole group, as a terminal's Ctrl-C
    else:
        process.terminate()  # SIGTERM to the parent alone, as a batch system's stop
    out, err = process.communicate(timeout=30)
    assert b"ROWS 0 True" in out, (out, err)
    assert b"interrupted; 0 of 6 runs finished" in err
    time.sleep(0.5)
    assert _marked(marker) == [], "a child process outlived the swarm"


def _marked(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class StandInResult:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    killed: str | None


class StandInSandbox:
    """The ``Sandbox.run`` signature, without confinement: a temp dir, a timeout, a copy."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv: Any, *, timeout: float | None = None, keep: Path | None = None) -> Any:
        self.calls.append(list(argv))
        with tempfile.TemporaryDirectory() as work:
            try:
                done = subprocess.run(
                    list(argv), cwd=work, capture_output=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired as e:
                return StandInResult(None, e.stdout or b"", e.stderr or b"", True, "timeout")
            if keep is not None:
                shutil.copytree(work, keep, dirs_exist_ok=True)
            return StandInResult(done.returncode, done.stdout, done.stderr, False, None)


def test_sandboxed_cases_run_as_a_child_that_prints_its_row(tmp_path: Path) -> None:
    sandbox = StandInSandbox()
    cases = [
        Case(1, BROADCAST_3C, node="glome.nodes.broadcast:MarkOnSendDelta", sandbox=sandbox),
        Case(1, BROADCAST_3C, node="glome.nodes.broadcast:MarkOnSendDelta"),
    ]
    runs = run_swarm(cases, workers=1, store_dir=tmp_path, progress=False)
    assert sandbox.calls[0][1:4] == ["-m", "glome.swarm", "run-case"]
    boxed, plain = runs.iloc[0], runs.iloc[1]
    assert boxed["history_sha256"] == plain["history_sha256"]
    assert boxed["valid"] == plain["valid"] == "false"
    assert Path(boxed["store"], "history.edn").is_file()
    assert Path(boxed["store"]).is_relative_to(tmp_path / "sandboxed")


def test_a_sandboxed_child_that_prints_no_row_is_an_error_row(tmp_path: Path) -> None:
    class Broken(StandInSandbox):
        def run(self, argv: Any, *, timeout: float | None = None, keep: Any = None) -> Any:
            return StandInResult(None, b"", b"killed: memory limit", False, "memory")

    runs = run_swarm(
        [Case(1, ECHO_QUICK, node=ECHO, sandbox=Broken())],
        workers=1,
        store_dir=tmp_path,
        progress=False,
    )
    assert "killed: memory" in runs["error"][0] and not runs["passed"][0]


def test_run_case_child_rejects_bad_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "glome.swarm", "nonsense"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 254 and b"usage" in done.stderr


def test_a_case_with_a_class_object_cannot_be_sandboxed() -> None:
    with pytest.raises(ValueError, match="module:Class"):
        Case(1, ECHO_QUICK, node=ExitsMidRun).to_json()


def test_progress_bar_counts_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_swarm([Case(1, ECHO_QUICK, node=ECHO)] * 2, workers=1, store_dir=tmp_path)
    assert "2/2" in capsys.readouterr().err


def test_inside_a_running_event_loop_serial_and_pool_runs_work(tmp_path: Path) -> None:
    async def inside(workers: int) -> Any:  # Jupyter runs cells inside a loop
        cases = [Case(s, ECHO_QUICK, node=ECHO) for s in (1, 2)]
        return run_swarm(cases, workers=workers, store_dir=tmp_path, progress=False)

    assert asyncio.run(inside(1))["passed"].all()
    assert asyncio.run(inside(2))["passed"].all()


def test_default_workers_one_per_core_and_two_real_time_runs_per_core() -> None:
    in_process = [Case(1, ECHO_QUICK, node=ECHO)]
    real_time = [Case(1, ECHO_QUICK, bin=("./node",))]
    assert glome.swarm.default_workers(in_process) == glome.swarm.cores()
    assert glome.swarm.default_workers(real_time) == 2 * glome.swarm.cores()
