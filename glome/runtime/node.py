"""Node: the Maelstrom node runtime, in the shape of Maelstrom's Go library.

    class Echo(Node):
        @handler("echo")
        async def echo(self, msg: Message) -> dict:
            return {"type": "echo_ok", "echo": msg.body["echo"]}

    if __name__ == "__main__":
        Echo.main()

or, Go style, ``node.handle("echo", fn)``. A handler may ``self.reply(msg, body)`` itself, or
return the reply body. The runtime:

- answers ``init`` with ``init_ok`` (after the ``on_init`` hook), then knows ``id``/``node_ids``;
  requests that arrive before init are buffered (up to ``max_in_flight``) and served after
  ``init_ok``; a second ``init`` for the same id is answered ``init_ok`` again, one naming
  another id gets error 12;
- runs every request of an ``async`` handler in its own task, so a handler awaiting ``rpc``
  never blocks the reader (on Python >= 3.12 the task starts eagerly: a handler that finishes
  without suspending costs no extra loop iteration). A plain ``def`` handler cannot await, so
  it runs inline, to completion, as its line is read: the fastest path;
- routes replies by ``in_reply_to`` only: a reply no RPC is waiting for is dropped (counted as
  late), never handed to a handler;
- bounds the requests in flight (``max_in_flight``). At the bound a request with a msg_id is
  refused at once with error 11 (temporarily-unavailable, definite: the client knows it did not
  happen) and one without a msg_id is dropped; both are counted in ``metrics.rejected_overload``;
- skips (and logs) lines that are not JSON objects with src/dest/body/type, answers an unknown
  type that carries a msg_id with error 10, turns an exception in a handler into error 13 (or
  the code of a raised ``RPCError``), and logs a body that cannot be serialised instead of dying;
- ends cleanly at end of input: request handlers get ``eof_grace`` seconds to finish, then
  every task (periodic ones included) is cancelled, ``on_stop`` runs and the metrics are
  written as one JSON line on stderr (an INFO record of the ``glome.metrics`` logger).

Time, sleep, randomness and background tasks come from the node (``now``, ``wall_ms``,
``sleep``, ``rng``, ``spawn``, ``every``), so the same node runs in real time over stdio and on
the simulator's virtual clock, where a seed replays a run exactly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson

from glome.errors import (
    Crash,
    MalformedRequest,
    NotSupported,
    ProtocolError,
    RPCError,
    RPCTimeout,
    TemporarilyUnavailable,
)
from glome.runtime import retry as _retry
from glome.runtime.clock import Clock, LoopClock
from glome.runtime.message import Message, parse
from glome.runtime.metrics import Metrics
from glome.runtime.transport import StdioTransport, Transport

T = TypeVar("T")
Handler = Callable[[Message], Any]

_TIMED_OUT = object()
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_EAGER_TASKS = sys.version_info >= (3, 12)
"""asyncio.Task(eager_start=True) exists: a handler runs up to its first await synchronously."""
_MAX_COUNTED_TYPES = 256  # hostile input must not grow the per-type counters without bound
_DUMPS_OPTS = orjson.OPT_NON_STR_KEYS
_dumps = orjson.dumps

logger = logging.getLogger("glome.node")
metrics_logger = logging.getLogger("glome.metrics")
"""Where the metrics line goes at stop; ``logs.configure`` keeps it at INFO whatever the level."""


class NodeLog(logging.LoggerAdapter):
    """Adds the node id to every record and keeps the call's own ``extra`` fields."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def handler(message_type: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Mark a method as the handler of ``message_type``."""

    def mark(fn: Callable[..., T]) -> Callable[..., T]:
        fn._glome_handles = message_type  # type: ignore[attr-defined]
        return fn

    return mark


