"""``:perf`` and ``:timeline``: Maelstrom's graph checkers, minus the graphs.

Maelstrom's perf checker renders latency and rate plots with gnuplot and reports
``{:latency-graph {:valid? true} :rate-graph {:valid? true} :valid? true}``; its timeline
checker writes ``timeline.html`` and reports ``{:valid? true}``. glome keeps those shapes and,
so nobody needs gnuplot to see latencies, adds one extra key to ``:perf``:

``:glome/latency-quantiles {<f> {0 ms, 0.5 ms, 0.95 ms, 0.99 ms, 1 ms} ...}``

the latency (completion time minus invocation time, in milliseconds, rounded to the
microsecond) of the ``:ok`` operations of each client ``:f``, at Jepsen's quantile points and
with Jepsen's index rule (sorted value at min(n-1, floor(n*q))). An ``:f`` with no ``:ok``
operation is left out. The key is namespaced (``glome/``) so readers of real Maelstrom results
can tell it apart; it is the only key glome adds to a Maelstrom-shaped result.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import History, frequency_distribution, pairs
from glome.sim.options import TestOptions

LATENCY_QUANTILES_KEY = "glome/latency-quantiles"


def latency_quantiles(history: History) -> dict[str, dict[int | float, float]]:
    """Per client ``:f`` (sorted), quantiles of ok-operation latency in ms."""
    latencies: dict[str, list[float]] = {}
    for invoke, done in pairs(history):
        if done is None or done.get("type") != "ok":
            continue
        ns = int(done.get("time", 0)) - int(invoke.get("time", 0))
        latencies.setdefault(str(invoke.get("f")), []).append(round(ns / 1e6, 3))
    out: dict[str, dict[int | float, float]] = {}
    for f in sorted(latencies):
        dist = frequency_distribution(latencies[f])
        if dist is not None:
            out[f] = {q: float(v) for q, v in dist.items()}
    return out


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Maelstrom's perf result plus glome's latency quantiles (see module docstring)."""
    return {
        "latency-graph": {"valid?": True},
        "rate-graph": {"valid?": True},
        "valid?": True,
        LATENCY_QUANTILES_KEY: latency_quantiles(history),
    }


def check_timeline(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Maelstrom's timeline checker result; glome's analysis draws the timeline itself."""
    return {"valid?": True}
