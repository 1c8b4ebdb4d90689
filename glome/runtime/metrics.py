"""Per-node metrics: cheap counters on the hot path, one JSON snapshot when the node stops."""

from __future__ import annotations

from collections import Counter
from typing import Any


class HandlerLatency:
    """Count, total and max of handler run times, plus a coarse log2 histogram in microseconds."""

    __slots__ = ("buckets", "count", "max_s", "total_s")

    def __init__(self) -> None:
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.buckets = [0] * 65
        """buckets[b]: runs of bit_length(microseconds) == b, i.e. in [2**(b-1), 2**b) us."""

    def record(self, seconds: float) -> None:
        """Called once per request: kept to plain arithmetic (hot path)."""
        self.count += 1
        self.total_s += seconds
        if seconds > self.max_s:  # noqa: PLR1730 (max() is a call: slower on the hot path)
            self.max_s = seconds
        us = int(seconds * 1e6)
        self.buckets[us.bit_length() if us > 0 else 0] += 1  # 2**64 us is 584,000 years

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_ms": round(1000 * self.total_s / self.count, 4) if self.count else 0.0,
            "max_ms": round(1000 * self.max_s, 4),
            "histogram_us_log2": {
                str(1 << b if b else 0): n for b, n in enumerate(self.buckets) if n
            },
        }


class Metrics:
    """What a node did: messages and bytes in and out by type, handler latency, RPC outcomes."""

    def __init__(self) -> None:
        self.msgs_in: Counter[str] = Counter()
        self.msgs_out: Counter[str] = Counter()
        self.bytes_in = 0
        self.bytes_out = 0
        self.handler_latency = HandlerLatency()
        self.rpc_calls = 0
        self.rpc_timeouts = 0
        self.rpc_errors = 0
        self.retries = 0
        self.late_replies = 0
        self.malformed_lines = 0
        self.unknown_types = 0
        self.handler_crashes = 0
        self.rejected_overload = 0
        self.unserialisable = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "msgs_in": dict(sorted(self.msgs_in.items())),
            "msgs_out": dict(sorted(self.msgs_out.items())),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "handler_latency": self.handler_latency.to_json(),
            "rpc_calls": self.rpc_calls,
            "rpc_timeouts": self.rpc_timeouts,
            "rpc_errors": self.rpc_errors,
            "retries": self.retries,
            "late_replies": self.late_replies,
            "malformed_lines": self.malformed_lines,
            "unknown_types": self.unknown_types,
            "handler_crashes": self.handler_crashes,
            "rejected_overload": self.rejected_overload,
            "unserialisable": self.unserialisable,
        }
