"""How many seeds a default grade runs, and why.

A flaw that shows on a fraction p of seeds slips through N independent seeds with probability
(1 - p)^N. The grader must catch every flawed node glome ships in at least 99 of 100
invocations (each invocation starts at a fresh random seed), so for each challenge N is the
smallest with (1 - p_low)^N <= 0.01, where p_low is the one-sided 95% lower confidence bound
(Clopper-Pearson) on the *measured* per-seed failure rate of the least often failing flawed
node on that challenge. Using the bound rather than the point estimate keeps the promise when
the measurement was lucky. Students' nodes have flaws of their own, so every challenge also
runs at least enough seeds to catch a flaw that shows on 20% of seeds (``FLOOR_RATE``). The
measurements (``MEASURED``) and the commands behind them:
``docs/findings.md`` (section "Seeds per challenge"), reproduced by ``bench/failure_rates.py``
(with the default processing time, as a default grade runs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from glome.challenges.catalog import CHALLENGES

MISS_PROBABILITY = 0.01
"""A flawed node may pass a default grade in at most 1 invocation of 100."""
CONFIDENCE = 0.95
MIN_SEEDS = 5
"""No grade runs fewer seeds than this, even for a flaw that shows on every seed."""


def failure_rate_lower_bound(failures: int, runs: int, confidence: float = CONFIDENCE) -> float:
    """One-sided lower confidence bound on a failure rate, Clopper-Pearson (exact binomial):
    the smallest p under which ``failures`` or more in ``runs`` has probability 1 - confidence."""
    if not 0 <= failures <= runs or runs < 1:
        raise ValueError(f"need 0 <= failures <= runs and runs >= 1, got {failures}/{runs}")
    if failures == 0:
        return 0.0

    def at_least(p: float) -> float:  # P(X >= failures) for X ~ Binomial(runs, p)
        below = sum(math.comb(runs, k) * p**k * (1 - p) ** (runs - k) for k in range(failures))
        return 1.0 - below

    lo, hi = 0.0, failures / runs
    for _ in range(60):  # bisection: at_least grows with p
        mid = (lo + hi) / 2
        if at_least(mid) < 1 - confidence:
            lo = mid
        else:
            hi = mid
    return lo


def seeds_needed(failure_rate: float, miss: float = MISS_PROBABILITY) -> int:
    """The smallest N with (1 - failure_rate)^N <= miss (at least MIN_SEEDS)."""
    if failure_rate >= 1:
        return MIN_SEEDS
    if failure_rate <= 0:
        raise ValueError("a flaw never seen cannot be caught by more seeds")
    return max(MIN_SEEDS, math.ceil(math.log(miss) / math.log(1 - failure_rate)))


def catch_probability(failure_rate: float, seeds: int) -> float:
    """Probability that ``seeds`` independent seeds show a flaw of this per-seed rate."""
    return 1 - (1 - failure_rate) ** seeds


@dataclass(frozen=True)
class Measured:
    """Failing seeds of one node on one challenge's default grade, seeds first..first+runs-1."""

    challenge: str
    node: str
    role: str
    """"naive", "review" (a flawed node the grader must fail) or "hardened" (must pass)."""
    first: int
    runs: int
    failures: int


MEASURED: tuple[Measured, ...] = (
    # bench/failure_rates.py, 2026-12-06 21:35-22:12 UTC (hardened counters' seeds 61..120
    # after it), the default cost model of main 07a0977: a 2 ms mean I/O delay per message that
    # does not queue, one router charging 0.2 us per byte, and each in-process node and service
    # a FIFO server of 0.05 ms + 0.2 us/byte per message; commands and failing seeds in
    # docs/findings.md. The rates of the 4 ms single-server model measured before are gone: they
    # no longer describe what a default grade runs.
    Measured("3c", "broadcast:MarkOnSendDelta", "review", 1, 100, 82),
    Measured("3c", "broadcast:Hardened", "hardened", 1, 100, 0),
    Measured("3d", "broadcast:MarkOnSendDelta", "review", 1, 10, 10),
    Measured("3d", "broadcast:EvidenceDelta", "review", 1, 2, 2),
    Measured("3d", "broadcast:FullStateGossip", "naive", 1, 2, 2),
    Measured("4", "counter:StaleReadCounter", "naive", 1, 200, 53),
    Measured("4", "counter:MarkOnSendDeltaCounter", "review", 1, 400, 53),
    Measured("4", "counter:SeqKVCounter", "hardened", 1, 60, 0),
    Measured("4", "counter:SeqKVCounter", "hardened", 61, 60, 0),
    Measured("4", "counter:DeltaCounter", "hardened", 1, 60, 0),
    Measured("4", "counter:DeltaCounter", "hardened", 61, 60, 0),
    Measured("6c", "txn:CommitTsTxn", "review", 1, 20, 20),
)

FLOOR_RATE = 0.2
"""Every challenge runs enough seeds to catch, 99 times in 100, a student's flaw that shows on
this fraction of seeds (21 seeds), whatever the shipped nodes need. Measured with the hardened
node of each challenge, a default grade then takes at most about two and a half minutes on 2
idle cores (6b: two checks, 7 CPU seconds a run; README)."""


def default_seeds(measured: tuple[Measured, ...] = MEASURED) -> dict[str, int]:
    """Seeds per challenge: the most any flawed node needs (from its rate's lower bound),
    and never fewer than the challenge's floor."""
    out = {}
    for challenge in CHALLENGES:
        needed = seeds_needed(FLOOR_RATE)
        for row in merged(measured):
            if row.challenge == challenge and row.role != "hardened" and row.failures:
                low = failure_rate_lower_bound(row.failures, row.runs)
                needed = max(needed, seeds_needed(low))
        out[challenge] = needed
    return out


def merged(measured: tuple[Measured, ...]) -> list[Measured]:
    """Rows of the same node and challenge added up (seed ranges measured in parts)."""
    totals: dict[tuple[str, str], Measured] = {}
    for row in measured:
        key = (row.challenge, row.node)
        old = totals.get(key)
        totals[key] = (
            row
            if old is None
            else dataclasses.replace(
                row,
                first=min(old.first, row.first),
                runs=old.runs + row.runs,
                failures=old.failures + row.failures,
            )
        )
    return list(totals.values())


DEFAULT_SEEDS: dict[str, int] = default_seeds()
"""Seeds a default ``glome challenge`` runs, per challenge id."""
