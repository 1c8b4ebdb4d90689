"""txn-list-append nodes over lin-kv: per-key operations (naive) and one root value (hardened).

Maelstrom's txn-list-append workload (docs/protocol.md#txn-list-append) sends ``txn {txn: [["r", k,
null], ["append", k, v], ...]}``; a read returns the key's whole list (``null`` if never appended).
Not a Gossip Glomers challenge, but the workload Maelstrom's own transaction tutorial
(doc/05-datomic) builds up to, and the one Elle checks most precisely
(glome.sim.checkers.list_append), so it shows clearly what "atomic" buys:

- :class:`PerKeyListAppend` stores each key's list in lin-kv and runs a transaction as one lin-kv
  operation per micro-op. Every single operation is linearizable, yet other transactions see its
  appends before it finishes (G1b) and two transactions interleave (G-single, G2-item): not even
  read-committed.
- :class:`RootListAppend` keeps the whole database as one lin-kv value: read it, run the whole
  transaction on a copy, and compare-and-set it back. A lost race aborts the transaction (error
  30, txn-conflict, definite: nothing was written) instead of retrying blindly, so every committed
  transaction took effect at one instant: strict-serializable. The price is throughput: every
  transaction contends on one key.

``glome test -w txn-list-append --node glome.nodes.txn:RootListAppend --node-count 3
    --time-limit 10 --rate 50 --consistency-models strict-serializable``
"""

from __future__ import annotations

from typing import Any

from glome.errors import PreconditionFailed, TxnConflict
from glome.nodes.txn.common import Key, Mop, parse_txn, sort_key
from glome.runtime import LinKV, Message, Node, handler

ROOT = "root"
"""The lin-kv key holding the whole database (RootListAppend)."""

KV_TIMEOUT = 1.0
"""Seconds to wait for lin-kv: a lost reply fails the txn as indefinite, never hangs it."""

APPEND_ATTEMPTS = 20
"""Compare-and-set attempts per append before PerKeyListAppend gives up (error 30)."""


def parse_list_txn(body: dict[str, Any]) -> list[Mop]:
    """The micro-ops, checked before anything runs (error 12, definite, if malformed)."""
    return parse_txn(body, ops=("r", "append"))


class PerKeyListAppend(Node):
    """Naive: one lin-kv operation per micro-op, so transactions are not atomic."""

    def setup(self) -> None:
        self.kv = LinKV(self, timeout=KV_TIMEOUT)

    @handler("txn")
    async def on_txn(self, msg: Message) -> dict[str, Any]:
        done: list[Mop] = []
        for f, key, value in parse_list_txn(msg.body):
            if f == "r":
                done.append([f, key, await self.kv.read(key, default=None)])
            else:
                await self._append(key, value)
                done.append([f, key, value])
        return {"type": "txn_ok", "txn": done}

    async def _append(self, key: Key, value: Any) -> None:
        for _ in range(APPEND_ATTEMPTS):
            current = await self.kv.read(key, default=None)
            try:
                await self.kv.cas(
                    key, current, [*(current or []), value], create_if_not_exists=True
                )
                return
            except PreconditionFailed:
                continue  # someone appended in between: read again
        raise TxnConflict(f"append to {key!r} lost {APPEND_ATTEMPTS} races in a row")


class RootListAppend(Node):
    """Hardened: the whole database is one lin-kv value, replaced by compare-and-set."""

    def setup(self) -> None:
        self.kv = LinKV(self, timeout=KV_TIMEOUT)

    @handler("txn")
    async def on_txn(self, msg: Message) -> dict[str, Any]:
        txn = parse_list_txn(msg.body)
        stored = await self.kv.read(ROOT, default=None)
        # JSON object keys are strings (an integer key 3 would come back as "3"): the database
        # travels as a list of [key, list] pairs, sorted so equal databases are equal values.
        data: dict[Key, list[Any]] = {k: v for k, v in stored or []}
        done: list[Mop] = []
        changed = False
        for f, key, value in txn:
            if f == "r":
                done.append([f, key, list(data[key]) if key in data else None])
            else:
                data[key] = [*data.get(key, []), value]
                changed = True
                done.append([f, key, value])
        if changed:
            new = [[k, data[k]] for k in sorted(data, key=sort_key)]
            try:
                await self.kv.cas(ROOT, stored, new, create_if_not_exists=stored is None)
            except PreconditionFailed:
                raise TxnConflict("another transaction committed first; nothing written") from None
        return {"type": "txn_ok", "txn": done}


if __name__ == "__main__":
    RootListAppend.main()
