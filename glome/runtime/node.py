"""Node: a Maelstrom node, in the shape of Maelstrom's Go library.

    class Echo(Node):
        @handler("echo")
        async def echo(self, msg: Message) -> dict:
            return {"type": "echo_ok", "echo": msg.body["echo"]}

    if __name__ == "__main__":
        Echo.main()

or, Go style, ``node.handle("echo", fn)``. A handler may ``self.reply(msg, body)`` itself, or
return the reply body. State goes in ``setup`` (called at the end of ``__init__``), work that
needs the node's id in ``on_init``. ``docs/runtime.md`` is the whole API on one page.

What the runtime does with each message (init handshake, replies to RPCs, requests in flight,
errors 10, 11, 12 and 13) lives in ``glome/runtime/_dispatch.py``; this module is what a node
calls. Time, sleep, randomness and background tasks come from the node (``now``, ``wall_ms``,
``sleep``, ``rng``, ``spawn``, ``every``), so the same node runs in real time over stdio and on
the simulator's virtual clock, where a seed replays a run exactly.

A node stops cleanly at end of input: request handlers get ``eof_grace`` seconds to finish,
then every task (periodic ones included) is cancelled, ``on_stop`` runs and the metrics are
written as one JSON line on stderr (an INFO record of the ``glome.metrics`` logger).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from glome.errors import RPCError, RPCTimeout
from glome.protocol import Message
from glome.runtime import retry as _retry
from glome.runtime._dispatch import TIMED_OUT, Dispatcher, Handler, mark_handler, marked_handlers
from glome.runtime.clock import Clock, LoopClock
from glome.runtime.metrics import Metrics
from glome.runtime.transport import StdioTransport, Transport

T = TypeVar("T")

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
        mark_handler(fn, message_type)
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
        """This node's id (``n0``), known once init arrived."""
        self.node_ids: list[str] = []
        """Every node of the cluster (this one included), known once init arrived."""
        if seed is None:
            env_seed = os.environ.get("GLOME_SEED")
            seed = int(env_seed) if env_seed else int.from_bytes(os.urandom(8), "big")
        self.rng = random.Random(seed)
        """The node's only source of randomness (seeded: a simulation replays exactly)."""
        self.state_dir = Path(state_dir) if state_dir is not None else Path.cwd()
        """A directory that survives a kill and restart: where durable state goes."""
        self.metrics = Metrics()
        self.log = NodeLog(logger, {"node": ""})
        self._clock = clock
        self._handlers: dict[str, Handler] = marked_handlers(self)
        self._dispatcher: Dispatcher | None = None
        """Set while serving: routes messages, keeps the RPCs and tasks (``_dispatch.py``)."""
        self.setup()

    def setup(self) -> None:
        """Create the node's own state here (called at the end of ``__init__``).

        No id yet: what needs ``self.id`` or ``self.node_ids`` belongs in ``on_init``.
        """

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
        self._serving().write(dest, body, self.id)

    def reply(self, request: Message, body: dict[str, Any]) -> None:
        """Answer ``request``: ``body`` plus ``in_reply_to`` = the request's msg_id."""
        msg_id = request.msg_id
        if msg_id is None:
            self.log.debug(
                "not replying to a message without msg_id", extra={"type": request.body.get("type")}
            )
            return
        # Before init completes our id is unknown: answer as the address the request was sent to.
        self._serving().write(request.src, {**body, "in_reply_to": msg_id}, self.id or request.dest)

    async def rpc(
        self, dest: str, body: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and wait for its reply body; raise ``RPCError`` on an error reply.

        Raises ``RPCTimeout`` (code 0, indefinite) when no reply arrives within ``timeout``
        seconds (default ``rpc_timeout``); a reply arriving later is dropped. Each call draws
        a fresh msg_id. A body that cannot be serialised raises ``TypeError`` at once.
        """
        dispatcher = self._serving()
        msg_id, future = dispatcher.expect_reply()
        self.metrics.rpc_calls += 1
        wait = self.rpc_timeout if timeout is None else timeout
        expiry = asyncio.get_running_loop().call_later(wait, dispatcher.expire, msg_id)
        try:
            if not dispatcher.write(dest, {**body, "msg_id": msg_id}, self.id):
                raise TypeError(f"rpc body for {dest} cannot be serialised as JSON (see log)")
            reply = await future
        finally:
            expiry.cancel()
            dispatcher.replies.pop(msg_id, None)
        if reply is TIMED_OUT:
            self.metrics.rpc_timeouts += 1
            raise RPCTimeout(f"no reply from {dest} to {body.get('type')!r} within {wait:g}s")
        if reply.body.get("type") == "error":
            self.metrics.rpc_errors += 1
            raise RPCError.from_body(reply.body)
        return reply.body

    def _serving(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the node is not serving: call serve() or main() first")
        return self._dispatcher

    # ---------------------------------------------------------------------------- lifecycle
    async def serve(self, transport: Transport) -> None:
        """Run until end of input (or cancellation, which is how the simulator kills a node)."""
        loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = LoopClock(loop)
        if isinstance(self._clock, LoopClock) and _real_time_loop(loop):
            latency_clock = time.monotonic  # real time, no call chain (and uvloop's is in ms)
        else:
            latency_clock = self._clock.monotonic
        dispatcher = self._dispatcher = Dispatcher(self, transport, latency_clock)
        transport.start(dispatcher)
        try:
            await dispatcher.eof
            await dispatcher.finish_requests(self.eof_grace)
        finally:
            await dispatcher.cancel_tasks(self.eof_grace)
        try:
            await asyncio.wait_for(self.on_stop(), timeout=self.eof_grace)
        except Exception:
            self.log.exception("on_stop failed")
        NodeLog(metrics_logger, {"node": self.id}).info(
            "metrics", extra={"metrics": self.metrics.snapshot()}
        )
        await transport.close()

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
        self._serving().track(task)
        return task

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
