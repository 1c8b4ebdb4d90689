"""How many seeds a default grade runs, and why.

A flaw that shows on a fraction p of seeds slips through N independent seeds with probability
(1 - p)^N. The grader must catch every flawed node glome ships in at least 99 of 100
invocations (each invocation starts at a fresh random seed), so for each challenge N is the
smallest with (1 - p_low)^N <= 0.01, where p_low is the one-sided 95% lower confidence bound
(Clopper-Pearson) on the *measured* per-seed failure rate of the least often failing flawed
node on that challenge. Using the bound rather than the point estimate keeps the promise when
the measurement was lucky. A challenge whose flawed nodes fail on every measured seed, or which
no shipped node fails at its official flags, still runs ``MIN_SEEDS`` seeds, since students'
nodes have flaws of their own. The measurements and the commands behind them:
``docs/findings.md`` (section "Seeds per challenge"), reproduced by ``bench/bench_swarm.py
--failure-rates``.
"""

from __future__ import annotations

import math

MISS_PROBABILITY = 0.01
"""A flawed node may pass a default grade in at most 1 invocation of 100."""
CONFIDENCE = 0.95
MIN_SEEDS = 5


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


DEFAULT_SEEDS: dict[str, int] = {
    "1": MIN_SEEDS,
    "2": MIN_SEEDS,
    "3a": MIN_SEEDS,
    "3b": MIN_SEEDS,
    "3c": MIN_SEEDS,
    "3d": MIN_SEEDS,
    "3e": MIN_SEEDS,
    "4": 20,
    "5a": MIN_SEEDS,
    "5b": MIN_SEEDS,
    "5c": MIN_SEEDS,
    "6a": MIN_SEEDS,
    "6b": MIN_SEEDS,
    "6c": MIN_SEEDS,
}
"""Seeds per default ``glome challenge`` (provisional until the measurements below land)."""
