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
import contextvars
import ctypes
import heapq
import selectors
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar, TypeVarTuple, cast

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

WALL_EPOCH_MS = 1_700_000_000_000
"""Virtual wall clock at virtual time 0 (fixed so node output does not depend on the date)."""


class VirtualClockStalled(RuntimeError):
    """The virtual-time loop has nothing scheduled and nothing can wake it, or it could not
    wind down within its wall-clock budget."""


_MIN_SCHEDULED_TIMER_HANDLES = 100
_MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5
_MAXIMUM_SELECT_TIMEOUT = 24 * 3600
"""asyncio's constants (``base_events``), for ``VirtualTimeLoop._run_once``."""


class HandleInternals(Protocol):
    """The private attributes of asyncio's ``Handle`` and ``TimerHandle`` this simulator uses
    (Python 3.11 to 3.13): the loop copy below, and pausing an in-process node (``inproc``),
    which swaps a callback for one that sets it aside."""

    _callback: Callable[..., object]
    _args: tuple[Any, ...]
    _context: contextvars.Context
    _cancelled: bool
    _when: float
    _scheduled: bool
    _source_traceback: Any

    def _run(self) -> None: ...
    def cancelled(self) -> bool: ...


def handle_internals(handle: asyncio.Handle) -> HandleInternals:
    """``handle``, typed with its private attributes (no conversion: the same object)."""
    return cast(HandleInternals, handle)


class _Timer(asyncio.TimerHandle):
    """asyncio's ``TimerHandle``, unchanged, with the private attributes the loop below uses
    declared for the type checker (typeshed leaves them out)."""

    __slots__ = ()
    _when: float
    _scheduled: bool


class _TimerKey(float):
    """A timer's entry in the loop's heap: its time, carrying its ``TimerHandle``.

    asyncio keeps the handles themselves in its heap, compared by a Python-level ``__lt__``
    (a call per comparison, ~7 per push or pop). These compare as the floats they are, in C,
    with the very same outcomes (``when < when``), so the heap evolves exactly as asyncio's
    would: timers due at the same time still run in the same order.
    """

    __slots__ = ("handle",)

    handle: _Timer


