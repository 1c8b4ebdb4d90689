"""Time the kafka, txn-rw-register and txn-list-append checkers on large, valid,
Maelstrom-shaped histories.

    .venv/bin/python bench/bench_checkers.py [--ops 100000] [--seed 1]

Histories come from tiny correct in-memory systems driven the way Maelstrom's generators drive
real nodes: `--concurrency` workers with interleaved invocations and completions, a pool of
10 active keys chosen with exponential weights, 16 writes per key before the key retires.
Kafka adds assigns (1/64), client crashes and the final seek-to-beginning polls; txn uses
1-4 micro-ops per transaction, half reads, applied atomically (so the history is serializable);
txn-list-append is the same with appends instead of writes.
Prints a markdown table (docs/benchmarks.md records one).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glome.edn import Keyword
from glome.sim.checkers import kafka, list_append, txn

Op = dict[str, Any]


class KeyPool:
    """Elle's key pool: 10 active keys, later ones hotter (weight 2^i), 16 writes each."""

    def __init__(self, rng: random.Random, count: int = 10, writes_per_key: int = 16) -> None:
        self.rng = rng
        self.active = list(range(count))
        self.next_value = dict.fromkeys(self.active, 1)
        self.writes_per_key = writes_per_key
        self.weights = [2**i for i in range(count)]

    def pick(self) -> int:
        return self.rng.choices(self.active, self.weights)[0]

    def write_value(self, k: int) -> tuple[int, int]:
        """A fresh value for a key (retiring the key after its last value)."""
        v = self.next_value[k]
        self.next_value[k] = v + 1
        if v >= self.writes_per_key:
            fresh = max(self.next_value) + 1
            self.active[self.active.index(k)] = fresh
            self.next_value[fresh] = 1
        return k, v


class Recorder:
    """Interleaves workers: each step either completes a worker's pending op or invokes one."""

    def __init__(self, rng: random.Random, concurrency: int) -> None:
        self.rng = rng
        self.ops: list[Op] = []
        self.time = 0
        self.process = list(range(concurrency))
        self.pending: list[Op | None] = [None] * concurrency
        self.concurrency = concurrency

    def emit(self, worker: int, typ: str, f: str, value: Any, **extra: Any) -> Op:
        self.time += self.rng.randint(50_000, 2_000_000)
        op = {
            "index": len(self.ops),
            "time": self.time,
            "type": typ,
            "process": self.process[worker],
            "f": f,
            "value": value,
            **extra,
        }
        self.ops.append(op)
        return op

    def run(
        self, n_ops: int, invoke: Callable[[int], Op], complete: Callable[[int, Op], None]
    ) -> None:
        while len(self.ops) < n_ops:
            w = self.rng.randrange(self.concurrency)
            op = self.pending[w]
            if op is None:
                self.pending[w] = invoke(w)
            else:
                self.pending[w] = None
                complete(w, op)
        for w, op in enumerate(self.pending):
            if op is not None:
                self.pending[w] = None
                complete(w, op)


