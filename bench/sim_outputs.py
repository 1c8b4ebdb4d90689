"""Record, or compare against, the in-process simulator's store files for fixed seeds.

    .venv/bin/python bench/sim_outputs.py record  [--root /tmp/simref] [--seeds 1-5]
    .venv/bin/python bench/sim_outputs.py compare [--root /tmp/simref] [--seeds 1-5]

A guard for speed work on the simulator (``glome/sim/hosts/vclock.py``, ``network.py``,
``inproc.py``, ``glome/runtime``): run ``record`` before a change, ``compare`` after it. Every
configuration below runs for each seed into ``<root>/<config>/<seed>/`` (``compare`` writes to
``<root>-new`` and checks byte equality file by file). Compared: every file of the store
(``history.edn``, ``history.txt``, ``net-journal.jsonl``, ``results.edn``, ``messages.svg``,
every ``node-logs/*.log``, ...) except node ``state/`` directories (a node's sqlite files are
not byte-stable), with the run's wall-clock start time cut out, its only real-time content:
each ``jepsen.log`` line's leading time stamp, ``test.json``'s ``start-time`` line and the
store name and time in ``timeline.html``. ``timeline.html`` and ``messages.svg`` are rendered
from the history and the journal: when only they differ, their renderer changed, not the run.

``--no-processing`` runs every configuration with zero-cost message delivery
(``glome.sim.options.ZERO_COST``): the simulator as it was before the
processing-time model, to check that the model's hook leaves that mode byte-identical.

Exit status 0 when every file matches, 1 otherwise (the differing files are listed).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from glome.sim import run  # noqa: E402
from glome.sim.options import ZERO_COST  # noqa: E402

CONFIGS: dict[str, dict[str, Any]] = {
    # bench_sim.py's configuration (3d) with its node.
    "broadcast-3d": {
        "node": "bench_sim:SimpleGossip",
        "workload": "broadcast",
        "node_count": 25,
        "rate": 100,
        "time_limit": 20,
        "latency": 100,
        "topology": "grid",
    },
    # 3d with the hardened node.
    "broadcast-3d-hardened": {
        "node": "glome.nodes.broadcast:Hardened",
        "workload": "broadcast",
        "node_count": 25,
        "rate": 100,
        "time_limit": 20,
        "latency": 100,
    },
    # 3c-like: partitions.
    "broadcast-partition": {
        "node": "glome.nodes.broadcast:Hardened",
        "workload": "broadcast",
        "node_count": 5,
        "rate": 10,
        "time_limit": 10,
        "nemesis": "partition",
    },
    "g-counter": {
        "node": "glome.nodes.counter:SeqKVCounter",
        "workload": "g-counter",
        "node_count": 3,
        "rate": 100,
        "time_limit": 10,
        "nemesis": "partition",
    },
    "kafka-linkv": {
        "node": "glome.nodes.kafka:LinKVKafka",
        "workload": "kafka",
        "node_count": 2,
        "concurrency": "2n",
        "rate": 200,
        "time_limit": 10,
    },
    "kafka-owner-kill": {
        "node": "glome.nodes.kafka:OwnerKafka",
        "workload": "kafka",
        "node_count": 3,
        "concurrency": "2n",
        "rate": 100,
        "time_limit": 10,
        "nemesis": "kill",
        "nemesis_interval": 3,
    },
    "txn-rw-register": {
        "node": "glome.nodes.txn:ReadCommittedTxn",
        "workload": "txn-rw-register",
        "node_count": 2,
        "concurrency": "2n",
        "rate": 1000,
        "time_limit": 10,
        "nemesis": "partition",
        "consistency_models": ("read-committed",),
    },
    "echo-pause": {
        "node": "glome.nodes.echo:Echo",
        "workload": "echo",
        "node_count": 3,
        "rate": 50,
        "time_limit": 10,
        "nemesis": "kill,pause",
        "nemesis_interval": 2,
    },
}

_STAMP = re.compile(rb"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+\s*", re.MULTILINE)
_START_TIME = re.compile(rb'^  "start-time": "[^"]*",?$', re.MULTILINE)
_WALL_TIME = re.compile(rb"\d{8}T\d{6}\.\d{3}Z|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
"""timeline.html names the store directory (the start's wall-clock time) and that time."""
_SKIP_DIRS = {"state"}


def _store_files(store: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every compared file of one store directory."""
    files: dict[str, bytes] = {}
    for path in sorted(store.rglob("*")):
        rel = path.relative_to(store)
        if not path.is_file() or rel.parts[0] in _SKIP_DIRS:
            continue
        data = path.read_bytes()
        if rel.name == "jepsen.log":
            data = _STAMP.sub(b"", data)
        elif rel.name == "test.json":
            data = _START_TIME.sub(b"", data)
        elif rel.name == "timeline.html":
            data = _WALL_TIME.sub(b"<wall-clock time>", data)
        files[str(rel)] = data
    return files


NO_PROCESSING = dict(ZERO_COST)


def simulate(
    config: str, seed: int, dest: Path, extra: dict[str, Any] | None = None
) -> tuple[Path, float]:
    """Run ``config`` with ``seed`` (and ``extra`` options); its store ends up as ``dest``.
    Returns it and wall s."""
    options = dict(CONFIGS[config]) | (extra or {})
    node = options.pop("node")
    if dest.exists():
        shutil.rmtree(dest)
    scratch = dest.parent / f".{dest.name}-run"
    if scratch.exists():
        shutil.rmtree(scratch)
    started = time.perf_counter()
    result = run(node, seed=seed, store_dir=scratch, **options)
    wall = time.perf_counter() - started
    shutil.move(str(result.store_path), dest)
    shutil.rmtree(scratch)
    return dest, wall


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(x) for x in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("--root", type=Path, default=Path("/tmp/simref"))
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--no-processing", action="store_true", help="zero-cost delivery (processing time 0)"
    )
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    configs = [c for c in args.configs.split(",") if c]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {sorted(CONFIGS)}")
    out_root = args.root if args.action == "record" else Path(f"{args.root}-new")
    bad = 0
    for config in configs:
        for seed in seeds:
            store, wall = simulate(
                config,
                seed,
                out_root / config / str(seed),
                NO_PROCESSING if args.no_processing else None,
            )
            new = _store_files(store)
            line = f"{config:24} seed {seed}: {len(new):3} files, {wall:6.2f} s"
            if args.action == "compare":
                ref = _store_files(args.root / config / str(seed))
                differ = sorted(
                    name for name in set(ref) | set(new) if ref.get(name) != new.get(name)
                )
                bad += bool(differ)
                line += "  identical" if not differ else f"  DIFFER: {', '.join(differ[:6])}"
            else:
                digest = hashlib.sha256(b"".join(new.values())).hexdigest()[:12]
                line += f"  sha256 {digest}"
            print(line, flush=True)
    if args.action == "compare":
        print("all identical" if not bad else f"{bad} run(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
