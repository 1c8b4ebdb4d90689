"""What handling a message costs on the virtual clock: Maelstrom's own delay, and the node's.

In-process, a node handles a message in zero virtual time, so without this model every client
operation has latency 0 and a design that floods the network looks as fast as a lean one.
Two costs, of two different kinds, make in-process runs look like real ones:

**I/O delay, which does not queue.** Every message spends a little time in Maelstrom's own
machinery before the network latency starts: a process's pipes, Maelstrom's reader and
router, the client. Each message leaves its sender ``io_delay`` after it was sent (a draw per
message); many senders' messages travel side by side, so the delay does not grow with load.
A sender's messages leave in the order they were sent, and the messages one sender writes at
the same instant (a broadcast to every neighbour, say) leave together, as lines flushed from
one pipe. This is what gives echo, unique-ids and broadcast operations real Maelstrom's few
milliseconds.

**Service time, which does.** Each node and service is a single server with a FIFO queue: a
message delivered to a busy endpoint waits until every message before it has been served, and
each served message keeps the endpoint busy for::

    draw(processing_dist, processing_time) + processing_per_byte / 1000 * len(body as JSON)

milliseconds. An idle endpoint handles a message as soon as it arrives and is then busy for
that message's service time: the queue's waits are exactly a FIFO server's (Lindley's
recursion), and a message's own service delays only the messages behind it. Real nodes handle
a message in tens of microseconds, so the default service time is small; the per-byte cost is
what makes a node that ships its whole state every tick pay for it, and a node that receives
more than it can handle builds a queue that every operation it serves waits in.

``draw`` is ``constant`` (exactly the mean), ``uniform`` (in [0, 2 x mean)) or ``exponential``
(that mean), from the run's own random stream, so runs stay byte-identical by seed. All three
costs 0 is the old model: messages cost nothing. The defaults are calibrated against real
Maelstrom runs (``docs/benchmarks.md``, "Processing time").

Only the virtual clock uses this (real processes pay their own real costs), and only from the
history's clock on: setup (``init``, before the network's origin is set) costs nothing, as it
is part of no measured operation. Only endpoints the ``Network`` is told to serve get a server
(the runner serves nodes and services; clients never queue). The network journals a message
when it reaches the endpoint, as Maelstrom's journal records a write to a node's stdin.
Killing an endpoint (``Network.unregister``) drops its queue, as a killed process loses its
pipe. A paused in-process node still "serves" its queue: the messages are held by the host and
handed over on resume, in order.
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

from glome.protocol import dumps_exact

log = logging.getLogger("glome.sim.net.processing")

PROCESSING_DISTS = ("constant", "uniform", "exponential")

DEFAULT_IO_DELAY = 2.0
"""Mean I/O delay per message, ms (see the module docstring for the calibration)."""
DEFAULT_IO_DELAY_DIST = "uniform"
DEFAULT_ROUTER_PER_BYTE = 0.2
"""Microseconds the router spends per byte of a message body as JSON."""
DEFAULT_PROCESSING_TIME = 0.05
"""Mean service time per message, ms: 50 us, a real node's cost of a small message."""
DEFAULT_PROCESSING_DIST = "uniform"
DEFAULT_PROCESSING_PER_BYTE = 0.2
"""Microseconds per byte of the message body as JSON (5 KB of gossip: 1 ms)."""


@dataclass(frozen=True)
class ProcessingSpec:
    """The five options, validated. ``enabled`` is False for the zero-cost model."""

    time_ms: float = DEFAULT_PROCESSING_TIME
    dist: str = DEFAULT_PROCESSING_DIST
    per_byte_us: float = DEFAULT_PROCESSING_PER_BYTE
    io_delay_ms: float = DEFAULT_IO_DELAY
    io_delay_dist: str = DEFAULT_IO_DELAY_DIST
    router_per_byte_us: float = DEFAULT_ROUTER_PER_BYTE

    def __post_init__(self) -> None:
        for flag, dist in (
            ("--processing-dist", self.dist),
            ("--io-delay-dist", self.io_delay_dist),
        ):
            if dist not in PROCESSING_DISTS:
                raise ValueError(
                    f"{flag}: unknown distribution {dist!r} (one of {PROCESSING_DISTS})"
                )
        if self.time_ms < 0:
            raise ValueError("--processing-time must be >= 0 (0: messages cost nothing)")
        if self.per_byte_us < 0:
            raise ValueError("--processing-per-byte must be >= 0")
        if self.router_per_byte_us < 0:
            raise ValueError("--router-per-byte must be >= 0")
        if self.io_delay_ms < 0:
            raise ValueError("--io-delay must be >= 0 (0: no delay)")

    @property
    def serves(self) -> bool:
        """Whether messages cost service time (nodes and services are servers)."""
        return self.time_ms > 0 or self.per_byte_us > 0

    @property
    def enabled(self) -> bool:
        return self.serves or self.io_delay_ms > 0 or self.router_per_byte_us > 0


