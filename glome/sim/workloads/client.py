"""Maelstrom's RPC clients (``c0``, ``c1``, ...) and how RPC outcomes become history ops.

``Clients`` allocates ids sequentially from ``c0`` in creation order (init clients first, then
setup clients, then one per worker, then replacements after crashed ops). A ``Client`` sends
requests with its own ``msg_id`` counter (from 1) and matches replies by ``in_reply_to``;
anything else arriving at it is discarded, as Maelstrom's client does.

Outcome mapping (docs/protocol.md#from-rpc-outcome-to-history-op) lives in ``error_completion``:

- workloads with ``with_errors``: a timeout is ``:fail`` if ``f`` is idempotent, else ``:info``,
  with ``:error :net-timeout``; an error reply is ``:fail`` if its code is definite or ``f`` is
  idempotent, else ``:info``, with ``:error [:<code-name> "text"]`` (``:unknown`` for codes
  Maelstrom does not name);
- anything else (a malformed reply, a workload without ``with_errors``): ``:info`` with a
  datafied ``:exception`` and ``:error "indeterminate: <message>"``.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

from glome.edn import EdnList, Keyword
from glome.errors import ErrorCode, GlomeError, RPCError, RPCTimeout, is_definite
from glome.sim.net.network import Network


class MalformedReply(GlomeError):
    """A reply that fails the workload's schema (Maelstrom's ``:malformed-rpc-response``)."""

    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


class ClientTimeout(RPCTimeout):
    """No reply reached the client in time (distinct from an error reply with code 0)."""


class Timeouts:
    """RPC deadlines for many clients behind one loop timer (cheaper than a timer per RPC).

    Most client RPCs are answered at once, so their deadlines are simply skipped when they come
    up; with a constant timeout the earliest deadline is always the oldest one.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[Any]]] = []
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    def add(
        self, loop: asyncio.AbstractEventLoop, deadline: float, future: asyncio.Future[Any]
    ) -> None:
        """Fail ``future`` with ``_Expired`` at ``deadline`` unless it is done by then."""
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, future))
        if self._timer_at is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        due = max(loop.time(), self._timer_at or 0.0)
        self._timer = self._timer_at = None
        heap = self._heap
        while heap and heap[0][0] <= due:
            future = heapq.heappop(heap)[2]
            if not future.done():
                future.set_exception(_Expired())
        while heap and heap[0][2].done():  # answered long ago: no timer needed for them
            heapq.heappop(heap)
        if heap:
            self._timer_at = heap[0][0]
            self._timer = loop.call_at(self._timer_at, self._fire, loop)


