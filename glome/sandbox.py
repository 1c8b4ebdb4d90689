"""Running untrusted code (students' nodes) with limits, and leaving nothing behind.

    from glome.sandbox import Limits, Sandbox
    result = Sandbox(Limits(memory_mb=512)).run(["./student-node", "--version"], timeout=30)
    result.returncode, result.stdout, result.killed

Every ``run`` gets:

- a fresh temporary working directory (also ``HOME``), removed at the end (copied to ``keep``
  first when asked);
- an environment holding only ``PATH``, ``LANG``, ``HOME``, ``PYTHONPATH`` (so that a Python
  child can import glome) and what the caller passes in ``env``: none of the teacher's
  variables;
- resource limits: address space and data (memory), CPU seconds, the size of any file it
  writes, and the number of processes;
- its own session and process group. At the end (normal exit, timeout or error) every process
  it started is killed, including those that left the group.

When glome runs as root, the child runs as an unprivileged uid of its own, taken from a range
no account uses (``UID_BASE`` up), one uid per running sandbox. Two reasons: root is exempt
from the process limit, and a uid of its own lets the end-of-run sweep kill every process of
that uid, whatever session or group it moved to. If the Python interpreter or glome itself is
not readable by others (a Python installed under ``/root``), the child keeps one capability,
CAP_DAC_READ_SEARCH, to read them: it can then *read* any file on the machine (not write it);
``Sandbox.notes`` says so.

Without root, the child runs as the caller's uid. The process limit then counts on top of the
caller's own processes, and of any other sandbox running at the same time (one pool per uid).
The child runs under a small reaper (``glome.sandbox_procs``): a child subreaper that
inherits every orphan of the child's tree and kills them all at the end, so that nothing
escapes by leaving the session and clearing its environment. The sweep (session, group and a
marker in the environment) stays behind it, for a child that kills the reaper.

``isolate=True`` adds Linux namespaces through ``unshare``: a network namespace with no
interface but loopback (no network), and a PID namespace (when its first process ends, the
kernel kills everything inside). Without root it needs a user namespace too, which counts
its own processes: the process limit is set inside it (``prlimit``) and is the sandbox's
alone. ``isolation_problem()`` says why the machine does not allow it, or None.

What this does not protect against is in docs/teaching.md ("What the sandbox does not do").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from glome.sandbox_files import chown_tree, keep_copy, remove, tail
from glome.sandbox_procs import count_tasks, kill_all, pids_of_uid, sweep

UID_BASE = 420000
"""First uid handed to sandboxed children when glome runs as root (no account uses it)."""
UID_SLOTS = 4096
REAPER = Path(__file__).with_name("sandbox_procs.py")
REAPER_GRACE = 8.0
"""Seconds the reaper gets to empty the child's tree after a timeout (it gives up after 5)."""
MARKER = "GLOME_SANDBOX"
"""Environment variable set to a fresh token in each child, to find escaped processes."""
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (memory and processes per process tree)."""

    memory_mb: int = 2048
    cpu_seconds: int = 600
    file_mb: int = 256
    processes: int = 256
    wall_seconds: float = 900


@dataclass
class SandboxResult:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    killed: str | None
    """Why the child was killed (timeout, cpu limit, file size limit, a signal), or None."""
    stray: int = 0
    """Processes still alive after the child ended, killed by the end-of-run sweep."""


@dataclass
class _Account:
    """The uid a child runs as, and the lock that keeps it ours while the child runs."""

    uid: int | None
    lock_fd: int | None = None


class Sandbox:
    """Runs commands with limits in a throwaway directory; see the module docstring."""

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        isolate: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.limits = limits
        self.isolate = isolate
        self.extra_env = dict(env or {})
        self.notes: list[str] = []
        if isolate:
            problem = isolation_problem()
            if problem:
                raise RuntimeError(f"--isolate is not available on this machine: {problem}")
        if _is_root() and not _readable_by_others(tuple(_needed_paths())):
            self.notes.append(
                "the Python interpreter or glome is not readable by other users, so sandboxed "
                "children keep CAP_DAC_READ_SEARCH: they can read (not write) any file"
            )

    def __repr__(self) -> str:
        return f"Sandbox({self.limits!r}, isolate={self.isolate})"

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        keep: Path | None = None,
        files: Mapping[str, Path] | None = None,
    ) -> SandboxResult:
        """Run ``argv`` to the end or to ``timeout`` seconds (default: the wall limit).

        ``files`` (name -> path) are copied into the working directory first, readable by the
        child (a submission the child's uid could not otherwise read).
        """
        wall = min(timeout, self.limits.wall_seconds) if timeout else self.limits.wall_seconds
        private = Path(tempfile.mkdtemp(prefix="glome-sandbox-"))  # outputs: not the child's
        account = _take_account() if _is_root() else _Account(None)
        token = uuid.uuid4().hex
        reaped = private / "reaped"
        try:
            cwd = private / "cwd"
            cwd.mkdir()
            for name, source in (files or {}).items():
                shutil.copy2(source, cwd / name)
            if account.uid is not None:
                os.chmod(private, 0o711)  # noqa: S103 (the child uid must reach cwd/)
                chown_tree(cwd, account.uid)
            with open(private / "out", "wb") as out, open(private / "err", "wb") as err:
                proc = subprocess.Popen(
                    self._command(list(argv), account, reaped),
                    cwd=cwd,
                    env=self._environment(cwd, token),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    preexec_fn=_limiter(self.limits, self._process_limit(account)),  # noqa: PLW1509
                )
                timed_out = False
                try:
                    proc.wait(timeout=wall)
                except subprocess.TimeoutExpired:
                    timed_out = True
                finally:  # also when the caller is interrupted (Ctrl-C): nothing may outlive it
                    if proc.returncode is None and self._reaper(account):
                        _stop_reaper(proc)
                    stray = sweep(proc.pid, account.uid, f"{MARKER}={token}".encode())
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
            stdout, stderr = tail(private / "out"), tail(private / "err")
            stray += _count_reaped(reaped)
            if keep is not None:
                keep_copy(cwd, keep)
            code = proc.returncode
            return SandboxResult(
                None if timed_out else code,
                stdout,
                stderr,
                timed_out,
                _why_killed(code, timed_out, stderr),
                stray,
            )
        finally:
            remove(private)
            _release_account(account)

    def _environment(self, cwd: Path, token: str) -> dict[str, str]:
        python_dir = str(Path(sys.executable).parent)
        glome_root = str(Path(__file__).resolve().parents[1])
        env = {
            "PATH": f"{python_dir}:{SAFE_PATH}",
            "LANG": "C.UTF-8",
            "HOME": str(cwd),
            "TMPDIR": str(cwd),
            "PYTHONPATH": glome_root,
            "PYTHONDONTWRITEBYTECODE": "1",
            MARKER: token,
        }
        env.update(self.extra_env)
        return env

    def _process_limit(self, account: _Account) -> int | None:
        """RLIMIT_NPROC to set before exec; None: set inside the user namespace instead.

        RLIMIT_NPROC counts every process of the child's real uid. With a uid of its own,
        those are the child's. Without, they include the caller's own processes and those of
        every other sandbox running at the same time: the limit must allow for the caller's
        (counted now), and a fork bomb in one sandbox can still use up another's share. A user
        namespace (``--isolate`` without root) counts its own processes apart, so there the
        limit is set inside it, by ``prlimit``, and is exactly ``processes``."""
        if account.uid is not None:
            return self.limits.processes
        if self.isolate:
            return None
        return self.limits.processes + count_tasks(os.getuid())

    def _reaper(self, account: _Account) -> bool:
        # With a uid of its own the sweep finds every process of that uid, and with --isolate
        # the PID namespace's first process is the reaper: only the plain non-root case needs it.
        return account.uid is None and not self.isolate

    def _command(self, argv: list[str], account: _Account, reaped: Path) -> list[str]:
        if self._reaper(account):
            return [sys.executable, "-I", "-S", str(REAPER), str(reaped), "--", *argv]
        prefix: list[str] = []
        if self.isolate:
            prefix = ["unshare", "--net", "--pid", "--fork", "--kill-child"]
            if account.uid is None:
                prefix += ["--user", "--map-root-user", "--", "prlimit"]
                prefix.append(f"--nproc={self.limits.processes}:{self.limits.processes}")
        if account.uid is not None:
            prefix += [
                "setpriv",
                f"--reuid={account.uid}",
                f"--regid={account.uid}",
                "--clear-groups",
            ]
            if self.notes:
                prefix += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
            prefix.append("--")
        elif prefix:
            prefix.append("--")
        return prefix + argv


def isolation_problem() -> str | None:
    """None when ``--isolate`` works here, else why not (the ``unshare`` error)."""
    return _probe_isolation(_is_root())


@cache
def _probe_isolation(root: bool) -> str | None:
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    argv = ["unshare", "--net", "--pid", "--fork", "--kill-child"]
    if not root:
        if shutil.which("prlimit") is None:
            return "the prlimit command (util-linux) is not installed"
        argv += ["--user", "--map-root-user", "--", "prlimit", "--nproc=64:64", "--"]
    try:
        done = subprocess.run([*argv, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare failed: {e}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        return f"unshare --net --pid is not allowed: {why}"
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _needed_paths() -> list[Path]:
    return [Path(sys.executable).resolve(), Path(__file__).resolve()]


@cache
def _readable_by_others(paths: tuple[Path, ...]) -> bool:
    """True when every directory above each path is searchable and the file readable by all."""
    for path in paths:
        if not os.stat(path).st_mode & 0o004:
            return False
        for parent in path.parents:
            if not os.stat(parent).st_mode & 0o001:
                return False
    return True


def _limiter(limits: Limits, processes: int | None) -> Callable[[], None]:
    """The rlimits, set in the child between fork and exec (inherited by all it starts).

    ``processes``: RLIMIT_NPROC (``Sandbox._process_limit``), or None to leave it alone."""
    memory = limits.memory_mb << 20

    def apply() -> None:
        for which, value in (
            (resource.RLIMIT_AS, memory),
            (resource.RLIMIT_DATA, memory),
            (resource.RLIMIT_FSIZE, limits.file_mb << 20),
            (resource.RLIMIT_CORE, 0),
        ):
            _lower(which, value, value)
        if processes is not None:
            _lower(resource.RLIMIT_NPROC, processes, processes)
        # The soft CPU limit sends SIGXCPU; the hard one, a second later, SIGKILL.
        _lower(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)

    return apply


def _lower(which: int, soft: int, hard: int) -> None:
    _, old_hard = resource.getrlimit(which)
    if old_hard != resource.RLIM_INFINITY:
        hard = min(hard, old_hard)
    resource.setrlimit(which, (min(soft, hard), hard))


def _take_account() -> _Account:
    """A uid no other running sandbox holds (an flock on its lock file, freed if we die)."""
    locks = Path(tempfile.gettempdir()) / "glome-sandbox-uids"
    locks.mkdir(mode=0o700, exist_ok=True)
    start = os.getpid() % UID_SLOTS
    for i in range(UID_SLOTS):
        uid = UID_BASE + (start + i) % UID_SLOTS
        fd = os.open(locks / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if not pids_of_uid(uid):  # left over by a grader that was killed: not free yet
            return _Account(uid, fd)
        kill_all(pids_of_uid(uid))
        if not pids_of_uid(uid):
            return _Account(uid, fd)
        os.close(fd)
    raise RuntimeError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_SLOTS - 1}")


def _release_account(account: _Account) -> None:
    if account.lock_fd is not None:
        os.close(account.lock_fd)


def _stop_reaper(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the reaper alone (not its group: it must live to kill the child's tree)."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=REAPER_GRACE)


def _count_reaped(report: Path) -> int:
    """Processes the reaper killed after the child ended (0 without a reaper or a report)."""
    try:
        return int(report.read_text())
    except (OSError, ValueError):
        return 0


def _why_killed(code: int | None, timed_out: bool, stderr: bytes) -> str | None:
    if timed_out:
        return "timeout (wall clock)"
    if code is None or code >= 0:
        # A Python child turns the limits into exceptions (it ignores SIGXFSZ) and exits.
        last = stderr[-4096:]
        if b"MemoryError" in last or b"Cannot allocate memory" in last:
            return "memory limit (MemoryError)"
        if b"File too large" in last:
            return "file size limit (File too large)"
        return None
    sig = -code
    named = {
        signal.SIGXCPU: "cpu limit",
        signal.SIGXFSZ: "file size limit",
        signal.SIGKILL: "killed (SIGKILL: cpu or memory limit)",
    }
    return named.get(signal.Signals(sig), f"signal {signal.Signals(sig).name}")


__all__ = ["Limits", "Sandbox", "SandboxResult", "isolation_problem"]
