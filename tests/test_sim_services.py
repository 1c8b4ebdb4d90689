"""Services: lin-kv, seq-kv staleness, lww-kv's two never-converging replicas, lin-tso."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from glome.sim.hosts.vclock import run_virtual
from glome.sim.net.network import Network
from glome.sim.net.services import LWWKV, LinKV, LinTSO, SeqKV, json_equal, start_services
from glome.sim.workloads.client import Client


async def _call(client: Client, dest: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return await client.rpc(dest, body, timeout=1.0)
    except Exception as e:
        return {"error": type(e).__name__, **getattr(e, "body", {})}


def run_calls(
    service: str, calls: list[tuple[str, dict[str, Any]]], *, seed: int = 1, **kwargs: Any
) -> list[dict[str, Any]]:
    """Send ``(client id, body)`` calls in order to one service; return the replies."""

    async def main() -> list[dict[str, Any]]:
        net = Network(asyncio.get_running_loop())
        start_services(net, random.Random(seed), **kwargs)
        clients: dict[str, Client] = {}
        out = []
        for cid, body in calls:
            if cid not in clients:
                clients[cid] = Client(net, cid)
            out.append(await _call(clients[cid], service, body))
        return out

    return run_virtual(main())


def test_lin_kv_read_write_cas_and_errors() -> None:
    replies = run_calls(
        "lin-kv",
        [
            ("c1", {"type": "read", "key": "k"}),
            ("c1", {"type": "write", "key": "k", "value": 1}),
            ("c2", {"type": "read", "key": "k"}),
            ("c2", {"type": "cas", "key": "k", "from": 2, "to": 3}),
            ("c2", {"type": "cas", "key": "k", "from": 1, "to": 3}),
            ("c1", {"type": "read", "key": "k"}),
            ("c1", {"type": "cas", "key": "new", "from": 0, "to": 9, "create_if_not_exists": True}),
            ("c1", {"type": "read", "key": "new"}),
        ],
    )
    assert replies[0]["code"] == 20 and replies[0]["text"] == "key does not exist"
    assert replies[1] == {"type": "write_ok", "in_reply_to": 2}
    assert replies[2]["value"] == 1
    assert replies[3]["code"] == 22 and replies[3]["text"] == "current value 1 is not 2"
    assert replies[4]["type"] == "cas_ok"
    assert replies[5]["value"] == 3
    assert replies[6]["type"] == "cas_ok" and replies[7]["value"] == 9


def test_values_compare_like_clojure_not_python() -> None:
    assert not json_equal(1, True) and not json_equal(1, 1.0) and not json_equal(1, "1")
    assert json_equal({"a": [1, 2]}, {"a": [1, 2]})
    replies = run_calls(
        "lin-kv",
        [
            ("c1", {"type": "write", "key": 1, "value": 1}),
            ("c1", {"type": "read", "key": "1"}),
            ("c1", {"type": "cas", "key": 1, "from": True, "to": 2}),
        ],
    )
    assert replies[1]["code"] == 20
    assert replies[2]["code"] == 22


def test_unknown_request_gets_no_reply() -> None:
    replies = run_calls("lin-kv", [("c1", {"type": "frobnicate", "key": 1})])
    assert replies[0]["error"] == "ClientTimeout"


def test_lin_tso_counts_from_zero() -> None:
    replies = run_calls("lin-tso", [("c1", {"type": "ts"}) for _ in range(3)])
    assert [r["ts"] for r in replies] == [0, 1, 2]


def test_seq_kv_reads_can_be_stale_but_are_monotonic_per_caller() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    for v in range(1, 11):
        calls.append(("c1", {"type": "write", "key": "x", "value": v}))
    calls += [("c2", {"type": "read", "key": "x"}) for _ in range(60)]
    replies = run_calls("seq-kv", calls, seed=3)
    reads = [r.get("value") for r in replies[10:]]
    # A fresh caller starts at state 0, where x does not exist yet: some reads are stale.
    assert any(r.get("code") == 20 for r in replies[10:]) or min(v for v in reads if v) < 10
    seen = [v if v is not None else 0 for v in reads]
    assert seen == sorted(seen), "per-caller reads never go backwards"
    assert seen[-1] == 10, "repeated reads catch up with the newest state"


def test_seq_kv_writer_reads_its_own_write() -> None:
    for seed in range(5):
        replies = run_calls(
            "seq-kv",
            [
                ("c1", {"type": "write", "key": "x", "value": 7}),
                ("c1", {"type": "read", "key": "x"}),
            ],
            seed=seed,
        )
        assert replies[1]["value"] == 7


def test_seq_kv_keeps_a_ring_of_32_states() -> None:
    async def main() -> tuple[int, int]:
        net = Network(asyncio.get_running_loop())
        kv = SeqKV(net, random.Random(0))
        client = Client(net, "c1")
        for v in range(100):
            await client.rpc("seq-kv", {"type": "write", "key": "x", "value": v}, 1.0)
        return len(kv.states), kv.first_index

    count, first = run_virtual(main())
    assert count == 32 and first == 101 - 32


def test_lww_kv_replicas_never_converge_by_default() -> None:
    calls: list[tuple[str, dict[str, Any]]] = [("c1", {"type": "write", "key": "k", "value": 1})]
    calls += [("c2", {"type": "read", "key": "k"}) for _ in range(40)]
    replies = run_calls("lww-kv", calls, seed=2)
    outcomes = {r.get("value", r.get("code")) for r in replies[1:]}
    assert outcomes == {1, 20}, "one replica has the write, the other never gets it"


def test_lww_kv_converges_with_the_option() -> None:
    calls: list[tuple[str, dict[str, Any]]] = [("c1", {"type": "write", "key": "k", "value": 1})]
    calls += [("c2", {"type": "read", "key": "k"}) for _ in range(40)]
    replies = run_calls("lww-kv", calls, seed=2, lww_converge=True)
    tail = [r.get("value", r.get("code")) for r in replies[-10:]]
    assert tail == [1] * 10


def test_lww_kv_ignores_create_if_not_exists() -> None:
    replies = run_calls(
        "lww-kv",
        [("c1", {"type": "cas", "key": "k", "from": 0, "to": 1, "create_if_not_exists": True})],
    )
    assert replies[0]["code"] == 20


def test_service_classes_are_distinct_endpoints() -> None:
    assert {LinKV.service_id, SeqKV.service_id, LWWKV.service_id, LinTSO.service_id} == {
        "lin-kv",
        "seq-kv",
        "lww-kv",
        "lin-tso",
    }