class _VirtualSelector(selectors.BaseSelector):
    """Delegates to a real selector, but turns blocking waits into virtual-time jumps."""

    def __init__(self, idle_wall_timeout: float) -> None:
        self._real = selectors.DefaultSelector()
        self._registered = 0
        """File objects registered (kept here: get_map() builds an object on every call)."""
        self._idle_wall_timeout = idle_wall_timeout
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self._registered += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self._registered -= 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        loop.iterations += 1
        if loop.iterations & 1023 == 0:
            loop.check_wall_budget()
        if timeout == 0:
            # Callbacks are ready: run them first. call_soon_threadsafe appends to the ready
            # queue itself, so nothing is lost by not polling here.
            if loop.forced_time:
                loop.advance_to_next_timer()
            return []
        # Poll real file descriptors (if any besides the loop's own wake-up pipe) before the
        # clock jumps; with none there is nothing to poll (threads wake the loop via its queue).
        if self._registered > 1:
            events = self._real.select(0)
            if events:
                return events
        if timeout is None:
            events = self._real.select(self._idle_wall_timeout)
            if events:
                return events
            raise VirtualClockStalled(
                f"the simulation is stuck at virtual time {loop.time():.6f}s: nothing is "
                "scheduled and nothing can wake the event loop (a task awaits something that "
                "never happens)"
            )
        loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual and advances only when the loop would idle.

    Code that never lets the loop idle (a node flooding with ``await asyncio.sleep(0)`` in a
    loop) would freeze virtual time. Against that, a wall-clock budget: once ``wall_budget``
    real seconds have passed, ``on_overrun`` is called (once) and the loop switches to *forced
    time*: each iteration also jumps to the next timer, so timeouts fire and the run can wind
    down even though ready callbacks never run out.
    """

    # asyncio's BaseEventLoop sets these in its __init__; declared here (annotations only, no
    # runtime cost) for the copy of ``call_at`` and ``_run_once`` below.
    _ready: deque[asyncio.Handle]
    _scheduled: list[_TimerKey]
    _stopping: bool
    _debug: bool
    _selector: selectors.BaseSelector
    _clock_resolution: float
    _timer_cancelled_count: int
    _current_handle: asyncio.Handle | None
    _check_closed: Callable[[], None]
    _check_thread: Callable[[], None]
    _check_callback: Callable[[Any, str], None]
    _process_events: Callable[[Any], None]

    def __init__(self, idle_wall_timeout: float = 10.0) -> None:
        selector = _VirtualSelector(idle_wall_timeout)
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = 0.0
        self.iterations = 0
        self.watchdog_armed = True
        """While true, a callback that never returns is interrupted (see ``run_virtual``)."""
        self.forced_time = False
        self._wall_deadline: float | None = None
        self._hard_deadline: float | None = None
        self._on_overrun: Callable[[], None] | None = None

    def time(self) -> float:
        return self._virtual_now

    # asyncio's call_at and _run_once (Python 3.11 to 3.13, whose logic is the same), with the
    # heap holding _TimerKey entries; the rest of asyncio never looks inside ``_scheduled``.
    # Why a copy stays: docs/design.md, "The virtual clock" (measured).
    def call_at(
        self,
        when: float,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = _Timer(when, callback, args, self, context)
        if self._debug:  # only then does the timer record where it was created
            del handle_internals(timer)._source_traceback[-1]
        key = _TimerKey(when)
        key.handle = timer
        heapq.heappush(self._scheduled, key)
        timer._scheduled = True
        return timer

    def _run_once(self) -> None:
        """One iteration: as asyncio's, with the selector asked only for what it must do."""
        scheduled = self._scheduled
        sched_count = len(scheduled)
        if (
            sched_count > _MIN_SCHEDULED_TIMER_HANDLES
            and self._timer_cancelled_count / sched_count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION
        ):
            # Remove delayed calls that were cancelled if their number is too high.
            kept = []
            for key in scheduled:
                if key.handle._cancelled:
                    key.handle._scheduled = False
                else:
                    kept.append(key)
            heapq.heapify(kept)
            self._scheduled = scheduled = kept
            self._timer_cancelled_count = 0
        else:
            # Remove delayed calls that were cancelled from the head of the queue.
            while scheduled and scheduled[0].handle._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled).handle._scheduled = False

        ready = self._ready
        timeout: float | None = None
        if ready or self._stopping:
            timeout = 0
        elif scheduled:
            when = scheduled[0]  # a key is its timer's time
            timeout = min(max(0, when - self._virtual_now), _MAXIMUM_SELECT_TIMEOUT)

        event_list: Any = self._selector.select(timeout)
        if event_list:
            self._process_events(event_list)
        event_list = None  # break cycles when an exception occurs

        # Handle 'later' callbacks that are ready.
        end_time = self._virtual_now + self._clock_resolution
        while scheduled:
            if scheduled[0] >= end_time:
                break
            timer = heapq.heappop(scheduled).handle
            timer._scheduled = False
            ready.append(timer)

        # Run what is ready now; callbacks scheduled by these wait for the next iteration.
        popleft = ready.popleft
        handle: asyncio.Handle | None = None
        for _ in range(len(ready)):
            handle = popleft()
            if handle._cancelled:
                continue
            if self._debug:
                try:
                    self._current_handle = handle
                    handle._run()
                finally:
                    self._current_handle = None
            else:
                handle._run()
        handle = None  # break cycles when an exception occurs

    def pending_handles(self) -> list[HandleInternals]:
        """Every callback waiting in the loop: the ready ones, then the timers (heap order)."""
        handles = [*self._ready, *(key.handle for key in self._scheduled)]
        return [handle_internals(handle) for handle in handles]

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (never backwards)."""
        if seconds > 0:
            self._virtual_now += seconds

    def set_wall_budget(
        self, seconds: float | None, on_overrun: Callable[[], None] | None = None
    ) -> None:
        """Call ``on_overrun`` and force time forward after ``seconds`` of real time."""
        self._wall_deadline = None if seconds is None else _time.monotonic() + seconds
        self._grace = max(30.0, seconds or 0.0)
        self._on_overrun = on_overrun

    def check_wall_budget(self) -> None:
        now = _time.monotonic()
        if self._hard_deadline is not None and now >= self._hard_deadline:
            raise VirtualClockStalled(
                f"the simulation did not wind down within {self._grace:g} s after its wall-clock "
                f"budget ran out (virtual time {self._virtual_now:.3f}s)"
            )
        if self._wall_deadline is None or now < self._wall_deadline:
            return
        self._wall_deadline = None
        self._hard_deadline = now + self._grace
        self.forced_time = True
        if self._on_overrun is not None:
            self.call_soon(self._on_overrun)

    def advance_to_next_timer(self) -> None:
        if self._scheduled:
            self.advance(self._scheduled[0] - self._virtual_now)


class VirtualClock:
    """The ``glome.runtime.clock.Clock`` a simulated node gets: the loop's virtual time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wall_epoch_ms: int = WALL_EPOCH_MS) -> None:
        self._loop = loop
        self._wall_epoch_ms = wall_epoch_ms
        self.monotonic: Callable[[], float] = loop.time
        """Virtual seconds: the loop's own clock (its method, so a read costs no extra frame)."""

    def wall_ms(self) -> int:
        return self._wall_epoch_ms + int(self._loop.time() * 1000)