class Processing:
    """The costs of one run: the senders' I/O delays, one server per served endpoint, one
    random stream for all.

    The network asks ``departure(src, now)`` when a message is sent, and calls the callback
    ``serve(endpoint_id, callback)`` returns instead of ``callback`` when one arrives. Draws
    happen in send and service order, which the simulation makes deterministic.
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
        self.io_delay: Callable[[], float] = _sampler(spec.io_delay_ms, spec.io_delay_dist, rng)
        """An I/O delay in seconds."""
        self.cost: Callable[[tuple[Any, ...]], float] = _cost_function(spec, rng)
        """Service time in seconds of the message a network callback was given."""
        self.router_per_byte_s = spec.router_per_byte_us / 1e6
        self.delays = spec.io_delay_ms > 0 or self.router_per_byte_s > 0
        """Whether a message leaves later than it is sent (else ``departure`` is ``now``)."""
        self._router_free_at = 0.0
        self._last_departure: dict[str, tuple[float, float]] = {}
        """Sender -> (when its last message was sent, when it left)."""
        self.active = False
        """Off during setup (``init``): the model starts with the history's clock (``start``),
        so setup stays instantaneous and the journal's times keep their order."""

    def departure(self, src: str, now: float, body: Any, body_json: bytes | None) -> float:
        """When a message ``src`` sends at loop time ``now`` is on its way: once the router has
        taken it, after an I/O delay, not before the sender's previous message, and with the
        others sent at ``now``. ``body_json``: the body as the sender wrote it, if it did."""
        if not (self.active and self.delays):
            return now
        routed = now
        if self.router_per_byte_s:
            # The router takes messages in send order: one queue, computed on the spot.
            routed = max(now, self._router_free_at)
            self._router_free_at = routed + self.router_per_byte_s * body_size(body, body_json)
        last = self._last_departure.get(src)
        if last is not None and last[0] == now:
            leaves = max(routed, last[1])  # written at the same instant: flushed together
        else:
            leaves = routed + self.io_delay()
            if last is not None and leaves < last[1]:
                leaves = last[1]  # a pipe keeps its order
        self._last_departure[src] = (now, leaves)
        return leaves

    def serve(
        self,
        endpoint_id: str,
        callback: Callable[..., Any],
        context: contextvars.Context | None = None,
    ) -> Callable[..., Any]:
        """``callback`` behind a single server, or ``callback`` itself if not served."""
        if not (self.spec.serves and self.served(endpoint_id)):
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
        """From now on messages cost time (the network calls this at its origin)."""
        self.active = True


def _sampler(mean_ms: float, dist: str, rng: random.Random) -> Callable[[], float]:
    """A draw in seconds from ``dist`` with mean ``mean_ms`` on ``rng``: ``offset + scale *
    variate()`` with ``variate`` a standard draw (uniform in [0, 1), or exponential), so a draw
    is one Python call whatever the configuration: it runs for every message."""
    mean_s = mean_ms / 1000.0
    if mean_ms == 0:
        return float  # 0.0
    if dist == "constant":
        return functools.partial(float, mean_s)
    if dist == "uniform":
        return functools.partial(_scaled, 2.0 * mean_s, rng.random)  # in [0, 2 x mean)
    return functools.partial(rng.expovariate, 1.0 / mean_s)


def _scaled(scale: float, variate: Callable[[], float]) -> float:
    return scale * variate()


def _cost_function(spec: ProcessingSpec, rng: random.Random) -> Callable[[tuple[Any, ...]], float]:
    """The service time in seconds of a message, from a network callback's arguments."""
    draw = _sampler(spec.time_ms, spec.dist, rng)
    per_byte_s = spec.per_byte_us / 1e6
    if not per_byte_s:
        return lambda _args: draw()

    def cost(args: tuple[Any, ...]) -> float:
        return draw() + per_byte_s * _body_size(args)

    return cost


def _body_size(args: tuple[Any, ...]) -> int:
    """Bytes of the body as JSON, from ``receive(id, src, dest, body, body_json)`` or
    ``deliver(envelope)`` arguments."""
    if len(args) == 5:
        return body_size(args[3], args[4])
    return body_size(args[0].get("body"), None)


def body_size(body: Any, body_json: bytes | None) -> int:
    """Bytes of a message body as JSON: ``body_json`` when the sender already wrote it."""
    if body_json is not None:
        return len(body_json)
    try:
        return len(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # an integer beyond 64 bits or a lone surrogate: written exactly
        return len(dumps_exact(body))


class Server:
    """One endpoint: busy until ``free_at``; the messages that arrived meanwhile wait in a FIFO.

    An idle server hands a message over on arrival and is then busy for its service time, so a
    lightly loaded node costs no timer at all; only a queue needs one, at ``free_at``.
    """

    __slots__ = (
        "call_at",
        "callback",
        "closed",
        "context",
        "cost",
        "done",
        "endpoint_id",
        "free_at",
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
        self.queue: deque[tuple[Any, ...]] = deque()
        self.free_at = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        # Looked up once: these run for every message.
        self.cost = model.cost
        self.call_at = model.loop.call_at
        self.time = model.loop.time
        self.done = self._done

    def __call__(self, *args: Any) -> Any:
        """A message arrives: handle it if the server is idle, else queue it."""
        if self.closed:
            return None
        if not self.model.active:
            return self.callback(*args)
        now = self.time()
        if self.queue or now < self.free_at:
            self.queue.append(args)
            if self.timer is None:
                self.timer = self.call_at(self.free_at, self.done, context=self.context)
            return None
        self.free_at = now + self.cost(args)
        return self.callback(*args)

    def _done(self) -> None:
        """The server is free: hand the head of the queue over, and wait for the next one."""
        self.timer = None
        queue = self.queue
        if self.closed or not queue:
            return
        args = queue.popleft()
        self.free_at = self.time() + self.cost(args)
        try:
            self.callback(*args)
        except Exception:  # an endpoint's bug must not stop its server (as in the network)
            log.exception("endpoint %s failed to handle a message", self.endpoint_id)
        if queue and not self.closed:
            self.timer = self.call_at(self.free_at, self.done, context=self.context)

    def close(self) -> None:
        self.closed = True
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
