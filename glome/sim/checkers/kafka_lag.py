"""Jepsen's worst realtime lag of a kafka history: how stale a consumer's position got."""

from __future__ import annotations

import bisect
import math
from typing import Any

from glome.sim.checkers.kafka_log import KafkaLog, max_offsets


def worst_realtime_lag(log: KafkaLog) -> dict[str, Any]:
    """Jepsen's conservative consumer lag: for each ok poll and each key the process holds,
    how long before the poll's invocation the next offset after its position existed."""
    # Offsets known to exist always form a prefix 0..max, so per key we keep breakpoints:
    # (highest offset known, time it became known), both increasing. Offset i was first
    # known to exist at the time of the first breakpoint >= i. (A dense per-offset list
    # is what makes Maelstrom's analysis blow up on huge offsets, issue #51.)
    known: dict[Any, tuple[list[int], list[int]]] = {}
    for op in log.completions:
        if op["type"] not in ("ok", "info"):
            continue
        for k, off in max_offsets(op).items():
            offs, times = known.setdefault(k, ([], []))
            if not offs or off > offs[-1]:
                offs.append(off)
                times.append(op.get("time", 0))
    worst: dict[str, Any] | None = None
    positions: dict[Any, dict[Any, int]] = {}
    for op in log.completions:
        if op["type"] != "ok":
            continue
        p, f = op.get("process"), op.get("f")
        if f == "assign":
            old = positions.get(p, {})
            positions[p] = {k: old.get(k, -1) for k in op.get("value") or ()}
        elif f == "subscribe":
            positions[p] = {}
        elif f in ("poll", "txn"):
            inv = log.invoke_of.get(id(op))
            t0 = inv.get("time", 0) if inv is not None else op.get("time", 0)
            pos = dict(positions.get(p, {}))
            for k, off in max_offsets(op).items():
                pos[k] = max(pos.get(k, -1), off)
            positions[p] = pos
            for k, off in pos.items():
                offs, times = known.get(k, ([], []))
                i = bisect.bisect_left(offs, off + 1)
                at = times[i] if i < len(times) else math.inf
                lag = max(0.0, t0 - at)
                if worst is None or lag > worst["lag"]:
                    worst = {"time": t0, "process": p, "key": k, "lag": lag}
    if worst is None:
        return {"time": 0.0, "lag": 0.0}
    worst["time"] = worst["time"] / 1e9
    worst["lag"] = worst["lag"] / 1e9
    return worst
