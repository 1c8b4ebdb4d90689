"""Maelstrom's built-in services (docs/protocol.md#services): lin-kv, seq-kv, lww-kv and lin-tso.

Each service is a network endpoint that answers at once (the network adds the latency both
ways). Replies carry ``in_reply_to`` and no ``msg_id``. An unknown request type gets **no
reply** (it is logged), so the caller times out, as in Maelstrom.

Keys and values are arbitrary JSON compared as Clojure's ``=`` compares parsed JSON: ``1``,
``1.0``, ``true`` and ``"1"`` are four different things (Python's ``==`` would merge some).

- ``lin-kv``: one map, every operation atomic (linearizable).
- ``seq-kv``: the last 32 states in a ring buffer and, per caller (``src``), the index of the
  newest state it has observed. Each request picks a state uniformly between the caller's index
  and the newest. An op that would not change that state (read, failed cas, write of the same
  value) is answered from it and the caller's index moves there; an op that changes state is
  applied to the newest state, appended, and the caller's index jumps to the newest.
- ``lww-kv``: two replicas, each request served by a random one, each write stamped with a
  counter. Maelstrom computes a merge of two random replicas on every request but discards it
  (a bug), so by default the replicas **never converge**, which glome reproduces. With
  ``converge=True`` (``TestOptions.lww_converge``) the merge is kept: on every request two
  random replicas exchange state, last writer (highest stamp) winning per key. lww-kv ignores
  ``create_if_not_exists`` (returns 20, as Maelstrom).
- ``lin-tso``: ``ts`` returns 0, 1, 2, ...
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import orjson

from glome.errors import ErrorCode
from glome.sim.net.network import Network

log = logging.getLogger("glome.sim.net.services")

SERVICE_IDS = ("lin-kv", "lin-tso", "lww-kv", "seq-kv")
SEQ_KV_HISTORY = 32
LWW_REPLICAS = 2


def freeze(value: Any) -> Any:
    """A hashable key with Clojure ``=`` semantics for parsed JSON (type-tagged)."""
    if value is None:
        return ("nil",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list | tuple):
        return ("list", tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        return ("map", frozenset((freeze(k), freeze(v)) for k, v in value.items()))
    return ("other", repr(value))


def json_equal(a: Any, b: Any) -> bool:
    return freeze(a) == freeze(b)


def _show(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, int | float) else str(value)


class _Reject(Exception):
    """An error reply: code and text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


KVState = dict[Any, tuple[Any, Any]]
"""frozen key -> (original key, value)."""


def _kv_apply(
    state: KVState, body: dict[str, Any], *, allow_create: bool = True
) -> tuple[dict[str, Any], KVState | None]:
    """Evaluate one KV request on ``state``: (reply payload, new state or None if unchanged)."""
    kind = body.get("type")
    if "key" not in body:
        raise _Reject(ErrorCode.MALFORMED_REQUEST, "request needs a key")
    key = body["key"]
    fk = freeze(key)
    if kind == "read":
        if fk not in state:
            raise _Reject(ErrorCode.KEY_DOES_NOT_EXIST, "key does not exist")
        return {"type": "read_ok", "value": state[fk][1]}, None
    if kind == "write":
        value = body.get("value")
        if fk in state and json_equal(state[fk][1], value):
            return {"type": "write_ok"}, None
        new = dict(state)
        new[fk] = (key, value)
        return {"type": "write_ok"}, new
    if kind == "cas":
        frm, to = body.get("from"), body.get("to")
        if fk not in state:
            if allow_create and body.get("create_if_not_exists") is True:
                new = dict(state)
                new[fk] = (key, to)
                return {"type": "cas_ok"}, new
            raise _Reject(ErrorCode.KEY_DOES_NOT_EXIST, "key does not exist")
        current = state[fk][1]
        if not json_equal(current, frm):
            raise _Reject(
                ErrorCode.PRECONDITION_FAILED, f"current value {_show(current)} is not {_show(frm)}"
            )
        if json_equal(current, to):
            return {"type": "cas_ok"}, None
        new = dict(state)
        new[fk] = (key, to)
        return {"type": "cas_ok"}, new
    raise _Unknown(kind)


class _Unknown(Exception):
    """A request type the service does not know: no reply at all."""


