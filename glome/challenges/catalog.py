"""The Gossip Glomers challenges: their official command lines and their targets.

Each challenge is one or more checks (an official command line) and, per check, the criteria a
run must meet. ``evaluate`` measures them in one run's results; ``glome.challenges.grading``
grades a node over many seeds.

Where the official command differs from what it intends, the grader runs the intent and says so:
the 6c page writes ``–-nemesis partition`` with an en-dash, so real Maelstrom passes those two
words to the node as arguments and runs *without* partitions; glome runs with partitions.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glome.swarm.figures import results_at

Results = dict[str, Any]


@dataclass(frozen=True)
class Criterion:
    """One thing a run must show: ``measure(results)`` compared with ``target``."""

    name: str
    target: str
    measure: Callable[[Results], Any]
    passes: Callable[[Any], bool] | None
    """None: reported for information only (5c has no numeric target)."""


@dataclass(frozen=True)
class Check:
    """One run of a challenge: its command-line flags and what its results must show."""

    flags: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Challenge:
    id: str
    title: str
    workload: str
    checks: tuple[Check, ...]
    note: str = ""


@dataclass
class Verdict:
    """A measured criterion of one run."""

    challenge: str
    flags: str
    criterion: str
    measured: Any
    target: str
    passed: bool | None

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "INFO"}[self.passed]


@dataclass
class Grade:
    challenge: Challenge
    verdicts: list[Verdict] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed is not False for v in self.verdicts)

    def table(self) -> str:
        rows = [("run", "criterion", "measured", "target", "verdict")]
        for v in self.verdicts:
            rows.append((v.flags, v.criterion, _show(v.measured), v.target, v.label))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"challenge {self.challenge.id} ({self.challenge.title}): {verdict}")
        if self.challenge.note:
            lines.append(f"note: {self.challenge.note}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _latency(results: Results, quantile: float) -> Any:
    latencies = results_at(results, "workload", "stable-latencies")
    if not isinstance(latencies, dict):
        return None
    for k, v in latencies.items():
        if float(k) == quantile:
            return v
    return None


def _lt(limit: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | float) and v < limit


VALID = Criterion("valid?", "true", lambda r: r.get("valid?"), lambda v: v is True)
TOTAL_AVAILABILITY = Criterion(
    "availability ok-fraction",
    "1.0 (total)",
    lambda r: results_at(r, "availability", "ok-fraction"),
    lambda v: v == 1,
)


def msgs_per_op(limit: float | None) -> Criterion:
    return Criterion(
        "servers msgs-per-op",
        f"< {limit:g}" if limit is not None else "lower is better",
        lambda r: results_at(r, "net", "servers", "msgs-per-op"),
        _lt(limit) if limit is not None else None,
    )


def latency(quantile: float, name: str, limit_ms: float) -> Criterion:
    return Criterion(
        f"{name} stable latency (ms)",
        f"< {limit_ms:g}",
        lambda r: _latency(r, quantile),
        _lt(limit_ms),
    )


AVAILABILITY_INFO = Criterion(
    "availability ok-fraction",
    "higher is better",
    lambda r: results_at(r, "availability", "ok-fraction"),
    None,
)

_3D = "--node-count 25 --time-limit 20 --rate 100 --latency 100"
_KAFKA = "--node-count 2 --concurrency 2n --time-limit 20 --rate 1000"
_TXN = "--node-count 2 --concurrency 2n --time-limit 20 --rate 1000"

CHALLENGES: dict[str, Challenge] = {
    c.id: c
    for c in (
        Challenge("1", "Echo", "echo", (Check("--node-count 1 --time-limit 10", (VALID,)),)),
        Challenge(
            "2",
            "Unique ID Generation",
            "unique-ids",
            (
                Check(
                    "--time-limit 30 --rate 1000 --node-count 3 --availability total "
                    "--nemesis partition",
                    (VALID, TOTAL_AVAILABILITY),
                ),
            ),
        ),
        Challenge(
            "3a",
            "Single-Node Broadcast",
            "broadcast",
            (Check("--node-count 1 --time-limit 20 --rate 10", (VALID,)),),
        ),
        Challenge(
            "3b",
            "Multi-Node Broadcast",
            "broadcast",
            (Check("--node-count 5 --time-limit 20 --rate 10", (VALID,)),),
        ),
        Challenge(
            "3c",
            "Fault Tolerant Broadcast",
            "broadcast",
            (Check("--node-count 5 --time-limit 20 --rate 10 --nemesis partition", (VALID,)),),
        ),
        Challenge(
            "3d",
            "Efficient Broadcast, Part I",
            "broadcast",
            (
                Check(
                    _3D,
                    (
                        VALID,
                        msgs_per_op(30),
                        latency(0.5, "median", 400),
                        latency(1, "maximum", 600),
                    ),
                ),
                Check(_3D + " --nemesis partition", (VALID,)),
            ),
        ),
        Challenge(
            "3e",
            "Efficient Broadcast, Part II",
            "broadcast",
            (
                Check(
                    _3D,
                    (
                        VALID,
                        msgs_per_op(20),
                        latency(0.5, "median", 1000),
                        latency(1, "maximum", 2000),
                    ),
                ),
            ),
        ),
        Challenge(
            "4",
            "Grow-Only Counter",
            "g-counter",
            (
                Check(
                    "--node-count 3 --rate 100 --time-limit 20 --nemesis partition",
                    (VALID,),
                ),
            ),
        ),
        Challenge(
            "5a",
            "Single-Node Kafka-Style Log",
            "kafka",
            (Check("--node-count 1 --concurrency 2n --time-limit 20 --rate 1000", (VALID,)),),
        ),
        Challenge("5b", "Multi-Node Kafka-Style Log", "kafka", (Check(_KAFKA, (VALID,)),)),
        Challenge(
            "5c",
            "Efficient Kafka-Style Log",
            "kafka",
            (Check(_KAFKA, (VALID, msgs_per_op(None), AVAILABILITY_INFO)),),
            note="5c has no numeric target: compare msgs-per-op and availability with 5b.",
        ),
        Challenge(
            "6a",
            "Single-Node, Totally-Available Transactions",
            "txn-rw-register",
            (
                Check(
                    "--node-count 1 --time-limit 20 --rate 1000 --concurrency 2n "
                    "--consistency-models read-uncommitted --availability total",
                    (VALID, TOTAL_AVAILABILITY),
                ),
            ),
        ),
        Challenge(
            "6b",
            "Totally-Available, Read Uncommitted Transactions",
            "txn-rw-register",
            (
                Check(_TXN + " --consistency-models read-uncommitted", (VALID,)),
                Check(
                    _TXN + " --consistency-models read-uncommitted --availability total "
                    "--nemesis partition",
                    (VALID, TOTAL_AVAILABILITY),
                ),
            ),
            note="Maelstrom does not detect G0 under read-uncommitted (its issue #56); glome does.",
        ),
        Challenge(
            "6c",
            "Totally-Available, Read Committed Transactions",
            "txn-rw-register",
            (
                Check(
                    _TXN + " --consistency-models read-committed --availability total "
                    "--nemesis partition",
                    (VALID, TOTAL_AVAILABILITY),
                ),
            ),
            note="The official 6c command writes '–-nemesis partition' with an en-dash, so real "
            "Maelstrom passes it to the node as arguments and runs without partitions; glome "
            "runs the intended command, with partitions.",
        ),
    )
}


def evaluate(challenge: Challenge, check: Check, results: Results) -> list[Verdict]:
    """Measure each criterion of ``check`` in one run's results."""
    verdicts = []
    for c in check.criteria:
        measured = c.measure(results)
        passed = None if c.passes is None else bool(c.passes(measured))
        verdicts.append(Verdict(challenge.id, check.flags, c.name, measured, c.target, passed))
    return verdicts


def official_command(challenge: Challenge, check: Check, binary: str) -> str:
    """The ``maelstrom test`` line the challenge page gives, for the record."""
    return f"./maelstrom test -w {challenge.workload} --bin {shlex.quote(binary)} {check.flags}"
