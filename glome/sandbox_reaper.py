"""The sandbox's reaper: runs a command and, when it ends, kills every process it left behind.

    python -I -S glome/sandbox_reaper.py REPORT -- ARGV...

``glome.sandbox`` puts this between itself and the child when the child has no uid of its own
(glome not running as root). Without a uid of its own, the end-of-run sweep finds a child's
processes by session, process group and a marker variable, and a process that leaves the
session and clears its environment (``setsid`` then ``execve`` with an empty environment)
carries none of them. The reaper closes that gap with the kernel's "child subreaper"
attribute: every orphaned descendant is re-parented to the reaper instead of to init, so the
reaper's children are, at any time, the whole of what is left. When the command ends (or the
reaper gets SIGTERM: the sandbox's timeout, or the death of the sandbox's caller), it kills
its children until it has none, writes how many it killed to REPORT, and exits as the command
did (same code, or killed by the same signal).

It runs the command in a process group of its own, so that ``kill 0`` in the command does not
reach the reaper and one ``killpg`` stops the bulk of a fork bomb. It is not proof against a
command that kills the reaper itself (same uid): the sandbox's own sweep remains behind it.

Standard library only, started with ``-I -S``: it costs ~10 ms, not an import of glome.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
GIVE_UP_SECONDS = 5.0
"""How long the reaper tries to empty its tree before it exits anyway (the sweep follows)."""


class _Stop(Exception):
    """SIGTERM: stop waiting for the command, kill everything."""


def _stop(_signum: int, _frame: object) -> None:
    raise _Stop


def _prctl(option: int, value: int) -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux, or no prctl: no subreaper (the sweep stays)
        return False


def _children() -> list[int]:
    """The reaper's children, live or zombie (it is single-threaded: one task)."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: read every process's parent
        return [pid for pid in _all_pids() if _stat(pid)[1] == os.getpid()]


def _live_members(group: int) -> list[int]:
    return [pid for pid in _all_pids() if _stat(pid)[2] == group and _stat(pid)[0] != "Z"]


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat(pid: int) -> tuple[str, int | None, int | None]:
    """State, parent and process group of ``pid`` (``"X", None, None`` once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return "X", None, None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _reap() -> int:
    """Collect every dead child; the number collected."""
    count = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return count
        if pid == 0:
            return count
        count += 1


def _kill_tree(command: int | None) -> int:
    """Kill the command's group, then every child until none is left; how many processes
    besides the command were killed.

    Killing a child re-parents its own children to the reaper, so the loop reaches the whole
    tree, generation by generation, however it forked or moved between groups and sessions."""
    killed: set[int] = set()
    if command is not None:
        killed.update(_live_members(command))  # the group's id is the command's pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(command, signal.SIGKILL)
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        children = _children()
        if not children:
            break
        killed.update(pid for pid in children if _stat(pid)[0] != "Z")  # zombies: dead already
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not _reap():
            time.sleep(0.01)
    return len(killed - {command})


def _exit_like(status: int) -> None:
    """Exit as the command did: same exit code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def main(argv: list[str]) -> None:
    report, separator, command = argv[0], argv[1], argv[2:]
    if separator != "--" or not command:
        sys.exit("usage: sandbox_reaper.py REPORT -- ARGV...")
    signal.signal(signal.SIGTERM, _stop)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # the caller died: clean up all the same
    status = 127 << 8
    pid: int | None = None
    try:
        # Python ignores SIGPIPE and SIGXFSZ; the command gets the defaults back (a shell
        # writer is killed by SIGXFSZ at the file size limit, as without the reaper).
        pid = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            setpgroup=0,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM),
        )
        while True:
            done, code = os.waitpid(-1, 0)  # orphans re-parented here die here too
            if done == pid:
                status = code
                break
    except OSError as e:  # the command cannot be run: as a shell would say it
        print(f"glome sandbox: cannot run {command[0]}: {e.strerror}", file=sys.stderr)
    except _Stop:
        status = signal.SIGKILL  # the sandbox timed out (it reports that, not this status)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut it short
        killed = _kill_tree(pid)
        with contextlib.suppress(OSError), open(report, "w") as f:
            f.write(str(killed))
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv[1:])
