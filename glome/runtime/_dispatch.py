"""The runtime's inside: what happens to a message between the transport and a handler.

Students need not read this to write a node (``node.py`` is the API). A ``Dispatcher`` is the
``Inbox`` a node's transport delivers to. It

- routes a reply to the ``rpc`` waiting for it (by ``in_reply_to`` only; a reply nobody waits
  for is dropped and counted as late), ``init`` to the init handshake, a request to its handler;
- buffers requests that arrive before init (up to ``max_in_flight``) and serves them after
  ``init_ok``; a second ``init`` for the same id is answered ``init_ok`` again, one naming
  another id gets error 12;
- runs a plain ``def`` handler inline, as its message arrives, and an ``async`` one in a task
  of its own (eager on Python >= 3.12: a handler that never suspends costs no loop turn);
- bounds the requests in flight: at the bound a request is refused with error 11;
- answers an unknown type with error 10 and a failed handler with error 13 (or the code of the
  ``RPCError`` it raised); logs and counts a malformed line or an unserialisable body;
- keeps the node's tasks, so end of input can give requests ``eof_grace`` to finish and then
  cancel everything.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from glome.errors import (
    Crash,
    MalformedRequest,
    NotSupported,
    ProtocolError,
    RPCError,
    TemporarilyUnavailable,
)
from glome.protocol import Message, dumps_exact

if TYPE_CHECKING:
    from glome.runtime.node import Node
    from glome.runtime.transport import Transport

_EAGER_TASKS = sys.version_info >= (3, 12)
"""asyncio.Task(eager_start=True) exists: a handler runs up to its first await synchronously."""
_MAX_COUNTED_TYPES = 256  # hostile input must not grow the per-type counters without bound

Handler = Callable[[Message], Any]
TIMED_OUT: Any = object()
"""What an ``rpc``'s future holds when no reply came in time."""


def count(counter: dict[str, int], key: object) -> None:
    """One more of ``key`` (a message type) in a per-type counter, bounded in size."""
    name = key if isinstance(key, str) else "<non-string>"
    if name not in counter and len(counter) >= _MAX_COUNTED_TYPES:
        name = "<other>"
    counter[name] = counter.get(name, 0) + 1


