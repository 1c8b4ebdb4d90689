"""Transaction workloads (docs/protocol.md#txn-list-append, #txn-rw-register) and Elle's ``wr-txns``
generator (shared with kafka).

txn-rw-register: each op is one transaction ``{"type": "txn", "txn": [["r", 9, null],
["w", 9, 3]]}`` answered by ``txn_ok`` with the reads filled in. History values use keywords
for the micro-op functions: invoke ``[[:r 9 nil] [:w 9 3]]``, ok ``[[:r 9 2] [:w 9 3]]``.
Errors follow docs/protocol.md#from-rpc-outcome-to-history-op with no idempotent ``:f`` (a timeout
is ``:info``); the client is reusable after an ``:info`` op. The checker is
``glome.sim.checkers.txn`` with ``--consistency-models`` (Maelstrom's default
``strict-serializable``, decided as far as that checker's anomalies go).

The reply must be the request with the reads filled in: the same micro-ops in the same order,
writes echoed unchanged, read values ``null`` or a scalar (rw-register) / a list (list-append).
Anything else is a malformed reply (an ``:info`` op with the reason), so the checker only
ever sees well-formed transactions.

txn-list-append: the same generator and client with appends instead of writes; reads return
lists. Its checker is ``glome.sim.checkers.list_append`` (Elle's list-append inference), with
the same ``--consistency-models``.
"""

from __future__ import annotations

import math
import random
from typing import Any

from glome.edn import Keyword
from glome.sim.checkers import list_append as list_append_checker
from glome.sim.checkers import txn as txn_checker
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import MalformedReply, require
from glome.sim.workloads.generator import Worker

DEFAULT_KEY_COUNT = 10
"""Elle's default pool size (Maelstrom passes ``--key-count`` through, nil by default)."""

Mop = tuple[str, int, Any]


class WrTxns:
    """Elle's ``wr-txns``: read/write transactions over a pool of active integer keys.

    - length uniform in [``min_length``, ``max_length``]; each micro-op is a read or a write
      with probability 1/2;
    - key: exponential choice over the pool (the key at pool position *i* has weight 2^i, so
      later keys are hotter);
    - write values per key count 1, 2, ... ``max_writes_per_key``; a write that would exceed
      that retires the key (replaced in the pool by the largest active key + 1) and the micro-op
      is drawn again. Values are therefore unique per key.

    Every draw comes from the ``rng`` passed in (the runner's generator stream).
    """

    def __init__(
        self, *, key_count: int, max_length: int, max_writes_per_key: int, min_length: int = 1
    ) -> None:
        if key_count < 1:
            raise ValueError(f"--key-count must be positive, not {key_count}")
        if max_length < 1 or min_length < 0 or min_length > max_length:
            raise ValueError(f"bad transaction length range [{min_length}, {max_length}]")
        if max_writes_per_key < 1:
            raise ValueError(f"--max-writes-per-key must be positive, not {max_writes_per_key}")
        self.active = list(range(key_count))
        self.min_length = min_length
        self.max_length = max_length
        self.max_writes_per_key = max_writes_per_key
        self.next_value: dict[int, int] = {}

    def rand_key(self, rng: random.Random) -> int:
        """A pool key, position *i* drawn with weight 2^i (Elle's exponential key-dist, base 2)."""
        n = len(self.active)
        u = rng.random()
        # Elle computes floor(log2(u * 2(2^n - 1) + 2) - 1) = floor(log2(u(2^n - 1) + 1)); this
        # is the same number written so that 2^n never overflows a float for large pools.
        inner = u + (1.0 - u) * math.ldexp(1.0, -n) if n < 1100 else u
        i = math.floor(n + math.log2(inner)) if inner > 0 else 0
        return self.active[min(max(i, 0), n - 1)]

    def retire(self, key: int) -> None:
        self.active[self.active.index(key)] = max(self.active) + 1

    def next_txn(self, rng: random.Random) -> list[Mop]:
        """The next transaction: ``[("r", k, None) | ("w", k, v), ...]``."""
        length = rng.randint(self.min_length, self.max_length)
        txn: list[Mop] = []
        while len(txn) < length:
            f = "r" if rng.random() < 0.5 else "w"
            k = self.rand_key(rng)
            if f == "r":
                txn.append(("r", k, None))
                continue
            v = self.next_value.get(k, 1)
            if v > self.max_writes_per_key:
                self.retire(k)
                continue
            self.next_value[k] = v + 1
            txn.append(("w", k, v))
        return txn


