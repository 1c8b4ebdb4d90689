"""Node processes over pipes, in real time: the host behind ``glome test --bin PATH [ARGS...]``.

Each node is a child process, as in Maelstrom (spec 1.1): glome writes each delivered message
to its **stdin** as one JSON line, reads the lines it writes on **stdout** and routes them
through the network, and copies its **stderr** line by line to ``node-logs/<id>.log`` (and to
the console when ``log_stderr``). Everything runs on the event loop with asyncio pipes; there
are no threads of ours and every wait has a bound.

Differences from Maelstrom, on purpose:

- **A bad stdout line is dropped and logged, and routing continues.** Maelstrom's stdout reader
  dies on the first line that is not JSON, fails the closed schema (exactly ``src``, ``dest``,
  ``body`` and an optional integer ``id``), has a body that is not an object, or names a
  ``src``/``dest`` that is not registered (typically a late reply to a client that already
  timed out): after that *no further message from that node is ever routed* (spec 1.2). glome
  drops only the bad line, logs why (the first few in full, then a count), reports the totals
  in :meth:`ProcessHost.problems`, and says that Maelstrom would have stopped routing there.
- **Bounded memory against faulty nodes.** A node that stops reading its stdin does not block
  anything: what glome writes to it waits in a per-node buffer of bounded size, and once that
  is full further messages are dropped and reported as undelivered (``deliver`` returns
  False for them, so the network journals them as not delivered). A watchdog also reports a
  node that leaves its stdin unread for ``stall_report_after`` seconds, which catches a node
  that stopped reading even when traffic is too light to fill anything. A node that floods
  stdout is read at a bounded rate (a token bucket; the node simply blocks on its writes
  while glome catches up), so it cannot flood the network or starve the event loop. A stdout
  line longer than ``max_line_bytes`` is discarded as it streams in; a stderr line is
  truncated; a node log stops growing at ``max_log_bytes``.
- **A message to a killed or crashed peer is not the sender's fault.** Such a node is
  unregistered (as Maelstrom's kill nemesis would leave it unreachable); a line addressed to it
  is still routed, and the network journals it as undelivered.
- **Working directory.** Maelstrom starts every node in the JVM's temp dir. glome gives each
  node its own ``<store>/state/<id>/``, kept across kill and restart so a node can persist
  state there. Relative paths in the node's own arguments are therefore relative to that
  directory (glome warns when one names a file in the runner's directory); the binary path
  itself is resolved against the runner's directory first, as Maelstrom canonicalises it.
- **Teardown** closes stdin and sends SIGTERM, then SIGKILL after ``term_timeout`` and waits at
  most ``kill_timeout`` (Maelstrom: SIGKILL, then wait up to 5 s). Each node runs in its own
  process group, so a wrapper script's children are signalled too. A node that had already
  exited before teardown is reported as Maelstrom does: ``Node n0 crashed with exit status N``
  plus its last stdout and stderr lines.

Protocol with the simulator (see ``glome.sim.hosts``): the host registers each node on the
network with ``network.register(node_id, deliver)``; ``deliver(msg)`` gets
``{"id", "src", "dest", "body"}`` and returns whether the message reached the node's stdin
buffer. Valid stdout lines go to ``network.send(src, dest, body)``. The host does not send
``init``; the runner does.
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
from typing import Any, BinaryIO, Protocol

from glome.errors import NodeStartError, RunnerError
from glome.protocol import BadEnvelope, dumps_exact, parse

log = logging.getLogger("glome.sim.processes")

Deliver = Callable[[dict[str, Any]], bool]

EXCERPT_CHARS = 300
"""How much of a bad line or a tail line is quoted in logs and reports."""
TAIL_BYTES = 1200


class Network(Protocol):
    """What the host needs from the simulator's network."""

    def register(self, endpoint: str, deliver: Deliver) -> None: ...

    def send(self, src: str, dest: str, body: dict[str, Any]) -> Any: ...

    def unregister(self, endpoint: str) -> None: ...

    def is_registered(self, endpoint: str) -> bool: ...


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


def _head(line: bytes) -> bytes:
    """A tail entry for a long line: its head plus a note of the full size."""
    return line[:TAIL_BYTES] + b"... (%d bytes)" % len(line)


