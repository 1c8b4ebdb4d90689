"""VirtualTimeLoop's own timer heap (float keys) runs callbacks in exactly asyncio's order,
ties and cancellations included: the simulator's outputs depend on that order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from glome.sim.hosts.vclock import VirtualTimeLoop


class AsyncioHeapLoop(VirtualTimeLoop):
    """The same virtual clock with asyncio's own call_at and _run_once (handles in the heap)."""

    call_at = asyncio.BaseEventLoop.call_at  # type: ignore[assignment]
    _run_once = asyncio.BaseEventLoop._run_once  # type: ignore[attr-defined]


def trace(loop_class: type[VirtualTimeLoop], seed: int) -> list[Any]:
    """Random timers on a coarse grid (many share a time), random cancellations (enough to
    trigger asyncio's heap clean-up), callbacks that schedule more: the order they ran in."""
    rng = random.Random(seed)
    ran: list[Any] = []
    loop = loop_class()
    handles: list[asyncio.TimerHandle] = []

    def fire(label: int, depth: int) -> None:
        ran.append((label, loop.time()))
        if depth < 2:
            for k in range(rng.randrange(3)):
                handles.append(
                    loop.call_later(rng.choice((0, 0.5, 1.0, 1.5)), fire, label * 10 + k, depth + 1)
                )
            if rng.random() < 0.3:
                loop.call_soon(ran.append, ("soon", label))
        for _ in range(rng.randrange(3)):
            if handles:
                handles.pop(rng.randrange(len(handles))).cancel()

    async def main() -> None:
        for label in range(400):
            when = rng.randrange(20) / 4
            handles.append(loop.call_at(when, fire, label, 0))
        for handle in rng.sample(handles, 250):
            handle.cancel()
        await asyncio.sleep(30)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return ran


@pytest.mark.parametrize("seed", range(6))
def test_same_order_as_asyncios_heap(seed: int) -> None:
    ours, theirs = trace(VirtualTimeLoop, seed), trace(AsyncioHeapLoop, seed)
    assert len(ours) > 100
    assert ours == theirs


def test_pending_handles_lists_ready_and_timers() -> None:
    loop = VirtualTimeLoop()
    try:
        soon = loop.call_soon(print)
        later = loop.call_later(5, print)
        assert loop.pending_handles() == [soon, later]
        loop.advance_to_next_timer()
        assert loop.time() == 5
    finally:
        loop.close()
