"""kafka (docs/protocol.md#kafka): Jepsen's kafka workload as Maelstrom configures it.

RPCs (keys are strings, offsets ints, messages any JSON): ``send {key, msg}`` ->
``send_ok {offset}``; ``poll {offsets}`` -> ``poll_ok {msgs: {key: [[offset, msg], ..]}}``;
``commit_offsets {offsets}`` -> ``commit_offsets_ok``; ``list_committed_offsets {keys}`` ->
``list_committed_offsets_ok {offsets}``.

Generator (shared by all workers, drawn from the runner's generator stream):

- base stream: Elle's ``wr-txns`` with transactions of length 1 (``glome.sim.workloads.txn``):
  a write of ``v`` to key ``k`` becomes ``{:f :send, :value [[:send "k" v]]}``, a read
  ``{:f :poll, :value [[:poll]]}``; integer keys are rendered as strings;
- with probability 1/64 the next op is preceded by ``{:f :assign, :value ["k"]}`` for its key;
  a third of those assigns are widened with every key that has sent-but-unpolled offsets (those
  keys first), with an ``:unseen {"k" {:polled p :sent s}}`` debug extra;
- ``{:f :crash}`` ops, staggered ``30 / concurrency`` seconds apart on average (the first at
  once), go to whichever worker asks next; the client answers ``:info`` and the runner replaces
  it (new process, new ``c*`` id, empty offsets).

Client (``worker.client_state["offsets"]``: key -> next offset to poll, initially empty):

- assign: with ``:seek-to-beginning?`` every assigned key -> 0 (no RPC); otherwise one
  ``list_committed_offsets`` and each assigned key -> local offset, else committed, else 0. Keys
  not assigned are dropped. ``:assign`` is the idempotent ``:f`` (a timeout is ``:fail``);
- poll: sends every tracked offset; afterwards each returned key's offset becomes
  max(previous, highest returned offset + 1); then, if anything was polled, one
  ``commit_offsets`` with the highest polled offset per key. The ok value is
  ``[[:poll {"k" [[offset msg] ..]}]]``;
- send: ok value ``[[:send "k" [offset msg]]]``.

Final phase (after the recovery sleep, at most 10 s in all): each worker crashes its client,
assigns every key any ok op ever touched with ``:seek-to-beginning? true`` and polls
(``:poll-ms 1000``, U[0, 0.4) s apart) until its polls have reached the highest offset known
for every key at the start of the final phase.

Deviations from Maelstrom, on purpose:

- Maelstrom records the final assign's keys as integers (``[0 1 2 ..]``) and its final polls'
  ok value as ``[[:poll]]``; glome records string keys and the messages polled, as in the main
  phase.
- A key whose only offset evidence is an empty poll (highest offset -1) is assigned but not
  waited for (Jepsen would wait for a poll that mentions it, possibly until the 10 s cap).
- If a final poll does not complete ok, the worker's client was replaced and lost its offsets,
  so glome starts that worker's final sequence again (crash, assign, polls) instead of polling
  with an empty offset map until the cap.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from glome.edn import Keyword, Str
from glome.sim.checkers import kafka as kafka_checker
from glome.sim.options import TestOptions
from glome.sim.workloads import Workload
from glome.sim.workloads.client import MalformedReply, require
from glome.sim.workloads.generator import Worker, sleep_until
from glome.sim.workloads.txn import WrTxns, wr_txns_for

ASSIGN_PROBABILITY = 1 / 64
WIDEN_PROBABILITY = 1 / 3
CRASH_INTERVAL = 30.0
"""Seconds between client crashes, divided by the concurrency (Jepsen's crash-client-interval)."""
FINAL_PHASE_LIMIT = 10.0
FINAL_POLL_INTERVAL = 0.2
"""Final polls are staggered U[0, 2 x this) apart (Jepsen's ``(gen/stagger 1/5)``)."""
FINAL_POLL_MS = 1000

POLL = Keyword("poll")
SEND = Keyword("send")


def key_order(key: str) -> tuple[int, int, str]:
    """Sort keys as the integers they encode (keys a node made up come last, by text)."""
    try:
        return (0, int(key), "")
    except ValueError:
        return (1, 0, key)


class KafkaGenerator:
    """The shared generator state: the base stream, assigns, crashes, offset tracking."""

    def __init__(self, opts: TestOptions) -> None:
        self.txns: WrTxns = wr_txns_for(opts, max_length=1)
        self.pending: dict[str, Any] | None = None
        """The op an assign was inserted before; it comes next."""
        self.pending_key = ""
        self.crash_interval = CRASH_INTERVAL / max(1, opts.worker_count)
        self.next_crash: float | None = None
        self.sent: dict[str, int] = {}
        """Keys with sent-but-unpolled offsets: key -> highest ok-sent offset (PollUnseen)."""
        self.polled: dict[str, int] = {}
        self.max_offsets: dict[str, int] = {}
        """Key -> highest offset any ok op sent or polled (TrackKeyOffsets)."""
        self.final_deadline: float | None = None
        self.final_targets: dict[str, int] = {}
        self.final_keys: list[str] = []

    # ---------------------------------------------------------------------- main phase
    def next_op(self, now: float, rng: random.Random) -> dict[str, Any]:
        if self.next_crash is None or now >= self.next_crash:
            self.next_crash = max(now, self.next_crash or now) + rng.uniform(
                0, 2 * self.crash_interval
            )
            return {"f": "crash", "value": None}
        if self.pending is None:
            ((f, k, v),) = self.txns.next_txn(rng)
            self.pending_key = str(k)
            if f == "w":
                self.pending = {"f": "send", "value": [[SEND, self.pending_key, v]]}
            else:
                self.pending = {"f": "poll", "value": [[POLL]]}
        if rng.random() < ASSIGN_PROBABILITY:
            return self.assign_op(rng)  # the pending op stays next
        op, self.pending = self.pending, None
        return op

    def assign_op(self, rng: random.Random) -> dict[str, Any]:
        keys = [self.pending_key]
        if self.sent and rng.random() < WIDEN_PROBABILITY:
            lagging = sorted(self.sent, key=key_order)
            keys = list(dict.fromkeys([*lagging, *keys]))
            unseen = {
                Str(k): {"polled": self.polled.get(k, -1), "sent": self.sent[k]} for k in lagging
            }
            return {"f": "assign", "value": keys, "unseen": unseen}
        return {"f": "assign", "value": keys}

    def observe_ok(self, sends: dict[str, int], polls: dict[str, int]) -> None:
        """Fold an ok op's highest sent/polled offsets per key into the trackers."""
        for offsets in (sends, polls):
            for k, off in offsets.items():
                self.max_offsets[k] = max(off, self.max_offsets.get(k, off))
        for k, off in sends.items():
            self.sent[k] = max(off, self.sent.get(k, off))
        for k, off in polls.items():
            self.polled[k] = max(off, self.polled.get(k, off))
        for k in list(dict.fromkeys([*sends, *polls])):
            if self.polled.get(k, -1) >= self.sent.get(k, -1):  # caught up on k
                self.sent.pop(k, None)
                self.polled.pop(k, None)

    # --------------------------------------------------------------------- final phase
    def start_final(self, now: float) -> None:
        if self.final_deadline is None:
            self.final_deadline = now + FINAL_PHASE_LIMIT
            self.final_keys = sorted(self.max_offsets, key=key_order)
            self.final_targets = {k: off for k, off in self.max_offsets.items() if off >= 0}


def poll_maxima(msgs: dict[str, list[list[Any]]]) -> dict[str, int]:
    """Highest offset polled per key (-1 for a key returned with no messages)."""
    return {k: max((pair[0] for pair in pairs), default=-1) for k, pairs in msgs.items()}


def _is_offset(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _offset_map(reply: dict[str, Any], field: str) -> dict[str, int]:
    offsets = reply[field]
    if not all(_is_offset(v) for v in offsets.values()):
        raise MalformedReply(f"{reply.get('type')} {field} values must be integer offsets", reply)
    return dict(offsets)


def _poll_msgs(reply: dict[str, Any]) -> dict[str, list[list[Any]]]:
    msgs: dict[str, list[list[Any]]] = {}
    for k, pairs in reply["msgs"].items():
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and _is_offset(p[0]) for p in pairs
        ):
            raise MalformedReply(
                f"poll_ok msgs[{k!r}] must be a list of [offset, msg] pairs", reply
            )
        msgs[str(k)] = [[p[0], p[1]] for p in pairs]
    return msgs


class Kafka(Workload):
    name = "kafka"
    idempotent = frozenset({"assign"})
    with_errors = True
    reusable_client = False
    has_final_phase = True

    def validate(self, opts: TestOptions) -> None:
        wr_txns_for(opts, max_length=1)

    def new_state(self, opts: TestOptions, rng: random.Random) -> dict[str, Any]:
        return {"kafka": KafkaGenerator(opts)}

    @staticmethod
    def generator(worker: Worker) -> KafkaGenerator:
        gen: KafkaGenerator = worker.state["kafka"]
        return gen

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        return self.generator(worker).next_op(worker.ctx.loop.time(), worker.rng)

    # -------------------------------------------------------------------------- client
    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        f = op["f"]
        offsets: dict[str, int] = worker.client_state.setdefault("offsets", {})
        if f == "crash":
            return {"type": "info"}
        if f == "assign":
            keys = [str(k) for k in op["value"]]
            if op.get("seek-to-beginning?"):
                worker.client_state["offsets"] = dict.fromkeys(keys, 0)
            else:
                reply = require(
                    await worker.call({"type": "list_committed_offsets", "keys": keys}),
                    "list_committed_offsets_ok",
                    offsets=dict,
                )
                committed = _offset_map(reply, "offsets")
                worker.client_state["offsets"] = {
                    k: offsets[k] if k in offsets else committed.get(k, 0) for k in keys
                }
            return {"type": "ok"}
        if f == "send":
            ((_, key, msg),) = op["value"]
            reply = require(
                await worker.call({"type": "send", "key": key, "msg": msg}), "send_ok", offset=int
            )
            offset = reply["offset"]
            self.generator(worker).observe_ok({key: offset}, {})
            return {"type": "ok", "value": [[SEND, key, [offset, msg]]]}
        if f == "poll":
            reply = require(
                await worker.call({"type": "poll", "offsets": dict(offsets)}), "poll_ok", msgs=dict
            )
            msgs = _poll_msgs(reply)
            maxima = poll_maxima(msgs)
            for k, top in maxima.items():
                offsets[k] = max(offsets.get(k, top + 1), top + 1)
            commit = {k: max(0, top) for k, top in maxima.items() if msgs[k]}
            if commit:
                require(
                    await worker.call({"type": "commit_offsets", "offsets": commit}),
                    "commit_offsets_ok",
                )
            self.generator(worker).observe_ok({}, maxima)
            # Str keeps "k" a string in EDN even when a node returns a keyword-shaped key.
            return {"type": "ok", "value": [[POLL, {Str(k): pairs for k, pairs in msgs.items()}]]}
        raise ValueError(f"kafka client cannot perform {f!r}")

    # --------------------------------------------------------------------- final phase
    async def final_phase(self, worker: Worker) -> None:
        gen = self.generator(worker)
        loop = worker.ctx.loop
        gen.start_final(loop.time())
        deadline = gen.final_deadline
        assert deadline is not None
        waiting = dict(gen.final_targets)
        if not waiting:
            return
        while loop.time() < deadline:
            await worker.run({"f": "crash", "value": None})
            if loop.time() >= deadline:
                return
            await worker.run(
                {"f": "assign", "value": list(gen.final_keys), "seek-to-beginning?": True}
            )
            slot = loop.time()
            while waiting:
                await sleep_until(loop, slot)
                if loop.time() >= deadline:
                    return
                done = await worker.run({"f": "poll", "value": [[POLL]], "poll-ms": FINAL_POLL_MS})
                if done["type"] != "ok":
                    break  # the client was replaced and lost its offsets: start over
                for k, top in poll_maxima(done["value"][0][1]).items():
                    if k in waiting and top >= waiting[k]:
                        del waiting[k]
                slot = max(loop.time(), slot) + worker.rng.uniform(0, 2 * FINAL_POLL_INTERVAL)
            if not waiting:
                return
            # Pause before starting over, so failing polls cannot spin without time passing.
            await asyncio.sleep(worker.rng.uniform(0, 2 * FINAL_POLL_INTERVAL))

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        return kafka_checker.check(history, opts)


WORKLOAD = Kafka()
