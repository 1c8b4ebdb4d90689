"""glome.sandbox: hostile programs end in bounded time, are reported, and leave nothing running."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from glome.sandbox import MARKER, Limits, Sandbox, isolation_problem

SMALL = Limits(memory_mb=256, cpu_seconds=20, file_mb=1, processes=32, wall_seconds=60)


TAG = "GLOME_TEST_SANDBOX"
"""A variable the tests' sandboxes pass to their children: other graders may run meanwhile."""


def _sandboxed_pids(tag: str) -> list[int]:
    """Live processes that came from this test's sandboxes (marker and tag), zombies aside."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        mine = MARKER.encode() + b"=" in environ and f"{TAG}={tag}".encode() in environ
        if mine and state != "Z":
            found.append(int(name))
    return found


@pytest.fixture
def sandbox() -> Sandbox:
    tag = uuid.uuid4().hex
    yield Sandbox(SMALL, env={TAG: tag})
    assert _sandboxed_pids(tag) == [], "a sandboxed process was left running"


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_environment_holds_only_the_protocol(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEACHER_SECRET", "hunter2")
    result = sandbox.run(_py("import os; print(sorted(os.environ))"), timeout=30)
    assert result.returncode == 0, result.stderr
    names = eval(result.stdout)  # noqa: S307 (our own child printed a list literal)
    assert "TEACHER_SECRET" not in names
    assert set(names) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        MARKER,
        TAG,  # passed by the caller (the fixture)
    }


def test_fresh_working_directory_removed_and_kept_on_request(sandbox: Sandbox, tmp_path: Path):
    code = "import os; open('made', 'w').write('x'); print(os.getcwd(), sorted(os.listdir()))"
    result = sandbox.run(_py(code), timeout=30, keep=tmp_path / "kept")
    cwd, listing = result.stdout.decode().split(" ", 1)
    assert listing.strip() == "['made']", "the directory starts empty"
    assert not Path(cwd).exists(), "the working directory is removed"
    assert (tmp_path / "kept" / "made").read_text() == "x"
    again = sandbox.run(_py("import os; print(os.getcwd())"), timeout=30)
    assert again.stdout.decode().strip() != cwd


def test_keeping_a_directory_with_a_named_pipe(sandbox: Sandbox, tmp_path: Path):
    """Regression: a pipe left in the working directory made ``keep`` raise out of ``run``."""
    code = "import os; os.mkfifo('pipe'); open('made', 'w').write('x')"
    result = sandbox.run(_py(code), timeout=30, keep=tmp_path / "kept")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "kept" / "made").read_text() == "x"


class Interrupted(Exception):
    pass


def interrupt_in(seconds: float) -> threading.Timer:
    """Raise Interrupted in the main thread after ``seconds`` (as Ctrl-C raises there)."""

    def handler(_signum: int, _frame: object) -> None:
        raise Interrupted

    signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    return timer


def test_an_interrupted_caller_leaves_nothing_running(sandbox: Sandbox):
    """Regression: an exception in the caller while it waited (Ctrl-C) left the child running."""
    timer = interrupt_in(1.0)
    try:
        with pytest.raises(Interrupted):
            sandbox.run(["sh", "-c", "sleep 300 & sleep 300"], timeout=60)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def test_endless_allocation_is_stopped(sandbox: Sandbox):
    result = sandbox.run(_py("x = []\nwhile True: x.append(bytearray(10**7))"), timeout=30)
    assert result.returncode != 0 and not result.timed_out
    assert result.killed and "memory" in result.killed


def test_fork_bomb_is_bounded(sandbox: Sandbox):
    start = time.monotonic()
    result = sandbox.run(["sh", "-c", "while true; do sleep 30 & done"], timeout=5)
    assert time.monotonic() - start < 20
    assert b"fork" in result.stderr.lower() or result.timed_out


def test_huge_file_is_cut_at_the_limit(sandbox: Sandbox, tmp_path: Path):
    code = "f = open('big', 'wb')\nwhile True: f.write(b'x' * 65536)"
    result = sandbox.run(_py(code), timeout=30, keep=tmp_path / "kept")
    assert result.killed and result.killed.startswith("file size limit")
    assert (tmp_path / "kept" / "big").stat().st_size <= SMALL.file_mb << 20


def test_sigterm_ignoring_and_escaping_children_are_killed(sandbox: Sandbox):
    script = "trap '' TERM; setsid sh -c \"trap '' TERM; sleep 300\" & sleep 300"
    start = time.monotonic()
    result = sandbox.run(["sh", "-c", script], timeout=2)
    assert time.monotonic() - start < 15
    assert result.timed_out and result.killed == "timeout (wall clock)"
    assert result.stray >= 1, "the setsid child left the group and was swept"


def test_cpu_limit(sandbox: Sandbox):
    limits = Limits(cpu_seconds=1, wall_seconds=60)
    result = Sandbox(limits, env=sandbox.extra_env).run(_py("while True: pass"))
    assert result.killed == "cpu limit"


def test_output_without_end_costs_bounded_memory(sandbox: Sandbox):
    result = sandbox.run(["sh", "-c", "yes"], timeout=3)
    # FSIZE bounds the captured file, the tail bounds what is read back.
    assert len(result.stdout) <= SMALL.file_mb << 20


def test_another_language_runs(sandbox: Sandbox):
    result = sandbox.run(["sh", "-c", "echo hello from sh"], timeout=30)
    assert result.returncode == 0 and result.stdout == b"hello from sh\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to a sandbox uid")
def test_root_runs_the_child_as_an_unprivileged_uid(sandbox: Sandbox):
    result = sandbox.run(_py("import os; print(os.getuid(), os.geteuid())"), timeout=30)
    uid, euid = map(int, result.stdout.split())
    assert uid == euid and uid != 0


def test_isolate_has_no_network():
    problem = isolation_problem()
    if problem:
        pytest.skip(f"this machine does not allow --isolate: {problem}")
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=3)\n"
        "except OSError as e:\n"
        "    print('unreachable', e.errno)\n"
    )
    result = Sandbox(SMALL, isolate=True).run(_py(code), timeout=30)
    assert result.stdout.startswith(b"unreachable"), result
