"""RPC, retry, and the service clients (KV, TSO) against a tiny fake service, over memory."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import orjson
import pytest

from glome.errors import (
    Crash,
    ErrorCode,
    KeyDoesNotExist,
    NotSupported,
    PreconditionFailed,
    RPCError,
    RPCTimeout,
    TemporarilyUnavailable,
)
from glome.runtime import LWWKV, TSO, LinKV, MemoryTransport, Message, Node, SeqKV, handler

BOUND = 5.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, BOUND))


class FakeServices:
    """The four Maelstrom services, lin-kv semantics for all KVs (docs/protocol.md#services), plus
    peers.

    Answers on the next loop iteration, as a network would. ``script`` overrides answers per
    destination: a callable ``body -> reply body or None`` (None = stay silent).
    """

    def __init__(self) -> None:
        self.stores: dict[str, dict[Any, Any]] = {"lin-kv": {}, "seq-kv": {}, "lww-kv": {}}
        self.ts = 0
        self.seen: list[dict[str, Any]] = []
        self.script: dict[str, Any] = {}
        self.transport = MemoryTransport(self._receive)

    def _receive(self, src: str, dest: str, body: Any, body_json: bytes) -> None:
        msg = {"src": src, "dest": dest, "body": orjson.loads(body_json)}
        self.seen.append(msg)
        body, dest = msg["body"], msg["dest"]
        if dest in self.script:
            answer = self.script[dest](body)
        elif dest in self.stores:
            answer = self._kv(self.stores[dest], body, lww=dest == "lww-kv")
        elif dest == "lin-tso" and body["type"] == "ts":
            answer = {"type": "ts_ok", "ts": self.ts}
            self.ts += 1
        else:
            answer = None
        if answer is not None and "msg_id" in body:
            reply = {
                "src": dest,
                "dest": msg["src"],
                "body": {**answer, "in_reply_to": body["msg_id"]},
            }
            asyncio.get_running_loop().call_soon(self.transport.deliver_line, orjson.dumps(reply))

    @staticmethod
    def _kv(store: dict[Any, Any], body: dict[str, Any], *, lww: bool) -> dict[str, Any] | None:
        key = orjson.dumps(body.get("key"))
        kind = body["type"]
        missing = {"type": "error", "code": 20, "text": "key does not exist"}
        if kind == "read":
            return {"type": "read_ok", "value": store[key]} if key in store else missing
        if kind == "write":
            store[key] = body["value"]
            return {"type": "write_ok"}
        if kind == "cas":
            if key not in store:
                if body.get("create_if_not_exists") and not lww:
                    store[key] = body["to"]
                    return {"type": "cas_ok"}
                return missing
            if store[key] != body["from"]:
                return {
                    "type": "error",
                    "code": 22,
                    "text": f"current value {store[key]} is not {body['from']}",
                }
            store[key] = body["to"]
            return {"type": "cas_ok"}
        return None  # unknown request types get no reply: the caller times out


async def serving(node: Node) -> tuple[FakeServices, asyncio.Task[None]]:
    services = FakeServices()
    task = asyncio.create_task(node.serve(services.transport))
    await asyncio.sleep(0)
    init = {
        "src": "c0",
        "dest": "n1",
        "body": {"type": "init", "node_id": "n1", "node_ids": ["n1", "n2"], "msg_id": 1},
    }
    services.transport.deliver_line(orjson.dumps(init))
    while node.id != "n1":
        await asyncio.sleep(0)
    return services, task


async def stop(services: FakeServices, task: asyncio.Task[None]) -> None:
    services.transport.end()
    await asyncio.wait_for(task, BOUND)


# ------------------------------------------------------------------------------------ rpc
def test_rpc_returns_the_reply_body_and_uses_fresh_msg_ids() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        services.script["n2"] = lambda body: {"type": "pong", "got": body["n"]}
        first = await node.rpc("n2", {"type": "ping", "n": 1})
        second = await node.rpc("n2", {"type": "ping", "n": 2})
        assert first["got"] == 1 and second["got"] == 2
        sent = [m["body"]["msg_id"] for m in services.seen if m["dest"] == "n2"]
        assert len(set(sent)) == 2
        assert node.metrics.rpc_calls == 2
        await stop(services, task)

    run(main())


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (20, KeyDoesNotExist),
        (22, PreconditionFailed),
        (11, TemporarilyUnavailable),
        (10, NotSupported),
        (13, Crash),
    ],
)
def test_error_reply_raises_the_specific_exception(code: int, exc: type[RPCError]) -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        services.script["n2"] = lambda body: {
            "type": "error",
            "code": code,
            "text": "nope",
            "extra": 1,
        }
        with pytest.raises(exc) as info:
            await node.rpc("n2", {"type": "ping"})
        assert info.value.code == code
        assert info.value.text == "nope"
        assert info.value.body["extra"] == 1
        assert info.value.definite == ErrorCode(code).definite
        assert node.metrics.rpc_errors == 1
        await stop(services, task)

    run(main())


def test_user_defined_error_code_is_a_plain_indefinite_rpc_error() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        services.script["n2"] = lambda body: {"type": "error", "code": 1234}
        with pytest.raises(RPCError) as info:
            await node.rpc("n2", {"type": "ping"})
        assert type(info.value) is RPCError
        assert info.value.code == 1234 and not info.value.definite
        await stop(services, task)

    run(main())


def test_timeout_raises_rpc_timeout_and_the_late_reply_is_dropped() -> None:
    handled: list[str] = []

    class N(Node):
        @handler("pong")
        def pong(self, msg: Message) -> None:
            handled.append("pong")

    async def main() -> None:
        node = N(seed=1)
        services, task = await serving(node)
        services.script["n2"] = lambda body: None  # silent
        with pytest.raises(RPCTimeout) as info:
            await node.rpc("n2", {"type": "ping"}, timeout=0.01)
        assert info.value.code == ErrorCode.TIMEOUT and not info.value.definite
        assert node.metrics.rpc_timeouts == 1
        (ping,) = [m for m in services.seen if m["dest"] == "n2"]
        late = {
            "src": "n2",
            "dest": "n1",
            "body": {"type": "pong", "in_reply_to": ping["body"]["msg_id"]},
        }
        services.transport.deliver_line(orjson.dumps(late))
        await asyncio.sleep(0)
        assert node.metrics.late_replies == 1
        assert handled == []  # a reply never reaches a handler, even one for its type
        assert not node._serving().replies
        await stop(services, task)

    run(main())


def test_replies_are_routed_by_in_reply_to_only() -> None:
    """A service's read_ok goes to the waiting rpc, never to the node's "read" handler."""
    handled: list[Any] = []

    class N(Node):
        @handler("read")
        def read(self, msg: Message) -> dict[str, Any]:
            handled.append(msg.body)
            return {"type": "read_ok", "value": "from handler"}

        @handler("read_ok")
        def read_ok(self, msg: Message) -> None:
            handled.append(msg.body)

    async def main() -> None:
        node = N(seed=1)
        services, task = await serving(node)
        kv = LinKV(node)
        await kv.write("k", "from service")
        assert await kv.read("k") == "from service"
        stray = {
            "src": "lin-kv",
            "dest": "n1",
            "body": {"type": "read_ok", "value": 1, "in_reply_to": 999},
        }
        services.transport.deliver_line(orjson.dumps(stray))
        await asyncio.sleep(0)
        assert handled == []
        assert node.metrics.late_replies == 1
        await stop(services, task)

    run(main())


def test_unserialisable_rpc_body_raises_at_once() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        with pytest.raises(TypeError, match="serialised"):
            await node.rpc("n2", {"type": "ping", "x": object()})
        assert not node._serving().replies
        await stop(services, task)

    run(main())


def test_rpc_cancelled_leaves_nothing_pending() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        services.script["n2"] = lambda body: None
        call = asyncio.ensure_future(node.rpc("n2", {"type": "ping"}, timeout=BOUND))
        await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert not node._serving().replies
        await stop(services, task)

    run(main())


# ---------------------------------------------------------------------------------- retry
class ManualClock:
    """A clock that moves only when the node sleeps: retry's arithmetic, no real waiting."""

    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def wall_ms(self) -> int:
        return int(self.t * 1000)


class FastSleeper(Node):
    def __init__(self, **kwargs: Any) -> None:
        self.manual = ManualClock()
        super().__init__(clock=self.manual, **kwargs)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.manual.t += seconds
        await asyncio.sleep(0)


def test_retry_backs_off_with_fresh_msg_ids_until_success() -> None:
    async def main() -> None:
        node = FastSleeper(seed=5)
        services, task = await serving(node)
        answers = iter(
            [{"type": "error", "code": 11}, {"type": "error", "code": 13}, None, {"type": "pong"}]
        )
        services.script["n2"] = lambda body: next(answers)
        reply = await node.retry(
            lambda: node.rpc("n2", {"type": "ping"}, timeout=0.01),
            base=0.1,
            factor=2.0,
            cap=0.3,
            deadline=10.0,
        )
        assert reply["type"] == "pong"
        ids = [m["body"]["msg_id"] for m in services.seen if m["dest"] == "n2"]
        assert len(ids) == 4 and len(set(ids)) == 4
        assert node.metrics.retries == 3 == len(node.slept)
        for attempt, delay in enumerate(node.slept):
            assert 0 <= delay <= min(0.3, 0.1 * 2**attempt)
        await stop(services, task)

    run(main())


def test_retry_respects_its_deadline() -> None:
    async def main() -> None:
        node = FastSleeper(seed=5)
        services, task = await serving(node)
        services.script["n2"] = lambda body: {"type": "error", "code": 11, "text": "busy"}
        started = node.manual.t
        with pytest.raises(TemporarilyUnavailable):
            await node.retry(
                lambda: node.rpc("n2", {"type": "ping"}), base=0.5, cap=1.0, deadline=3.0
            )
        assert node.manual.t - started <= 3.0
        assert len(node.slept) >= 3
        assert node.metrics.retries == len(node.slept)
        await stop(services, task)

    run(main())


def test_retry_does_not_retry_definite_errors() -> None:
    async def main() -> None:
        node = FastSleeper(seed=5)
        services, task = await serving(node)
        calls: list[int] = []

        async def attempt() -> Any:
            calls.append(1)
            return await LinKV(node).read("absent")

        with pytest.raises(KeyDoesNotExist):
            await node.retry(attempt)
        assert calls == [1] and node.slept == []

        async def broken() -> None:
            calls.append(2)
            raise ValueError("a bug, not a network problem")

        with pytest.raises(ValueError, match="a bug"):
            await node.retry(broken)
        assert calls == [1, 2]
        await stop(services, task)

    run(main())


# ----------------------------------------------------------------------------- KV and TSO
@pytest.mark.parametrize("client", [LinKV, SeqKV, LWWKV])
def test_kv_read_write_cas(client: type[LinKV]) -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        kv = client(node)
        with pytest.raises(KeyDoesNotExist):
            await kv.read("x")
        assert await kv.read("x", default=0) == 0
        assert await kv.read("x", default=None) is None
        await kv.write("x", [1, 2])
        assert await kv.read("x") == [1, 2]
        await kv.cas("x", [1, 2], {"v": 3})
        assert await kv.read("x") == {"v": 3}
        with pytest.raises(PreconditionFailed, match="is not"):
            await kv.cas("x", "stale", 4)
        with pytest.raises(KeyDoesNotExist):
            await kv.cas("y", 0, 1)
        await kv.write(7, "int key")  # keys are any JSON: 7 and "7" differ
        with pytest.raises(KeyDoesNotExist):
            await kv.read("7")
        assert {m["dest"] for m in services.seen if m["dest"] != "c0"} == {kv.service}
        await stop(services, task)

    run(main())


def test_cas_create_if_not_exists() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        lin = LinKV(node)
        await lin.cas("counter", 0, 1, create_if_not_exists=True)
        assert await lin.read("counter") == 1
        await lin.cas("counter", 1, 2, create_if_not_exists=True)
        assert await lin.read("counter") == 2
        sent = [m["body"] for m in services.seen if m["dest"] == "lin-kv"]
        assert sent[0]["create_if_not_exists"] is True
        await lin.cas("counter", 2, 3)
        assert "create_if_not_exists" not in [m["body"] for m in services.seen][-1]
        with pytest.raises(KeyDoesNotExist):  # lww-kv ignores the flag (docs/protocol.md#services)
            await LWWKV(node).cas("counter", 0, 1, create_if_not_exists=True)
        await stop(services, task)

    run(main())


def test_kv_client_timeout_and_unknown_service_request() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        services.script["lin-kv"] = lambda body: None
        with pytest.raises(RPCTimeout):
            await LinKV(node, timeout=0.01).read("x")
        await stop(services, task)

    run(main())


def test_tso_counts_from_zero() -> None:
    async def main() -> None:
        node = Node(seed=1)
        services, task = await serving(node)
        tso = TSO(node)
        assert [await tso.ts() for _ in range(3)] == [0, 1, 2]
        await stop(services, task)

    run(main())


def test_kv_inside_a_handler_propagates_its_error_code() -> None:
    class N(Node):
        @handler("get")
        async def get(self, msg: Message) -> dict[str, Any]:
            return {"type": "get_ok", "value": await LinKV(self).read(msg.body["key"])}

    async def main() -> None:
        node = N(seed=1)
        services, task = await serving(node)
        for key in ("missing", "present"):
            if key == "present":
                await LinKV(node).write(key, 5)
            req = {"src": "c1", "dest": "n1", "body": {"type": "get", "key": key, "msg_id": 9}}
            services.transport.deliver_line(orjson.dumps(req))
            while not [m for m in services.seen if m["dest"] == "c1"]:
                await asyncio.sleep(0)
            (reply,) = [m for m in services.seen if m["dest"] == "c1"]
            services.seen.remove(reply)
            expected = {"code": 20} if key == "missing" else {"value": 5}
            assert expected.items() <= reply["body"].items()
        await stop(services, task)

    run(main())
