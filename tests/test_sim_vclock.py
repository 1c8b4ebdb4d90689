"""The virtual-time event loop: time jumps instead of sleeping, and a stuck loop says so."""

from __future__ import annotations

import asyncio
import time

import pytest

from glome.sim.hosts.vclock import VirtualClock, VirtualClockStalled, VirtualTimeLoop, run_virtual


def test_sleep_advances_virtual_time_without_waiting() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return loop.time() - start

    wall = time.perf_counter()
    assert run_virtual(main()) == pytest.approx(3600)
    assert time.perf_counter() - wall < 1.0


def test_timers_fire_in_order_at_their_virtual_times() -> None:
    seen: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for name, delay in (("b", 2.0), ("a", 1.0), ("c", 3.0)):
            loop.call_later(delay, lambda n=name: seen.append((n, loop.time())))
        await asyncio.sleep(5)

    run_virtual(main())
    assert [n for n, _ in seen] == ["a", "b", "c"]
    assert [t for _, t in seen] == pytest.approx([1.0, 2.0, 3.0])


def test_wait_for_times_out_in_virtual_time() -> None:
    async def main() -> None:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(never, timeout=10)

    with pytest.raises(TimeoutError):
        run_virtual(main())


def test_a_loop_that_would_wait_forever_raises() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    wall = time.perf_counter()
    with pytest.raises(VirtualClockStalled, match="stuck at virtual time"):
        run_virtual(main(), idle_wall_timeout=0.2)
    assert time.perf_counter() - wall < 5


def test_threads_can_still_wake_the_loop() -> None:
    async def main() -> int:
        return await asyncio.to_thread(lambda: 41 + 1)

    assert run_virtual(main()) == 42


def test_virtual_clock_wall_ms_follows_loop_time() -> None:
    loop = VirtualTimeLoop()
    try:
        clock = VirtualClock(loop, wall_epoch_ms=1000)
        assert clock.wall_ms() == 1000
        loop.advance(2.5)
        assert clock.monotonic() == 2.5
        assert clock.wall_ms() == 3500
    finally:
        loop.close()
