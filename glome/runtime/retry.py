"""Retry with exponential backoff, full jitter, a cap and a deadline."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from glome.errors import ErrorCode, RPCError

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    """Worth another try: no reply, or the peer said it is temporarily unavailable."""
    return isinstance(error, RPCError) and error.code in (
        ErrorCode.TIMEOUT,
        ErrorCode.TEMPORARILY_UNAVAILABLE,
        ErrorCode.CRASH,
    )


def backoff_delay(
    attempt: int, rng: random.Random, *, base: float, factor: float, cap: float
) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * factor**attempt)]."""
    return rng.uniform(0.0, min(cap, base * factor**attempt))


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[object]],
    now: Callable[[], float],
    rng: random.Random,
    base: float = 0.05,
    factor: float = 2.0,
    cap: float = 2.0,
    deadline: float = 10.0,
    retry_if: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Call ``attempt()`` until it returns, a non-transient error, or ``deadline`` seconds pass.

    Each call of ``attempt`` makes a fresh request (``Node.rpc`` draws a new msg_id each time),
    so a late reply to an earlier attempt can never be mistaken for the current one.
    """
    give_up_at = now() + deadline
    tries = 0
    while True:
        try:
            return await attempt()
        except Exception as error:
            if not retry_if(error):
                raise
            delay = backoff_delay(tries, rng, base=base, factor=factor, cap=cap)
            if now() + delay > give_up_at:
                raise
            tries += 1
            if on_retry is not None:
                on_retry(tries, error)
            await sleep(delay)