def kafka_history(n_ops: int, seed: int, concurrency: int = 10) -> list[Op]:
    rng = random.Random(seed)
    pool = KeyPool(rng)
    logs: dict[str, list[int]] = {}
    committed: dict[str, int] = {}
    positions: list[dict[str, int]] = [{} for _ in range(concurrency)]
    rec = Recorder(rng, concurrency)

    def invoke(w: int) -> Op:
        r = rng.random()
        if r < 1 / 300:
            return rec.emit(w, "invoke", "crash", None)
        if r < 1 / 300 + 1 / 64:
            keys = sorted({str(pool.pick()) for _ in range(rng.randint(1, 3))})
            return rec.emit(w, "invoke", "assign", keys)
        if rng.random() < 0.5:
            k, v = pool.write_value(pool.pick())
            return rec.emit(w, "invoke", "send", [[Keyword("send"), str(k), v]])
        return rec.emit(w, "invoke", "poll", [[Keyword("poll")]])

    def complete(w: int, inv: Op) -> None:
        f = inv["f"]
        if f == "crash":
            rec.emit(w, "info", "crash", None)
            rec.process[w] += concurrency
            positions[w] = {}
        elif f == "assign":
            keys, pos = inv["value"], positions[w]
            positions[w] = {k: pos.get(k, committed.get(k, 0)) for k in keys}
            rec.emit(w, "ok", "assign", keys)
        elif f == "send":
            _, k, v = inv["value"][0]
            log = logs.setdefault(k, [])
            log.append(v)
            rec.emit(w, "ok", "send", [[Keyword("send"), k, [len(log) - 1, v]]])
        else:
            rec.emit(w, "ok", "poll", [[Keyword("poll"), _poll(w)]], **_extra(inv))

    def _poll(w: int, limit: int = 8) -> dict[str, list[list[int]]]:
        msgs = {}
        for k, start in sorted(positions[w].items()):
            log = logs.get(k, [])
            pairs = [[o, log[o]] for o in range(start, min(len(log), start + limit))]
            msgs[k] = pairs
            if pairs:
                positions[w][k] = pairs[-1][0] + 1
                committed[k] = max(committed.get(k, 0), pairs[-1][0] + 1)
        return msgs

    def _extra(inv: Op) -> dict[str, Any]:
        return {"poll-ms": inv["poll-ms"]} if "poll-ms" in inv else {}

    rec.run(n_ops, invoke, complete)
    # Final phase: every worker crashes, re-assigns every key from the beginning, polls it all.
    all_keys = sorted(logs, key=int)
    for w in range(concurrency):
        complete(w, rec.emit(w, "invoke", "crash", None))
        rec.emit(w, "invoke", "assign", all_keys, **{"seek-to-beginning?": True})
        positions[w] = dict.fromkeys(all_keys, 0)
        rec.emit(w, "ok", "assign", all_keys, **{"seek-to-beginning?": True})
        rec.emit(w, "invoke", "poll", [[Keyword("poll")]], **{"poll-ms": 1000})
        rec.emit(w, "ok", "poll", [[Keyword("poll"), _poll(w, limit=10**9)]], **{"poll-ms": 1000})
    return rec.ops


def txn_history(n_ops: int, seed: int, concurrency: int = 10) -> list[Op]:
    """txn-rw-register: reads see the last write."""
    return _serial_txns(n_ops, seed, concurrency, write="w")


def list_append_history(n_ops: int, seed: int, concurrency: int = 10) -> list[Op]:
    """txn-list-append: reads see every append so far."""
    return _serial_txns(n_ops, seed, concurrency, write="append")


def _serial_txns(n_ops: int, seed: int, concurrency: int, write: str) -> list[Op]:
    """Txns of 1-4 micro-ops (half reads), each applied whole at its completion: valid."""
    rng = random.Random(seed)
    pool = KeyPool(rng)
    state: dict[int, Any] = {}
    rec = Recorder(rng, concurrency)
    appends = write == "append"

    def invoke(w: int) -> Op:
        mops = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                mops.append([Keyword("r"), pool.pick(), None])
            else:
                k, v = pool.write_value(pool.pick())
                mops.append([Keyword(write), k, v])
        return rec.emit(w, "invoke", "txn", mops)

    def complete(w: int, inv: Op) -> None:
        done = []
        for f, k, v in inv["value"]:
            if f == "r":
                current = state.get(k)
                done.append([f, k, list(current) if appends and current is not None else current])
            else:
                if appends:
                    state.setdefault(k, []).append(v)
                else:
                    state[k] = v
                done.append([f, k, v])
        rec.emit(w, "ok", "txn", done)

    rec.run(n_ops, invoke, complete)
    return rec.ops


def timed(fn: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rows: list[tuple[str, int, str, float, Any, int]] = []
    kh = kafka_history(args.ops, args.seed)
    secs, res = timed(lambda: kafka.check(kh))
    rows.append(("kafka", len(kh), "-", secs, res["valid?"], len(res["error-types"])))
    th = txn_history(args.ops, args.seed)
    for model in ("read-committed", "serializable"):
        t0 = time.perf_counter()
        res = txn.check(th, consistency_models=[model])
        secs = time.perf_counter() - t0
        rows.append(
            ("txn-rw-register", len(th), model, secs, res["valid?"], len(res["anomaly-types"]))
        )

    lh = list_append_history(args.ops, args.seed)
    for model in ("read-committed", "strict-serializable"):
        t0 = time.perf_counter()
        res = list_append.check(lh, consistency_models=[model])
        secs = time.perf_counter() - t0
        rows.append(
            ("txn-list-append", len(lh), model, secs, res["valid?"], len(res["anomaly-types"]))
        )

    print("| checker | history ops | models | seconds | valid? | error types |")
    print("|---|---:|---|---:|---|---:|")
    for name, n, model, secs, valid, errors in rows:
        print(f"| {name} | {n} | {model} | {secs:.2f} | {valid} | {errors} |")


if __name__ == "__main__":
    main()