class Client:
    """One ``c<k>`` endpoint: at most one outstanding request at a time, as Maelstrom's."""

    def __init__(self, network: Network, client_id: str, timeouts: Timeouts | None = None) -> None:
        self.network = network
        self.id = client_id
        self._timeouts = timeouts or Timeouts()
        self._next_msg_id = 0
        self._waiting: tuple[int, asyncio.Future[dict[str, Any]]] | None = None
        self.closed = False
        network.register(client_id, self._deliver)

    def _deliver(self, envelope: dict[str, Any]) -> None:
        body = envelope.get("body")
        if self._waiting is None or not isinstance(body, dict):
            return
        msg_id, future = self._waiting
        if body.get("in_reply_to") == msg_id and not future.done():
            future.set_result(body)

    async def rpc(self, dest: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send ``body`` (plus ``msg_id``) to ``dest``; return the reply body.

        Raises ``RPCTimeout`` after ``timeout`` seconds, or the ``RPCError`` of an error reply.
        """
        if self.closed:
            raise RuntimeError(f"client {self.id} is closed")
        loop = asyncio.get_running_loop()
        self._next_msg_id += 1
        msg_id = self._next_msg_id
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiting = (msg_id, future)
        self._timeouts.add(loop, loop.time() + timeout, future)
        try:
            self.network.send(self.id, dest, {**body, "msg_id": msg_id})
            reply = await future
        except _Expired:
            raise ClientTimeout(f"no reply from {dest} within {timeout:g}s") from None
        finally:
            self._waiting = None
        if reply.get("type") == "error":
            code = reply.get("code")
            if not isinstance(code, int) or isinstance(code, bool):
                raise MalformedReply("error reply without an integer code", reply)
            raise RPCError.from_body(reply)
        return reply

    def close(self) -> None:
        """Leave the network: later replies to this id are journaled as undelivered."""
        self.closed = True
        self.network.unregister(self.id)


class _Expired(Exception):
    pass


class Clients:
    """Allocates client ids ``c0``, ``c1``, ... in creation order; they share one ``Timeouts``."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._next = 0
        self.timeouts = Timeouts()

    def open(self) -> Client:
        client = Client(self.network, f"c{self._next}", self.timeouts)
        self._next += 1
        return client


# ------------------------------------------------------------------------ outcome mapping
def require(
    reply: dict[str, Any], reply_type: str, **fields: type | tuple[type, ...]
) -> dict[str, Any]:
    """Schema check of a reply: its ``type``, ``in_reply_to`` and required payload fields.

    ``require(reply, "read_ok", value=int)``; raises ``MalformedReply``. ``bool`` never passes
    as ``int``.
    """
    if reply.get("type") != reply_type:
        raise MalformedReply(
            f"expected a {reply_type} reply, got type {reply.get('type')!r}", reply
        )
    irt = reply.get("in_reply_to")
    if not isinstance(irt, int) or isinstance(irt, bool):
        raise MalformedReply("reply has no integer in_reply_to", reply)
    msg_id = reply.get("msg_id")
    if msg_id is not None and (not isinstance(msg_id, int) or isinstance(msg_id, bool)):
        raise MalformedReply("reply msg_id is not an integer", reply)
    for name, kind in fields.items():
        if name not in reply:
            raise MalformedReply(f"{reply_type} reply is missing {name!r}", reply)
        if kind is object:
            continue
        value = reply[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise MalformedReply(f"{reply_type} reply field {name!r} has the wrong type", reply)
    return reply


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).keyword
    except ValueError:
        return "unknown"


def _error_text(error: RPCError) -> Any:
    """The reply's own ``text`` (nil when it had none), as Maelstrom records it."""
    text = error.body.get("text") if error.body else error.text
    return text


def _rpc_error_data(error: RPCError) -> dict[str, Any]:
    return {
        "type": Keyword("rpc-error"),
        "code": error.code,
        "name": Keyword(_code_name(error.code)),
        "definite?": is_definite(error.code),
        "body": dict(error.body),
    }


def _exception_message(error: BaseException) -> tuple[str, Any]:
    """Message and ex-data as Maelstrom's client would throw them."""
    if isinstance(error, ClientTimeout):
        data: Any = {
            "type": Keyword("maelstrom.client/timeout"),
            "name": Keyword("timeout"),
            "definite?": False,
            "code": 0,
        }
        return "Client read timeout", data
    if isinstance(error, RPCError):
        from glome.edn import dumps

        data = _rpc_error_data(error)
        return f"throw+: {dumps(data)}", data
    if isinstance(error, MalformedReply):
        data = {"type": Keyword("malformed-rpc-response"), "body": error.body}
        return f"throw+: {{:type :malformed-rpc-response, :message {str(error)!r}}}", data
    return f"{type(error).__name__}: {error}", None


def datafy(error: BaseException) -> dict[str, Any]:
    """A Jepsen-style datafied exception: ``{:via [{:type .. :message .. :data ..}] ..}``.

    The class is written as a string (EDN symbols are not in ``glome.edn``).
    """
    message, data = _exception_message(error)
    cls = "clojure.lang.ExceptionInfo" if data is not None else f"python.{type(error).__name__}"
    via: dict[str, Any] = {"type": cls, "message": message}
    if data is not None:
        via["data"] = data
    out: dict[str, Any] = {"via": [via], "trace": [], "cause": message}
    if data is not None:
        out["data"] = data
    return out


def error_completion(
    f: str, error: BaseException, *, with_errors: bool, idempotent: frozenset[str]
) -> dict[str, Any]:
    """The completion fields (``type``, ``error``, maybe ``exception``) for a failed RPC."""
    if with_errors and isinstance(error, ClientTimeout):
        return {"type": "fail" if f in idempotent else "info", "error": Keyword("net-timeout")}
    if with_errors and isinstance(error, RPCError):
        definite = is_definite(error.code) or f in idempotent
        return {
            "type": "fail" if definite else "info",
            "error": [Keyword(_code_name(error.code)), _error_text(error)],
        }
    message, _ = _exception_message(error)
    return {"type": "info", "exception": datafy(error), "error": f"indeterminate: {message}"}


__all__ = [
    "Client",
    "ClientTimeout",
    "Clients",
    "EdnList",
    "MalformedReply",
    "datafy",
    "error_completion",
    "require",
]