def parse_envelope(
    line: bytes, is_registered: Callable[[str], bool]
) -> tuple[str, str, dict[str, Any]]:
    """Validate one stdout line as Maelstrom does and return ``(src, dest, body)``.

    Raises ``ValueError`` whose first word is the problem's kind (used for the counts in
    :meth:`ProcessHost.problems`) followed by a plain explanation: the envelope's problem
    (``glome.protocol``), or an endpoint that is not registered.
    """
    try:
        message = parse(line)
    except BadEnvelope as e:
        raise ValueError(f"{e.kind}: {e}") from None
    for role, endpoint in (("dest", message.dest), ("src", message.src)):
        if not is_registered(endpoint):
            raise ValueError(
                f"unknown-{role}: {role} {endpoint!r} is not a registered endpoint "
                "(a client that already timed out, or a node that does not exist)"
            )
    return message.src, message.dest, message.body


class _LineSplitter:
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
class _NodeState:
    """Everything about one node id that outlives a single process (kill and restart)."""

    node_id: str
    state_dir: Path
    log_path: Path
    log_file: BinaryIO | None = None
    log_bytes: int = 0
    log_full: bool = False
    proc: _NodeProcess | None = None
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


class _NodeProcess(asyncio.SubprocessProtocol):
    """One launched process of a node: its pipes, rate limiter and exit."""

    def __init__(self, host: ProcessHost, state: _NodeState) -> None:
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
        self.stdout = _LineSplitter(limits.max_line_bytes, self._stdout_line, self._overlong)
        self.stderr = _LineSplitter(
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
                f"Node {self.state.node_id} crashed with {_describe_status(self.returncode)}"
            )
            self.host._exited(self.state)

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
            self.host._route(self.state, self, self.ready.popleft())
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
        self.host._bad_line_logged(
            self.state,
            f"{self.state.node_id} wrote a stdout line of {size} bytes, over the "
            f"{self.host.limits.max_line_bytes}-byte limit; dropped",
        )

    # -- stderr ---------------------------------------------------------------------------

    def _stderr_line(self, line: bytes) -> None:
        limit = self.host.limits.max_stderr_line_bytes
        if len(line) > limit:
            line = line[:limit] + b" [truncated: %d bytes]" % len(line)
        self.host._stderr(self.state, line)

    def _stderr_overlong(self, size: int) -> None:
        self.host._stderr(self.state, b"[glome: a stderr line of %d bytes was dropped]" % size)

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


def _describe_status(returncode: int | None) -> str:
    if returncode is None:
        return "an unknown exit status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"exit status {returncode} (killed by {name})"
    return f"exit status {returncode}"


