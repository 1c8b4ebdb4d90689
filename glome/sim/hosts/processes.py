"""Node processes over pipes, in real time: the host behind ``glome test --bin PATH [ARGS...]``.

Each node is a child process, as in Maelstrom (docs/protocol.md#transport): glome writes each
delivered message to its **stdin** as one JSON line, reads the lines it writes on **stdout** and
routes them through the network, and copies its **stderr** line by line to ``node-logs/<id>.log``
(and to the console when ``log_stderr``). Everything runs on the event loop with asyncio pipes;
there are no threads of ours and every wait has a bound.

Differences from Maelstrom, on purpose:

- **A bad stdout line is dropped and logged, and routing continues.** Maelstrom's stdout reader
  dies on the first line that is not JSON, fails the closed schema (exactly ``src``, ``dest``,
  ``body`` and an optional integer ``id``), has a body that is not an object, or names a
  ``src``/``dest`` that is not registered (typically a late reply to a client that already
  timed out): after that *no further message from that node is ever routed*
  (docs/protocol.md#envelope). glome
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

One process's pipes, rate limit and signals are ``glome.sim.hosts.process_pipes``; the crash
reports and problem sentences ``glome.sim.hosts.process_reports``.

Protocol with the simulator (see ``glome.sim.hosts``): the host registers each node on the
network with ``network.register(node_id, deliver)``; ``deliver(msg)`` gets
``{"id", "src", "dest", "body"}`` and returns whether the message reached the node's stdin
buffer. Valid stdout lines go to ``network.send(src, dest, body)``. The host does not send
``init``; the runner does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from glome.errors import NodeStartError, RunnerError
from glome.protocol import BadEnvelope, dumps_exact, parse
from glome.sim.hosts.process_pipes import (
    TAIL_BYTES,
    NodeProcess,
    NodeState,
    ProcessLimits,
    excerpt,
    resolve_command,
    tail_entry,
)
from glome.sim.hosts.process_reports import crash_report, problems

log = logging.getLogger("glome.sim.hosts.processes")

Deliver = Callable[[dict[str, Any]], bool]


class Network(Protocol):
    """What the host needs from the simulator's network."""

    def register(self, endpoint: str, deliver: Deliver) -> None: ...

    def send(self, src: str, dest: str, body: dict[str, Any]) -> Any: ...

    def unregister(self, endpoint: str) -> None: ...

    def is_registered(self, endpoint: str) -> bool: ...


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
            nid: NodeState(
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
                    lambda: NodeProcess(self, state),
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

    async def _shutdown(self, state: NodeState) -> None:
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
            nid: crash_report(self._nodes[nid], stdout=False)
            for nid in self.node_ids
            if self._nodes[nid].crash
        }

    def crash_report(self, node_id: str, *, stdout: bool = True) -> str:
        """Maelstrom's report of a crashed node: the exit, then its last output lines."""
        return crash_report(self._state(node_id), stdout=stdout)

    def problems(self) -> dict[str, list[str]]:
        """Non-fatal trouble per node, in plain sentences (empty lists are left out)."""
        found = {nid: problems(self._nodes[nid], self.limits) for nid in self.node_ids}
        return {nid: lines for nid, lines in found.items() if lines}

    # -- internals --------------------------------------------------------------------------

    def _state(self, node_id: str) -> NodeState:
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

    def _unregister(self, state: NodeState) -> None:
        """Take the node off the network: messages to it are journaled as undelivered."""
        if state.registered:
            self.network.unregister(state.node_id)
            state.registered = False

    def process_exited(self, state: NodeState) -> None:
        """A process ended by itself during the run: a crash, reported at once."""
        log.warning("%s during the run", state.crash)
        self._unregister(state)

    def _is_endpoint(self, endpoint: str) -> bool:
        # A peer that is killed or crashed is still a valid address: what a healthy node sends
        # it is network loss (journaled undelivered), not a protocol error of the sender.
        return endpoint in self._nodes or self.network.is_registered(endpoint)

    def _deliver(self, state: NodeState, msg: dict[str, Any]) -> bool:
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

    def route_line(self, state: NodeState, proc: NodeProcess, line: bytes) -> None:
        state.stdout_tail.append(line[:TAIL_BYTES] if len(line) <= TAIL_BYTES else tail_entry(line))
        if self.stopping or proc.expected_exit:
            state.stray_after_exit += 1
            return
        try:
            src, dest, body = parse_envelope(line, self._is_endpoint)
        except ValueError as e:
            kind, _, why = str(e).partition(": ")
            state.bad_lines[kind] += 1
            self.note_bad_line(
                state, f"{state.node_id} wrote a bad stdout line, dropped: {why}: {excerpt(line)}"
            )
            return
        self.network.send(src, dest, body)

    def note_bad_line(self, state: NodeState, text: str) -> None:
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

    def stderr_line(self, state: NodeState, line: bytes) -> None:
        state.stderr_tail.append(line[:TAIL_BYTES] if len(line) <= TAIL_BYTES else tail_entry(line))
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
