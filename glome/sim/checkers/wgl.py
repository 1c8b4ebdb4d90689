"""Wing & Gong's linearizability search with Lowe's cache, for one key of lin-kv.

Walk the history's call/return entries, linearize any op whose call comes before the first
pending return, backtrack when a return is reached whose op was not linearized. A cache of
(linearized set, register value) pairs stops the search from exploring the same configuration
twice (Lowe's memoisation); the linearized set is keyed by the first pending return and the
calls still before it, so a key is as large as the ops in flight, not the history.

The search is bounded (``max_steps`` and ``time_limit``); past the bound the result is
``:unknown`` with a ``cause``, rather than a hang. It is exponential in the open ops at worst:
a history that fails only at its very end, after many ``:info`` writes, may come out
``:unknown`` (Knossos has the same limit).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from glome.edn import UNKNOWN
from glome.sim.checkers.cas_register import RegisterOp, step

MAX_STEPS = 2_000_000
"""Search steps per key before the key is reported ``:unknown`` (about 10 s of Python)."""
TIME_LIMIT = 30.0
"""Seconds of search per key before the key is reported ``:unknown`` (a safety net)."""


@dataclass
class Search:
    """The outcome of ``wgl``: valid (True/False/UNKNOWN) and what it found."""

    valid: Any
    order: list[int]
    """Valid: a linearization (op ids). Invalid: the deepest partial one found."""
    state: Any
    """The frozen register value after ``order``."""
    failed_op: int | None = None
    """Invalid: the op whose return the search could not get past, latest in the history."""
    steps: int = 0
    cache_size: int = 0
    cause: str = ""


def wgl(
    ops: Sequence[RegisterOp],
    entries: Sequence[int],
    *,
    max_steps: int = MAX_STEPS,
    time_limit: float = TIME_LIMIT,
) -> Search:
    """Wing & Gong's linearizability search with Lowe's cache of configurations."""
    n = len(entries)
    end = n + 1
    # a doubly linked list over positions 1..n (0 is the head sentinel, n + 1 the tail)
    nxt = [*range(1, n + 2), end]
    prv = [0, *range(0, n + 1)]
    entry = [0, *entries, 0]
    ret_pos: dict[int, int] = {}
    for pos in range(1, n + 1):
        if entry[pos] & 1:
            ret_pos[entry[pos] >> 1] = pos
    ret_of = [0] * (n + 2)  # call position -> its return's position (0: open op)
    for pos in range(1, n + 1):
        if not entry[pos] & 1:
            ret_of[pos] = ret_pos.get(entry[pos] >> 1, 0)

    returns_left = [len(ret_pos)]  # completed ops not linearized yet
    # Open ops that are alike (same f and arguments) are interchangeable, and the earlier
    # called one can stand in for a later one anywhere, so they are linearized in call order:
    # an open op waits for its previous twin. This prunes 2^k subsets of k twins to k + 1.
    twin_before = [0] * (n + 2)
    last_twin: dict[tuple[int, Any, Any], int] = {}
    for pos in range(1, n + 1):
        e = entry[pos]
        if not e & 1 and not ret_of[pos]:
            op = ops[e >> 1]
            likeness = (op.kind, op.arg, op.to)
            twin_before[pos] = last_twin.get(likeness, 0)
            last_twin[likeness] = pos
    in_list = [True] * (n + 2)

    def lift(pos: int) -> None:
        in_list[pos] = False
        nxt[prv[pos]] = nxt[pos]
        prv[nxt[pos]] = prv[pos]
        r = ret_of[pos]
        if r:
            nxt[prv[r]] = nxt[r]
            prv[nxt[r]] = prv[r]
            returns_left[0] -= 1

    def unlift(pos: int) -> None:
        r = ret_of[pos]
        if r:
            prv[nxt[r]] = r
            nxt[prv[r]] = r
            returns_left[0] += 1
        prv[nxt[pos]] = pos
        nxt[prv[pos]] = pos
        in_list[pos] = True

    def frontier() -> tuple[int, tuple[int, ...]]:
        """The first return entry left and the calls before it: together they determine the
        linearized set (every op returning earlier is linearized, no op called later is, and
        an op called earlier is linearized iff its call is gone), in a key whose size is the
        number of ops in flight rather than the history's length."""
        calls = []
        p = nxt[0]
        while p != end and not entry[p] & 1:
            calls.append(p)
            p = nxt[p]
        return p, tuple(calls)

    state: Any = None
    cache: set[tuple[int, tuple[int, ...], Any]] = set()
    stack: list[tuple[int, Any]] = []
    best: tuple[int, list[int], Any, int] = (-1, [], None, -1)
    pos = nxt[0]
    steps = 0
    deadline = time.monotonic() + time_limit
    while True:
        if not returns_left[0]:  # every completed op is linearized; open ops need not be
            order = [entry[p] >> 1 for p, _ in stack]
            return Search(True, order, state, steps=steps, cache_size=len(cache))
        steps += 1
        if steps > max_steps or (steps & 0xFFFF == 0 and time.monotonic() > deadline):
            why = "step" if steps > max_steps else "time"
            return Search(
                UNKNOWN,
                [entry[p] >> 1 for p, _ in stack],
                state,
                steps=steps,
                cache_size=len(cache),
                cause=f"linearizability search exceeded its {why} budget "
                f"({steps - 1} steps, {len(cache)} configurations cached)",
            )
        e = entry[pos]
        if not e & 1:  # a call: try to linearize its op here
            twin = twin_before[pos]
            ok, new_state = (False, state) if twin and in_list[twin] else step(state, ops[e >> 1])
            if ok:
                lift(pos)
                r, calls = frontier()
                key = (r, calls, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((pos, state))
                    state = new_state
                    pos = calls[0] if calls else r
                    continue
                unlift(pos)
            pos = nxt[pos]
            continue
        # a return whose op is not linearized yet: backtrack
        if pos > best[0]:
            best = (pos, [entry[p] >> 1 for p, _ in stack], state, e >> 1)
        if not stack:
            return Search(False, best[1], best[2], best[3], steps=steps, cache_size=len(cache))
        top, state = stack.pop()
        unlift(top)
        pos = nxt[top]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a search: the searches allocate many small
    containers and free none until the end, so the collector would rescan a growing heap
    again and again for nothing (it made the search several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
