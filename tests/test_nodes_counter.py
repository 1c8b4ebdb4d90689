"""G-counter nodes: the seq-kv protocol, the delta CRDT's acks, and seeded runs.

Seeded runs (3 nodes, rate 100, 20 s, partitions: challenge 4's command) on the in-process
runner show each flaw on a seed where the hardened node passes:
- seed 2: per-node keys read without the scratch write return stale totals in final reads;
- seed 7: the review's delta gossip, marked delivered on send, never re-sends a delta that a
  partition dropped, and a final read misses adds.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from glome.nodes.counter import (
    DeltaCounter,
    FullStateGossipCounter,
    MarkOnSendDeltaCounter,
    SeqKVCounter,
    StaleReadCounter,
)
from glome.sim import run
from glome.sim.hosts.vclock import run_virtual
from glome.sim.options import ZERO_COST
from glome.testing import Driver


# ------------------------------------------------------------------------- seq-kv protocol
def _fake_seq_kv(d: Driver, store: dict[str, Any], drop_first_write_of: str | None) -> None:
    """Answer the node's seq-kv requests from ``store``; optionally drop one write."""
    dropped: set[str] = set()

    def serve(msg: dict[str, Any]) -> None:
        if msg["dest"] != "seq-kv":
            return
        body = msg["body"]
        reply: dict[str, Any] = {"in_reply_to": body["msg_id"]}
        if body["type"] == "write":
            if body["key"] == drop_first_write_of and body["key"] not in dropped:
                dropped.add(body["key"])
                return  # lost: the node must time out and write again
            store[body["key"]] = body["value"]
            reply["type"] = "write_ok"
        elif body["key"] in store:
            reply.update(type="read_ok", value=store[body["key"]])
        else:
            reply.update(type="error", code=20, text="key does not exist")
        asyncio.get_running_loop().call_soon(lambda: d.deliver(reply, src="seq-kv"))

    d.on_send = serve


def test_seqkv_add_writes_absolute_totals_so_a_retry_never_double_counts() -> None:
    async def main() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        d = Driver(SeqKVCounter(seed=1), "n0", ["n0", "n1", "n2"])
        store: dict[str, Any] = {"counter-n1": 4}
        _fake_seq_kv(d, store, drop_first_write_of="counter-n0")
        await d.start()
        d.send_request({"type": "add", "delta": 5})
        await asyncio.sleep(2.5)  # the first write times out (1 s) and is retried
        d.send_request({"type": "add", "delta": 2})
        d.send_request({"type": "read"})
        await asyncio.sleep(0.5)
        await d.stop()
        writes = [b for _, b in d.to("seq-kv") if b["type"] == "write"]
        return store, writes, [b for _, b in d.to("c1")]

    store, writes, replies = run_virtual(main())
    totals = [w["value"] for w in writes if w["key"] == "counter-n0"]
    assert totals[:2] == [5, 5]  # the retry re-writes the total, it does not add again
    assert store["counter-n0"] == 7
    assert [r["type"] for r in replies] == ["add_ok", "add_ok", "read_ok"]
    assert replies[2]["value"] == 11  # 7 (ours) + 4 (n1) + 0 (n2 has no key yet)


def test_seqkv_read_first_writes_a_unique_scratch_value() -> None:
    async def main() -> list[dict[str, Any]]:
        d = Driver(SeqKVCounter(seed=1), "n0", ["n0", "n1"])
        _fake_seq_kv(d, {}, drop_first_write_of=None)
        await d.start()
        for _ in range(3):
            d.send_request({"type": "read"})
            await asyncio.sleep(0.1)
        await d.stop()
        return [b for _, b in d.to("seq-kv")]

    ops = run_virtual(main())
    scratch = [b["value"] for b in ops if b["type"] == "write" and b["key"] == "scratch-n0"]
    assert len(scratch) == 4 and len(set(scratch)) == 4  # load + 3 reads, every value new
    # every read of another node's key follows a scratch write made after the previous read
    last_read = -1
    for i, b in enumerate(ops):
        if b["type"] == "read" and b["key"] == "counter-n1":
            between = ops[last_read + 1 : i]
            assert any(x["type"] == "write" and x["key"] == "scratch-n0" for x in between)
            last_read = i
    assert StaleReadCounter.fresh_reads is False and SeqKVCounter.fresh_reads is True


def test_add_rejects_non_integer_delta() -> None:
    async def main() -> list[dict[str, Any]]:
        d = Driver(DeltaCounter(seed=1), "n0", ["n0"])
        await d.start()
        d.send_request({"type": "add", "delta": "3"})
        d.send_request({"type": "add", "delta": 3})
        d.send_request({"type": "read"})
        await asyncio.sleep(0.01)
        await d.stop()
        return [b for _, b in d.to("c1")]

    replies = run_virtual(main())
    assert replies[0]["type"] == "error" and replies[0]["code"] == 12
    assert replies[2]["value"] == 3


