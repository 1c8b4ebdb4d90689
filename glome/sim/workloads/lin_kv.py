"""lin-kv (docs/protocol.md#lin-kv): Jepsen's linearizable register over independent keys.

RPCs: ``read {key}`` -> ``read_ok {value}``; ``write {key, value}`` -> ``write_ok``;
``cas {key, from, to}`` -> ``cas_ok``. Errors 20 (key does not exist) and 22 (precondition
failed) are expected and definite, so those ops are ``:fail``.

Generator (Jepsen's ``independent/concurrent-generator`` with groups of 2N threads):

- worker *t* is in group ``t // 2N``; the first N workers of a group only read, the other N
  mix write:cas = 1:2 (writes of a value uniform in 0..4, cas ``[from to]`` each uniform 0..4);
- each group works on one key at a time; groups start on keys 0, 1, 2, ... and a group moves
  to the next unused key once 20 distinct processes have touched its key (Jepsen's
  ``process-limit 20``; a worker gets a new process after each ``:info`` op), so a healthy run
  uses key g for group g all along;
- history values are ``[k v]`` tuples: read ``[0 nil]`` -> ok ``[0 3]``, write ``[0 3]``,
  cas ``[0 [1 4]]``.

The client is reusable (a worker keeps its ``c*`` id after an ``:info`` op); ``:read`` is the
idempotent ``:f`` (a timed-out read is ``:fail``); the RPC timeout is max(10 x latency, 1 s).
The concurrency must be a positive multiple of 2N (Maelstrom's assertion; use ``2n``, ``4n``).
Checked per key for linearizability against a CAS register (``checkers.linearizable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glome.edn import EdnList, Tagged, dumps, op_map
from glome.sim.checkers import linearizable
from glome.sim.options import TestOptions
from glome.sim.render.store import pretty_results
from glome.sim.workloads import Workload
from glome.sim.workloads.client import require
from glome.sim.workloads.generator import Worker

PROCESS_LIMIT = 20
"""Distinct processes per key before its group moves on to a fresh key."""
VALUES = 5
"""Written values and cas arguments are drawn uniformly from 0..VALUES-1."""


@dataclass
class KeyGroup:
    """One group of 2N workers: its current key and the processes that have used it."""

    key: int
    processes: set[int] = field(default_factory=set)


@dataclass
class KeyGroups:
    """The generator state shared by all workers."""

    group_size: int
    readers: int
    groups: list[KeyGroup]
    next_key: int

    @classmethod
    def for_options(cls, opts: TestOptions) -> KeyGroups:
        size = 2 * opts.node_count
        count = max(1, opts.worker_count // size)
        return cls(size, opts.node_count, [KeyGroup(k) for k in range(count)], count)

    def key_for(self, index: int, process: int) -> int:
        """The key worker ``index`` (now process ``process``) works on for its next op."""
        group = self.groups[index // self.group_size]
        if process not in group.processes:
            if len(group.processes) >= PROCESS_LIMIT:
                group.key, group.processes = self.next_key, set()
                self.next_key += 1
            group.processes.add(process)
        return group.key

    def is_reader(self, index: int) -> bool:
        return index % self.group_size < self.readers


class LinKV(Workload):
    name = "lin-kv"
    idempotent = frozenset({"read"})
    with_errors = True
    reusable_client = True
    has_final_phase = False

    def rpc_timeout(self, opts: TestOptions) -> float:
        return max(10 * opts.latency, 1000) / 1000

    def validate(self, opts: TestOptions) -> None:
        group = 2 * opts.node_count
        workers = opts.worker_count
        if workers <= 0 or workers % group:
            raise ValueError(
                f"lin-kv needs a concurrency that is a positive multiple of 2 x node count "
                f"= {group} (e.g. --concurrency 2n), not {workers}"
            )

    def new_state(self, opts: TestOptions, rng: Any) -> dict[str, Any]:
        return {"keys": KeyGroups.for_options(opts)}

    def next_op(self, worker: Worker) -> dict[str, Any] | None:
        keys: KeyGroups = worker.state["keys"]
        k = keys.key_for(worker.index, worker.process)
        if keys.is_reader(worker.index):
            return {"f": "read", "value": [k, None]}
        rng = worker.rng
        if rng.randrange(3) == 0:
            return {"f": "write", "value": [k, rng.randrange(VALUES)]}
        return {"f": "cas", "value": [k, [rng.randrange(VALUES), rng.randrange(VALUES)]]}

    async def invoke(self, worker: Worker, op: dict[str, Any]) -> dict[str, Any]:
        k, v = op["value"]
        f = op["f"]
        if f == "read":
            reply = require(await worker.call({"type": "read", "key": k}), "read_ok", value=object)
            return {"type": "ok", "value": [k, reply["value"]]}
        if f == "write":
            require(await worker.call({"type": "write", "key": k, "value": v}), "write_ok")
            return {"type": "ok"}
        if f == "cas":
            body = {"type": "cas", "key": k, "from": v[0], "to": v[1]}
            require(await worker.call(body), "cas_ok")
            return {"type": "ok"}
        raise ValueError(f"lin-kv has no op {f!r}")

    def check(self, history: Any, opts: TestOptions | None = None, **extra: Any) -> dict[str, Any]:
        """Per-key linearizability; ``store_dir`` in ``extra`` gets ``independent/<k>/``."""
        result = linearizable.check(history, opts, **extra)
        if extra.get("store_dir") is not None:
            write_independent(Path(extra["store_dir"]), history, result)
        return result


def write_independent(store_dir: Path, history: Any, result: Mapping[str, Any]) -> None:
    """Maelstrom's per-key files: ``independent/<k>/results.edn`` (the key's result) and
    ``history.edn`` (the key's ops, key stripped), from lin-kv's ``:workload`` result.
    No ``timeline.html`` or ``linear.svg``. As in Maelstrom's per-key files, Knossos models
    are printed as plain maps (``{:value 4}``, not ``#knossos.model.CASRegister{:value 4}``).
    """
    for key, ops in linearizable.split_by_key(history).items():
        directory = store_dir / "independent" / linearizable.clj_str(key)
        directory.mkdir(parents=True, exist_ok=True)
        key_result = without_model_tags(result["results"][key])
        (directory / "results.edn").write_text(pretty_results(key_result), encoding="utf-8")
        lines = [dumps(op_map(op)) + "\n" for op in ops]
        (directory / "history.edn").write_text("".join(lines), encoding="utf-8")


WORKLOAD = LinKV()


def without_model_tags(value: Any) -> Any:
    """``value`` with every ``#knossos.model.*`` tagged literal replaced by its map."""
    if isinstance(value, Tagged) and value.tag.startswith("knossos.model."):
        return without_model_tags(value.value)
    if isinstance(value, dict):
        return {k: without_model_tags(v) for k, v in value.items()}
    if isinstance(value, EdnList):
        return EdnList(without_model_tags(v) for v in value)
    if isinstance(value, list):
        return [without_model_tags(v) for v in value]
    return value
