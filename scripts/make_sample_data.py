"""Regenerate data/sample-store: a small glome store for notebooks/07_analysing_results.py.

    .venv/bin/python scripts/make_sample_data.py

Runs a handful of short, seeded, in-process tests (a broadcast node losing values under a
partition and the hardened one on the same seed, a counter, a kafka log losing writes to a
kill, transactions with a dependency cycle) into ``data/sample-store`` in Maelstrom's layout.
Run directories get fixed timestamp names (one second apart); node state directories and the
rendered drawings (``messages.svg``, ``timeline.html``) are dropped, so a regeneration only
changes what the runs themselves changed: ``jepsen.log`` and ``test.json``'s ``start-time``
carry wall-clock stamps; everything else is determined by the seeds and the simulator's code
(a change in event scheduling or in the processing-time model reorders the journal).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glome.nodes.broadcast import Hardened, MarkOnSendDelta  # noqa: E402
from glome.nodes.counter import DeltaCounter  # noqa: E402
from glome.nodes.kafka import SingleNodeKafka  # noqa: E402
from glome.nodes.txn import ReadCommittedTxn  # noqa: E402
from glome.sim import run  # noqa: E402
from glome.sim.render.store import timestamp_name  # noqa: E402

OUT = ROOT / "data" / "sample-store"
FIRST = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
MAX_BYTES = 500_000
RENDERED = ("messages.svg", "timeline.html")
"""Drawings a run writes for people, not read back by ``analysis`` when a journal is there."""

PARTITIONED_BROADCAST: dict[str, Any] = {
    "workload": "broadcast",
    "node_count": 5,
    "time_limit": 8,
    "rate": 10,
    "nemesis": "partition",
    "seed": 1,
}
"""The naive and the hardened broadcast node run the very same test, so they compare."""

RUNS: list[tuple[Any, dict[str, Any]]] = [
    (MarkOnSendDelta, PARTITIONED_BROADCAST),
    (Hardened, PARTITIONED_BROADCAST),
    (
        DeltaCounter,
        {
            "workload": "g-counter",
            "node_count": 3,
            "time_limit": 5,
            "rate": 10,
            "nemesis": "partition",
            "nemesis_interval": 1,
            "seed": 0,
        },
    ),
    (
        SingleNodeKafka,
        {
            "workload": "kafka",
            "node_count": 1,
            "concurrency": 2,
            "time_limit": 10,
            "rate": 20,
            "nemesis": "kill",
            "nemesis_interval": 5,
            "recovery_time": 1,
            "seed": 5,
        },
    ),
    (
        ReadCommittedTxn,
        {
            "workload": "txn-rw-register",
            "node_count": 3,
            "concurrency": 6,
            "time_limit": 1,
            "rate": 100,
            "latency": 10,
            "key_count": 2,
            "nemesis": "partition",
            "consistency_models": ("serializable",),
            "seed": 1,
        },
    ),
]


def _relink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target, link)


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for i, (node, options) in enumerate(RUNS):
        result = run(node, store_dir=OUT, **options)
        name = timestamp_name(FIRST + dt.timedelta(seconds=i))
        final = result.store_path.with_name(name)
        result.store_path.rename(final)
        shutil.rmtree(final / "state", ignore_errors=True)  # node state (sqlite etc.)
        for drawing in RENDERED:  # the journal holds the same messages; keeps the sample small
            (final / drawing).unlink(missing_ok=True)
        _relink(final.parent / "latest", name)
        _relink(OUT / "latest", f"{final.parent.name}/{name}")
        print(f"{node.__name__:18} {final.relative_to(ROOT)}  valid={result.valid}")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"{size / 1000:.0f} kB in {OUT.relative_to(ROOT)}")
    if size > MAX_BYTES:
        print(f"too big: over {MAX_BYTES} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
