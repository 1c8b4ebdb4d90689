"""Clocks: where a node's time comes from. Node code asks the runtime, never ``time``."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (the event loop's)."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch, as a wall clock: it can step backwards."""
        ...


class LoopClock:
    """Real time: the running loop's monotonic clock and the system's wall clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def monotonic(self) -> float:
        """The loop's own time, so it agrees with ``call_later`` and ``asyncio.sleep``."""
        return self._loop.time()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000
