"""The kafka workload: generator shape, client state machine, and end-to-end runs in-process
(a correct node passes, a node that forgets its log on a kill fails naming the lost messages,
a node that persists to its state directory passes under kill, runs replay by seed)."""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from glome.edn import Keyword
from glome.sim import run
from glome.sim.options import TestOptions as Opts
from glome.sim.workloads import get
from glome.sim.workloads.client import MalformedReply
from glome.sim.workloads.kafka import WORKLOAD, KafkaGenerator, key_order, poll_maxima

sys.path.insert(0, str(Path(__file__).parent / "nodes"))
from w4_kafka import DurableKafka, MemKafka


# ------------------------------------------------------------------------------ generator
def draw(gen: KafkaGenerator, n: int, seed: int = 1, step: float = 0.01) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [gen.next_op(i * step, rng) for i in range(n)]


def test_registered_and_flags() -> None:
    assert get("kafka") is WORKLOAD
    assert WORKLOAD.idempotent == frozenset({"assign"})
    assert WORKLOAD.has_final_phase and not WORKLOAD.reusable_client and WORKLOAD.with_errors


def test_ops_are_single_sends_polls_assigns_and_crashes() -> None:
    gen = KafkaGenerator(Opts(workload="kafka", concurrency=2))
    ops = draw(gen, 3000)
    assert ops[0] == {"f": "crash", "value": None}  # the crash stream starts at once
    kinds = Counter(op["f"] for op in ops)
    assert set(kinds) == {"send", "poll", "assign", "crash"}
    assert 0.4 < kinds["send"] / kinds["poll"] < 2.5
    for op in ops:
        if op["f"] == "send":
            ((f, k, v),) = op["value"]
            assert f == Keyword("send") and isinstance(k, str) and isinstance(v, int)
        elif op["f"] == "poll":
            assert op["value"] == [[Keyword("poll")]]
        elif op["f"] == "assign":
            assert op["value"] and all(isinstance(k, str) for k in op["value"])


def test_values_unique_per_key_and_keys_retire() -> None:
    opts = Opts(workload="kafka", key_count=3, max_writes_per_key=4)
    ops = draw(KafkaGenerator(opts), 2000)
    per_key: dict[str, list[int]] = {}
    for op in ops:
        if op["f"] == "send":
            ((_, k, v),) = op["value"]
            per_key.setdefault(k, []).append(v)
    assert all(vs == list(range(1, len(vs) + 1)) and len(vs) <= 4 for vs in per_key.values())
    assert len(per_key) > 3  # retired keys were replaced by fresh ones
    assert sorted(per_key, key=key_order)[:3] == ["0", "1", "2"]


def test_assign_precedes_the_op_it_was_drawn_for() -> None:
    gen = KafkaGenerator(Opts(workload="kafka"))
    ops = draw(gen, 5000)
    assigns = [i for i, op in enumerate(ops) if op["f"] == "assign"]
    assert assigns
    for i in assigns:
        nxt = ops[i + 1]
        if nxt["f"] == "send":
            assert nxt["value"][0][1] in ops[i]["value"]


def test_assign_widened_with_unseen_keys() -> None:
    gen = KafkaGenerator(Opts(workload="kafka"))
    gen.observe_ok({"5": 3}, {})
    gen.observe_ok({"2": 0}, {})
    gen.observe_ok({}, {"2": 0})  # caught up on "2"
    assert gen.sent == {"5": 3}
    rng = random.Random(0)
    gen.pending, gen.pending_key = {"f": "poll", "value": [[Keyword("poll")]]}, "7"
    widened = [op for op in (gen.assign_op(rng) for _ in range(60)) if "unseen" in op]
    assert widened
    assert widened[0]["value"] == ["5", "7"]
    assert widened[0]["unseen"] == {"5": {"polled": -1, "sent": 3}}
    assert gen.max_offsets == {"5": 3, "2": 0}


def test_crashes_about_thirty_seconds_over_concurrency_apart() -> None:
    gen = KafkaGenerator(Opts(workload="kafka", concurrency=3))
    ops = draw(gen, 20_000, step=0.03)  # 600 s of requests
    crashes = sum(op["f"] == "crash" for op in ops)
    assert 40 < crashes < 80  # mean gap 10 s


