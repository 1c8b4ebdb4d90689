"""The simulated network (docs/protocol.md#the-network): routing, latency, partitions and the
journal.

Every endpoint (node, client, service) registers a ``deliver(envelope)`` callback. ``send``
numbers the message (one global id sequence, all traffic), picks its latency and queues it by
delivery deadline. Rules, as Maelstrom's ``maelstrom.net``:

- latency is 0 when either end is a client (id starting with ``c``); otherwise a draw from the
  latency distribution in whole milliseconds: ``constant`` (exactly ``latency``), ``uniform``
  (integer in [0, 2 x latency)), ``exponential`` (mean ``latency``, truncated);
- no random loss, no duplication; messages to one receiver are delivered in deadline order
  (ties in send order), so random latency reorders them;
- partitions are a map receiver -> senders it ignores, checked when the message is *delivered*,
  not when it is sent. Only node ids appear in it, so clients and services are never cut off;
- a message to an endpoint that is not registered (a closed client, a killed node) is journaled
  as undelivered and logged. It never raises into the sender.

Journal: one JSON line per message, written when its fate is settled (``docs/design.md``)::

    {"id": 17, "src": "c4", "dest": "n0", "body": {...}, "send_time": 1200000,
     "recv_time": 1200000, "dropped": false}

Times are integer nanoseconds on the history's clock (``set_origin``); messages sent before the
origin (``init``) have negative times. ``close`` settles everything still in flight as
undelivered (``recv_time`` null); sends after ``close`` are ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
import random
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import orjson

from glome.protocol import dumps_exact, is_client
from glome.sim.options import LATENCY_DISTS

if TYPE_CHECKING:
    from glome.sim.net.processing import Processing

Deliver = Callable[[dict[str, Any]], Any]
"""Hands a message to an endpoint; returning ``False`` means it could not be accepted."""
Receive = Callable[[int, str, str, Any, "bytes | None"], Any]
"""``Deliver`` with the envelope's fields as arguments, plus the body's JSON bytes."""

log = logging.getLogger("glome.sim.net.network")

_JOURNAL_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
_BODY_OPTS = orjson.OPT_NON_STR_KEYS
_dumps = orjson.dumps
_DELIVERED_LINE = (
    b'{"id":%d,"src":%b,"dest":%b,"body":%b,"send_time":%d,"recv_time":%d,"dropped":false}\n'
)
_UNDELIVERED_LINE = (
    b'{"id":%d,"src":%b,"dest":%b,"body":%b,"send_time":%d,"recv_time":null,"dropped":%b}\n'
)
"""A journal line around the body's JSON: byte for byte what ``orjson.dumps`` (with
``OPT_APPEND_NEWLINE``) writes for the record ``{"id": .., "src": .., ..., "dropped": ..}``,
for a delivered message and for one that was not."""
_loads = orjson.loads


def serialise_body(body: Any) -> bytes:
    """A message body as the journal holds it (and as ``orjson.dumps`` writes it)."""
    try:
        return _dumps(body, option=_BODY_OPTS)
    except TypeError:  # an integer beyond 64 bits or a lone surrogate: keep it exact
        return dumps_exact(body)


class Network:
    """Routes messages between registered endpoints on one asyncio loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        latency_ms: float = 0,
        latency_dist: str = "constant",
        rng: random.Random | None = None,
        journal: IO[bytes] | None = None,
        on_undeliverable: Callable[[str], None] | None = None,
        processing: Processing | None = None,
    ) -> None:
        if latency_dist not in LATENCY_DISTS:
            raise ValueError(
                f"unknown latency distribution {latency_dist!r} (one of {LATENCY_DISTS})"
            )
        if latency_dist == "exponential" and latency_ms <= 0:
            raise ValueError(
                "--latency-dist exponential needs --latency > 0 (Maelstrom divides by zero)"
            )
        if latency_ms < 0:
            raise ValueError("latency must be >= 0")
        self.loop = loop
        self.latency_ms = latency_ms
        self.latency_dist = latency_dist
        self.rng = rng or random.Random(0)
        self._journal = journal
        """Where journal lines go, as they are settled (the runner's is a ``BytesIO``)."""
        self._quoted: dict[str, bytes] = {}
        self._on_undeliverable = on_undeliverable
        self.processing = processing
        """Delays messages on their way out and puts served endpoints behind a single server
        (``glome.sim.net.processing``)."""
        self._endpoints: dict[str, tuple[Deliver, Receive | None]] = {}
        """Endpoint -> (deliver, receive); the network calls ``receive`` when there is one."""
        self._queue: list[tuple[float, int, str, str, Any, int, bytes | None]] = []
        """(deadline, id, src, dest, body, send_ns, body_json): a heap, in delivery order."""
        self._grudge: dict[str, frozenset[str]] = {}
        self._next_id = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._soon = False
        # Deliveries run in the network's own context, not in that of whichever node happened
        # to schedule them (in-process node logs are routed by context).
        self._context = contextvars.copy_context()
        self.origin = loop.time()
        self.closed = False
        self.sent = 0
        self.delivered = 0
        self.dropped = 0
        self.undelivered = 0

    # ------------------------------------------------------------------------- endpoints
    def register(self, endpoint_id: str, deliver: Deliver) -> None:
        """Make ``endpoint_id`` reachable; ``deliver(envelope)`` receives its messages."""
        if endpoint_id in self._endpoints:
            raise ValueError(f"endpoint {endpoint_id!r} is already registered")
        if self.processing is not None:
            deliver = self.processing.serve(endpoint_id, deliver, self._context)
        self._endpoints[endpoint_id] = (deliver, None)

    def register_receiver(self, endpoint_id: str, receive: Receive) -> None:
        """``register`` for a ``receive(id, src, dest, body, body_json)`` callback: no
        envelope dict, and the body's JSON as journaled (or None without a journal)."""
        if endpoint_id in self._endpoints:
            raise ValueError(f"endpoint {endpoint_id!r} is already registered")
        if self.processing is not None:
            receive = self.processing.serve(endpoint_id, receive, self._context)

        def deliver(envelope: dict[str, Any]) -> Any:
            body = envelope["body"]
            return receive(envelope["id"], envelope["src"], envelope["dest"], body, None)

        self._endpoints[endpoint_id] = (deliver, receive)

    def unregister(self, endpoint_id: str) -> None:
        """Remove an endpoint; messages still addressed to it will be journaled undelivered."""
        self._endpoints.pop(endpoint_id, None)
        if self.processing is not None:
            self.processing.forget(endpoint_id)

    def is_registered(self, endpoint_id: str) -> bool:
        return endpoint_id in self._endpoints

    # -------------------------------------------------------------------------------- time
    def set_origin(self, origin: float) -> None:
        """Loop time that is 0 on the history's clock; processing time starts counting."""
        self.origin = origin
        if self.processing is not None:
            self.processing.start()

    def now_ns(self) -> int:
        return round((self.loop.time() - self.origin) * 1e9)

    # ----------------------------------------------------------------------------- sending
    def latency_for(self, src: str, dest: str) -> float:
        """Seconds this message will spend in flight (draws from the network's rng)."""
        if is_client(src) or is_client(dest) or self.latency_ms == 0:
            return 0.0
        return self._draw_latency()

    def _draw_latency(self) -> float:
        """A server-to-server latency in seconds (whole milliseconds, as Maelstrom's)."""
        if self.latency_dist == "constant":
            ms: float = self.latency_ms
        elif self.latency_dist == "uniform":
            ms = self.rng.randrange(0, max(1, int(2 * self.latency_ms)))
        else:
            ms = int(self.rng.expovariate(1.0 / self.latency_ms))
        return ms / 1000.0

    def send(self, src: str, dest: str, body: Any, body_json: bytes | None = None) -> int | None:
        """Queue a message; returns its id (None once the network is closed).

        ``body_json`` (with ``body`` None): the body as ``orjson.dumps`` wrote it without
        options, e.g. cut from an in-process node's line. It is journaled as it is and parsed
        into a fresh dict for the receiver at delivery: one parse instead of a parse now and a
        serialisation then, with the same bytes (``dumps(loads(b)) == b`` for such ``b``).
        """
        if self.closed:
            return None
        msg_id = self._next_id
        self._next_id = msg_id + 1
        self.sent += 1
        now = self.loop.time()
        if self.processing is None:
            leaves = now
        else:
            leaves = self.processing.departure(src, now, body, body_json)
        deadline = leaves + self.latency_for(src, dest)
        send_ns = round((now - self.origin) * 1e9)
        heapq.heappush(self._queue, (deadline, msg_id, src, dest, body, send_ns, body_json))
        self._schedule(deadline, now)
        return msg_id

    def _schedule(self, deadline: float, now: float) -> None:
        """Make sure a callback runs by ``deadline``.

        Messages due now (client traffic) share one ``call_soon``; later ones share one loop
        timer for the earliest deadline, which is far cheaper than a timer per message.
        """
        if deadline <= now:
            if not self._soon:
                self._soon = True
                self.loop.call_soon(self._on_soon, context=self._context)
        elif self._timer_at is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer, context=self._context)

    def _on_soon(self) -> None:
        self._soon = False
        self._deliver_due(self.loop.time())

    def _on_timer(self) -> None:
        due = self._timer_at
        self._timer = self._timer_at = None
        self._deliver_due(max(self.loop.time(), due or 0.0))

    def _deliver_due(self, due: float) -> None:
        queue, grudge, endpoints = self._queue, self._grudge, self._endpoints
        journaled = self._journal is not None
        record = self._record
        now_ns = round((self.loop.time() - self.origin) * 1e9)
        while queue and queue[0][0] <= due and not self.closed:
            _, msg_id, src, dest, body, send_ns, body_json = heapq.heappop(queue)
            if grudge and src in grudge.get(dest, ()):
                self.dropped += 1
                record(
                    msg_id, src, dest, body, body_json, send_ns=send_ns, recv_ns=None, dropped=True
                )
                continue
            endpoint = endpoints.get(dest)
            if endpoint is None:
                self.undelivered += 1
                record(
                    msg_id, src, dest, body, body_json, send_ns=send_ns, recv_ns=None, dropped=False
                )
                note = f"message {msg_id} from {src} to unregistered endpoint {dest} not delivered"
                log.info(note)
                if self._on_undeliverable is not None:
                    self._on_undeliverable(note)
                continue
            deliver, receive = endpoint
            if body_json is not None:
                # Serialised by the sender (orjson: no integers beyond 64 bits, so orjson's
                # parse is exact): the receiver gets its own copy.
                body = _loads(body_json)
            elif journaled:
                # Serialised before the receiver gets it: it may keep or change the body.
                body_json = serialise_body(body)
            try:
                if receive is not None:
                    accepted = receive(msg_id, src, dest, body, body_json)
                else:
                    accepted = deliver({"id": msg_id, "src": src, "dest": dest, "body": body})
            except Exception:  # a receiver's bug must not stop the network
                log.exception("endpoint %s failed to accept message %d", dest, msg_id)
                accepted = False
            if accepted is False:  # e.g. a process whose stdin buffer is full
                self.undelivered += 1
                record(
                    msg_id, src, dest, body, body_json, send_ns=send_ns, recv_ns=None, dropped=False
                )
            else:
                self.delivered += 1
                record(
                    msg_id,
                    src,
                    dest,
                    body,
                    body_json,
                    send_ns=send_ns,
                    recv_ns=now_ns,
                    dropped=False,
                )
            grudge = self._grudge  # a delivery may have changed it (a nemesis hook)
        if queue and not self.closed:
            self._schedule(queue[0][0], self.loop.time())

    def _quote(self, endpoint: str) -> bytes:
        """``endpoint`` as a JSON string (cached: endpoint ids repeat constantly)."""
        text = dumps_exact(endpoint)
        if len(self._quoted) < 65_536:
            self._quoted[endpoint] = text
        return text

    # -------------------------------------------------------------------------- partitions
    def partition(self, grudge: dict[str, set[str]]) -> None:
        """Replace the partition state: receiver -> senders whose messages it drops."""
        self._grudge = {dest: frozenset(srcs) for dest, srcs in grudge.items() if srcs}

    def heal(self) -> None:
        self._grudge = {}

    @property
    def grudge(self) -> dict[str, frozenset[str]]:
        return dict(self._grudge)

    # ----------------------------------------------------------------------------- journal
    def _record(
        self,
        msg_id: int,
        src: str,
        dest: str,
        body: Any,
        body_json: bytes | None,
        *,
        send_ns: int,
        recv_ns: int | None,
        dropped: bool,
    ) -> None:
        """Journal one message whose fate is settled: one line (module docstring). Nothing
        without a journal; the body is serialised here unless the sender already did."""
        if self._journal is None:
            return
        if body_json is None:
            body_json = serialise_body(body)
        quoted = self._quoted
        q_src = quoted.get(src) or self._quote(src)
        q_dest = quoted.get(dest) or self._quote(dest)
        if recv_ns is not None:
            line = _DELIVERED_LINE % (msg_id, q_src, q_dest, body_json, send_ns, recv_ns)
        else:
            dropped_text = b"true" if dropped else b"false"
            line = _UNDELIVERED_LINE % (msg_id, q_src, q_dest, body_json, send_ns, dropped_text)
        self._journal.write(line)

    def close(self) -> None:
        """Stop routing: journal every queued message as undelivered."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self.processing is not None:
            self.processing.close()
        while self._queue:
            _, msg_id, src, dest, body, send_ns, body_json = heapq.heappop(self._queue)
            self.undelivered += 1
            self._record(
                msg_id, src, dest, body, body_json, send_ns=send_ns, recv_ns=None, dropped=False
            )
