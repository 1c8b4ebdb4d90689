"""History: the append-only list of operations a run records (``docs/design.md``).

Each op is a dict with ``index`` (dense from 0), ``time`` (ns since the run's relative origin),
``type``, ``process``, ``f``, ``value`` and optional extras, in that key order. ``on_op`` (the
runner's jepsen.log writer) sees every op as it is appended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

OP_TYPES = ("invoke", "ok", "fail", "info")


class History:
    """Ops in the order they happened, timed by the loop's clock relative to ``origin``."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_op: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.loop = loop
        self.origin = loop.time()
        self.ops: list[dict[str, Any]] = []
        self.on_op = on_op

    def start_clock(self) -> None:
        """Make now time 0 (Maelstrom's relative clock starts after DB setup)."""
        self.origin = self.loop.time()

    def now_ns(self) -> int:
        return round((self.loop.time() - self.origin) * 1e9)

    def append(
        self, type: str, process: int | str, f: str, value: Any = None, **extras: Any
    ) -> dict[str, Any]:
        """Record one op now and return it."""
        if type not in OP_TYPES:
            raise ValueError(f"op type must be one of {OP_TYPES}, not {type!r}")
        op: dict[str, Any] = {
            "index": len(self.ops),
            "time": self.now_ns(),
            "type": type,
            "process": process,
            "f": f,
            "value": value,
        }
        for key, extra in extras.items():
            if extra is not None or key == "value":
                op[key] = extra
        self.ops.append(op)
        if self.on_op is not None:
            self.on_op(op)
        return op

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.ops)
