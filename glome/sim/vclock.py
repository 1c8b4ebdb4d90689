"""A virtual-time asyncio event loop: the in-process simulator's clock.

``VirtualTimeLoop`` is an ordinary ``SelectorEventLoop`` with two changes:

- ``time()`` returns a virtual clock (seconds, starting at 0) instead of the monotonic clock;
- when the loop would block in ``select(timeout)`` waiting for its next timer, the virtual clock
  jumps forward by ``timeout`` instead. Nothing ever sleeps, so a 30 s test runs as fast as the
  CPU allows, and the order of events depends only on the program and its seeds.

Real file descriptors still work (they are polled without blocking before each jump), and so do
threads that wake the loop with ``call_soon_threadsafe``. If the loop has nothing ready and no
timer scheduled it would wait forever: it then waits up to ``idle_wall_timeout`` real seconds for
a thread or file descriptor to wake it and raises ``VirtualClockStalled`` otherwise, naming the
virtual time, instead of hanging.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

WALL_EPOCH_MS = 1_700_000_000_000
"""Virtual wall clock at virtual time 0 (fixed so node output does not depend on the date)."""


class VirtualClockStalled(RuntimeError):
    """The virtual-time loop has nothing scheduled and nothing can wake it."""


class _VirtualSelector(selectors.BaseSelector):
    """Delegates to a real selector, but turns blocking waits into virtual-time jumps."""

    def __init__(self, idle_wall_timeout: float) -> None:
        self._real = selectors.DefaultSelector()
        self._idle_wall_timeout = idle_wall_timeout
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            # Callbacks are ready: run them first. call_soon_threadsafe appends to the ready
            # queue itself, so nothing is lost by not polling here.
            return []
        assert self.loop is not None
        # Poll real file descriptors (if any besides the loop's own wake-up pipe) before the
        # clock jumps; with none there is nothing to poll (threads wake the loop via its queue).
        if len(self._real.get_map()) > 1:
            events = self._real.select(0)
            if events:
                return events
        if timeout is None:
            events = self._real.select(self._idle_wall_timeout)
            if events:
                return events
            raise VirtualClockStalled(
                f"the simulation is stuck at virtual time {self.loop.time():.6f}s: nothing is "
                "scheduled and nothing can wake the event loop (a task awaits something that "
                "never happens)"
            )
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual and advances only when the loop would idle."""

    def __init__(self, idle_wall_timeout: float = 10.0) -> None:
        selector = _VirtualSelector(idle_wall_timeout)
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = 0.0

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (never backwards)."""
        if seconds > 0:
            self._virtual_now += seconds


class VirtualClock:
    """The ``glome.runtime.clock.Clock`` a simulated node gets: the loop's virtual time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wall_epoch_ms: int = WALL_EPOCH_MS) -> None:
        self._loop = loop
        self._wall_epoch_ms = wall_epoch_ms

    def monotonic(self) -> float:
        return self._loop.time()

    def wall_ms(self) -> int:
        return self._wall_epoch_ms + int(self._loop.time() * 1000)


def run_virtual(coro: Coroutine[Any, Any, T], idle_wall_timeout: float = 10.0) -> T:
    """Run ``coro`` to completion on a fresh virtual-time loop, then close the loop."""
    loop = VirtualTimeLoop(idle_wall_timeout)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            _cancel_leftovers(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still running (a node's background loops) and let them unwind."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
