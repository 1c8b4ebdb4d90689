"""A small store directory as glome writes it (docs/design.md), for the analysis tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GLOME_HISTORY = [
    "{:index 0, :time 1000000, :type :info, :process :nemesis, :f :start-partition, :value :one}",
    "{:index 1, :time 2000000, :type :invoke, :process 0, :f :broadcast, :value 0}",
    "{:index 2, :time 2500000, :type :info, :process :nemesis, :f :start-partition, :value "
    '[:isolated {"n1" #{"n0"}, "n0" #{"n1"}}]}',
    "{:index 3, :time 7000000, :type :ok, :process 0, :f :broadcast, :value 0}",
    "{:index 4, :time 8000000, :type :invoke, :process 1, :f :read, :value nil}",
    "{:index 5, :time 9000000, :type :info, :process 1, :f :read, :value nil, :error :net-timeout}",
    "{:index 6, :time 3000000000, :type :info, :process :nemesis, :f :stop-partition, :value nil}",
    "{:index 7, :time 3000100000, :type :info, :process :nemesis, :f :stop-partition, "
    ":value :network-healed}",
    "{:index 8, :time 3100000000, :type :invoke, :process 3, :f :read, :value nil, :final? true}",
    "{:index 9, :time 3102000000, :type :ok, :process 3, :f :read, :value [0], :final? true}",
]

GLOME_RESULTS = """{:perf {:latency-graph {:valid? true}, :rate-graph {:valid? true}, :valid? true},
 :stats {:valid? true, :count 3, :ok-count 2, :fail-count 0, :info-count 1},
 :workload {:valid? true, :attempt-count 1, :stable-count 1, :lost-count 0, :lost (),
            :stale-count 0, :stale (), :never-read-count 0, :never-read (),
            :duplicated-count 0, :duplicated {}, :worst-stale [],
            :stable-latencies {0 0, 0.5 0, 0.95 0, 0.99 0, 1 0}},
 :valid? true}
"""


def _journal() -> list[dict[str, Any]]:
    return [
        {
            "id": 0,
            "src": "c0",
            "dest": "n0",
            "body": {"type": "init", "msg_id": 1},
            "send_time": 0,
            "recv_time": 0,
            "dropped": False,
        },
        {
            "id": 1,
            "src": "n0",
            "dest": "c0",
            "body": {"type": "init_ok", "in_reply_to": 1},
            "send_time": 10,
            "recv_time": 10,
            "dropped": False,
        },
        {
            "id": 2,
            "src": "c1",
            "dest": "n0",
            "body": {"type": "broadcast", "message": 0, "msg_id": 1},
            "send_time": 2000000,
            "recv_time": 2000000,
            "dropped": False,
        },
        {
            "id": 4,
            "src": "n0",
            "dest": "n1",
            "body": {"type": "gossip", "message": 0},
            "send_time": 3000000,
            "recv_time": None,
            "dropped": True,
        },
        {
            "id": 3,
            "src": "n0",
            "dest": "c1",
            "body": {"type": "broadcast_ok", "in_reply_to": 1},
            "send_time": 6000000,
            "recv_time": 7000000,
            "dropped": False,
        },
        {
            "id": 5,
            "src": "n0",
            "dest": "n1",
            "body": {"type": "gossip", "message": 0},
            "send_time": 3000200000,
            "recv_time": 3000300000,
            "dropped": False,
        },
    ]


def make_glome_store(
    root: Path, results: str | None = GLOME_RESULTS, history: list[str] | None = None
) -> Path:
    """store/broadcast/<ts>/ as glome writes it (docs/design.md), plus latest links."""
    run = root / "store" / "broadcast" / "20260101T120000.000+0000"
    (run / "node-logs").mkdir(parents=True)
    (run / "node-logs" / "n0.log").write_text("started\ngossip to n1\n")
    (run / "node-logs" / "n1.log").write_text("")
    (run / "history.edn").write_text("\n".join(history or GLOME_HISTORY) + "\n")
    if results is not None:
        (run / "results.edn").write_text(results)
    (run / "net-journal.jsonl").write_text("".join(json.dumps(m) + "\n" for m in _journal()))
    (run / "test.json").write_text(
        json.dumps(
            {"workload": "broadcast", "node_count": 2, "time_limit": 3, "nemesis": ["partition"]}
        )
    )
    (run / "jepsen.log").write_text(
        "2026-01-01 12:00:00,000{GMT}\tINFO\t[jepsen test runner] jepsen.core: Command line:\n"
        "glome test -w broadcast --node-count 2 --time-limit 3 --nemesis partition\n"
        "2026-01-01 12:00:04,000{GMT}\tINFO\t[jepsen test runner] jepsen.core: Analyzing...\n"
        "Everything looks good! ヽ(‘ー`)ノ\n"
    )
    (root / "store" / "broadcast" / "latest").symlink_to(run.name)
    (root / "store" / "latest").symlink_to(Path("broadcast") / run.name)
    return run