# -------------------------------------------------------------------------- delta CRDTs
def test_delta_counter_resends_until_acked_with_backoff() -> None:
    async def main() -> tuple[list[float], int, int]:
        d = Driver(DeltaCounter(seed=1), "n0", ["n0", "n1"])
        await d.start()
        d.send_request({"type": "add", "delta": 3})
        await asyncio.sleep(6)  # n1 is unreachable: nothing comes back
        sends = [t for t, b in d.to("n1", "counter_gossip") if b["counters"]]
        d.deliver({"type": "counter_gossip", "counters": {}, "vv": {"n0": 1}}, src="n1")
        await asyncio.sleep(3)
        after = len([b for _, b in d.to("n1", "counter_gossip") if b["counters"]])
        # and it merges n1's entries, acknowledging them
        d.deliver({"type": "counter_gossip", "counters": {"n1": [2, 10]}, "vv": {}}, src="n1")
        await asyncio.sleep(0.5)
        acks = [b for _, b in d.to("n1", "counter_gossip") if not b["counters"]]
        d.send_request({"type": "read"})
        await asyncio.sleep(0.01)
        await d.stop()
        value = [b for _, b in d.to("c1")][-1]["value"]
        return (
            sends,
            after - len(sends),
            value if acks and acks[-1]["vv"] == {"n0": 1, "n1": 2} else -1,
        )

    sends, extra, value = run_virtual(main())
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert len(sends) >= 4 and gaps[0] == pytest.approx(0.5, abs=0.1)
    assert max(gaps) == pytest.approx(DeltaCounter.rto_max, abs=0.3)  # backed off, capped
    assert extra == 0  # acknowledged: no more re-sends
    assert value == 13


def test_mark_on_send_delta_counter_never_resends_a_dropped_delta() -> None:
    async def main() -> int:
        d = Driver(MarkOnSendDeltaCounter(seed=1), "n0", ["n0", "n1"])
        await d.start()
        d.send_request({"type": "add", "delta": 3})
        await asyncio.sleep(3)  # the first gossip was "dropped": n1 never saw it
        await d.stop()
        return len([b for _, b in d.to("n1", "counter_gossip") if b["counters"]])

    assert run_virtual(main()) == 1


def test_full_state_counter_sends_everything_every_tick() -> None:
    async def main() -> int:
        d = Driver(FullStateGossipCounter(seed=1), "n0", ["n0", "n1", "n2"])
        await d.start()
        d.send_request({"type": "add", "delta": 1})
        await asyncio.sleep(1.0)
        await d.stop()
        return len(d.to("n1", "counter_gossip")) + len(d.to("n2", "counter_gossip"))

    assert run_virtual(main()) >= 18  # 10 ticks x 2 peers, changed or not


def test_merge_ignores_malformed_entries() -> None:
    node = DeltaCounter(seed=1)
    seen = node.merge({"n1": [2, 5], "n2": "x", "n3": [1], "n4": [True, 1]})
    assert seen == {"n1": 2} and node.counters == {"n1": (2, 5)}
    node.merge({"n1": [1, 99]})  # an older version never wins
    assert node.counters["n1"] == (2, 5)
    assert node.merge("junk") == {}


# ------------------------------------------------------------------------- seeded runs


def _run(node: type, tmp_path: Path, seed: int, rate: float, **extra: Any) -> Any:
    """Challenge 4's command scaled down: 3 nodes, 5 s, a partition change every ~1 s, with
    zero-cost delivery (``ZERO_COST``): nodes compared on one seed then see the same ops."""
    return run(
        node,
        workload="g-counter",
        node_count=3,
        rate=rate,
        time_limit=5,
        nemesis="partition",
        nemesis_interval=1,
        seed=seed,
        store_dir=tmp_path,
        **{**ZERO_COST, **extra},
    )


def test_stale_reads_break_final_reads_where_fresh_reads_do_not(tmp_path: Path) -> None:
    stale = _run(StaleReadCounter, tmp_path, seed=2, rate=100)
    assert stale.valid is False
    reads = stale.results["workload"]["final-reads"]
    assert len(set(reads)) > 1  # the nodes disagree
    fresh = _run(SeqKVCounter, tmp_path, seed=2, rate=100)
    assert fresh.valid is True
    assert set(fresh.results["workload"]["final-reads"]) == {max(reads)}


def test_mark_on_send_delta_counter_wrong_under_partitions_where_acked_delta_is_right(
    tmp_path: Path,
) -> None:
    """Rate 10 makes the flaw common: a node's last add before the final heal is gossiped
    only into the partition, and nothing ever re-sends it."""
    flawed = _run(MarkOnSendDeltaCounter, tmp_path, seed=0, rate=10)
    assert flawed.valid is False
    acceptable = flawed.results["workload"]["acceptable"]
    for node in (DeltaCounter, FullStateGossipCounter):
        result = _run(node, tmp_path, seed=0, rate=10)
        assert result.valid is True, node.__name__
        assert result.results["workload"]["acceptable"] == acceptable  # the same run
