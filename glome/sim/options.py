"""TestOptions: Maelstrom's ``test`` flags (docs/protocol.md#glome-test) as one dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from glome.sim.net.processing import (
    DEFAULT_IO_DELAY,
    DEFAULT_IO_DELAY_DIST,
    DEFAULT_PROCESSING_DIST,
    DEFAULT_PROCESSING_PER_BYTE,
    DEFAULT_PROCESSING_TIME,
    DEFAULT_ROUTER_PER_BYTE,
    ProcessingSpec,
)

TOPOLOGIES = ("grid", "line", "tree", "tree2", "tree3", "tree4", "total")
LATENCY_DISTS = ("constant", "uniform", "exponential")
NEMESES = ("partition", "kill", "pause")
PROCESSING_OPTIONS = (
    "io_delay",
    "io_delay_dist",
    "processing_time",
    "processing_dist",
    "processing_per_byte",
    "router_per_byte",
)
"""The options of ``glome.sim.net.processing``: all five left out of a zero-cost run's map."""
ZERO_COST: dict[str, float] = {
    "io_delay": 0,
    "processing_time": 0,
    "processing_per_byte": 0,
    "router_per_byte": 0,
}
"""``run()`` keywords of the zero-cost model: every message handled on arrival, latency 0."""


@dataclass
class TestOptions:
    """Everything a run needs to know besides the nodes under test."""

    workload: str = "lin-kv"
    node_ids: list[str] = field(default_factory=lambda: [f"n{i}" for i in range(1, 6)])
    concurrency: int | None = None
    """Worker count; None means Maelstrom's default ``1n`` (one per node)."""
    time_limit: float = 60.0
    rate: float = 5.0
    latency: int = 0
    latency_dist: str = "constant"
    nemesis: tuple[str, ...] = ()
    nemesis_interval: float = 10.0
    availability: str | float | None = None
    """``"total"``, a fraction in [0, 1], or None (not checked)."""
    consistency_models: tuple[str, ...] = ("strict-serializable",)
    key_count: int | None = None
    max_txn_length: int = 4
    max_writes_per_key: int = 16
    topology: str = "grid"
    log_stderr: bool = False
    seed: int = 0
    recovery_time: float = 10.0
    """Seconds of quiet between the main and final phases (Maelstrom: 10)."""
    extra_args: list[str] = field(default_factory=list)
    lww_converge: bool = False
    """lww-kv replicas merge as intended instead of Maelstrom's never-converging pair."""
    io_delay: float = DEFAULT_IO_DELAY
    """Mean delay (ms) of every in-process message on its way out of its sender, which does
    not queue (``glome.sim.net.processing``)."""
    io_delay_dist: str = DEFAULT_IO_DELAY_DIST
    """``constant``, ``uniform`` (in [0, 2 x mean)) or ``exponential``."""
    processing_time: float = DEFAULT_PROCESSING_TIME
    """Mean service time (ms) of a message at an in-process node or a service, while which
    later messages queue; with ``processing_per_byte`` and ``io_delay`` 0 too, messages cost
    nothing."""
    processing_dist: str = DEFAULT_PROCESSING_DIST
    """``constant``, ``uniform`` (in [0, 2 x mean)) or ``exponential``."""
    processing_per_byte: float = DEFAULT_PROCESSING_PER_BYTE
    """Extra service time per byte of the message body as JSON, microseconds."""
    router_per_byte: float = DEFAULT_ROUTER_PER_BYTE
    """Microseconds Maelstrom's router spends per byte of a message body: one queue for every
    message of the run, in send order."""

    def __post_init__(self) -> None:
        self.processing  # noqa: B018 (validates the processing options: ValueError)

    @property
    def node_count(self) -> int:
        return len(self.node_ids)

    @property
    def worker_count(self) -> int:
        return self.concurrency if self.concurrency is not None else self.node_count

    @property
    def processing(self) -> ProcessingSpec:
        """The processing-time options, validated (ValueError)."""
        return ProcessingSpec(
            self.processing_time,
            self.processing_dist,
            self.processing_per_byte,
            self.io_delay,
            self.io_delay_dist,
            self.router_per_byte,
        )

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not self.processing.enabled:
            # Zero-cost delivery: the test map of a run from before the option existed.
            for name in PROCESSING_OPTIONS:
                del data[name]
        return data


def parse_concurrency(text: str, node_count: int) -> int:
    """``"10"`` -> 10; ``"2n"`` -> 2 x node_count (Maelstrom's ``<k>n`` form)."""
    text = text.strip()
    if text.endswith("n"):
        factor = text[:-1] or "1"
        return int(factor) * node_count
    return int(text)
