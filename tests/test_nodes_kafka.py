"""Kafka reference nodes (glome.nodes.kafka): handler logic, WAL, ack de-dup, fencing, restart.

The nodes are driven over ``MemoryTransport`` by ``glome.testing.Cluster``:
messages between nodes are delivered on the next loop turn unless a test's ``rule`` holds or
drops them, and ``lin-kv`` is a dict behind a function (a test double, not a simulator).
Seeded whole-run tests on the in-process runner are at the end and skip while the kafka
workload is not there yet.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glome.nodes.kafka import (
    DedupAckStaticLeaderKafka,
    LinKVKafka,
    OwnerKafka,
    RaftKafka,
    SingleNodeKafka,
    StaticLeaderKafka,
    WriteAheadLog,
)
from glome.nodes.kafka.common import owner_of
from glome.runtime import Node
from glome.testing import Cluster, run, settle, until


def types_sent(cluster: Cluster, type_: str) -> list[dict[str, Any]]:
    return [env for env in cluster.sent if env["body"].get("type") == type_]


# ------------------------------------------------------------------------------------- 5a
def test_single_node_offsets_poll_commit() -> None:
    async def scenario() -> None:
        c = Cluster(SingleNodeKafka, 1)
        await c.start()
        offsets = [
            (await c.request("n0", {"type": "send", "key": "k1", "msg": v}))["offset"]
            for v in (10, 11, 12)
        ]
        assert offsets == [0, 1, 2]
        assert (await c.request("n0", {"type": "send", "key": "k2", "msg": 5}))["offset"] == 0
        poll = await c.request("n0", {"type": "poll", "offsets": {"k1": 1, "k2": 0, "nope": 0}})
        assert poll["msgs"] == {"k1": [[1, 11], [2, 12]], "k2": [[0, 5]]}
        await c.request("n0", {"type": "commit_offsets", "offsets": {"k1": 2}})
        await c.request("n0", {"type": "commit_offsets", "offsets": {"k1": 1}})  # max kept
        listed = await c.request("n0", {"type": "list_committed_offsets", "keys": ["k1", "k9"]})
        assert listed["offsets"] == {"k1": 2}
        bad = await c.request("n0", {"type": "send", "key": 3, "msg": 1})
        assert bad["type"] == "error" and bad["code"] == 12
        await c.stop()

    run(scenario)


# ------------------------------------------------------------------------------------- 5b
def test_linkv_kafka_shares_log_and_counts_cas_conflicts() -> None:
    async def scenario() -> None:
        c = Cluster(LinKVKafka, 2)
        await c.start()
        # Both nodes race for key "a": ten concurrent sends, each node half of them.
        tasks = [c.submit(f"n{i % 2}", {"type": "send", "key": "a", "msg": i}) for i in range(10)]
        replies = await asyncio.gather(*tasks)
        offsets = sorted(r["offset"] for r in replies)
        assert offsets == list(range(10))  # unique, dense: the cas serialised them
        conflicts = sum(n.cas_conflicts for n in c.nodes.values())  # type: ignore[attr-defined]
        assert conflicts > 0 and conflicts == c.kv.cas_failures
        poll = await c.request("n1", {"type": "poll", "offsets": {"a": 0}})
        by_offset = {o: m for o, m in poll["msgs"]["a"]}
        assert {by_offset[r["offset"]] for r in replies} == set(range(10))
        await c.request("n0", {"type": "commit_offsets", "offsets": {"a": 4}})
        listed = await c.request("n1", {"type": "list_committed_offsets", "keys": ["a", "b"]})
        assert listed["offsets"] == {"a": 4}
        await c.stop()

    run(scenario)


def test_linkv_kafka_poll_stops_at_a_hole() -> None:
    async def scenario() -> None:
        c = Cluster(LinKVKafka, 1)
        await c.start()
        await c.request("n0", {"type": "send", "key": "a", "msg": 1})
        c.kv.data["kafka/next/a"] = 3  # offset 1 won by a sender that died before writing
        c.kv.data["kafka/msg/a/2"] = 3
        poll = await c.request("n0", {"type": "poll", "offsets": {"a": 0}})
        assert poll["msgs"] == {"a": [[0, 1]]}  # never [2, 3] past the hole: no poll-skip
        await c.stop()

    run(scenario)


# ------------------------------------------------------------------------------------- 5c
def test_owner_kafka_forwards_to_owner_without_cas() -> None:
    async def scenario() -> None:
        c = Cluster(OwnerKafka, 2)
        await c.start()
        keys = [str(k) for k in range(8)]
        owners = {k: owner_of(k, c.ids) for k in keys}
        assert set(owners.values()) == {"n0", "n1"}  # both nodes own something
        for i, k in enumerate(keys * 2):
            reply = await c.request(f"n{i % 2}", {"type": "send", "key": k, "msg": i})
            assert reply["offset"] == i // len(keys)  # dense per key: one writer per key
        assert not [e for e in c.sent if e["dest"] == "lin-kv"]  # no lin-kv, no cas
        forwarded = types_sent(c, "owner_send")
        assert all(owners[e["body"]["key"]] == e["dest"] for e in forwarded)
        c.sent.clear()
        poll = await c.request("n0", {"type": "poll", "offsets": dict.fromkeys(keys, 0)})
        assert sorted(poll["msgs"]) == keys and all(len(v) == 2 for v in poll["msgs"].values())
        assert len(types_sent(c, "owner_poll")) == 1  # one request per remote owner (batched)
        await c.request("n0", {"type": "commit_offsets", "offsets": dict.fromkeys(keys, 1)})
        await settle()
        listed = await c.request("n1", {"type": "list_committed_offsets", "keys": keys})
        assert listed["offsets"] == dict.fromkeys(keys, 1)
        await c.stop()

    run(scenario)


def test_owner_kafka_poll_stays_available_without_the_other_owner() -> None:
    async def scenario() -> None:
        c = Cluster(OwnerKafka, 2)
        await c.start()
        for node in c.nodes.values():
            node.forward_timeout = 0.05  # type: ignore[attr-defined]
        mine = next(k for k in map(str, range(20)) if owner_of(k, c.ids) == "n0")
        theirs = next(k for k in map(str, range(20)) if owner_of(k, c.ids) == "n1")
        await c.request("n0", {"type": "send", "key": mine, "msg": 1})
        c.rule = lambda env: "drop" if env["dest"] == "n1" else "deliver"
        poll = await c.request("n0", {"type": "poll", "offsets": {mine: 0, theirs: 0}})
        assert poll["msgs"] == {mine: [[0, 1]]}  # the unreachable owner's key is left out
        await c.stop()

    run(scenario)


# ------------------------------------------------------------------------- static leader
def test_naive_leader_counts_duplicate_acks_premature_quorum() -> None:
    """5 nodes, quorum 3. Only n1 is reachable; the leader re-sends replicate and n1 acks
    twice: the naive leader answers send_ok with 2 of 5 holding the entry."""

    async def scenario() -> None:
        c = Cluster(StaticLeaderKafka, 5)
        c.rule = lambda env: "drop" if env["dest"] in ("n2", "n3", "n4") else "deliver"
        await c.start()
        leader = c.nodes["n0"]
        assert isinstance(leader, StaticLeaderKafka)
        reply = await c.request("n0", {"type": "send", "key": "a", "msg": 7}, timeout=2.0)
        assert reply == {"type": "send_ok", "offset": 0, "in_reply_to": reply["in_reply_to"]}
        acks = [e for e in types_sent(c, "replicate_ok") if e["dest"] == "n0"]
        assert {e["src"] for e in acks} == {"n1"} and len(acks) >= 2
        assert leader.premature_quorums == 1
        await c.stop()

    run(scenario)


def test_dedup_ack_leader_waits_for_distinct_followers() -> None:
    async def scenario() -> None:
        c = Cluster(DedupAckStaticLeaderKafka, 5)
        c.rule = lambda env: "drop" if env["dest"] in ("n2", "n3", "n4") else "deliver"
        await c.start()
        pending = c.submit("n0", {"type": "send", "key": "a", "msg": 7})
        await until(lambda: len(types_sent(c, "replicate_ok")) >= 3)  # n1 acked 3 times
        assert not pending.done()  # ... and counted once: no quorum yet
        c.rule = lambda env: "deliver"
        reply = await pending  # n2 and n3 ack on the next re-send: a real quorum
        assert reply["offset"] == 0
        assert c.nodes["n0"].premature_quorums == 0  # type: ignore[attr-defined]
        await c.stop()

    run(scenario)


def test_naive_follower_poll_skips_a_gap() -> None:
    async def scenario() -> None:
        c = Cluster(StaticLeaderKafka, 2)
        await c.start()
        # Offset 1 reaches the follower before offset 0 (reordered): insert_at leaves a gap.
        c.rule = lambda env: (
            "hold"
            if env["body"].get("type") == "replicate" and env["body"].get("offset") == 0
            else "deliver"
        )
        first = c.submit("n0", {"type": "send", "key": "a", "msg": "x"})
        await settle()
        c.rule = lambda env: "deliver"
        await c.request("n0", {"type": "send", "key": "a", "msg": "y"})
        poll = await c.request("n1", {"type": "poll", "offsets": {"a": 0}})
        assert poll["msgs"] == {"a": [[1, "y"]]}  # offset 0 skipped: a poll-skip anomaly
        c.release()
        await first
        await c.stop()

    run(scenario)


def test_naive_leader_restart_loses_acknowledged_writes(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(StaticLeaderKafka, 3, tmp_path)
        await c.start()
        for v in (1, 2, 3):
            await c.request("n0", {"type": "send", "key": "a", "msg": v})
        await c.restart("n0")
        poll = await c.request("n0", {"type": "poll", "offsets": {"a": 0}})
        assert poll["msgs"] == {}  # three acknowledged writes gone
        again = await c.request("n0", {"type": "send", "key": "a", "msg": 99})
        assert again["offset"] == 0  # offset 0 handed out again; followers now disagree
        await settle()
        follower = await c.request("n1", {"type": "poll", "offsets": {"a": 0}})
        assert follower["msgs"]["a"][0] == [0, 99]  # overwritten: inconsistent offsets
        await c.stop()

    run(scenario)


# --------------------------------------------------------------------------------- WAL
def test_wal_write_reopen_replay_and_truncate(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    wal = WriteAheadLog(path)
    assert wal.load().entries == [] and wal.load().term == 0
    wal.save_hard_state(3, "n1")
    wal.write_entries(
        1,
        [(1, {"k": "noop"}), (2, {"k": "send", "key": "a", "msg": 1})],
        commit_index=1,
        committed_offsets={"a": 4},
    )
    wal.write_entries(3, [(3, {"k": "send", "key": "b", "msg": [1, 2]})])
    wal.write_entries(2, [(3, {"k": "send", "key": "a", "msg": 9})])  # conflict: replace 2..
    assert wal.fsyncs == 4
    wal.close()  # reopen: what was committed is there, in order
    again = WriteAheadLog(path).load()
    assert (again.term, again.voted_for, again.commit_index) == (3, "n1", 1)
    assert again.entries == [(1, {"k": "noop"}), (3, {"k": "send", "key": "a", "msg": 9})]
    assert again.committed_offsets == {"a": 4}
    wal2 = WriteAheadLog(path)
    wal2.write_entries(3, [], committed_offsets={"a": 2, "b": 1})  # max-merged
    assert wal2.load().committed_offsets == {"a": 4, "b": 1}


def test_wal_rejects_a_log_with_holes(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "w.sqlite3")
    wal.db.execute("INSERT INTO log VALUES (2, 1, '{}')")
    with pytest.raises(ValueError, match="index 2"):
        wal.load()


def test_wal_durability_pragmas(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "w.sqlite3")
    assert wal.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert wal.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ---------------------------------------------------------------------------------- Raft
class FastRaft(RaftKafka):
    """Real-time test timings: elections within tens of milliseconds."""

    heartbeat_interval = 0.01
    election_timeout = (0.25, 0.5)  # generous: a loaded test machine can stall the loop
    first_election_timeout = (0.01, 0.04)
    commit_wait = 1.0
    leader_wait = 0.5
    forward_timeout = 1.5


def leader_of(c: Cluster) -> str | None:
    leaders = [
        n
        for n, node in c.nodes.items()
        if not c.transports[n].closed and isinstance(node, RaftKafka) and node.role == "leader"
    ]
    return leaders[0] if len(leaders) == 1 else None


def raft(c: Cluster, node_id: str) -> RaftKafka:
    node = c.nodes[node_id]
    assert isinstance(node, RaftKafka)
    return node


async def elected(c: Cluster) -> tuple[str, RaftKafka]:
    """Wait (bounded) until the cluster has exactly one leader; its id and node."""
    await until(lambda: leader_of(c) is not None)
    leader = leader_of(c)
    assert leader is not None
    return leader, raft(c, leader)


def test_raft_elects_replicates_and_polls_everywhere(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 3, tmp_path)
        await c.start()
        await until(lambda: leader_of(c) is not None)
        replies = [
            await c.request(f"n{i % 3}", {"type": "send", "key": "a", "msg": i}) for i in range(6)
        ]
        offsets = [r["offset"] for r in replies]
        assert offsets == sorted(offsets) and len(set(offsets)) == 6
        expected = [[r["offset"], i] for i, r in enumerate(replies)]
        for nid in c.ids:  # every node serves the same committed prefix
            node = raft(c, nid)
            await until(lambda node=node: node.commit_index >= offsets[-1])  # type: ignore[misc]
            poll = await c.request(nid, {"type": "poll", "offsets": {"a": 0}})
            assert poll["msgs"]["a"] == expected
        await c.request("n1", {"type": "commit_offsets", "offsets": {"a": offsets[2]}})
        await until(lambda: raft(c, "n2").logs.committed.get("a") == offsets[2])
        await c.stop()

    run(scenario)


def test_raft_duplicate_acks_do_not_inflate_quorum(tmp_path: Path) -> None:
    """5 nodes; only n1 answers. Its acks repeat (heartbeat resends) but match_index is a
    per-follower max, so the entry never commits with 2 of 5 holding it."""

    async def scenario() -> None:
        c = Cluster(FastRaft, 5, tmp_path)
        await c.start()
        leader, node = await elected(c)
        await until(lambda: node.commit_index == len(node.entries))  # its no-op is in
        reachable = {leader, next(n for n in c.ids if n != leader)}
        c.rule = lambda env: (
            "deliver" if env["dest"] in reachable and env["src"] in reachable else "drop"
        )
        node.election_timeout = (10.0, 20.0)  # keep the cut-off followers from disturbing it
        before = node.commit_index
        pending = c.submit(leader, {"type": "send", "key": "a", "msg": 1})
        follower = next(iter(reachable - {leader}))
        await until(
            lambda: (
                len(
                    [
                        e
                        for e in types_sent(c, "raft_append_result")
                        if e["src"] == follower and e["body"].get("success")
                    ]
                )
                >= 5
            )
        )
        assert node.commit_index == before and not pending.done()
        reply = await pending
        assert reply["type"] == "error" and reply["code"] == 0  # indefinite, not a false ok
        await c.stop()

    run(scenario)


def test_raft_bounds_the_batches_in_flight_to_a_lagging_follower(tmp_path: Path) -> None:
    """A follower that does not answer (a process still starting, say) gets at most
    ``max_batches_in_flight`` batches, then only empty heartbeats until it acks or the batches are
    presumed lost: answering every heartbeat with another batch would grow the traffic to it
    without bound."""

    async def scenario() -> None:
        c = Cluster(FastRaft, 3, tmp_path)
        await c.start()
        leader, node = await elected(c)
        await until(lambda: all(raft(c, n).commit_index == len(node.entries) for n in c.ids))
        slow = next(n for n in c.ids if n != leader)
        for n in c.ids:  # no elections in this test, however loaded the machine is
            raft(c, n).election_timeout = (100.0, 200.0)
            raft(c, n).reset_election_deadline()
        node.retransmit_after = 100.0  # nor retransmissions: count the window alone
        c.rule = lambda env: "hold" if env["dest"] == slow else "deliver"
        for i in range(3 * node.max_batches_in_flight):
            await c.request(leader, {"type": "send", "key": "a", "msg": i})
        await asyncio.sleep(20 * node.heartbeat_interval)  # 20 ticks
        to_slow = [e["body"] for e in c.held if e["body"]["type"] == "raft_append"]
        assert len([b for b in to_slow if b["entries"]]) == node.max_batches_in_flight
        assert len(to_slow) >= 10  # ... and the heartbeats kept coming
        c.rule = lambda env: "deliver"
        c.release()
        await until(lambda: raft(c, slow).commit_index == node.commit_index)
        await c.stop()

    run(scenario)


def test_raft_append_result_from_an_older_term_is_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 3, tmp_path)
        await c.start()
        leader, node = await elected(c)
        follower = next(n for n in c.ids if n != leader)
        c.rule = lambda env: "drop"  # freeze the cluster, then forge an old ack
        stale = {
            "type": "raft_append_result",
            "term": node.term - 1,
            "success": True,
            "match_index": len(node.entries) + 5,
        }
        c.inject(follower, leader, stale)
        await settle()
        assert node.match_index[follower] <= len(node.entries)
        assert node.stats["stale_acks_ignored"] >= 1
        await c.stop()

    run(scenario)


def test_raft_fences_a_deposed_leader(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 3, tmp_path)
        await c.start()
        await until(lambda: leader_of(c) is not None)
        old = leader_of(c)
        assert old is not None
        old_term = raft(c, old).term
        # Cut the leader off: the others elect a new leader in a higher term.
        c.rule = lambda env: "drop" if old in (env["src"], env["dest"]) else "deliver"
        stale = c.submit(old, {"type": "send", "key": "a", "msg": "stale"})
        await until(
            lambda: any(
                raft(c, n).role == "leader" and raft(c, n).term > old_term
                for n in c.ids
                if n != old
            )
        )
        new = next(n for n in c.ids if n != old and raft(c, n).role == "leader")
        fresh = await c.request(new, {"type": "send", "key": "a", "msg": "fresh"})
        assert raft(c, old).role == "leader"  # it does not know yet
        # Heal one way first: the old leader's heartbeats reach the others, who reject them
        # (fencing); only those rejections reach it, and their term makes it step down.
        c.rule = lambda env: (
            "deliver"
            if env["dest"] != old or env["body"]["type"] == "raft_append_result"
            else "drop"
        )
        await until(lambda: raft(c, old).role == "follower")
        assert sum(raft(c, n).stats["fenced_appends"] for n in c.ids) >= 1
        c.rule = lambda env: "deliver"
        stale_reply = await stale
        assert stale_reply["type"] == "error" and stale_reply["code"] in (0, 13)  # indefinite
        await until(lambda: raft(c, old).commit_index >= fresh["offset"])
        poll = await c.request(old, {"type": "poll", "offsets": {"a": 0}})
        assert [m for _, m in poll["msgs"]["a"]] == ["fresh"]  # "stale" never surfaces
        await c.stop()

    run(scenario)


def test_raft_survives_restart_of_every_node(tmp_path: Path) -> None:
    """Kill every node (no on_stop, as the kill nemesis does), restart: nothing acked is lost."""

    async def scenario() -> None:
        c = Cluster(FastRaft, 3, tmp_path)
        await c.start()
        await until(lambda: leader_of(c) is not None)
        acked = {}
        for i in range(10):
            reply = await c.request(f"n{i % 3}", {"type": "send", "key": f"k{i % 2}", "msg": i})
            acked[i] = (f"k{i % 2}", reply["offset"])
        for nid in c.ids:
            await c.kill(nid)
        for nid in c.ids:
            await c.start(nid)
        await until(lambda: leader_of(c) is not None)
        more = await c.request("n0", {"type": "send", "key": "k0", "msg": 100})
        await until(lambda: all(raft(c, n).commit_index >= more["offset"] for n in c.ids))
        for nid in c.ids:
            poll = await c.request(nid, {"type": "poll", "offsets": {"k0": 0, "k1": 0}})
            seen = {(k, o): m for k, msgs in poll["msgs"].items() for o, m in msgs}
            assert all(seen.get(where) == i for i, where in acked.items())
            assert seen[("k0", more["offset"])] == 100
        await c.stop()

    run(scenario)


def test_raft_single_node_replays_its_wal(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 1, tmp_path)
        await c.start()
        first = await c.request("n0", {"type": "send", "key": "a", "msg": "x"})
        await c.request("n0", {"type": "commit_offsets", "offsets": {"a": first["offset"]}})
        node = raft(c, "n0")
        await until(lambda: not node.committed_dirty)  # saved on a later tick, without fsync
        await c.restart("n0")
        poll = await c.request("n0", {"type": "poll", "offsets": {"a": 0}})
        assert poll["msgs"] == {"a": [[first["offset"], "x"]]}  # served before any election
        listed = await c.request("n0", {"type": "list_committed_offsets", "keys": ["a"]})
        assert listed["offsets"] == {"a": first["offset"]}
        second = await c.request("n0", {"type": "send", "key": "a", "msg": "y"})
        assert second["offset"] > first["offset"]
        await c.stop()

    run(scenario)


def test_raft_follower_truncates_a_conflicting_suffix(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 1, tmp_path)
        await c.start()
        node = raft(c, "n0")
        node.election_timeout = node.first_election_timeout = (100.0, 200.0)
        node.role, node.term = "follower", 5
        c.rule = lambda env: "drop"
        node.entries = [(1, {"k": "noop"}), (2, {"k": "send", "key": "a", "msg": "old"})]
        node.durable_index = 0
        node.commit_index = node.last_applied = 0
        append = {
            "type": "raft_append",
            "term": 5,
            "leader": "n9",
            "prev_index": 1,
            "prev_term": 1,
            "entries": [[5, {"k": "send", "key": "a", "msg": "new"}]],
            "leader_commit": 2,
        }
        c.inject("n9", "n0", append)
        await settle()
        assert node.entries[1] == (5, {"k": "send", "key": "a", "msg": "new"})
        assert node.commit_index == 2 and node.durable_index == 2
        assert node.wal is not None and node.wal.load().entries == node.entries
        ack = types_sent(c, "raft_append_result")[-1]["body"]
        assert ack["success"] is True and ack["match_index"] == 2
        # An older append (reordered) must not truncate what the newer one added.
        old = {**append, "prev_index": 0, "prev_term": 0, "entries": [[1, {"k": "noop"}]]}
        c.inject("n9", "n0", old)
        await settle()
        assert len(node.entries) == 2
        await c.stop()

    run(scenario)


def test_raft_vote_needs_an_up_to_date_log(tmp_path: Path) -> None:
    async def scenario() -> None:
        c = Cluster(FastRaft, 1, tmp_path)
        await c.start()
        node = raft(c, "n0")
        await until(lambda: node.role == "leader")
        c.rule = lambda env: "drop"
        term = node.term
        behind = {
            "type": "raft_vote",
            "term": term + 1,
            "candidate": "n7",
            "last_log_index": 0,
            "last_log_term": 0,
        }
        c.inject("n7", "n0", behind)
        await settle()
        result = types_sent(c, "raft_vote_result")[-1]["body"]
        assert result == {"type": "raft_vote_result", "term": term + 1, "granted": False}
        assert node.role == "follower"  # the higher term deposed it even without a vote
        ahead = {**behind, "candidate": "n8", "last_log_index": 99, "last_log_term": term}
        c.inject("n8", "n0", ahead)
        await settle()
        assert types_sent(c, "raft_vote_result")[-1]["body"]["granted"] is True
        assert node.wal is not None and node.wal.load().voted_for == "n8"  # durable vote
        await c.stop()

    run(scenario)


# ------------------------------------------------------------- seeded in-process runs
def _sim_run(node: type[Node], store: Path, **options: Any) -> Any:
    pytest.importorskip("glome.sim.workloads.kafka")
    from glome.sim import run as sim_run

    options.setdefault("concurrency", "2n")
    return sim_run(node, workload="kafka", store_dir=store, **options)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store on tmpfs when there is one: the Raft WAL fsyncs, ~50x faster there."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(dir=shm, prefix="glome-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _bad(result: Any) -> set[str]:
    return {str(k) for k in result.results["workload"].get("bad-error-types", [])}


def test_sim_kill_loses_acknowledged_writes_in_memory_but_not_with_the_wal(store: Path) -> None:
    """Kill nemesis, seed 2: the static leader comes back empty (lost writes, offsets reused);
    the Raft log replays its WAL and the same seed passes."""
    opts: dict[str, Any] = {
        "node_count": 3,
        "seed": 2,
        "time_limit": 6,
        "rate": 100,
        "nemesis": "kill",
        "nemesis_interval": 1.5,
    }
    naive = _sim_run(StaticLeaderKafka, store / "naive", **opts)
    assert naive.valid is False
    assert {"lost-write", "inconsistent-offsets"} <= _bad(naive)
    hardened = _sim_run(RaftKafka, store / "raft", **opts)
    assert hardened.valid is True, _bad(hardened)
    kills = [op for op in hardened.history if op["process"] == "nemesis" and op["f"] == "kill"]
    assert kills  # the nemesis really killed nodes in this run


def test_sim_partition_shows_premature_quorum_only_without_ack_dedup(store: Path) -> None:
    """5 nodes (quorum 3), partitions, seed 8: the leader ends up with one follower and
    counts that follower's repeated acks; the de-duplicating leader never does."""
    opts: dict[str, Any] = {
        "node_count": 5,
        "seed": 8,
        "time_limit": 4,
        "rate": 50,
        "concurrency": "1n",
        "nemesis": "partition",
        "nemesis_interval": 1,
    }

    def premature(result: Any) -> int:
        return (result.store_path / "node-logs" / "n0.log").read_text().count("premature quorum")

    naive = _sim_run(StaticLeaderKafka, store / "naive", **opts)
    dedup = _sim_run(DedupAckStaticLeaderKafka, store / "dedup", **opts)
    assert premature(naive) > 0 and premature(dedup) == 0
    # Both still let a follower serve a gap (insert_at), which the kafka checker catches.
    assert "int-poll-skip" in _bad(naive) and "int-poll-skip" in _bad(dedup)
    raft_run = _sim_run(RaftKafka, store / "raft", **opts)
    assert raft_run.valid is True, _bad(raft_run)


def test_sim_owner_kafka_cuts_messages_per_op(store: Path) -> None:
    """5b vs 5c on the same seed: both valid; the owner design sends a fraction of the
    messages (no lin-kv round trips, no cas retries)."""
    opts: dict[str, Any] = {"node_count": 2, "seed": 1, "time_limit": 3, "rate": 100}
    linkv = _sim_run(LinKVKafka, store / "linkv", **opts)
    owner = _sim_run(OwnerKafka, store / "owner", **opts)
    assert linkv.valid is True and owner.valid is True
    per_op = [r.results["net"]["servers"]["msgs-per-op"] for r in (linkv, owner)]
    assert per_op[1] < per_op[0] / 4, per_op
