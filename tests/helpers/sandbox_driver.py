"""Runs hostile submissions through ``glome.sandbox`` and prints what happened, as JSON.

``python tests/helpers/sandbox_driver.py [CASE ...]`` is started by tests/test_sandbox_nonroot.py
as an unprivileged uid, so that the sandbox takes its non-root path (no uid of its own). It
prints one JSON object: ``euid`` and, per case, the ``SandboxResult`` fields, the wall seconds,
any exception, the processes of the uid it left running and the sandbox directories it left in
``TMPDIR``. The assertions are in the test module; this file only runs the cases (not a test
module).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glome.sandbox import Limits, Sandbox, SandboxResult, isolation_problem

SMALL = Limits(memory_mb=256, cpu_seconds=20, file_mb=1, processes=32, wall_seconds=60)
CPU_LIMITED = Limits(cpu_seconds=1, wall_seconds=60)
OTHER_PROCESSES = 20
"""Processes of the caller's uid alive during the ``forks`` case, outside any sandbox."""


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


ESCAPE = (  # leaves the session and drops its environment (and the marker in it), then exits
    "import os, shutil\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    os.execve(shutil.which('sleep'), ['sleep', '300'], {})\n"
)
FORKS = (  # forks until the process limit says no; prints how many forks succeeded
    "import os, signal, sys\n"
    "n = 0\n"
    "while n < 10000:\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        signal.pause()\n"
    "    n += 1\n"
    "print(n, flush=True)\n"
)
NEIGHBOUR = (  # says it runs, waits until the bomb next door is full, forks 5 children
    "import os, time\n"
    "open(os.environ['NEIGHBOUR_UP'], 'w').close()\n"
    "while not os.path.exists(os.environ['BOMB_FULL']):\n"
    "    time.sleep(0.05)\n"
    "for _ in range(5):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        os._exit(0)\n"
    "    os.waitpid(pid, 0)\n"
    "print('forked 5', flush=True)\n"
)
HOLDING_BOMB = FORKS + (  # then says so, and holds its processes while the neighbour forks
    "open(os.environ['BOMB_FULL'], 'w').close()\nimport time; time.sleep(1.5)\n"
)
LOCKED = (  # a directory nobody may read or enter, with a file inside
    "import os\n"
    "os.makedirs('locked/inner')\n"
    "open('locked/inner/f', 'w').write('x')\n"
    "os.chmod('locked/inner', 0)\n"
    "os.chmod('locked', 0)\n"
)

# name: (argv, timeout, keep the working directory)
CASES: dict[str, tuple[list[str], float, bool]] = {
    "good": (["sh", "-c", "echo hello from sh"], 30, False),
    "snoop": (_py("import json, os; print(json.dumps(dict(os.environ)))"), 30, False),
    "hog": (_py("x = []\nwhile True: x.append(bytearray(10**7))"), 30, False),
    "bomb": (["sh", "-c", "while true; do sleep 30 & done"], 5, False),
    "writer": (_py("f = open('big', 'wb')\nwhile True: f.write(b'x' * 65536)"), 30, True),
    "stubborn": (
        ["sh", "-c", "trap '' TERM; setsid sh -c \"trap '' TERM; sleep 300\" & sleep 300"],
        2,
        False,
    ),
    "silent": (_py("import time\nwhile True: time.sleep(1)"), 2, False),
    "spinner": (_py("while True: pass"), 30, False),  # under CPU_LIMITED
    "escape": (_py(ESCAPE), 30, False),
    "forks": (_py(FORKS), 30, False),
    "locked": (_py(LOCKED), 30, False),
    "locked-kept": (_py(LOCKED), 30, True),
    # the caller is interrupted (as by Ctrl-C) after 1 s, while it waits for the child
    "interrupted": (["sh", "-c", "sleep 300 & sleep 300"], 60, False),
    # the same with --isolate (a user namespace, as a teacher without root gets it)
    "escape-isolated": (_py(ESCAPE), 30, False),
    "forks-isolated": (_py(FORKS), 30, False),
    # NEIGHBOUR, while HOLDING_BOMB runs in another sandbox at the same time
    "neighbour": (_py(NEIGHBOUR), 30, False),
    "neighbour-isolated": (_py(NEIGHBOUR), 30, False),
}


def _with_other_processes(run: Callable[[], Any]) -> Any:
    """Run while the caller's uid has OTHER_PROCESSES more processes, as a teacher's desktop."""
    others = [subprocess.Popen(["sleep", "60"]) for _ in range(OTHER_PROCESSES)]
    try:
        return run()
    finally:
        for p in others:
            p.kill()
            p.wait()


