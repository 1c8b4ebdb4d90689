"""The node runtime over MemoryTransport: init, dispatch, robustness, EOF, periodic tasks.

RPC, retry and the service clients are in test_runtime_rpc.py; logs and metrics in
test_runtime_observability.py. Every wait here is bounded (``asyncio.wait_for``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from glome.errors import ErrorCode, KeyDoesNotExist, TxnConflict
from glome.runtime import Message, Node, handler
from glome.testing import Driver

BOUND = 5.0  # seconds: the most any test waits for anything


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, BOUND))


class Echo(Node):
    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body["echo"]}


# ----------------------------------------------------------------------------------- init
def test_init_sets_id_and_node_ids_and_answers_init_ok() -> None:
    order: list[str] = []

    class N(Echo):
        async def on_init(self) -> None:
            order.append(f"on_init as {self.id}")

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start(init=False)
        assert node.id == ""
        reply = await h.request(
            {"type": "init", "node_id": "n2", "node_ids": ["n1", "n2", "n3"]}, src="c0"
        )
        assert reply == {
            "src": "n2",
            "dest": "c0",
            "body": {"type": "init_ok", "in_reply_to": h._next_msg_id},
        }
        assert node.id == "n2"
        assert node.node_ids == ["n1", "n2", "n3"]
        assert node.peers == ["n1", "n3"]
        assert order == ["on_init as n2"]
        await h.stop()

    run(main())


def test_malformed_init_gets_error_12_and_a_later_good_init_works() -> None:
    async def main() -> None:
        node = Echo(seed=1)
        h = Driver(node)
        await h.start(init=False)
        bad = await h.request({"type": "init", "node_id": 7}, src="c0")
        assert bad["body"]["code"] == ErrorCode.MALFORMED_REQUEST
        assert bad["src"] == "n1"  # no id yet: answers as the address it was sent to
        assert node.id == ""
        good = await h.request({"type": "init", "node_id": "n1", "node_ids": ["n1"]}, src="c0")
        assert good["body"]["type"] == "init_ok"
        assert node.id == "n1"
        await h.stop()

    run(main())


def test_second_init_is_answered_without_rerunning_on_init() -> None:
    calls: list[str] = []

    class N(Echo):
        async def on_init(self) -> None:
            calls.append(self.id)

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        again = await h.request({"type": "init", "node_id": "n1", "node_ids": ["n1"]}, src="c0")
        assert again["body"]["type"] == "init_ok"
        other = await h.request({"type": "init", "node_id": "n9", "node_ids": ["n9"]}, src="c0")
        assert other["body"]["code"] == ErrorCode.MALFORMED_REQUEST
        assert node.id == "n1" and node.node_ids == ["n1", "n2", "n3"]
        assert calls == ["n1"]
        await h.stop()

    run(main())


def test_failing_on_init_answers_error_13_not_init_ok() -> None:
    class N(Echo):
        async def on_init(self) -> None:
            raise RuntimeError("no disk")

    async def main() -> None:
        h = Driver(N(seed=1))
        await h.start(init=False)
        reply = await h.request({"type": "init", "node_id": "n1", "node_ids": ["n1"]}, src="c0")
        assert reply["body"]["code"] == ErrorCode.CRASH
        assert "no disk" in reply["body"]["text"]
        await h.stop()

    run(main())


def test_requests_before_init_are_buffered_then_served_after_init_ok() -> None:
    async def main() -> None:
        h = Driver(Echo(seed=1))
        await h.start(init=False)
        early = [h.send_request({"type": "echo", "echo": i}) for i in range(3)]
        await h.settle()
        assert h.sent == []  # nothing may be said before init_ok
        await h.request({"type": "init", "node_id": "n1", "node_ids": ["n1"]}, src="c0")
        replies = [await h.reply_to(i) for i in early]
        assert [r["body"]["echo"] for r in replies] == [0, 1, 2]
        assert h.sent[0]["body"]["type"] == "init_ok"
        await h.stop()

    run(main())


# ------------------------------------------------------------------------------- handlers
def test_handler_return_value_is_the_reply_body() -> None:
    async def main() -> None:
        h = Driver(Echo(seed=1))
        await h.start()
        reply = await h.request({"type": "echo", "echo": {"nested": [1, 2.5, None]}}, src="c7")
        assert reply == {
            "src": "n1",
            "dest": "c7",
            "body": {
                "type": "echo_ok",
                "echo": {"nested": [1, 2.5, None]},
                "in_reply_to": h._next_msg_id,
            },
        }
        await h.stop()

    run(main())


def test_explicit_reply_and_sync_handlers_registered_with_handle() -> None:
    async def main() -> None:
        node = Node(seed=1)

        async def explicit(msg: Message) -> None:
            node.reply(msg, {"type": "a_ok"})

        node.handle("a", explicit)
        node.handle("b", lambda msg: {"type": "b_ok", "n": msg.body["n"] + 1})
        with pytest.raises(ValueError, match="init"):
            node.handle("init", explicit)
        h = Driver(node)
        await h.start()
        assert (await h.request({"type": "a"}))["body"]["type"] == "a_ok"
        assert (await h.request({"type": "b", "n": 41}))["body"] == {
            "type": "b_ok",
            "n": 42,
            "in_reply_to": h._next_msg_id,
        }
        await h.settle()
        assert sum(1 for m in h.sent if m["body"]["type"] == "a_ok") == 1  # exactly one reply
        await h.stop()

    run(main())


def test_request_without_msg_id_is_handled_but_not_answered() -> None:
    seen: list[int] = []

    class N(Node):
        @handler("gossip")
        def gossip(self, msg: Message) -> dict[str, Any]:
            seen.append(msg.body["n"])
            return {"type": "gossip_ok"}

    async def main() -> None:
        h = Driver(N(seed=1))
        await h.start()
        h.deliver({"type": "gossip", "n": 5}, src="n2")
        await h.settle()
        assert seen == [5]
        assert [m for m in h.sent if m["dest"] == "n2"] == []
        await h.stop()

    run(main())


def test_every_request_runs_in_its_own_task() -> None:
    """A handler awaiting an RPC does not stop another request from being served."""

    class N(Echo):
        @handler("slow")
        async def slow(self, msg: Message) -> dict[str, Any]:
            body = await self.rpc("n2", {"type": "ping"}, timeout=BOUND)
            return {"type": "slow_ok", "peer_said": body["type"]}

    async def main() -> None:
        h = Driver(N(seed=1))
        await h.start()
        slow_id = h.send_request({"type": "slow"})
        (ping,) = await h.sent_to("n2")
        fast = await h.request({"type": "echo", "echo": "meanwhile"})
        assert fast["body"]["echo"] == "meanwhile"
        assert not any(m["body"].get("in_reply_to") == slow_id for m in h.sent)
        h.deliver({"type": "pong", "in_reply_to": ping["body"]["msg_id"]}, src="n2")
        slow = await h.reply_to(slow_id)
        assert slow["body"]["peer_said"] == "pong"
        await h.stop()

    run(main())


def test_in_flight_bound_refuses_with_error_11_then_recovers() -> None:
    """At max_in_flight a request with a msg_id gets error 11 (definite); one without is
    dropped; both are counted; once handlers finish, requests are served again."""
    release = asyncio.Event()

    class N(Echo):
        max_in_flight = 2

        @handler("hold")
        async def hold(self, msg: Message) -> dict[str, Any]:
            await release.wait()
            return {"type": "hold_ok"}

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        held = [h.send_request({"type": "hold"}) for _ in range(2)]
        await h.settle()
        refused = await h.request({"type": "echo", "echo": "x"})
        assert refused["body"]["type"] == "error"
        assert refused["body"]["code"] == ErrorCode.TEMPORARILY_UNAVAILABLE
        assert ErrorCode(refused["body"]["code"]).definite
        h.deliver({"type": "hold"})  # no msg_id: dropped silently
        await h.settle()
        assert node.metrics.rejected_overload == 2
        release.set()
        for msg_id in held:
            assert (await h.reply_to(msg_id))["body"]["type"] == "hold_ok"
        assert (await h.request({"type": "echo", "echo": "y"}))["body"]["echo"] == "y"
        await h.stop()

    run(main())


# ----------------------------------------------------------------------------- robustness
def test_unknown_type_with_msg_id_gets_error_10_without_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> Node:
        node = Echo(seed=1)
        h = Driver(node)
        await h.start()
        reply = await h.request({"type": "frobnicate"})
        assert reply["body"]["code"] == ErrorCode.NOT_SUPPORTED
        assert "frobnicate" in reply["body"]["text"]
        before = len(h.sent)
        h.deliver({"type": "frobnicate"})
        await h.settle()
        assert len(h.sent) == before
        await h.stop()
        return node

    with caplog.at_level("WARNING", logger="glome"):
        node = run(main())
    assert node.metrics.unknown_types == 2
    assert sum("no handler" in r.getMessage() for r in caplog.records) == 2


def test_handler_exception_is_error_13_and_the_node_keeps_serving() -> None:
    class N(Echo):
        @handler("boom")
        def boom(self, msg: Message) -> dict[str, Any]:
            raise ZeroDivisionError("bad luck")

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        for _ in range(3):
            reply = await h.request({"type": "boom"})
            assert reply["body"]["code"] == ErrorCode.CRASH
            assert "ZeroDivisionError: bad luck" in reply["body"]["text"]
            assert (await h.request({"type": "echo", "echo": 1}))["body"]["echo"] == 1
        assert node.metrics.handler_crashes == 3
        await h.stop()

    run(main())


def test_handler_raising_an_rpc_error_answers_with_its_code() -> None:
    class N(Node):
        @handler("txn")
        async def txn(self, msg: Message) -> dict[str, Any]:
            raise TxnConflict("key 3 changed")

        @handler("read")
        def read(self, msg: Message) -> dict[str, Any]:
            raise KeyDoesNotExist()

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        conflict = await h.request({"type": "txn"})
        assert conflict["body"] == {
            "type": "error",
            "code": 30,
            "text": "key 3 changed",
            "in_reply_to": h._next_msg_id,
        }
        missing = await h.request({"type": "read"})
        assert missing["body"]["code"] == 20
        assert missing["body"]["text"] == "key does not exist"
        assert node.metrics.handler_crashes == 0
        await h.stop()

    run(main())


def test_unserialisable_reply_is_logged_and_replaced_by_error_13() -> None:
    class N(Echo):
        @handler("weird")
        def weird(self, msg: Message) -> dict[str, Any]:
            return {"type": "weird_ok", "value": object()}

        @handler("huge")
        async def huge(self, msg: Message) -> dict[str, Any]:
            return {"type": "huge_ok", "value": 2**70}

        @handler("tell")
        def tell(self, msg: Message) -> None:
            self.send("n2", {"type": "note", "value": {1, 2}})  # a set: not JSON

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        for kind in ("weird", "huge"):
            reply = await h.request({"type": kind})
            assert reply["body"]["code"] == ErrorCode.CRASH
            assert "serialised" in reply["body"]["text"]
        h.send_request({"type": "tell"})
        await h.settle()
        assert not [m for m in h.sent if m["dest"] == "n2"]
        assert node.metrics.unserialisable == 3
        assert (await h.request({"type": "echo", "echo": "still here"}))["body"][
            "echo"
        ] == "still here"
        await h.stop()

    run(main())


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"\xff\xfe\x00",
        b'{"src": 1, "dest": "n1", "body": {"type": "echo"}}',
        b'{"src": "c1", "dest": "n1"}',
        b'{"src": "c1", "dest": "n1", "body": []}',
        b'{"src": "c1", "dest": "n1", "body": {"msg_id": 1}}',
        b'{"src": "c1", "dest": "n1", "body": {"type": 5, "msg_id": 1}}',
        b'{"src": "c1", "dest": "n1", "body": {"type": "echo", "echo": "\\ud800", "msg_id": 1}}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_lines_are_skipped(line: bytes) -> None:
    async def main() -> Node:
        node = Echo(seed=1)
        h = Driver(node)
        await h.start()
        before = len(h.sent)
        h.deliver_line(line)
        await h.settle()
        assert len(h.sent) == before
        assert (await h.request({"type": "echo", "echo": "ok"}))["body"]["echo"] == "ok"
        await h.stop()
        return node

    node = run(main())
    assert node.metrics.malformed_lines == (1 if line.strip() else 0)


def test_bool_in_reply_to_is_not_a_msg_id() -> None:
    """``true == 1`` in Python: a reply with in_reply_to true must not complete RPC 1."""

    async def main() -> None:
        node = Echo(seed=1)
        h = Driver(node)
        await h.start()
        call = asyncio.ensure_future(node.rpc("n2", {"type": "ping"}, timeout=BOUND))
        (ping,) = await h.sent_to("n2")
        assert ping["body"]["msg_id"] == 1
        h.deliver({"type": "pong", "in_reply_to": True}, src="n2")
        await h.settle()
        assert not call.done()
        h.deliver({"type": "pong", "in_reply_to": 1}, src="n2")
        assert (await call)["type"] == "pong"
        assert node.metrics.late_replies == 1
        await h.stop()

    run(main())


# ------------------------------------------------------------------------------------ EOF
def test_eof_ends_serve_within_grace_even_with_a_stuck_handler() -> None:
    stopped: list[bool] = []

    class N(Echo):
        eof_grace = 0.05

        @handler("stuck")
        async def stuck(self, msg: Message) -> None:
            await asyncio.Event().wait()  # never set

        async def on_stop(self) -> None:
            stopped.append(True)

    async def main() -> Node:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        node.every(0.01, lambda: None)  # a periodic task never delays the end
        h.send_request({"type": "stuck"})
        await h.settle()
        await h.stop()
        assert h.transport.closed
        assert not node._serving().tasks  # everything was cancelled
        return node

    run(main())
    assert stopped == [True]


def test_eof_lets_in_flight_handlers_finish_within_grace() -> None:
    class N(Echo):
        eof_grace = BOUND

        @handler("slowish")
        async def slowish(self, msg: Message) -> dict[str, Any]:
            await self.sleep(0.02)
            return {"type": "slowish_ok"}

    async def main() -> None:
        h = Driver(N(seed=1))
        await h.start()
        msg_id = h.send_request({"type": "slowish"})
        await h.stop()  # EOF arrives while the handler sleeps
        assert (await h.reply_to(msg_id))["body"]["type"] == "slowish_ok"

    run(main())


def test_cancelling_serve_kills_the_node_without_on_stop() -> None:
    stopped: list[bool] = []

    class N(Echo):
        async def on_stop(self) -> None:
            stopped.append(True)

    async def main() -> None:
        node = N(seed=1)
        h = Driver(node)
        await h.start()
        node.every(0.01, lambda: None)
        assert h.task is not None
        h.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await h.task
        assert not node._serving().tasks

    run(main())
    assert stopped == []


# --------------------------------------------------------------------------- periodic tasks
class RecordingSleep(Echo):
    """Sleeps no real time, and records every wait it was asked for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def test_every_applies_jitter_and_survives_exceptions() -> None:
    calls: list[int] = []

    async def main() -> RecordingSleep:
        node = RecordingSleep(seed=7)
        h = Driver(node)
        await h.start()

        async def tick() -> None:
            calls.append(len(calls))
            if len(calls) % 2:
                raise RuntimeError("odd tick")

        node.every(1.0, tick, jitter=0.25)
        while len(calls) < 10:
            await asyncio.sleep(0)
        await h.stop()
        return node

    node = run(main())
    assert len(calls) >= 10  # exceptions on every other tick did not stop it
    assert all(0.75 <= w <= 1.25 for w in node.waits)
    assert len(set(node.waits)) > 5  # jittered, not lock-step


