"""Processing time: every simulated node and service is a single server with a FIFO queue.

In-process, a node handles a message in zero virtual time, so without this model every client
operation has latency 0 and a design that floods the network looks as fast as a lean one.
Here each message delivered to a served endpoint costs a *service time*: the endpoint handles
the message when its service ends, and messages that arrive meanwhile wait their turn, first
in first out. A node that receives more than it can handle builds a queue, and the latency of
every operation it serves grows with it.

Service time of one message, in milliseconds::

    draw(processing_dist, processing_time) + processing_per_byte / 1000 * len(body as JSON)

with ``draw`` ``constant`` (exactly the mean), ``uniform`` (in [0, 2 x mean)) or
``exponential`` (mean ``processing_time``), from the run's own random stream, so runs stay
byte-identical by seed. ``processing_time`` 0 with ``processing_per_byte`` 0 is the old model:
no server at all, every message handled on arrival.

The defaults are calibrated against real Maelstrom runs (``docs/benchmarks.md``, "Processing
time"): Maelstrom's client-to-node hops have no network latency, yet echo, unique-ids and
single-node broadcast operations there take 3-6 ms at the median and 7-8 ms at p99, the cost of
Maelstrom's own message handling and the node's. A uniform 4 ms mean reproduces those within
2x. The per-byte cost makes a node that ships its whole state every tick pay for it.

Only endpoints the ``Network`` is told to serve get a server (the runner serves nodes and
services on the virtual clock; clients never queue, and real processes pay their own real
costs). The network journals a message when it reaches the endpoint's queue, as Maelstrom's
journal records a write to a node's stdin; the node handles it when its service ends. Killing
an endpoint (``Network.unregister``) drops its queue, as a killed process loses its pipe.
A paused in-process node still "serves" its queue: the messages are held by the host and
handed over on resume, in order. Setup (``init``, before the history's clock starts, when the
network's origin is set) costs nothing: it is not part of any measured operation, and the
journal's times stay in send order.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger("glome.sim.net.processing")

PROCESSING_DISTS = ("constant", "uniform", "exponential")

DEFAULT_PROCESSING_TIME = 4.0
"""Mean service time per message, ms (see the module docstring for the calibration)."""
DEFAULT_PROCESSING_DIST = "uniform"
DEFAULT_PROCESSING_PER_BYTE = 0.2
"""Microseconds per byte of the message body as JSON (5 KB of gossip: 1 ms)."""


@dataclass(frozen=True)
class ProcessingSpec:
    """The three options, validated. ``enabled`` is False for the zero-cost model."""

    time_ms: float = DEFAULT_PROCESSING_TIME
    dist: str = DEFAULT_PROCESSING_DIST
    per_byte_us: float = DEFAULT_PROCESSING_PER_BYTE

    def __post_init__(self) -> None:
        if self.dist not in PROCESSING_DISTS:
            raise ValueError(
                f"unknown processing distribution {self.dist!r} (one of {PROCESSING_DISTS})"
            )
        if self.time_ms < 0:
            raise ValueError("--processing-time must be >= 0 (0: messages cost nothing)")
        if self.per_byte_us < 0:
            raise ValueError("--processing-per-byte must be >= 0")

    @property
    def enabled(self) -> bool:
        return self.time_ms > 0 or self.per_byte_us > 0


class Processing:
    """The servers of one run: one per served endpoint, one random stream for all.

    ``serve(endpoint_id, callback)`` returns the callback the network should call instead:
    same arguments, but the call happens when the message's service ends. Draws happen in
    arrival order, which the simulation makes deterministic.
    """

    def __init__(
        self,
        spec: ProcessingSpec,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
        *,
        served: Callable[[str], bool],
    ) -> None:
        self.spec = spec
        self.loop = loop
        self.rng = rng
        self.served = served
        """Which endpoint ids get a server (the others are called on arrival, as before)."""
        self._servers: dict[str, Server] = {}
        self.cost: Callable[[tuple[Any, ...]], float] = _cost_function(spec, rng)
        """Service time in seconds of the message a network callback was given."""
        self.active = False
        """Off during setup (``init``): the model starts with the history's clock (``start``),
        so setup stays instantaneous and the journal's times keep their order."""

    def serve(
        self,
        endpoint_id: str,
        callback: Callable[..., Any],
        context: contextvars.Context | None = None,
    ) -> Callable[..., Any]:
        """``callback`` behind a single server, or ``callback`` itself if not served."""
        if not self.served(endpoint_id):
            return callback
        self.forget(endpoint_id)
        server = Server(self, endpoint_id, callback, context)
        self._servers[endpoint_id] = server
        return server

    def forget(self, endpoint_id: str) -> None:
        """The endpoint is gone: its queued messages are lost."""
        server = self._servers.pop(endpoint_id, None)
        if server is not None:
            server.close()

    def close(self) -> None:
        for endpoint_id in list(self._servers):
            self.forget(endpoint_id)

    def start(self) -> None:
        """From now on messages cost service time (the network calls this at its origin)."""
        self.active = True


