"""What every transaction node shares: parsing ``txn`` requests and running them on a dict.

Maelstrom's txn-rw-register (docs/protocol.md#txn-rw-register): ``txn {txn: [["r", k, null], ["w",
k, v], ...]}`` -> ``txn_ok {txn}`` with every read's value filled in (``null`` for a key never
written). Keys and values are integers in Maelstrom's generator; any JSON scalar key is accepted
here.

Replication messages carry writes as lists, never as JSON objects keyed by the register key:
JSON object keys are strings, so an integer key 3 would come back as "3", a different key.
"""

from __future__ import annotations

from typing import Any

from glome.errors import MalformedRequest

Key = int | str
Mop = list[Any]
Version = tuple[int, str]
"""(Lamport time, node id): a total order on writes. The review's sketch uses a 64-bit hash
of the node id (glome-rs: FNV-1a); two node ids can hash alike and then the tie is broken by
arrival order again. The id itself is unique, so its string order is a safe tie-break."""


def parse_txn(body: dict[str, Any], ops: tuple[str, ...] = ("r", "w")) -> list[Mop]:
    """The micro-ops, checked: a malformed txn is refused (error 12, definite) before anything
    is applied, never half-applied (glome-rs panics on an unknown op mid-transaction).
    ``ops``: the micro-op names allowed (txn-list-append's are ``("r", "append")``)."""
    txn = body.get("txn")
    if not isinstance(txn, list):
        raise MalformedRequest("txn must be a list of [op, key, value]")
    for mop in txn:
        if not (
            isinstance(mop, list)
            and len(mop) == 3
            and mop[0] in ops
            and isinstance(mop[1], int | str)
            and not isinstance(mop[1], bool)
        ):
            names = "|".join(f"'{op}'" for op in ops)
            raise MalformedRequest(f"bad micro-op {mop!r}: expected [{names}, key, value]")
    return txn


def sort_key(key: Key) -> tuple[bool, Any]:
    """A deterministic order over int and str keys (ints first)."""
    return (isinstance(key, str), key)


def run_on(data: dict[Key, Any], txn: list[Mop]) -> tuple[list[Mop], dict[Key, Any]]:
    """Run ``txn`` against ``data`` without touching it: reads see the txn's own earlier writes.

    Returns the filled-in txn and the *final* write per key (in first-write order). A node
    publishes only those, all at once, so no other transaction can read an intermediate value
    (G1b) or a value of a transaction that has not finished (G1a).
    """
    writes: dict[Key, Any] = {}
    result: list[Mop] = []
    for op, key, value in txn:
        if op == "r":
            result.append(["r", key, writes[key] if key in writes else data.get(key)])
        else:
            writes[key] = value
            result.append(["w", key, value])
    return result, writes


def is_version(raw: object) -> bool:
    return (
        isinstance(raw, list)
        and len(raw) == 2
        and isinstance(raw[0], int)
        and not isinstance(raw[0], bool)
        and isinstance(raw[1], str)
    )