class Service:
    """Base: registers on the network, dispatches requests, sends replies."""

    service_id = ""

    def __init__(
        self, network: Network, rng: random.Random, on_log: Callable[[str], None] | None = None
    ) -> None:
        self.network = network
        self.rng = rng
        self.on_log = on_log
        network.register(self.service_id, self._deliver)

    def _deliver(self, envelope: dict[str, Any]) -> None:
        src, body = envelope["src"], envelope["body"]
        if not isinstance(body, dict):
            self._note(f"{self.service_id}: ignoring a non-object body from {src}")
            return
        try:
            payload = self.handle(src, body)
        except _Reject as e:
            payload = {"type": "error", "code": int(e.code), "text": e.text}
        except _Unknown as e:
            self._note(
                f"{self.service_id}: unknown request type {e.args[0]!r} from {src}; no reply"
            )
            return
        msg_id = body.get("msg_id")
        if msg_id is None:
            return
        self.network.send(self.service_id, src, {**payload, "in_reply_to": msg_id})

    def _note(self, text: str) -> None:
        log.warning(text)
        if self.on_log is not None:
            self.on_log(text)

    def handle(self, src: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.network.unregister(self.service_id)


class LinKV(Service):
    service_id = "lin-kv"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: KVState = {}

    def handle(self, src: str, body: dict[str, Any]) -> dict[str, Any]:
        payload, new = _kv_apply(self.state, body)
        if new is not None:
            self.state = new
        return payload


class SeqKV(Service):
    """Bounded-staleness sequential KV (see the module docstring)."""

    service_id = "seq-kv"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.states: list[KVState] = [{}]
        """The last ``SEQ_KV_HISTORY`` states, oldest first."""
        self.first_index = 0
        """Absolute index of ``states[0]``."""
        self.caller_index: dict[str, int] = {}

    @property
    def newest_index(self) -> int:
        return self.first_index + len(self.states) - 1

    def handle(self, src: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("type") not in ("read", "write", "cas"):
            raise _Unknown(body.get("type"))
        low = max(self.caller_index.get(src, 0), self.first_index)
        picked = self.rng.randint(low, self.newest_index)
        try:
            payload, new = _kv_apply(self.states[picked - self.first_index], body)
        except _Reject:
            self.caller_index[src] = picked
            raise
        if new is None:
            self.caller_index[src] = picked
            return payload
        # A state change is applied to the newest state, never to a stale one.
        try:
            payload, new = _kv_apply(self.states[-1], body)
        except _Reject:
            self.caller_index[src] = self.newest_index
            raise
        if new is not None:
            self.states.append(new)
            if len(self.states) > SEQ_KV_HISTORY:
                self.states.pop(0)
                self.first_index += 1
        self.caller_index[src] = self.newest_index
        return payload


class LWWKV(Service):
    """Two last-writer-wins replicas; they never converge unless ``converge`` is set."""

    service_id = "lww-kv"

    def __init__(self, *args: Any, converge: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.converge = converge
        self.replicas: list[dict[Any, tuple[Any, Any, int]]] = [{} for _ in range(LWW_REPLICAS)]
        """frozen key -> (key, value, stamp)."""
        self.clock = 0

    def _merge(self) -> None:
        i, j = self.rng.randrange(LWW_REPLICAS), self.rng.randrange(LWW_REPLICAS)
        if not self.converge or i == j:
            return  # Maelstrom computes this merge and then throws it away
        a, b = self.replicas[i], self.replicas[j]
        merged = dict(a)
        for fk, entry in b.items():
            if fk not in merged or merged[fk][2] < entry[2]:
                merged[fk] = entry
        self.replicas[i] = merged
        self.replicas[j] = dict(merged)

    def handle(self, src: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("type") not in ("read", "write", "cas"):
            raise _Unknown(body.get("type"))
        self._merge()
        r = self.rng.randrange(LWW_REPLICAS)
        replica = self.replicas[r]
        view: KVState = {fk: (k, v) for fk, (k, v, _) in replica.items()}
        if body.get("type") == "cas" and "key" in body and freeze(body["key"]) in view:
            current = view[freeze(body["key"])][1]
            if not json_equal(current, body.get("from")):
                # Maelstrom's lww-kv text does not quote `from`.
                raise _Reject(
                    ErrorCode.PRECONDITION_FAILED,
                    f"current value {_show(current)} is not {body.get('from')}",
                )
        payload, new = _kv_apply(view, body, allow_create=False)
        if new is not None:
            self.clock += 1
            fk = freeze(body["key"])
            key, value = new[fk]
            updated = dict(replica)
            updated[fk] = (key, value, self.clock)
            self.replicas[r] = updated
        return payload


class LinTSO(Service):
    service_id = "lin-tso"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_ts = 0

    def handle(self, src: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("type") != "ts":
            raise _Unknown(body.get("type"))
        ts = self.next_ts
        self.next_ts += 1
        return {"type": "ts_ok", "ts": ts}


def start_services(
    network: Network,
    rng: random.Random,
    *,
    lww_converge: bool = False,
    on_log: Callable[[str], None] | None = None,
) -> list[Service]:
    """Start all four services (Maelstrom always runs them), each with its own rng stream."""
    seeds = [rng.getrandbits(64) for _ in range(4)]
    return [
        LinKV(network, random.Random(seeds[0]), on_log),
        LinTSO(network, random.Random(seeds[1]), on_log),
        LWWKV(network, random.Random(seeds[2]), on_log, converge=lww_converge),
        SeqKV(network, random.Random(seeds[3]), on_log),
    ]