def wr_txns_for(opts: TestOptions, *, max_length: int | None = None) -> WrTxns:
    """A ``WrTxns`` from ``--key-count``, ``--max-txn-length``, ``--max-writes-per-key``."""
    return WrTxns(
        key_count=opts.key_count if opts.key_count is not None else DEFAULT_KEY_COUNT,
        max_length=opts.max_txn_length if max_length is None else max_length,
        max_writes_per_key=opts.max_writes_per_key,
    )


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, int | float | str | bool)


class TxnWorkload(Workload):
    """txn-rw-register and txn-list-append: one ``txn`` RPC per op
    (docs/protocol.md#txn-list-append, #txn-rw-register)."""

    write_f = "w"
    """The history/wire name of a write micro-op (``append`` for list-append)."""
    with_errors = True
    idempotent = frozenset()
    reusable_client = True
    has_final_phase = False

    def validate(self, opts: TestOptions) -> None:
        wr_txns_for(opts)  # raises ValueError for bad sizes
        models = [str(m).lstrip(":") for m in opts.consistency_models]
        unknown = [m for m in models if m not in txn_checker.PROHIBITED]
        if unknown or not models:
            raise ValueError(
                f"unknown consistency model(s) {unknown}; glome knows: "
                f"{', '.join(sorted(txn_checker.PROHIBITED))}"
            )

    def new_state(self, opts: TestOptions, rng: random.Random) -> dict[str, Any]:
        return {"txns": wr_txns_for(opts)}

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        txns: WrTxns = worker.state["txns"]
        mops = txns.next_txn(worker.rng)
        return {
            "f": "txn",
            "value": [[Keyword(self.write_f if f == "w" else "r"), k, v] for f, k, v in mops],
        }

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        request = [[str(f), k, v] for f, k, v in op["value"]]
        reply = require(await worker.call({"type": "txn", "txn": request}), "txn_ok", txn=list)
        return {"type": "ok", "value": self.completed(request, reply)}

    def completed(self, request: list[list[Any]], reply: dict[str, Any]) -> list[list[Any]]:
        """The history value of a ``txn_ok``: checked against the request, keywords for f."""
        txn = reply["txn"]
        if len(txn) != len(request):
            raise MalformedReply(
                f"txn_ok has {len(txn)} micro-ops for a request of {len(request)}", reply
            )
        out: list[list[Any]] = []
        for i, (sent, got) in enumerate(zip(request, txn, strict=True)):
            if not isinstance(got, list) or len(got) != 3:
                raise MalformedReply(
                    f"txn_ok micro-op {i} is not a [f, k, v] triple: {got!r}", reply
                )
            f, k, v = got
            if f != sent[0] or type(k) is not type(sent[1]) or k != sent[1]:
                raise MalformedReply(
                    f"txn_ok micro-op {i} is {got!r}, but the request's was "
                    f"{sent!r} (same f and key, in order)",
                    reply,
                )
            if f == "r":
                self.check_read(i, v, reply)
            elif v != sent[2] or type(v) is not type(sent[2]):
                raise MalformedReply(
                    f"txn_ok micro-op {i} changed the written value: {got!r} for {sent!r}", reply
                )
            out.append([Keyword(f), k, v])
        return out

    def check_read(self, i: int, value: Any, reply: dict[str, Any]) -> None:
        if not _is_scalar(value):
            raise MalformedReply(
                f"txn_ok micro-op {i} read {value!r}: a register holds null or a single value",
                reply,
            )

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return txn_checker.check(history, opts)


class RwRegister(TxnWorkload):
    name = "txn-rw-register"


class ListAppend(TxnWorkload):
    """txn-list-append: appends instead of writes, reads are lists
    (docs/protocol.md#txn-list-append)."""

    name = "txn-list-append"
    write_f = "append"

    def check_read(self, i: int, value: Any, reply: dict[str, Any]) -> None:
        if value is not None and not (
            isinstance(value, list) and all(_is_scalar(x) for x in value)
        ):
            raise MalformedReply(
                f"txn_ok micro-op {i} read {value!r}: a list-append read is "
                f"null or a list of appended values",
                reply,
            )

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return list_append_checker.check(history, opts)


RW_REGISTER = RwRegister()
LIST_APPEND = ListAppend()