def test_every_is_deterministic_for_a_seed() -> None:
    async def waits(seed: int) -> list[float]:
        node = RecordingSleep(seed=seed)
        h = Driver(node)
        await h.start()
        node.every(0.5, lambda: None)
        while len(node.waits) < 5:
            await asyncio.sleep(0)
        await h.stop()
        return node.waits[:5]

    assert run(waits(3)) == run(waits(3))
    assert run(waits(3)) != run(waits(4))


def test_spawned_task_failure_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        node = Echo(seed=1)
        h = Driver(node)
        await h.start()

        async def fail() -> None:
            raise ValueError("background oops")

        node.spawn(fail(), name="oops")
        await h.settle()
        assert (await h.request({"type": "echo", "echo": 2}))["body"]["echo"] == 2
        await h.stop()

    with caplog.at_level("ERROR", logger="glome"):
        run(main())
    assert any("background oops" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------- the process loop
def test_loop_choice_follows_glome_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from glome.runtime import node as node_module

    monkeypatch.setenv("GLOME_LOOP", "asyncio")
    assert node_module._loop_factory() is None
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed
    monkeypatch.setenv("GLOME_LOOP", "auto")
    assert node_module._loop_factory() is None
    monkeypatch.setenv("GLOME_LOOP", "uvloop")
    with pytest.raises(RuntimeError, match="uvloop is not installed"):
        node_module._loop_factory()


def test_an_overridden_reply_is_used_for_returned_bodies() -> None:
    class Stamped(Echo):
        @handler("sync_echo")
        def sync_echo(self, msg: Message) -> dict[str, Any]:
            return {"type": "sync_echo_ok"}

        def reply(self, request: Message, body: dict[str, Any]) -> None:
            super().reply(request, {**body, "stamped": True})

    async def main() -> None:
        h = Driver(Stamped(seed=1))
        await h.start()
        assert (await h.request({"type": "sync_echo"}))["body"]["stamped"] is True
        assert (await h.request({"type": "echo", "echo": 1}))["body"]["stamped"] is True
        await h.stop()

    run(main())
