"""One node process over pipes: launching it, its stdin, its stdout read line by line at a
bounded rate, its stderr, its signals, and the bounds that keep a faulty node from hurting the
run. ``glome.sim.hosts.processes.ProcessHost`` runs one ``NodeProcess`` per node.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import termios
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from glome.errors import NodeStartError

log = logging.getLogger("glome.sim.hosts.processes")

EXCERPT_CHARS = 300
"""How much of a bad line or a tail line is quoted in logs and reports."""
TAIL_BYTES = 1200


@dataclass(frozen=True)
class ProcessLimits:
    """Every bound the host enforces. The defaults suit real runs; tests shrink them."""

    max_line_bytes: int = 8 * 1024 * 1024
    """A longer stdout line is discarded (logged); Maelstrom has no limit."""
    max_stderr_line_bytes: int = 64 * 1024
    """A longer stderr line is truncated in the node log."""
    max_log_bytes: int = 256 * 1024 * 1024
    """A node log stops growing here (one note is written)."""
    stdin_buffer_bytes: int = 16 * 1024 * 1024
    """Bytes waiting for a node to read its stdin; beyond this, messages are dropped."""
    lines_per_second: float = 5_000.0
    """stdout lines routed per node per second; a faster node is read at this rate. One
    event loop routes some 20 thousand messages a second in all (host, network and journal;
    measured on a loaded machine), so one flooding node must not take all of it; real
    solutions send far less (3d: about 100 a second a node)."""
    line_burst: int = 10_000
    """Lines a node may write at once before the rate applies."""
    spawn_timeout: float = 10.0
    term_timeout: float = 1.0
    """Teardown: seconds between SIGTERM and SIGKILL."""
    kill_timeout: float = 5.0
    """Seconds to wait for a process to die after SIGKILL (Maelstrom: 5)."""
    pipe_close_timeout: float = 1.0
    """Seconds to wait, after exit, for the last output to drain from the pipes."""
    stall_check_interval: float = 1.0
    """Seconds between checks that each node is reading its stdin."""
    stall_report_after: float = 2.0
    """A node that reads nothing of its waiting stdin for this long is reported."""
    bad_lines_logged: int = 20
    """Bad stdout lines logged in full per node; later ones are only counted."""
    tail_lines: int = 32
    """stdout and stderr lines kept for crash reports (Maelstrom: 32)."""


def resolve_command(command: Sequence[str]) -> list[str]:
    """The command with its binary made absolute, or a :class:`NodeStartError` saying why not.

    A path with a slash is resolved against the current directory (nodes run elsewhere); a
    bare name is looked up on PATH.
    """
    if not command or not command[0]:
        raise NodeStartError("Expected a --bin PATH_TO_BINARY to test")
    binary, args = command[0], list(command[1:])
    if os.sep in binary:
        # Absolute, but symlinks kept: a virtualenv's python is a symlink, and only invoked
        # through it does it find the virtualenv's packages.
        path = Path(os.path.abspath(binary))
        if not path.exists():
            raise NodeStartError(f"--bin {binary}: no such file ({path})")
        if path.is_dir():
            raise NodeStartError(f"--bin {binary}: is a directory")
        if not os.access(path, os.X_OK):
            raise NodeStartError(f"--bin {binary}: not executable (try chmod +x {binary})")
        return [str(path), *args]
    found = shutil.which(binary)
    if found is None:
        raise NodeStartError(f"--bin {binary}: not found on PATH")
    return [found, *args]


def excerpt(line: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A printable, bounded quotation of a line (only its head is decoded)."""
    if isinstance(line, bytes):
        size = len(line)
        text = line[: limit * 4].decode("utf-8", "replace")
    else:
        size, text = len(line), line
    if len(text) > limit or size > limit * 4:
        return (
            f"{text[:limit]}... ({size} bytes)"
            if isinstance(line, bytes)
            else f"{text[:limit]}... ({size} chars)"
        )
    return text


def tail_entry(line: bytes) -> bytes:
    """A tail entry for a long line: its head plus a note of the full size."""
    return line[:TAIL_BYTES] + b"... (%d bytes)" % len(line)