def _next_to_a_bomb(name: str, tmp: Path, isolate: bool) -> Any:
    """NEIGHBOUR started first (it counts the uid's processes first), then a fork bomb in a
    sandbox of its own: two sandboxes at once, as with ``glome grade --workers 2``."""
    signal_file = {
        "BOMB_FULL": str(tmp / f"{name}-bomb-full"),
        "NEIGHBOUR_UP": str(tmp / f"{name}-neighbour-up"),
    }
    results: dict[str, Any] = {}
    neighbour = threading.Thread(
        target=lambda: results.update(
            result=Sandbox(SMALL, isolate=isolate, env=signal_file).run(_py(NEIGHBOUR), timeout=30)
        )
    )
    neighbour.start()
    deadline = time.monotonic() + 30
    while not os.path.exists(signal_file["NEIGHBOUR_UP"]) and time.monotonic() < deadline:
        time.sleep(0.05)  # it runs: its process limit is set, the bomb's counts it
    Sandbox(SMALL, isolate=isolate, env=signal_file).run(_py(HOLDING_BOMB), timeout=30)
    neighbour.join()
    return results["result"]


class Interrupted(Exception):
    pass


def _interrupted(run: Callable[[], Any]) -> bool:
    """Whether ``run`` let an exception raised in it after 1 s (as Ctrl-C would) through."""

    def handler(_signum: int, _frame: object) -> None:
        raise Interrupted

    signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    try:
        run()
    except Interrupted:
        return True
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    return False


def processes() -> list[tuple[int, int, str]]:
    """(pid, real uid, state) of every process (the test reads the machine with it too)."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        found.append((int(name), int(fields["Uid"].split()[0]), fields["State"][:1]))
    return found


def _live_processes_of_mine() -> list[int]:
    """Processes of this uid other than this driver, zombies aside."""
    me, uid = os.getpid(), os.getuid()
    return [pid for pid, owner, state in processes() if owner == uid and pid != me and state != "Z"]


def _run(name: str, tmp: Path, kept: Path | None, isolate: bool) -> SandboxResult | bool:
    """The case's result; for ``interrupted``, whether the interruption came through."""
    argv, timeout, _ = CASES[name]
    sandbox = Sandbox(CPU_LIMITED if name == "spinner" else SMALL, isolate=isolate)
    if name == "interrupted":
        return _interrupted(lambda: sandbox.run(argv, timeout=timeout))
    if name.startswith("forks"):
        return _with_other_processes(lambda: sandbox.run(argv, timeout=timeout, keep=kept))
    if name.startswith("neighbour"):
        return _next_to_a_bomb(name, tmp, isolate)
    return sandbox.run(argv, timeout=timeout, keep=kept)


def run_case(name: str, tmp: Path) -> dict[str, Any]:
    kept = tmp / f"kept-{name}" if CASES[name][2] else None
    isolate = name.endswith("-isolated")
    if isolate and (problem := isolation_problem()):
        return {"skipped": problem}
    before = set(_live_processes_of_mine())
    start = time.monotonic()
    report: dict[str, Any] = {}
    try:
        result = _run(name, tmp, kept, isolate)
        if isinstance(result, bool):
            report["interrupted"] = result
        else:
            report.update(
                returncode=result.returncode,
                stdout=result.stdout[-4000:].decode(errors="replace"),
                stderr=result.stderr[-4000:].decode(errors="replace"),
                timed_out=result.timed_out,
                killed=result.killed,
                stray=result.stray,
            )
    except Exception:
        report["error"] = traceback.format_exc()
    report["seconds"] = time.monotonic() - start
    report["left"] = sorted(set(_live_processes_of_mine()) - before)
    report["leftover_dirs"] = sorted(p.name for p in tmp.glob("glome-sandbox-*"))
    if kept is not None and kept.exists():
        report["kept"] = sorted(
            str(p.relative_to(kept)) for p in kept.rglob("*") if os.access(p.parent, os.R_OK)
        )
        big = kept / "big"
        report["kept_size"] = big.stat().st_size if big.exists() else None
    return report


def main(names: list[str]) -> int:
    tmp = Path(tempfile.gettempdir())
    out: dict[str, Any] = {"euid": os.geteuid(), "cases": {}}
    for name in names or list(CASES):
        out["cases"][name] = run_case(name, tmp)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