def _cost_function(spec: ProcessingSpec, rng: random.Random) -> Callable[[tuple[Any, ...]], float]:
    """The draw for ``spec``: a service time in seconds from a network callback's arguments.

    Every distribution is ``offset + scale * variate()``, with ``variate`` a standard draw from
    the run's stream (uniform in [0, 1), or exponential), so the cost of a message is one
    Python call whatever the configuration: it runs for every message."""
    mean_s = spec.time_ms / 1000.0
    per_byte_s = spec.per_byte_us / 1e6
    variate: Callable[[], float] = float  # 0.0: no random part
    offset = scale = 0.0
    if spec.time_ms == 0:
        pass
    elif spec.dist == "constant":
        offset = mean_s
    elif spec.dist == "uniform":
        scale, variate = 2.0 * mean_s, rng.random  # in [0, 2 x mean)
    else:
        scale, variate = 1.0, functools.partial(rng.expovariate, 1.0 / mean_s)

    def cost(args: tuple[Any, ...]) -> float:
        seconds = offset + scale * variate()
        if per_byte_s:
            seconds += per_byte_s * _body_size(args)
        return seconds

    return cost


def _body_size(args: tuple[Any, ...]) -> int:
    """Bytes of the body as JSON, from ``receive(id, src, dest, body, body_json)`` or
    ``deliver(envelope)`` arguments."""
    if len(args) == 5:
        body, body_json = args[3], args[4]
        if body_json is not None:
            return len(body_json)
    else:
        body = args[0].get("body")
    try:
        return len(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # an integer beyond 64 bits: its decimal digits are close enough
        return len(repr(body))


class Server:
    """One endpoint: a FIFO of (arguments, service time); the head is in service."""

    __slots__ = (
        "call_at",
        "callback",
        "closed",
        "context",
        "cost",
        "done",
        "endpoint_id",
        "model",
        "queue",
        "time",
        "timer",
    )

    def __init__(
        self,
        model: Processing,
        endpoint_id: str,
        callback: Callable[..., Any],
        context: contextvars.Context | None,
    ) -> None:
        self.model = model
        self.endpoint_id = endpoint_id
        self.callback = callback
        self.context = context
        self.queue: deque[tuple[tuple[Any, ...], float]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        # Looked up once: these run for every message.
        self.cost = model.cost
        self.call_at = model.loop.call_at
        self.time = model.loop.time
        self.done = self._done

    def __call__(self, *args: Any) -> Any:
        """A message arrives: queue it; start its service if the server is idle."""
        if self.closed:
            return None
        if not self.model.active:
            return self.callback(*args)
        cost = self.cost(args)
        queue = self.queue
        queue.append((args, cost))
        if len(queue) == 1:
            self.timer = self.call_at(self.time() + cost, self.done, context=self.context)
        return None

    def _done(self) -> None:
        """The head's service ended: hand it to the endpoint, start the next one."""
        self.timer = None
        queue = self.queue
        if self.closed or not queue:
            return
        args, _ = queue.popleft()
        try:
            self.callback(*args)
        except Exception:  # an endpoint's bug must not stop its server (as in the network)
            log.exception("endpoint %s failed to handle a message", self.endpoint_id)
        if queue and not self.closed:
            self.timer = self.call_at(self.time() + queue[0][1], self.done, context=self.context)

    def close(self) -> None:
        self.closed = True
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
