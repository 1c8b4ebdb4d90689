"""InProcessHost: glome node objects on the runner's event loop (the ``NodeHost`` contract).

Each node id gets one object of the node class, built as
``node_class(seed=<node seed>, clock=VirtualClock(loop), state_dir=<store>/state/<id>)`` and
served over a ``MemoryTransport`` wired to the ``Network``. Messages cross it as objects with
their body's JSON, never as lines: what a node sends goes to ``network.send`` with the body's
bytes (journaled as they are, parsed into the receiver's own copy at delivery); what the network
delivers is handed to the node's transport with Maelstrom's ``id``. A message whose ``src`` or
``dest`` is not a string is logged to the node's log and dropped (Maelstrom would instead stop
routing that node's output altogether).

The node's log records go to ``node-logs/<id>.log`` as JSON lines, the format the runtime
writes to stderr in a real process: ``node.log`` is pointed at a per-node logger, and each node
runs in its own ``contextvars`` context (its serve task, and every delivery into it), so records
from other ``glome.*`` loggers emitted on its behalf (the ``glome.metrics`` line at stop) are
routed to its file too. Killing a node closes its transport (nothing it writes while unwinding
gets out) and cancels its serve task; restarting builds a fresh object with the same state
directory. Pausing freezes a node (``pause``): its loop callbacks, recognised by its context, are
set aside until ``resume``, and messages to it are held. An exception escaping the node object
(rather than a handler, which the runtime turns into an error reply) marks it crashed, for good:
a restart does not clear it (as with processes).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glome.protocol import Message, dumps_exact, envelope_problem, envelope_size, loads_exact
from glome.runtime.logs import JsonFormatter
from glome.runtime.node import Node, NodeLog
from glome.runtime.transport import MemoryTransport
from glome.sim.hosts import node_seed
from glome.sim.hosts.vclock import HandleInternals, VirtualClock, VirtualTimeLoop, handle_internals
from glome.sim.net.network import Network, Receive

_host_ids = itertools.count()

STOP_GRACE = 5.0
"""Seconds (loop time) a node gets to finish after end of input at teardown."""


_CURRENT_NODE: contextvars.ContextVar[tuple[InProcessHost, str] | None] = contextvars.ContextVar(
    "glome_inproc_node", default=None
)
"""Which in-process node the running code belongs to (set in each node's own context)."""


class _RouteToNodeLog(logging.Handler):
    """On the ``glome`` logger: sends records emitted inside a node's context to its log."""

    def emit(self, record: logging.LogRecord) -> None:
        current = _CURRENT_NODE.get()
        if current is not None:
            host, node_id = current
            if not host.closed:
                host._logger(node_id).handle(record)


def _install_router() -> None:
    root = logging.getLogger("glome")
    if not any(isinstance(h, _RouteToNodeLog) for h in root.handlers):
        root.addHandler(_RouteToNodeLog())
    metrics = logging.getLogger("glome.metrics")
    if metrics.level == logging.NOTSET:
        metrics.setLevel(logging.INFO)  # the metrics line must reach the node log


class _NodeSlot:
    """One node id: its current object, transport and serve task."""

    def __init__(self, node_id: str, index: int) -> None:
        self.node_id = node_id
        self.index = index
        self.node: Node | None = None
        self.transport: MemoryTransport | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.incarnation = 0
        self.context: contextvars.Context | None = None
        self.paused = False
        self.held: list[tuple[int, str, str, Any]] = []
        """Messages that reached the node while it was paused, delivered on resume."""
        self.frozen: dict[int, tuple[HandleInternals, Callable[..., object], tuple[Any, ...]]] = {}
        """Pending loop callbacks of the paused node: id -> (handle, real callback, args).
        Keyed by id: a TimerHandle compares (and hashes) by its time and callback."""
        self.deliver: Receive | None = None
        """The node's ``Network`` receiver (``register_receiver``)."""
        self.fired: list[HandleInternals] = []
        """Frozen callbacks that came due during the pause, in order, run on resume."""


class InProcessHost:
    """Runs glome ``Node`` subclasses in-process; see the module docstring."""

    def __init__(
        self,
        node_class: Callable[..., Node],
        *,
        node_ids: list[str],
        network: Network,
        store_dir: Path,
        seed: int,
        log_level: int = logging.INFO,
        on_log_line: Callable[[str, str], None] | None = None,
    ) -> None:
        self.node_class = node_class
        self.node_ids = list(node_ids)
        self.network = network
        self.store_dir = Path(store_dir)
        self.seed = seed
        self.on_log_line = on_log_line
        self._slots = {nid: _NodeSlot(nid, i) for i, nid in enumerate(self.node_ids)}
        self._crashed: dict[str, str] = {}
        self._bad_lines: dict[str, int] = {}
        self._loggers: dict[str, logging.Logger] = {}
        self._handlers: list[logging.Handler] = []
        self._host_id = next(_host_ids)
        self._log_level = log_level
        self.closed = False
        """True after ``stop``: node logs are closed, late records are discarded."""
        (self.store_dir / "node-logs").mkdir(parents=True, exist_ok=True)
        _install_router()

    # ------------------------------------------------------------------------------ logging
    def _logger(self, node_id: str) -> logging.Logger:
        logger = self._loggers.get(node_id)
        if logger is None:
            logger = logging.getLogger(f"glome.sim.node.h{self._host_id}.{node_id}")
            logger.propagate = False
            logger.setLevel(self._log_level)
            handler: logging.Handler = _LineHandler(
                self.store_dir / "node-logs" / f"{node_id}.log", node_id, self.on_log_line
            )
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
            self._handlers.append(handler)
            self._loggers[node_id] = logger
        return logger

    def log_line(self, node_id: str, text: str) -> None:
        """Write a line of the runner's own into a node's log (e.g. a dropped bad line)."""
        if self.closed:
            return
        self._logger(node_id).warning(text, extra={"node": node_id, "source": "glome.sim"})

    # ---------------------------------------------------------------------------- lifecycle
    async def start(self, node_id: str) -> None:
        slot = self._slots.get(node_id)
        if slot is None:
            raise KeyError(f"unknown node {node_id!r}")
        if slot.task is not None and not slot.task.done():
            raise RuntimeError(f"node {node_id} is already running")
        loop = asyncio.get_running_loop()
        state_dir = self.store_dir / "state" / node_id
        state_dir.mkdir(parents=True, exist_ok=True)
        # Each incarnation gets a fresh seed stream: restarts must not replay the same draws.
        seed = node_seed(self.seed, slot.index) + 7_919 * slot.incarnation
        slot.incarnation += 1
        node = self.node_class(seed=seed, clock=VirtualClock(loop), state_dir=state_dir)
        node.log = NodeLog(self._logger(node_id), {"node": node_id})
        transport = MemoryTransport(functools.partial(self._route, node_id))
        slot.node, slot.transport, slot.stopping = node, transport, False

        context = contextvars.copy_context()
        context.run(_CURRENT_NODE.set, (self, node_id))
        slot.context = context
        run_in_node = context.run
        nodes = self._slots

        def deliver(msg_id: int, src: str, dest: str, body: Any, body_json: bytes | None) -> None:
            """The network's ``receive`` for this node (``body_json``: as journaled)."""
            if slot.paused:  # stopped: the message waits, as in a stopped process's pipe
                slot.held.append((msg_id, src, dest, body))
                return
            try:
                if body_json is None:
                    body_json = dumps_exact(body)
                if src not in nodes:
                    # From a client or a service: the node gets its own copy, as it would by
                    # parsing a line (the sender may keep the body: history values, kv state).
                    # A node's body was parsed from its bytes by the network: nobody else's.
                    body = loads_exact(body_json)
                size = envelope_size(src, dest, body_json, msg_id)
                run_in_node(transport.deliver, Message(src, dest, body, msg_id), size)
            except Exception as e:  # the node object itself broke: it is dead now
                self._mark_crashed(node_id, f"{type(e).__name__}: {e} while receiving a message")
                self._logger(node_id).exception("node crashed while receiving a message")
                if slot.task is not None:
                    slot.task.cancel()
                self.network.unregister(node_id)

        slot.deliver = deliver
        self.network.register_receiver(node_id, deliver)
        task = loop.create_task(node.serve(transport), name=f"serve-{node_id}", context=context)
        task.add_done_callback(functools.partial(self._serve_done, slot))
        slot.task = task

    def _route(self, node_id: str, src: str, dest: str, body: Any, body_json: bytes) -> None:
        """A message the node sent: onto the network, unless it is not a valid envelope."""
        if type(src) is str and type(dest) is str and type(body) is dict:
            self.network.send(src, dest, None, body_json)
            return
        envelope = {"src": src, "dest": dest, "body": body}
        _, problem = envelope_problem(envelope) or ("", "not an envelope")
        self._bad_lines[node_id] = self._bad_lines.get(node_id, 0) + 1
        self.log_line(
            node_id, f"glome: dropping a malformed message ({problem}): {envelope!r:.200}"
        )

    def _serve_done(self, slot: _NodeSlot, task: asyncio.Task[None]) -> None:
        if slot.task is not task or slot.stopping:
            return
        if task.cancelled():
            return  # killed (or crashed in deliver, already recorded)
        error = task.exception()
        if error is not None:
            self._mark_crashed(slot.node_id, f"{type(error).__name__}: {error}")
        else:
            self._mark_crashed(slot.node_id, "exited before teardown")
        self.network.unregister(slot.node_id)

    def _mark_crashed(self, node_id: str, reason: str) -> None:
        self._crashed.setdefault(node_id, reason)

    async def kill(self, node_id: str) -> None:
        """Drop the node at once: nothing it writes from now on (its tasks unwinding on
        cancellation) reaches the network, and messages held while it was paused are lost."""
        slot = self._slots[node_id]
        slot.stopping = True
        self.network.unregister(node_id)
        if slot.transport is not None:
            slot.transport.closed = True
        self._thaw(slot, replay=False)  # held messages are lost
        if slot.task is not None and not slot.task.done():
            slot.task.cancel()
            await asyncio.wait([slot.task], timeout=STOP_GRACE)

    async def restart(self, node_id: str) -> None:
        """Kill (if running) and start a fresh object. A crash before the restart stays
        reported (as ``ProcessHost`` keeps it): the test aborts at teardown all the same."""
        await self.kill(node_id)
        await self.start(node_id)

    async def pause(self, node_id: str) -> None:
        """Freeze the node, as SIGSTOP does a process: none of its timers fire and none of its
        code runs (callbacks already queued included); messages to it wait until ``resume``.

        The node's loop callbacks are recognised by the context they run in (each node runs in
        its own). They stay in the loop's queues, where the node's code may still cancel them
        later; only their function is swapped for one that sets them aside if they come due.
        """
        slot = self._slots[node_id]
        if slot.paused or slot.task is None or slot.task.done():
            return
        loop = asyncio.get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            handles = loop.pending_handles()  # its timer heap holds keys, not handles
        elif isinstance(ready := getattr(loop, "_ready", None), deque) and isinstance(
            scheduled := getattr(loop, "_scheduled", None), list
        ):
            handles = [handle_internals(h) for h in (*ready, *scheduled)]  # asyncio's own loop
        else:
            raise NotImplementedError("pausing in-process nodes needs asyncio's own event loop")
        slot.paused = True
        for handle in handles:
            if handle.cancelled() or not self._belongs(handle, node_id):
                continue
            slot.frozen[id(handle)] = (handle, handle._callback, handle._args)
            handle._callback = self._came_due
            handle._args = (slot, handle)

    async def resume(self, node_id: str) -> None:
        """Let the node run again: overdue callbacks first (in the order they came due), then
        the messages that arrived meanwhile, in arrival order."""
        self._thaw(self._slots[node_id], replay=True)

    def _belongs(self, handle: HandleInternals, node_id: str) -> bool:
        context = handle._context
        current = context.get(_CURRENT_NODE) if context is not None else None
        return current is not None and current[0] is self and current[1] == node_id

    @staticmethod
    def _came_due(slot: _NodeSlot, handle: HandleInternals) -> None:
        slot.fired.append(handle)

    def _thaw(self, slot: _NodeSlot, *, replay: bool) -> None:
        """End a pause: restore the frozen callbacks, run those that came due, and (``replay``)
        deliver the held messages."""
        if not slot.paused:
            return
        slot.paused = False
        frozen, fired, held = slot.frozen, slot.fired, slot.held
        slot.frozen, slot.fired, slot.held = {}, [], []
        fired_ids = {id(handle) for handle in fired}
        for key, (handle, callback, args) in frozen.items():
            if key not in fired_ids and not handle.cancelled():
                handle._callback, handle._args = callback, args
        loop = asyncio.get_running_loop()
        for handle in fired:  # even for a kill: its tasks must be able to unwind
            _, callback, args = frozen[id(handle)]
            loop.call_soon(callback, *args, context=handle._context)
        if replay and held and slot.deliver is not None:
            loop.call_soon(_deliver_all, slot.deliver, held)

    async def stop(self) -> list[str]:
        """End of input for every node, a bounded wait, then cancellation; report crashes."""
        problems = [
            f"{nid} crashed before teardown: {reason}"
            for nid, reason in sorted(self._crashed.items())
        ]
        running = []
        for slot in self._slots.values():
            self._thaw(slot, replay=True)  # as SIGCONT before SIGTERM: let it wind down
            slot.stopping = True
            if slot.task is not None and not slot.task.done() and slot.transport is not None:
                if slot.context is not None:
                    slot.context.run(slot.transport.end)
                else:
                    slot.transport.end()
                running.append(slot.task)
        if running:
            _, pending = await asyncio.wait(running, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_GRACE)
        for slot in self._slots.values():
            self.network.unregister(slot.node_id)
        self.closed = True
        for handler in self._handlers:
            handler.close()
        for logger in self._loggers.values():
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.addHandler(logging.NullHandler())  # late records: dropped, not on stderr
        return problems

    def crashed(self) -> dict[str, str]:
        return dict(self._crashed)

    def problems(self) -> dict[str, list[str]]:
        """Non-fatal trouble per node, in plain sentences."""
        return {
            nid: [
                f"{nid} wrote {count} message(s) that are not valid envelopes; glome dropped "
                f"them and kept routing (Maelstrom would have stopped routing {nid}'s output)"
            ]
            for nid, count in sorted(self._bad_lines.items())
        }

    def node(self, node_id: str) -> Node | None:
        """The live node object (for notebooks and tests that inspect state)."""
        return self._slots[node_id].node


def _deliver_all(deliver: Receive, messages: list[tuple[int, str, str, Any]]) -> None:
    for msg_id, src, dest, body in messages:
        deliver(msg_id, src, dest, body, None)


class _LineHandler(logging.Handler):
    """Appends formatted records to one node's log file (and optionally elsewhere)."""

    def __init__(self, path: Path, node_id: str, also: Callable[[str, str], None] | None) -> None:
        super().__init__()
        self._file = path.open("a", encoding="utf-8")
        self._node_id = node_id
        self._also = also

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.name = "glome.node"  # not the per-host logger name: logs must not depend on it
            line = self.format(record)
            self._file.write(line + "\n")
            if self._also is not None:
                self._also(self._node_id, line)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()
