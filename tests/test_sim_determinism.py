"""One seed, one trace: identical history.edn and net-journal.jsonl bytes, in any interpreter."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from nodes.sim_nodes import Gossip

from glome.sim import run

REPO = Path(__file__).resolve().parents[1]
FILES = ("history.edn", "net-journal.jsonl", "results.edn", "node-logs/n0.log", "messages.svg")
SCRIPT = """
import sys
from glome.sim import run
from nodes.sim_nodes import Gossip
r = run(Gossip, workload="broadcast", node_count=5, time_limit=3, rate=30, latency=20,
        latency_dist="exponential", nemesis="partition", nemesis_interval=0.5,
        recovery_time=2, seed=int(sys.argv[1]), store_dir=sys.argv[2])
print(r.store_path)
"""


def digests(path: Path) -> dict[str, str]:
    return {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in FILES}


def simulate(seed: int, store: Path) -> Path:
    return run(
        Gossip,
        workload="broadcast",
        node_count=5,
        time_limit=3,
        rate=30,
        latency=20,
        latency_dist="exponential",
        nemesis="partition",
        nemesis_interval=0.5,
        recovery_time=2,
        seed=seed,
        store_dir=store,
    ).store_path


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = simulate(11, tmp_path / "a"), simulate(11, tmp_path / "b")
    assert digests(a) == digests(b)
    assert (a / "history.edn").read_text().count("start-partition") >= 2


def test_different_seeds_differ(tmp_path: Path) -> None:
    a, b = simulate(11, tmp_path / "a"), simulate(12, tmp_path / "b")
    da, db = digests(a), digests(b)
    assert da["history.edn"] != db["history.edn"]
    assert da["net-journal.jsonl"] != db["net-journal.jsonl"]


def test_subprocesses_with_different_hash_seeds_agree(tmp_path: Path) -> None:
    results = []
    for hash_seed in ("0", "1", "12345"):
        env = {
            **os.environ,
            "PYTHONHASHSEED": hash_seed,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        }
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, "5", str(tmp_path / hash_seed)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results.append(digests(Path(out.stdout.strip().splitlines()[-1])))
    assert results[0] == results[1] == results[2]