class Dispatcher:
    """One node's message routing, RPC bookkeeping and tasks (see the module docstring)."""

    def __init__(self, node: Node, transport: Transport, monotonic: Callable[[], float]) -> None:
        self.node = node
        self.transport = transport
        self.monotonic = monotonic
        """The clock handler latency is measured on (the node's, bound once)."""
        self.metrics = node.metrics
        self.log = node.log
        self.handlers = node._handlers
        self.replies: dict[int, asyncio.Future[Message]] = {}
        """RPCs waiting, by msg_id."""
        self.next_msg_id = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.requests: set[asyncio.Task[Any]] = set()
        """Tasks answering a request (and init): the ones EOF gives ``eof_grace`` to finish."""
        self.in_flight = 0
        self.init_state = "waiting"  # -> "running" -> "done"
        self.before_init: list[Message] | None = []
        """Requests that arrived before init finished; replayed after init_ok."""
        self.eof = asyncio.get_running_loop().create_future()

    # --------------------------------------------------------------------- the inbox side

    def malformed(self, line: bytes, error: ProtocolError, message: Message | None = None) -> None:
        """A line that is not a message for this node: logged and counted, never answered."""
        if message is None:
            self.metrics.bytes_in += len(line) + 1
            if not line.strip():
                return  # blank lines are harmless: skip them silently
        self.metrics.malformed_lines += 1
        shown = line if message is None else dumps_exact(message.to_json())
        self.log.warning(
            "skipping malformed line: %s",
            error,
            extra={"line": shown[:200].decode("utf-8", "replace")},
        )

    def end(self) -> None:
        """End of input: ``serve`` winds down."""
        if not self.eof.done():
            self.eof.set_result(None)

    # -------------------------------------------------------------------------- routing
    def receive(self, msg: Message, size: int) -> None:
        """A message from the transport (``size``: the length of its line). A reply goes to
        its waiting RPC, init to the handshake, a request to its handler."""
        metrics = self.metrics
        metrics.bytes_in += size + 1
        kind = msg.body.get("type")
        if type(kind) is not str:
            self.malformed(b"", ProtocolError("body.type must be a string"), msg)
            return
        if kind in metrics.msgs_in:
            metrics.msgs_in[kind] += 1
        else:
            count(metrics.msgs_in, kind)
        in_reply_to = msg.body.get("in_reply_to")
        if in_reply_to is not None:
            # bool is not an id: type(), not isinstance()
            future = self.replies.pop(in_reply_to, None) if type(in_reply_to) is int else None
            if future is None or future.done():
                metrics.late_replies += 1
                self.log.debug(
                    "dropping a reply no RPC is waiting for",
                    extra={"type": kind, "in_reply_to": in_reply_to, "src": msg.src},
                )
            else:
                future.set_result(msg)
        elif kind == "init":
            self.on_init_message(msg)
        elif self.before_init is not None:
            self.buffer_before_init(msg, kind)
        else:
            self.dispatch(msg, kind)

    def buffer_before_init(self, msg: Message, kind: str) -> None:
        assert self.before_init is not None
        if len(self.before_init) < self.node.max_in_flight:
            self.before_init.append(msg)
        else:  # no reply: before init we cannot know our own address for certain
            self.metrics.rejected_overload += 1
            self.log.warning(
                "dropping a request received before init: buffer full",
                extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
            )

    def dispatch(self, msg: Message, kind: str) -> None:
        """Run the handler of ``msg``: inline if it is a plain function, else in its own task."""
        fn = self.handlers.get(kind)
        if fn is None:
            self.metrics.unknown_types += 1
            self.log.warning(
                "no handler for %r",
                kind,
                extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
            )
            self.node.reply(msg, NotSupported(f"no handler for message type {kind!r}").to_body())
            return
        if self.in_flight >= self.node.max_in_flight:
            self.metrics.rejected_overload += 1
            self.log.warning(
                "refusing a request: %d in flight",
                self.in_flight,
                extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
            )
            busy = TemporarilyUnavailable(f"overloaded: {self.in_flight} requests in flight")
            self.node.reply(msg, busy.to_body())
            return
        started = self.monotonic()
        try:
            result = fn(msg)  # an async handler only creates its coroutine here
        except Exception as e:
            self.handler_failed(msg, e)
        else:
            if result is None:  # the handler replied itself, or sends nothing
                pass
            elif type(result) is dict:  # the reply body
                self.node.reply(msg, result)
            elif inspect.isawaitable(result):
                self.in_flight += 1
                self.start_request(self.finish(result, msg, started), kind)
                return
            else:
                self.answer(msg, result)
        self.metrics.handler_latency.record(self.monotonic() - started)

    async def finish(self, awaitable: Awaitable[Any], msg: Message, started: float) -> None:
        """The rest of an async handler, in its own task."""
        try:
            result = await awaitable
            if result is not None:
                self.answer(msg, result)
        except Exception as e:
            self.handler_failed(msg, e)
        finally:
            self.in_flight -= 1
            self.metrics.handler_latency.record(self.monotonic() - started)

    def answer(self, msg: Message, result: Any) -> None:
        """A handler returned ``result``: a dict is the reply body."""
        if isinstance(result, dict):
            self.node.reply(msg, result)
        else:
            self.log.warning(
                "handler for %r returned %s, not a dict: nothing sent",
                msg.type,
                type(result).__name__,
                extra={"type": msg.type, "msg_id": msg.msg_id},
            )

    def handler_failed(self, msg: Message, error: Exception) -> None:
        """A raised RPCError answers with its code; anything else is a crash (error 13)."""
        if isinstance(error, RPCError):
            self.node.reply(msg, error.to_body())
            return
        self.metrics.handler_crashes += 1
        self.log.exception(
            "handler for %r crashed",
            msg.type,
            extra={"type": msg.type, "msg_id": msg.msg_id, "src": msg.src},
        )
        self.node.reply(msg, Crash(f"{type(error).__name__}: {error}").to_body())

    # ---------------------------------------------------------------------------- init
    def on_init_message(self, msg: Message) -> None:
        if self.init_state == "waiting":
            self.init_state = "running"
            self.start_request(self.init(msg), "init")
            return
        node = self.node
        node_id = msg.body.get("node_id")
        if self.init_state == "done" and node_id == node.id:
            self.log.warning(
                "init received again: answering init_ok again",
                extra={"type": "init", "msg_id": msg.msg_id, "src": msg.src},
            )
            node.reply(msg, {"type": "init_ok"})
        elif self.init_state == "done":
            error = MalformedRequest(f"already initialised as {node.id}, not {node_id!r}")
            node.reply(msg, error.to_body())
        else:
            node.reply(msg, TemporarilyUnavailable("init already in progress").to_body())

    async def init(self, msg: Message) -> None:
        node = self.node
        node_id, node_ids = msg.body.get("node_id"), msg.body.get("node_ids")
        if (
            not isinstance(node_id, str)
            or not isinstance(node_ids, list)
            or not all(isinstance(n, str) for n in node_ids)
        ):
            self.init_state = "waiting"
            error = MalformedRequest("init needs node_id (string) and node_ids (strings)")
            node.reply(msg, error.to_body())
            return
        node.id, node.node_ids = node_id, list(node_ids)
        self.log.extra = {"node": node_id}
        try:
            await node.on_init()
        except Exception as e:
            self.log.exception("on_init failed", extra={"type": "init", "msg_id": msg.msg_id})
            self.init_state = "waiting"
            node.reply(msg, Crash(f"init failed: {type(e).__name__}: {e}").to_body())
            return
        self.init_state = "done"
        node.reply(msg, {"type": "init_ok"})
        waiting, self.before_init = self.before_init or [], None
        for early in waiting:
            self.dispatch(early, early.type)

    # ------------------------------------------------------------------------- sending
    def write(self, dest: str, body: dict[str, Any], src: str) -> bool:
        """Send one message; False (logged, counted) when its body cannot be serialised."""
        try:
            size = self.transport.send(src, dest, body)
        except TypeError as e:  # orjson.JSONEncodeError is a TypeError
            self.unserialisable(dest, body, src, e)
            return False
        metrics = self.metrics
        kind = body.get("type")
        if type(kind) is str and kind in metrics.msgs_out:
            metrics.msgs_out[kind] += 1
        else:
            count(metrics.msgs_out, kind)
        metrics.bytes_out += size
        return True

    def unserialisable(self, dest: str, body: dict[str, Any], src: str, error: TypeError) -> None:
        """Log and count a message that cannot be serialised; a reply turns into error 13."""
        self.metrics.unserialisable += 1
        irt = body.get("in_reply_to")
        self.log.error(
            "cannot serialise a message to %s: %s",
            dest,
            error,
            extra={"type": repr(body.get("type")), "in_reply_to": irt},
        )
        if isinstance(irt, int) and body.get("type") != "error":
            crash = Crash(f"reply could not be serialised: {error}").to_body()
            self.write(dest, {**crash, "in_reply_to": irt}, src)

    def expect_reply(self) -> tuple[int, asyncio.Future[Message]]:
        """A fresh msg_id and the future its reply will be routed to."""
        self.next_msg_id += 1
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.replies[self.next_msg_id] = future
        return self.next_msg_id, future

    def expire(self, msg_id: int) -> None:
        """The RPC ``msg_id`` waited long enough: wake it with ``TIMED_OUT``."""
        future = self.replies.pop(msg_id, None)
        if future is not None and not future.done():
            future.set_result(TIMED_OUT)

    # --------------------------------------------------------------------------- tasks
    def start_request(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a request's coroutine as a task the EOF grace period waits for."""
        loop = asyncio.get_running_loop()
        if _EAGER_TASKS:
            task = asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg,unused-ignore]
            if task.done():  # finished without suspending: nothing to track
                return
        else:
            task = loop.create_task(coro, name=name)
        self.track(task)
        self.requests.add(task)

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.task_done)

    def task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self.requests.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background task %s failed: %r", task.get_name(), task.exception())

    async def finish_requests(self, grace: float) -> None:
        """After end of input: requests still running get ``grace`` seconds."""
        if self.requests:
            await asyncio.wait(list(self.requests), timeout=grace)

    async def cancel_tasks(self, grace: float) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


def mark_handler(fn: Callable[..., Any], message_type: str) -> None:
    """Record on ``fn`` that it handles ``message_type`` (what ``@handler`` does)."""
    fn._glome_handles = message_type  # type: ignore[attr-defined]


def marked_handlers(node: Node) -> dict[str, Handler]:
    """The node's ``@handler`` methods, by message type (in name order: deterministic)."""
    found: dict[str, Handler] = {}
    cls = type(node)
    for name in sorted(dir(cls)):
        message_type = getattr(getattr(cls, name, None), "_glome_handles", None)
        if message_type is not None:
            found[message_type] = getattr(node, name)
    return found