class LineSplitter:
    """Splits a byte stream into lines, discarding (and reporting) any line over a limit."""

    def __init__(
        self, max_bytes: int, on_line: Callable[[bytes], None], on_overlong: Callable[[int], None]
    ) -> None:
        self.max_bytes = max_bytes
        self.on_line, self.on_overlong = on_line, on_overlong
        self.buffer = bytearray()
        self.discarded = 0
        """Bytes of the current overlong line thrown away so far (0 when not discarding)."""

    def feed(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self.discarded:
                self.on_overlong(self.discarded + end - start)
                self.discarded = 0
            elif self.buffer:
                self.buffer += data[start:end]
                line = bytes(self.buffer)
                self.buffer.clear()
                self._emit(line)
            else:
                self._emit(data[start:end])
            start = end + 1
        rest = len(data) - start
        if self.discarded:
            self.discarded += rest
        elif rest:
            self.buffer += data[start:]
            if len(self.buffer) > self.max_bytes:
                self.discarded = len(self.buffer)
                self.buffer.clear()

    def _emit(self, line: bytes) -> None:
        if len(line) > self.max_bytes:
            self.on_overlong(len(line))
        else:
            self.on_line(line)

    def end(self) -> None:
        """End of stream: a last line without a newline still counts."""
        if self.discarded:
            self.on_overlong(self.discarded)
        elif self.buffer:
            self._emit(bytes(self.buffer))
        self.buffer.clear()
        self.discarded = 0


@dataclass
class NodeState:
    """Everything about one node id that outlives a single process (kill and restart)."""

    node_id: str
    state_dir: Path
    log_path: Path
    log_file: BinaryIO | None = None
    log_bytes: int = 0
    log_full: bool = False
    proc: NodeProcess | None = None
    registered: bool = False
    paused: bool = False
    stderr_tail: deque[bytes] = field(default_factory=deque)
    stdout_tail: deque[bytes] = field(default_factory=deque)
    """Raw line heads (formatted only for a report: this is on the hot path)."""
    crash: str | None = None
    """Headline of an unexpected exit, e.g. ``Node n0 crashed with exit status 3``."""
    bad_lines: Counter[str] = field(default_factory=Counter)
    overlong_lines: int = 0
    undelivered: int = 0
    undelivered_not_running: int = 0
    throttled: int = 0
    stray_after_exit: int = 0
    not_killed: str | None = None
    longest_stall: float = 0.0
    """Longest time (s) the node left bytes unread on its stdin without reading any."""
    stall_unread: int = 0


class PipeOwner(Protocol):
    """What a ``NodeProcess`` needs from the host that runs it (``ProcessHost``): its limits,
    whether it is stopping, and where the process's lines and exit go."""

    limits: ProcessLimits
    stopping: bool

    def process_exited(self, state: NodeState) -> None: ...

    def route_line(self, state: NodeState, proc: NodeProcess, line: bytes) -> None: ...

    def note_bad_line(self, state: NodeState, text: str) -> None: ...

    def stderr_line(self, state: NodeState, line: bytes) -> None: ...


class NodeProcess(asyncio.SubprocessProtocol):
    """One launched process of a node: its pipes, rate limiter and exit."""

    def __init__(self, host: PipeOwner, state: NodeState) -> None:
        self.host, self.state = host, state
        limits = host.limits
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid = 0
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()
        self.returncode: int | None = None
        self.expected_exit = False
        """Set before glome itself ends the process (kill, teardown): not a crash."""
        self.stdout = LineSplitter(limits.max_line_bytes, self._stdout_line, self._overlong)
        self.stderr = LineSplitter(
            limits.max_stderr_line_bytes * 16, self._stderr_line, self._stderr_overlong
        )
        self.ready: deque[bytes] = deque()
        """Complete stdout lines waiting for rate budget (at most one pipe read's worth)."""
        self.tokens = float(limits.line_burst)
        self.refilled = time.monotonic()
        self.resume_handle: asyncio.TimerHandle | None = None
        self.stdout_paused = False
        self.bytes_written = 0
        self.consumed_at_last_check = 0
        self.stalled_for = 0.0

    # -- asyncio.SubprocessProtocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.transport = transport
        self.pid = transport.get_pid()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.stdout.feed(data)
            self._route_ready()
        elif fd == 2:
            self.stderr.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.stdout.end()
            self._route_ready()
        elif fd == 2:
            self.stderr.end()

    def process_exited(self) -> None:
        assert self.transport is not None
        self.returncode = self.transport.get_returncode()
        self.exited.set()
        if not self.expected_exit and not self.host.stopping:
            self.state.crash = (
                f"Node {self.state.node_id} crashed with {describe_status(self.returncode)}"
            )
            self.host.process_exited(self.state)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    # -- stdin ----------------------------------------------------------------------------

    def write(self, line: bytes) -> bool:
        """Queue one line for the node's stdin; False if it cannot take it."""
        pipe = self.transport.get_pipe_transport(0) if self.transport is not None else None
        if pipe is None or pipe.is_closing() or self.exited.is_set():
            return False
        assert isinstance(pipe, asyncio.WriteTransport)
        if pipe.get_write_buffer_size() + len(line) > self.host.limits.stdin_buffer_bytes:
            return False
        pipe.write(line)
        self.bytes_written += len(line)
        return True

    def stdin_unread(self) -> int | None:
        """Bytes written to the node's stdin that it has not read yet (pipe + our buffer)."""
        pipe = self.transport.get_pipe_transport(0) if self.transport is not None else None
        if not isinstance(pipe, asyncio.WriteTransport) or pipe.is_closing():
            return None
        raw = pipe.get_extra_info("pipe")
        try:
            count = array.array("i", [0])
            fcntl.ioctl(raw.fileno(), termios.FIONREAD, count)
        except (OSError, ValueError, AttributeError):
            return None
        return count[0] + pipe.get_write_buffer_size()

    def close_stdin(self) -> None:
        pipe = self.transport.get_pipe_transport(0) if self.transport is not None else None
        if isinstance(pipe, asyncio.WriteTransport) and not pipe.is_closing():
            # abort, not close: close would wait for a node that may never read its buffer.
            pipe.abort()

    # -- stdout, rate-limited -------------------------------------------------------------

    def _stdout_line(self, line: bytes) -> None:
        self.ready.append(line)

    def _route_ready(self) -> None:
        limits = self.host.limits
        now = time.monotonic()
        self.tokens = min(
            float(limits.line_burst), self.tokens + (now - self.refilled) * limits.lines_per_second
        )
        self.refilled = now
        while self.ready and self.tokens >= 1.0:
            self.tokens -= 1.0
            self.host.route_line(self.state, self, self.ready.popleft())
        if self.ready:
            self._throttle()
        elif self.stdout_paused:
            self.stdout_paused = False
            self._stdout_pipe_call("resume_reading")

    def _throttle(self) -> None:
        """Out of budget: stop reading stdout (the node blocks on its writes) until refilled."""
        if not self.stdout_paused:
            self.stdout_paused = True
            self._stdout_pipe_call("pause_reading")
            self.state.throttled += 1
            if self.state.throttled == 1:
                log.warning(
                    "%s writes more than %d lines/s to stdout; reading it at that rate",
                    self.state.node_id,
                    int(self.host.limits.lines_per_second),
                )
        if self.resume_handle is None or self.resume_handle.cancelled():
            wait = max(0.001, (1.0 - self.tokens) / self.host.limits.lines_per_second)
            self.resume_handle = self.loop.call_later(max(wait, 0.01), self._resume)

    def _resume(self) -> None:
        # Also after the pipes closed: lines read before the node exited are still routed.
        self.resume_handle = None
        self._route_ready()

    def _stdout_pipe_call(self, method: str) -> None:
        pipe = self.transport.get_pipe_transport(1) if self.transport is not None else None
        if pipe is not None and not pipe.is_closing():
            getattr(pipe, method)()

    def _overlong(self, size: int) -> None:
        self.state.overlong_lines += 1
        self.host.note_bad_line(
            self.state,
            f"{self.state.node_id} wrote a stdout line of {size} bytes, over the "
            f"{self.host.limits.max_line_bytes}-byte limit; dropped",
        )

    # -- stderr ---------------------------------------------------------------------------

    def _stderr_line(self, line: bytes) -> None:
        limit = self.host.limits.max_stderr_line_bytes
        if len(line) > limit:
            line = line[:limit] + b" [truncated: %d bytes]" % len(line)
        self.host.stderr_line(self.state, line)

    def _stderr_overlong(self, size: int) -> None:
        self.host.stderr_line(self.state, b"[glome: a stderr line of %d bytes was dropped]" % size)

    # -- signals --------------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        """Signal the node's whole process group (a wrapper script's children too)."""
        if self.pid <= 0:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            # The group is gone (everything exited); the direct child may linger as a zombie.
            if not self.exited.is_set():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signum)

    async def wait_exit(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def finish(self, timeout: float) -> None:
        """After exit: let the pipes drain (bounded), then release everything."""
        # On timeout a grandchild still holds a pipe open; closing ours is enough.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        if self.transport is not None:
            self.transport.close()


def describe_status(returncode: int | None) -> str:
    if returncode is None:
        return "an unknown exit status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"exit status {returncode} (killed by {name})"
    return f"exit status {returncode}"