class _Hung(KeyboardInterrupt):
    """Raised asynchronously in a loop thread whose current callback never returns.

    A ``KeyboardInterrupt`` subclass because asyncio lets only those (and ``SystemExit``)
    escape a callback or task; anything else would be swallowed and the loop stay stuck.
    """


class _Watchdog:
    """A daemon thread that interrupts the loop's thread if one callback runs too long.

    Node code that loops forever without ``await`` cannot be stopped from the event loop;
    this injects ``_Hung`` into the thread (``PyThreadState_SetAsyncExc``), which unwinds the
    node's Python code. Only armed while ``loop.watchdog_armed`` is true, so long analysis
    after teardown is never interrupted.
    """

    def __init__(self, loop: VirtualTimeLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.thread_id = threading.get_ident()
        self.stopped = threading.Event()
        self.fired = False
        self.thread = threading.Thread(target=self._watch, name="glome-watchdog", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        last, since = self.loop.iterations, _time.monotonic()
        while not self.stopped.wait(min(1.0, self.timeout / 4)):
            now = _time.monotonic()
            if self.loop.iterations != last or not self.loop.watchdog_armed:
                last, since = self.loop.iterations, now
                continue
            if now - since >= self.timeout:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(_Hung)
                )
                return

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def run_virtual(
    coro: Coroutine[Any, Any, T], idle_wall_timeout: float = 10.0, hang_timeout: float = 60.0
) -> T:
    """Run ``coro`` to completion on a fresh virtual-time loop, then close the loop.

    If a single callback (node code stuck in a loop without ``await``) runs for more than
    ``hang_timeout`` real seconds while ``loop.watchdog_armed``, it is interrupted and
    ``VirtualClockStalled`` is raised.
    """
    loop = VirtualTimeLoop(idle_wall_timeout)
    watchdog = _Watchdog(loop, hang_timeout)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    except _Hung:
        raise VirtualClockStalled(
            f"the simulator's event loop made no progress for {watchdog.timeout:g} s (virtual "
            f"time {loop.time():.3f}s): a node is stuck in code that never awaits; the run "
            "was interrupted"
        ) from None
    finally:
        watchdog.stop()
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