class ProcessHost:
    """Runs each node as a child process speaking the protocol over pipes, in real time.

    ``command`` is ``[binary, *args]`` (``--bin PATH ARGS...``). ``store_dir`` is the run's
    store directory: node logs go to ``node-logs/<id>.log`` and each node's working directory
    is ``state/<id>/``.
    """

    def __init__(
        self,
        command: Sequence[str],
        node_ids: Sequence[str],
        network: Network,
        store_dir: Path | str,
        *,
        log_stderr: bool = False,
        limits: ProcessLimits | None = None,
        env: dict[str, str] | None = None,
        seed: int = 0,
        on_log_line: Callable[[str, str], None] | None = None,
    ) -> None:
        self.command = resolve_command(command)
        for arg in self.command[1:]:
            if not os.path.isabs(arg) and not arg.startswith("-") and Path(arg).is_file():
                log.warning(
                    "argument %r is a relative path, but nodes run in <store>/state/<id>/; "
                    "pass %s instead",
                    arg,
                    Path(arg).resolve(),
                )
        self.node_ids = list(node_ids)
        self.network = network
        self.store_dir = Path(store_dir)
        self.log_stderr = log_stderr
        self.limits = limits or ProcessLimits()
        self.env = env
        self.seed = seed
        """Unused by the processes themselves (a binary has its own randomness)."""
        self.on_log_line = on_log_line
        """``(node_id, line)`` for every stderr line (the runner copies them to jepsen.log)."""
        self.stopping = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._nodes = {
            nid: _NodeState(
                node_id=nid,
                state_dir=self.store_dir / "state" / nid,
                log_path=self.store_dir / "node-logs" / f"{nid}.log",
                stderr_tail=deque(maxlen=self.limits.tail_lines),
                stdout_tail=deque(maxlen=self.limits.tail_lines),
            )
            for nid in self.node_ids
        }

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, node_id: str) -> None:
        """Launch the node (in its state dir) and register its endpoint. Does not send init."""
        state = self._state(node_id)
        if self.stopping:
            raise RunnerError(f"cannot start {node_id}: the host is stopping")
        if state.proc is not None and not state.proc.exited.is_set():
            raise RunnerError(f"{node_id} is already running")
        state.state_dir.mkdir(parents=True, exist_ok=True)
        if state.log_file is None:
            state.log_path.parent.mkdir(parents=True, exist_ok=True)
            state.log_file = state.log_path.open("ab")
        if not state.registered:
            self.network.register(node_id, lambda msg: self._deliver(state, msg))
            state.registered = True
        log.info("launching %s %s", self.command[0], self.command[1:])
        loop = asyncio.get_running_loop()
        try:
            _, proc = await asyncio.wait_for(
                loop.subprocess_exec(
                    lambda: _NodeProcess(self, state),
                    *self.command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=state.state_dir,
                    env=self.env,
                    start_new_session=True,
                ),
                self.limits.spawn_timeout,
            )
        except TimeoutError:
            self._unregister(state)
            raise NodeStartError(
                f"could not launch {node_id} within {self.limits.spawn_timeout} s"
            ) from None
        except OSError as e:
            self._unregister(state)
            raise NodeStartError(f"could not launch {node_id} ({self.command[0]}): {e}") from e
        state.proc = proc
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.limits.stall_check_interval, self._check_stalls)
        state.paused = False

    async def kill(self, node_id: str) -> None:
        """SIGKILL the node (as a kill nemesis) and unregister it; bounded. Not a crash."""
        state = self._state(node_id)
        proc = state.proc
        if proc is None:
            self._unregister(state)
            return
        proc.expected_exit = True
        if not proc.exited.is_set():
            proc.signal(signal.SIGKILL)
            if not await proc.wait_exit(self.limits.kill_timeout):
                state.not_killed = (
                    f"Node {node_id} did not exit within {self.limits.kill_timeout} s of SIGKILL"
                )
                log.error(state.not_killed)
        proc.signal(signal.SIGKILL)  # whatever is left in its process group
        self._unregister(state)
        state.paused = False
        await proc.finish(self.limits.pipe_close_timeout)

    async def restart(self, node_id: str) -> None:
        """Kill (if running) and start again in the same working directory."""
        await self.kill(node_id)
        await self.start(node_id)

    async def pause(self, node_id: str) -> None:
        state = self._state(node_id)
        if state.proc is not None and not state.proc.exited.is_set():
            state.proc.signal(signal.SIGSTOP)
            state.paused = True

    async def resume(self, node_id: str) -> None:
        state = self._state(node_id)
        if state.proc is not None and not state.proc.exited.is_set():
            state.proc.signal(signal.SIGCONT)
        state.paused = False

    async def stop(self) -> list[str]:
        """Tear every node down (bounded) and return the crash reports, Maelstrom-style.

        A node that exited by itself before teardown yields ``Node n0 crashed with exit status
        N`` plus its last stdout and stderr lines; one that survives SIGKILL is reported too.
        """
        crashed_before = {nid for nid, st in self._nodes.items() if st.crash is not None}
        self.stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        await asyncio.gather(*(self._shutdown(st) for st in self._nodes.values()))
        for state in self._nodes.values():
            self._unregister(state)
        for state in self._nodes.values():
            if state.log_file is not None:
                state.log_file.close()
                state.log_file = None
        reports = [self.crash_report(nid) for nid in self.node_ids if nid in crashed_before]
        reports += [st.not_killed for st in self._nodes.values() if st.not_killed]
        return reports

    async def _shutdown(self, state: _NodeState) -> None:
        proc = state.proc
        if proc is None:
            return
        if not proc.exited.is_set():
            proc.expected_exit = True
            proc.close_stdin()
            proc.signal(signal.SIGTERM)
            if state.paused:
                proc.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            if not await proc.wait_exit(self.limits.term_timeout):
                proc.signal(signal.SIGKILL)
                if not await proc.wait_exit(self.limits.kill_timeout):
                    state.not_killed = (
                        f"Node {state.node_id} did not exit within "
                        f"{self.limits.kill_timeout} s of SIGKILL"
                    )
                    log.error(state.not_killed)
        proc.signal(signal.SIGKILL)  # whatever is left in its process group (wrapper children)
        await proc.finish(self.limits.pipe_close_timeout)

    # -- reports ----------------------------------------------------------------------------

    def crashed(self) -> dict[str, str]:
        """Nodes that exited unexpectedly so far, with the reason and their last stderr lines."""
        return {
            nid: self.crash_report(nid, stdout=False)
            for nid in self.node_ids
            if self._nodes[nid].crash
        }

    def crash_report(self, node_id: str, *, stdout: bool = True) -> str:
        state = self._state(node_id)
        if state.crash is None:
            return ""
        parts = [state.crash]
        if stdout and state.stdout_tail:
            parts.append(
                "Last stdout lines:\n" + "\n".join(f"    {excerpt(ln)}" for ln in state.stdout_tail)
            )
        if state.stderr_tail:
            parts.append(
                "Last stderr lines:\n" + "\n".join(f"    {excerpt(ln)}" for ln in state.stderr_tail)
            )
        else:
            parts.append("(no stderr output)")
        return "\n".join(parts)

    def problems(self) -> dict[str, list[str]]:
        """Non-fatal trouble per node, in plain sentences (empty lists are left out)."""
        out: dict[str, list[str]] = {}
        lim = self.limits
        for nid in self.node_ids:
            st, lines = self._nodes[nid], []
            if st.bad_lines:
                kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(st.bad_lines.items()))
                lines.append(
                    f"{nid} wrote {sum(st.bad_lines.values())} stdout line(s) that are not valid "
                    f"messages ({kinds}); glome dropped them and kept routing, Maelstrom would "
                    f"have stopped routing all of {nid}'s later output"
                )
            if st.overlong_lines:
                lines.append(
                    f"{nid} wrote {st.overlong_lines} stdout line(s) over "
                    f"{lim.max_line_bytes} bytes (dropped)"
                )
            if st.undelivered:
                lines.append(
                    f"{nid} did not read its stdin fast enough: {st.undelivered} message(s) "
                    f"undelivered ({lim.stdin_buffer_bytes} bytes were already waiting)"
                )
            if st.longest_stall >= lim.stall_report_after:
                lines.append(
                    f"{nid} did not read its stdin for {st.longest_stall:.1f} s "
                    f"({st.stall_unread} bytes waiting): it stopped reading, or was busy elsewhere"
                )
            if st.undelivered_not_running:
                lines.append(
                    f"{st.undelivered_not_running} message(s) to {nid} undelivered: "
                    "it was not running"
                )
            if st.throttled:
                lines.append(
                    f"{nid} wrote more than {int(lim.lines_per_second)} lines/s to stdout; "
                    "its output "
                    f"was read at that rate ({st.throttled} time(s))"
                )
            if st.log_full:
                lines.append(
                    f"{nid}'s stderr log reached {lim.max_log_bytes} bytes; "
                    "later lines were not kept"
                )
            if st.not_killed:
                lines.append(st.not_killed)
            if lines:
                out[nid] = lines
        return out

    # -- internals --------------------------------------------------------------------------

    def _state(self, node_id: str) -> _NodeState:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise RunnerError(f"unknown node {node_id!r}; this host runs {self.node_ids}") from None

    def _check_stalls(self) -> None:
        """Every ``stall_check_interval``: has each node read anything of what waits for it?

        A node with unread bytes on its stdin and no progress since the last check is stalled
        (a paused node is exempt). This catches a node that stops reading even when the traffic
        is too light to ever fill the buffer.
        """
        interval = self.limits.stall_check_interval
        for state in self._nodes.values():
            proc = state.proc
            if proc is None or proc.exited.is_set() or state.paused:
                continue
            unread = proc.stdin_unread()
            if unread is None:
                continue
            consumed = proc.bytes_written - unread
            if unread > 0 and consumed == proc.consumed_at_last_check:
                proc.stalled_for += interval
                if proc.stalled_for > state.longest_stall:
                    state.longest_stall, state.stall_unread = proc.stalled_for, unread
                if proc.stalled_for >= self.limits.stall_report_after > proc.stalled_for - interval:
                    log.warning(
                        "%s has not read its stdin for %.1f s (%d bytes waiting)",
                        state.node_id,
                        proc.stalled_for,
                        unread,
                    )
            else:
                proc.stalled_for = 0.0
            proc.consumed_at_last_check = consumed
        self._watchdog = asyncio.get_running_loop().call_later(interval, self._check_stalls)

    def _unregister(self, state: _NodeState) -> None:
        """Take the node off the network: messages to it are journaled as undelivered."""
        if state.registered:
            self.network.unregister(state.node_id)
            state.registered = False

    def _exited(self, state: _NodeState) -> None:
        """A process ended by itself during the run: a crash, reported at once."""
        log.warning("%s during the run", state.crash)
        self._unregister(state)

    def _is_endpoint(self, endpoint: str) -> bool:
        # A peer that is killed or crashed is still a valid address: what a healthy node sends
        # it is network loss (journaled undelivered), not a protocol error of the sender.
        return endpoint in self._nodes or self.network.is_registered(endpoint)

    def _deliver(self, state: _NodeState, msg: dict[str, Any]) -> bool:
        proc = state.proc
        if self.stopping:
            return False  # teardown: nobody's fault
        if proc is None or proc.exited.is_set():
            state.undelivered_not_running += 1
            return False
        line = dumps_exact(msg, newline=True)
        if proc.write(line):
            return True
        if proc.exited.is_set() or proc.transport is None:
            state.undelivered_not_running += 1
            return False
        state.undelivered += 1
        if state.undelivered == 1:
            why = " (it is paused)" if state.paused else ""
            log.warning(
                "%s is not reading its stdin%s: over %d bytes are waiting; dropping messages to it",
                state.node_id,
                why,
                self.limits.stdin_buffer_bytes,
            )
        return False

    def _route(self, state: _NodeState, proc: _NodeProcess, line: bytes) -> None:
        state.stdout_tail.append(line[:TAIL_BYTES] if len(line) <= TAIL_BYTES else _head(line))
        if self.stopping or proc.expected_exit:
            state.stray_after_exit += 1
            return
        try:
            src, dest, body = parse_envelope(line, self._is_endpoint)
        except ValueError as e:
            kind, _, why = str(e).partition(": ")
            state.bad_lines[kind] += 1
            self._bad_line_logged(
                state, f"{state.node_id} wrote a bad stdout line, dropped: {why}: {excerpt(line)}"
            )
            return
        self.network.send(src, dest, body)

    def _bad_line_logged(self, state: _NodeState, text: str) -> None:
        count = sum(state.bad_lines.values()) + state.overlong_lines
        if count <= self.limits.bad_lines_logged:
            log.warning(text)
        if count == 1:
            log.warning(
                "(Maelstrom would stop routing every later message from %s here; "
                "glome keeps going)",
                state.node_id,
            )
        elif count == self.limits.bad_lines_logged + 1:
            log.warning("%s: further bad stdout lines are counted, not logged", state.node_id)

    def _stderr(self, state: _NodeState, line: bytes) -> None:
        state.stderr_tail.append(line[:TAIL_BYTES] if len(line) <= TAIL_BYTES else _head(line))
        if state.log_full:
            return  # a flood: the node log, jepsen.log and the console all stop here
        if self.on_log_line is not None:
            self.on_log_line(state.node_id, excerpt(line, 4000))
        elif self.log_stderr:
            log.info("%s stderr: %s", state.node_id, excerpt(line, 4000))
        f = state.log_file
        if f is None:
            return
        if state.log_bytes + len(line) + 1 > self.limits.max_log_bytes:
            state.log_full = True
            f.write(b"[glome: this log reached its size limit; later lines are not kept]\n")
            log.warning(
                "%s: node log reached %d bytes; later lines are not kept",
                state.node_id,
                self.limits.max_log_bytes,
            )
        else:
            f.write(line + b"\n")
            state.log_bytes += len(line) + 1
        f.flush()
