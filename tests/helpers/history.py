"""Hand-built Maelstrom histories for checker tests."""

from __future__ import annotations

from typing import Any

MS = 1_000_000
"""One millisecond in history time (nanoseconds)."""


class Hist:
    """Builds a history op by op; times advance 1 ms per op unless given."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []
        self.now = 0

    def op(
        self,
        type_: str,
        process: Any,
        f: str,
        value: Any = None,
        *,
        at: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        self.now = at if at is not None else self.now + MS
        op = {
            "index": len(self.ops),
            "time": self.now,
            "type": type_,
            "process": process,
            "f": f,
            "value": value,
            **extra,
        }
        self.ops.append(op)
        return op

    def call(
        self,
        process: int,
        f: str,
        value: Any = None,
        done: str = "ok",
        result: Any = None,
        **extra: Any,
    ) -> None:
        """An invoke and its completion (``done``); ``extra`` fields (error, exception...) go
        on the completion only, as in a real history."""
        self.op("invoke", process, f, value)
        self.op(done, process, f, value if result is None else result, **extra)