# --------------------------------------------------------------------------------- client
class FakeWorker:
    """What ``Kafka.invoke`` touches: client state, shared state and ``call``."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.client_state: dict[str, Any] = {}
        self.state = {"kafka": KafkaGenerator(Opts(workload="kafka"))}
        self.replies = list(replies)
        self.sent: list[dict[str, Any]] = []

    async def call(self, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(body)
        return {"in_reply_to": len(self.sent), **self.replies.pop(0)}


def invoke(worker: FakeWorker, op: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(WORKLOAD.invoke(worker, op))  # type: ignore[arg-type]


def test_poll_advances_offsets_and_commits_highest() -> None:
    w = FakeWorker(
        [
            {"type": "poll_ok", "msgs": {"3": [[0, 1], [4, 2]], "4": []}},
            {"type": "commit_offsets_ok"},
        ]
    )
    done = invoke(w, {"f": "poll", "value": [[Keyword("poll")]]})
    assert w.sent[0] == {"type": "poll", "offsets": {}}  # offsets start empty
    assert w.sent[1] == {"type": "commit_offsets", "offsets": {"3": 4}}
    assert done["value"] == [[Keyword("poll"), {"3": [[0, 1], [4, 2]], "4": []}]]
    assert w.client_state["offsets"] == {"3": 5, "4": 0}


def test_assign_uses_local_then_committed_offsets() -> None:
    w = FakeWorker([{"type": "list_committed_offsets_ok", "offsets": {"2": 7, "9": 3}}])
    w.client_state["offsets"] = {"2": 1, "5": 4}
    invoke(w, {"f": "assign", "value": ["2", "9", "8"]})
    assert w.sent == [{"type": "list_committed_offsets", "keys": ["2", "9", "8"]}]
    assert w.client_state["offsets"] == {"2": 1, "9": 3, "8": 0}  # "5" dropped
    invoke(w, {"f": "assign", "value": ["2", "4"], "seek-to-beginning?": True})
    assert w.client_state["offsets"] == {"2": 0, "4": 0}
    assert len(w.sent) == 1  # seeking needs no RPC


def test_send_records_offset_and_crash_is_info() -> None:
    w = FakeWorker([{"type": "send_ok", "offset": 12}])
    done = invoke(w, {"f": "send", "value": [[Keyword("send"), "3", 7]]})
    assert done["value"] == [[Keyword("send"), "3", [12, 7]]]
    assert w.state["kafka"].sent == {"3": 12}
    assert invoke(w, {"f": "crash", "value": None}) == {"type": "info"}


@pytest.mark.parametrize(
    "reply",
    [
        {"type": "poll_ok", "msgs": {"3": [[0]]}},
        {"type": "poll_ok", "msgs": {"3": [["0", 1]]}},
        {"type": "poll_ok", "msgs": []},
        {"type": "send_ok"},
    ],
)
def test_malformed_replies_are_rejected(reply: dict[str, Any]) -> None:
    f = "send" if reply["type"] == "send_ok" else "poll"
    value = [[Keyword("send"), "3", 1]] if f == "send" else [[Keyword("poll")]]
    with pytest.raises(MalformedReply):
        invoke(FakeWorker([reply]), {"f": f, "value": value})


def test_poll_maxima() -> None:
    assert poll_maxima({"1": [[3, 0], [9, 1]], "2": []}) == {"1": 9, "2": -1}


# ----------------------------------------------------------------------------- end to end
def kafka_run(node: Any, tmp_path: Path, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "node_count": 1,
        "concurrency": 2,
        "time_limit": 20,
        "rate": 20,
        "recovery_time": 1,
        "seed": 5,
    }
    options.update(kw)
    return run(node, workload="kafka", store_dir=tmp_path, **options)


def test_in_memory_node_passes(tmp_path: Path) -> None:
    r = kafka_run(MemKafka, tmp_path, time_limit=15, rate=30)
    assert r.valid is True, r.results["workload"]
    ops = r.history
    assert Counter(op["type"] for op in ops if op["f"] == "send")["ok"] > 50
    final = [op for op in ops if op.get("seek-to-beginning?")]
    assert final and all(op["value"] == sorted(op["value"], key=key_order) for op in final)
    assert any(op.get("poll-ms") == 1000 and op["type"] == "ok" for op in ops)
    assert any(op["f"] == "crash" and op["type"] == "info" for op in ops)


def acked_before_first_kill(history: list[dict[str, Any]]) -> set[tuple[str, Any]]:
    kill = next(
        op["time"]
        for op in history
        if op["f"] == "kill" and op["type"] == "info" and isinstance(op["value"], dict)
    )
    restarts = [op["time"] for op in history if op["f"] == "start"]
    acked = set()
    for op in history:
        if op["f"] == "send" and op["type"] == "ok" and op["time"] < max(restarts):
            ((_, k, (_offset, msg)),) = op["value"]
            acked.add((k, msg))
    assert kill < max(restarts)
    return acked


def test_memory_only_node_loses_acknowledged_writes_after_kill(tmp_path: Path) -> None:
    r = kafka_run(MemKafka, tmp_path, nemesis="kill", nemesis_interval=5)
    assert r.valid is False
    w = r.results["workload"]
    bad = {str(t) for t in w["bad-error-types"]}
    assert bad & {"lost-write", "unseen"}, w
    named: set[tuple[str, Any]] = set()
    for err in w.get("lost-write", {}).get("errs", []):
        named.add((str(err["key"]), err["value"]))
    for key, msgs in w.get("unseen", {}).get("messages", {}).items():
        named |= {(str(key), m) for m in msgs}
    lost = named & acked_before_first_kill(r.history)
    assert lost, (named, w)


def test_durable_node_survives_kill(tmp_path: Path) -> None:
    r = kafka_run(DurableKafka, tmp_path, nemesis="kill", nemesis_interval=5)
    assert r.valid is True, r.results["workload"]
    assert any(op["f"] == "start" for op in r.history)
    assert Counter(op["type"] for op in r.history if op["f"] == "send")["ok"] > 5
    assert (r.store_path / "state" / "n0" / "kafka.json").exists()


def test_same_seed_same_history_with_kill(tmp_path: Path) -> None:
    a = kafka_run(
        MemKafka,
        tmp_path / "a",
        nemesis="partition,kill",
        nemesis_interval=2,
        node_count=2,
        concurrency=3,
    )
    b = kafka_run(
        MemKafka,
        tmp_path / "b",
        nemesis="partition,kill",
        nemesis_interval=2,
        node_count=2,
        concurrency=3,
    )
    fs = {op["f"] for op in a.history if op["process"] == "nemesis"}
    assert {"kill", "start"} <= fs
    assert (a.store_path / "history.edn").read_bytes() == (
        b.store_path / "history.edn"
    ).read_bytes()