def _real_time_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """asyncio's or uvloop's loop, whose time() is the real monotonic clock (a simulator's
    virtual-time loop overrides time())."""
    return type(loop).time is asyncio.BaseEventLoop.time or type(loop).__module__.startswith(
        "uvloop"
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop a real node process runs on: ``GLOME_LOOP`` = auto (default), asyncio, uvloop."""
    choice = os.environ.get("GLOME_LOOP", "auto").lower()
    if choice == "asyncio":
        return None
    try:
        import uvloop  # optional: only node processes use it
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError("GLOME_LOOP=uvloop but uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def _count(counter: dict[str, int], key: object) -> None:
    name = key if isinstance(key, str) else "<non-string>"
    if name not in counter and len(counter) >= _MAX_COUNTED_TYPES:
        name = "<other>"
    counter[name] = counter.get(name, 0) + 1


class Node:
    """A Maelstrom node. Subclass it (``@handler``) or register handlers with ``handle``."""

    max_in_flight: int = 1024
    """Requests handled at once; beyond it requests are refused with error 11."""
    rpc_timeout: float = 5.0
    """Default seconds ``rpc`` waits for a reply."""
    eof_grace: float = 1.0
    """Seconds in-flight handlers may finish after end of input."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: Clock | None = None,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.id = ""
        self.node_ids: list[str] = []
        if seed is None:
            env_seed = os.environ.get("GLOME_SEED")
            seed = int(env_seed) if env_seed else int.from_bytes(os.urandom(8), "big")
        self.rng = random.Random(seed)
        self.state_dir = Path(state_dir) if state_dir is not None else Path.cwd()
        self.metrics = Metrics()
        self.log = NodeLog(logger, {"node": ""})
        self._clock = clock
        self._plain_reply = type(self).reply is Node.reply
        """No subclass overrides reply(): the dispatcher may inline it."""
        self._monotonic: Callable[[], float] = self.now
        """The clock's ``monotonic``; serve() binds it directly (handler latency, hot path)."""
        self._handlers: dict[str, Handler] = {}
        for name in sorted(dir(type(self))):
            message_type = getattr(getattr(type(self), name, None), "_glome_handles", None)
            if message_type is not None:
                self._handlers[message_type] = getattr(self, name)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_msg_id = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._requests: set[asyncio.Task[Any]] = set()
        """Tasks answering a request (and init): the ones EOF gives ``eof_grace`` to finish."""
        self._in_flight = 0
        self._init_state = "waiting"  # -> "running" -> "done"
        self._transport: Transport | None = None
        self._send_envelope: Callable[[bytes, str, str], None] | None = None
        """The transport's ``send_envelope`` when it takes one (see ``MemoryTransport``)."""
        self._eof: asyncio.Future[None] | None = None
        self._before_init: list[Message] | None = []
        """Requests that arrived before init finished; replayed after init_ok."""

    # ----------------------------------------------------------------------------- handlers
    def handle(self, message_type: str, fn: Handler) -> None:
        """Register ``fn(msg)`` (sync or async) for messages of ``message_type``."""
        if message_type == "init":
            raise ValueError("init is handled by the runtime; override on_init instead")
        self._handlers[message_type] = fn

    async def on_init(self) -> None:
        """Called after init, before init_ok. Peers may not be running yet: do not RPC them."""

    async def on_stop(self) -> None:
        """Called once when the node stops (end of input), after handlers are done."""

    # ------------------------------------------------------------------------------ sending
    def send(self, dest: str, body: dict[str, Any]) -> None:
        """Send ``body`` to ``dest`` without waiting for anything."""
        self._write(dest, body)

    def reply(self, request: Message, body: dict[str, Any]) -> None:
        """Answer ``request``: ``body`` plus ``in_reply_to`` = the request's msg_id."""
        msg_id = request.msg_id
        if msg_id is None:
            self.log.debug(
                "not replying to a message without msg_id", extra={"type": request.body.get("type")}
            )
            return
        # Before init completes our id is unknown: answer as the address the request was sent to.
        self._write(request.src, {**body, "in_reply_to": msg_id}, self.id or request.dest)

    async def rpc(
        self, dest: str, body: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and wait for its reply body; raise ``RPCError`` on an error reply.

        Raises ``RPCTimeout`` (code 0, indefinite) when no reply arrives within ``timeout``
        seconds (default ``rpc_timeout``); a reply arriving later is dropped. Each call draws
        a fresh msg_id. A body that cannot be serialised raises ``TypeError`` at once.
        """
        loop = asyncio.get_running_loop()
        self._next_msg_id += 1
        msg_id = self._next_msg_id
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[msg_id] = future
        self.metrics.rpc_calls += 1
        wait = self.rpc_timeout if timeout is None else timeout
        expiry = loop.call_later(wait, self._expire, msg_id)
        try:
            if not self._write(dest, {**body, "msg_id": msg_id}):
                raise TypeError(f"rpc body for {dest} cannot be serialised as JSON (see log)")
            reply = await future
        finally:
            expiry.cancel()
            self._pending.pop(msg_id, None)
        if reply is _TIMED_OUT:
            self.metrics.rpc_timeouts += 1
            raise RPCTimeout(f"no reply from {dest} to {body.get('type')!r} within {wait:g}s")
        assert isinstance(reply, Message)
        if reply.body.get("type") == "error":
            self.metrics.rpc_errors += 1
            raise RPCError.from_body(reply.body)
        return reply.body

    def _expire(self, msg_id: int) -> None:
        future = self._pending.pop(msg_id, None)
        if future is not None and not future.done():
            future.set_result(_TIMED_OUT)

    def _write(self, dest: str, body: dict[str, Any], src: str | None = None) -> bool:
        """Send one message; False (logged, counted) when it cannot be serialised."""
        sender = self.id if src is None else src
        envelope = {"src": sender, "dest": dest, "body": body}
        try:
            # Without options first: the same bytes, but it refuses keys that are not strings,
            # so ``plain`` tells that the line parses back to exactly what it says (with
            # OPT_NON_STR_KEYS, {1: x, "1": y} would give a duplicate key).
            line = _dumps(envelope)
            plain = True
        except TypeError:
            plain = False
            try:
                line = _dumps(envelope, option=_DUMPS_OPTS)
            except TypeError as e:  # orjson.JSONEncodeError is a TypeError
                self._unserialisable(dest, body, src, e)
                return False
        transport = self._transport
        if transport is None:
            raise RuntimeError("the node is not serving: call serve() or main() first")
        metrics = self.metrics
        kind = body.get("type")
        if type(kind) is str and kind in metrics.msgs_out:
            metrics.msgs_out[kind] += 1
        else:
            _count(metrics.msgs_out, kind)
        metrics.bytes_out += len(line) + 1
        send_envelope = self._send_envelope
        if (
            send_envelope is not None
            and plain
            and type(body) is dict
            and type(sender) is str
            and type(dest) is str
        ):
            send_envelope(line, sender, dest)  # in-process: the host need not parse it back
        else:
            transport.send(line)
        return True

    def _unserialisable(
        self, dest: str, body: dict[str, Any], src: str | None, error: TypeError
    ) -> None:
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
            self._write(
                dest,
                {**Crash(f"reply could not be serialised: {error}").to_body(), "in_reply_to": irt},
                src,
            )

    # --------------------------------------------------------------------------- receiving
    def _on_line(self, line: bytes) -> None:
        metrics = self.metrics
        metrics.bytes_in += len(line) + 1
        # Hot path: the checks of message.parse, inlined; parse() explains any failure.
        try:
            data = _loads(line)
        except _JSONDecodeError:
            data = None
        body = data.get("body") if type(data) is dict else None
        src = data.get("src") if type(data) is dict else None
        if (
            type(body) is dict
            and type(kind := body.get("type")) is str
            and type(src) is str
            and type(dest := data.get("dest")) is str
        ):
            net_id = data.get("id")
            self._route(Message(src, dest, body, net_id if type(net_id) is int else None), kind)
        else:
            self._parse_slowly(line)

    def receive(
        self, src: str, dest: str, body: dict[str, Any], net_id: int | None, size: int
    ) -> None:
        """``_on_line`` for a message the simulator has already parsed: no JSON round trip.

        ``size`` is the length of the line it stands for (``bytes_in`` counts it as
        ``_on_line`` would). The node takes ``body`` over: the caller must not keep it. A body
        whose ``type`` is not a string goes through ``_on_line``, which logs it as malformed.
        """
        kind = body.get("type")
        if type(kind) is str:
            self.metrics.bytes_in += size + 1
            self._route(Message(src, dest, body, net_id), kind)
        else:
            envelope = {"id": net_id, "src": src, "dest": dest, "body": body}
            self._on_line(orjson.dumps(envelope, option=_DUMPS_OPTS))

    def _parse_slowly(self, line: bytes) -> None:
        """The fast path refused ``line``: let parse() say why (or, should the two ever
        disagree, accept it), and log it without a word on stdout."""
        try:
            msg = parse(line)
        except ProtocolError as e:
            if not line.strip():
                return  # blank lines are harmless: skip them silently
            self.metrics.malformed_lines += 1
            self.log.warning(
                "skipping malformed line: %s",
                e,
                extra={"line": line[:200].decode("utf-8", "replace")},
            )
            return
        self._route(msg, msg.type)

    def _route(self, msg: Message, kind: str) -> None:
        """A reply goes to its waiting RPC, init to the runtime, a request to its handler."""
        metrics = self.metrics
        body = msg.body
        if kind in metrics.msgs_in:
            metrics.msgs_in[kind] += 1
        else:
            _count(metrics.msgs_in, kind)
        in_reply_to = body.get("in_reply_to")
        if in_reply_to is not None:
            # A reply (routed by in_reply_to only, never to a handler); bool is not an id.
            future = self._pending.pop(in_reply_to, None) if type(in_reply_to) is int else None
            if future is None or future.done():
                metrics.late_replies += 1
                self.log.debug(
                    "dropping a reply no RPC is waiting for",
                    extra={"type": kind, "in_reply_to": in_reply_to, "src": msg.src},
                )
            else:
                future.set_result(msg)
            return
        if kind == "init":
            self._on_init_message(msg)
            return
        if self._before_init is not None:
            if len(self._before_init) < self.max_in_flight:
                self._before_init.append(msg)
            else:  # no reply: before init we cannot know our own address for certain
                metrics.rejected_overload += 1
                self.log.warning(
                    "dropping a request received before init: buffer full",
                    extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
                )
            return
        self._dispatch(msg)

    def _dispatch(self, msg: Message) -> None:
        """Run the handler of ``msg``: inline if it is a plain function, else in its own task."""
        metrics = self.metrics
        kind = msg.body["type"]
        fn = self._handlers.get(kind)
        if fn is None:
            metrics.unknown_types += 1
            self.log.warning(
                "no handler for %r",
                kind,
                extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
            )
            self.reply(msg, NotSupported(f"no handler for message type {kind!r}").to_body())
            return
        if self._in_flight >= self.max_in_flight:
            metrics.rejected_overload += 1
            self.log.warning(
                "refusing a request: %d in flight",
                self._in_flight,
                extra={"type": kind, "msg_id": msg.msg_id, "src": msg.src},
            )
            self.reply(
                msg,
                TemporarilyUnavailable(
                    f"overloaded: {self._in_flight} requests in flight"
                ).to_body(),
            )
            return
        started = self._monotonic()
        try:
            result = fn(msg)  # an async handler only creates its coroutine here
        except Exception as e:
            self._handler_failed(msg, e)
        else:
            if result is None:  # a plain handler that replied itself, or sent nothing
                pass
            elif type(result) is dict and self._plain_reply:  # reply(), inlined: common case
                msg_id = msg.body.get("msg_id")
                if type(msg_id) is int:
                    self._write(msg.src, {**result, "in_reply_to": msg_id})
            elif inspect.isawaitable(result):
                self._in_flight += 1
                self._start_request(self._finish(result, msg, started), kind)
                return
            else:
                self._answer(msg, result)
        metrics.handler_latency.record(self._monotonic() - started)

    async def _finish(self, awaitable: Awaitable[Any], msg: Message, started: float) -> None:
        """The rest of an async handler, in its own task."""
        try:
            result = await awaitable
            if result is not None:
                self._answer(msg, result)
        except Exception as e:
            self._handler_failed(msg, e)
        finally:
            self._in_flight -= 1
            self.metrics.handler_latency.record(self._monotonic() - started)

    def _answer(self, msg: Message, result: Any) -> None:
        if isinstance(result, dict):
            self.reply(msg, result)
        else:
            self.log.warning(
                "handler for %r returned %s, not a dict: nothing sent",
                msg.type,
                type(result).__name__,
                extra={"type": msg.type, "msg_id": msg.msg_id},
            )

    def _handler_failed(self, msg: Message, error: Exception) -> None:
        """A raised RPCError answers with its code; anything else is a crash (error 13)."""
        if isinstance(error, RPCError):
            self.reply(msg, error.to_body())
            return
        self.metrics.handler_crashes += 1
        self.log.exception(
            "handler for %r crashed",
            msg.type,
            extra={"type": msg.type, "msg_id": msg.msg_id, "src": msg.src},
        )
        self.reply(msg, Crash(f"{type(error).__name__}: {error}").to_body())

    def _start_request(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a request's coroutine as a task the EOF grace period waits for."""
        loop = asyncio.get_running_loop()
        if _EAGER_TASKS:
            task = asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg]
            if task.done():  # finished without suspending: nothing to track
                return
        else:
            task = loop.create_task(coro, name=name)
        self._tasks.add(task)
        self._requests.add(task)
        task.add_done_callback(self._task_done)

    def _on_init_message(self, msg: Message) -> None:
        if self._init_state == "waiting":
            self._init_state = "running"
            self._start_request(self._init(msg), "init")
            return
        node_id = msg.body.get("node_id")
        if self._init_state == "done" and node_id == self.id:
            self.log.warning(
                "init received again: answering init_ok again",
                extra={"type": "init", "msg_id": msg.msg_id, "src": msg.src},
            )
            self.reply(msg, {"type": "init_ok"})
        elif self._init_state == "done":
            self.reply(
                msg,
                MalformedRequest(f"already initialised as {self.id}, not {node_id!r}").to_body(),
            )
        else:
            self.reply(msg, TemporarilyUnavailable("init already in progress").to_body())

    async def _init(self, msg: Message) -> None:
        node_id, node_ids = msg.body.get("node_id"), msg.body.get("node_ids")
        if (
            not isinstance(node_id, str)
            or not isinstance(node_ids, list)
            or not all(isinstance(n, str) for n in node_ids)
        ):
            self._init_state = "waiting"
            self.reply(
                msg,
                MalformedRequest("init needs node_id (string) and node_ids (strings)").to_body(),
            )
            return
        self.id, self.node_ids = node_id, list(node_ids)
        self.log.extra = {"node": node_id}
        try:
            await self.on_init()
        except Exception as e:
            self.log.exception("on_init failed", extra={"type": "init", "msg_id": msg.msg_id})
            self._init_state = "waiting"
            self.reply(msg, Crash(f"init failed: {type(e).__name__}: {e}").to_body())
            return
        self._init_state = "done"
        self.reply(msg, {"type": "init_ok"})
        waiting, self._before_init = self._before_init or [], None
        for early in waiting:
            self._dispatch(early)

    # ---------------------------------------------------------------------------- lifecycle
    async def serve(self, transport: Transport) -> None:
        """Run until end of input (or cancellation, which is how the simulator kills a node)."""
        loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = LoopClock(loop)
        if isinstance(self._clock, LoopClock) and _real_time_loop(loop):
            self._monotonic = time.monotonic  # real time, no call chain (and uvloop's is in ms)
        else:
            self._monotonic = self._clock.monotonic
        self._transport = transport
        if getattr(transport, "takes_envelopes", False):
            self._send_envelope = transport.send_envelope  # type: ignore[attr-defined]
        self._eof = loop.create_future()
        transport.start(self._on_line, self._on_end_of_input)
        try:
            await self._eof
            if self._requests:
                await asyncio.wait(list(self._requests), timeout=self.eof_grace)
        finally:
            await self._cancel_tasks()
        try:
            await asyncio.wait_for(self.on_stop(), timeout=self.eof_grace)
        except Exception:
            self.log.exception("on_stop failed")
        NodeLog(metrics_logger, {"node": self.id}).info(
            "metrics", extra={"metrics": self.metrics.snapshot()}
        )
        await transport.close()

    def _on_end_of_input(self) -> None:
        if self._eof is not None and not self._eof.done():
            self._eof.set_result(None)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.eof_grace)

    def run(self) -> None:
        """Serve over stdin/stdout until end of input: a real Maelstrom binary.

        The event loop is uvloop's when it is installed (about half the per-message cost of
        asyncio's own loop), unless ``GLOME_LOOP=asyncio``; ``GLOME_LOOP=uvloop`` insists.
        """
        from glome.runtime import logs

        logs.configure()
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self.serve(StdioTransport()))

    @classmethod
    def main(cls) -> None:
        """``if __name__ == "__main__": MyNode.main()``"""
        cls().run()

    # ----------------------------------------------------------------- time, randomness, tasks
    def now(self) -> float:
        """Monotonic seconds (virtual in the simulator)."""
        assert self._clock is not None, "the node is not serving yet"
        return self._clock.monotonic()

    def wall_ms(self) -> int:
        """Wall-clock milliseconds since the epoch; may step backwards, as real clocks do."""
        assert self._clock is not None, "the node is not serving yet"
        return self._clock.wall_ms()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the node's loop (virtual time in the simulator); ``every`` and ``retry``
        wait through this method."""
        await asyncio.sleep(seconds)

    @property
    def peers(self) -> list[str]:
        """Every other node, in node_ids order."""
        return [n for n in self.node_ids if n != self.id]

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` in the background; the node keeps a reference and logs its failure."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._requests.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background task %s failed: %r", task.get_name(), task.exception())

    def every(
        self,
        interval: float,
        fn: Callable[[], Any],
        *,
        jitter: float = 0.1,
        name: str | None = None,
    ) -> asyncio.Task[None]:
        """Call ``fn`` (sync or async) every ``interval`` s, each wait scaled by 1 +- ``jitter``.

        Jitter keeps nodes that started together from acting in lock-step. An exception in
        ``fn`` is logged and the next tick still happens.
        """

        async def loop() -> None:
            while True:
                await self.sleep(interval * (1 + self.rng.uniform(-jitter, jitter)))
                try:
                    result = fn()
                    if inspect.isawaitable(result):
                        await result
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.log.exception(
                        "periodic task %s failed", name or getattr(fn, "__name__", "?")
                    )

        return self.spawn(loop(), name=name or f"every-{getattr(fn, '__name__', 'fn')}")

    async def retry(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        base: float = 0.05,
        factor: float = 2.0,
        cap: float = 2.0,
        deadline: float = 10.0,
        retry_if: Callable[[BaseException], bool] = _retry.is_transient,
    ) -> T:
        """``attempt()`` again on transient errors, with exponential backoff and full jitter."""

        def count(tries: int, error: BaseException) -> None:
            self.metrics.retries += 1
            self.log.debug("retry %d after %s", tries, error)

        return await _retry.retry(
            attempt,
            sleep=self.sleep,
            now=self.now,
            rng=self.rng,
            base=base,
            factor=factor,
            cap=cap,
            deadline=deadline,
            retry_if=retry_if,
            on_retry=count,
        )
