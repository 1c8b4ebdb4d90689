"""A sandbox's processes: finding them in /proc, the end-of-run sweep, and the reaper.

``glome.sandbox`` imports the sweep (``sweep``, ``pids_of_uid``, ``count_tasks``). The reaper
is this file run as a script, in the child's place, when the child has no uid of its own
(glome not running as root)::

    python -I -S glome/sandbox_procs.py REPORT -- ARGV...

Without a uid of its own, the sweep finds a child's processes by session, process group and a
marker variable, and a process that leaves the session and clears its environment (``setsid``
then ``execve`` with an empty environment) carries none of them. The reaper closes that gap
with the kernel's "child subreaper" attribute: every orphaned descendant is re-parented to the
reaper instead of to init, so the reaper's children are, at any time, the whole of what is
left. When the command ends (or the reaper gets SIGTERM: the sandbox's timeout, or the death
of the sandbox's caller), it kills its children until it has none, writes how many it killed
to REPORT, and exits as the command did (same code, or killed by the same signal).

It runs the command in a process group of its own, so that ``kill 0`` in the command does not
reach the reaper and one ``killpg`` stops the bulk of a fork bomb. It is no proof against a
command that kills the reaper itself (same uid): the sweep remains behind it.

Standard library only, so that the reaper starts with ``-I -S`` in ~10 ms.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SWEEP_SECONDS = 5.0
"""How long the sweep, or the reaper, tries to empty a tree before giving up."""


class ProcStat(NamedTuple):
    state: str
    parent: int
    group: int
    session: int


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def proc_stat(pid: int) -> ProcStat | None:
    """State, parent, process group and session of ``pid``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name in parentheses may hold spaces
    return ProcStat(fields[0], int(fields[1]), int(fields[2]), int(fields[3]))


def is_alive(pid: int) -> bool:
    """Running, or stopped; not a zombie waiting to be reaped, not gone."""
    stat = proc_stat(pid)
    return stat is not None and stat.state not in ("Z", "X")


def _proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _real_uid(status: dict[str, str]) -> int | None:
    uid = status.get("Uid", "").split("\t")[0]
    return int(uid) if uid.isdigit() else None


def pids_of_uid(uid: int) -> list[int]:
    return [p for p in all_pids() if _real_uid(_proc_status(p)) == uid]


def count_tasks(uid: int) -> int:
    """Processes and threads of ``uid``: threads count against RLIMIT_NPROC too."""
    total = 0
    for pid in all_pids():
        status = _proc_status(pid)
        if _real_uid(status) == uid:
            total += int(status.get("Threads", "1"))
    return total


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read()
    except OSError:
        return False


def _members(leader: int, uid: int | None, marker: bytes) -> list[int]:
    """Every process of this run: by uid when it has its own, else session/group/marker."""
    if uid is not None:
        return pids_of_uid(uid)
    me = os.getpid()
    found = []
    for pid in all_pids():
        if pid == me:
            continue
        stat = proc_stat(pid)
        in_run = stat is not None and leader in (stat.session, stat.group)
        if in_run or _has_marker(pid, marker):
            found.append(pid)
    return found


def kill_all(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def sweep(leader: int, uid: int | None, marker: bytes) -> int:
    """Kill the child's group, then every process of the run, until none is left (5 s max).

    ``uid``: the child's own uid, or None (the caller's: found by session, group, and
    ``marker`` in the environment). Returns how many processes besides the leader it killed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    stray: set[int] = set()
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        # A zombie child of ours still shows; its group id is the leader's: skip the leader.
        alive = [p for p in _members(leader, uid, marker) if p != leader and is_alive(p)]
        if not alive:
            break
        stray.update(alive)
        kill_all(alive)
        time.sleep(0.05)
    return len(stray)


# The reaper (this file run as a script).


class _Stop(Exception):
    """SIGTERM: stop waiting for the command, kill everything."""


def _stop(_signum: int, _frame: object) -> None:
    raise _Stop


def _prctl(option: int, value: int) -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no prctl: no subreaper (the sweep remains)
        return False


def _children() -> list[int]:
    """The reaper's children, live or zombie (it is single-threaded: one task)."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: read every process's parent
        me = os.getpid()
        return [pid for pid in all_pids() if (s := proc_stat(pid)) is not None and s.parent == me]


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
    if command is not None:  # the group's id is the command's pid
        members = (p for p in all_pids() if (s := proc_stat(p)) is not None and s.group == command)
        killed.update(p for p in members if is_alive(p))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(command, signal.SIGKILL)
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        children = _children()
        if not children:
            break
        killed.update(pid for pid in children if is_alive(pid))  # zombies: dead already
        kill_all(children)
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


def reaper_main(argv: list[str]) -> None:
    """``REPORT -- ARGV...``: run ARGV, then kill all it left; see the module docstring."""
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: sandbox_procs.py REPORT -- ARGV...")
    report, command = argv[0], argv[2:]
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
    reaper_main(sys.argv[1:])
