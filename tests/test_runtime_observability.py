"""Structured JSON logs on stderr and per-node metrics."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from glome.runtime import Message, Node, handler
from glome.runtime import logs as glome_logs
from glome.testing import Driver

BOUND = 5.0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """glome's JSON log handler writing to a buffer at DEBUG; the logger restored after."""
    root = logging.getLogger("glome")
    saved = (list(root.handlers), root.level, root.propagate)
    stream = io.StringIO()
    glome_logs.configure(stream, level="DEBUG")
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root.propagate = saved[2]


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


class Echo(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body["echo"]}

    @handler("boom")
    async def boom(self, msg: Message) -> None:
        raise RuntimeError("kaput")


async def exercise(node: Node) -> list[bytes]:
    """init, two echoes, an unknown type, a crash, a stray reply, a bad line, then EOF."""
    driver = Driver(node, "n1", ["n1"])
    await driver.start(init=False)
    bodies = [
        {"type": "init", "node_id": "n1", "node_ids": ["n1"], "msg_id": 1},
        {"type": "echo", "echo": "a", "msg_id": 2},
        {"type": "echo", "echo": "b", "msg_id": 3},
        {"type": "nope", "msg_id": 4},
        {"type": "boom", "msg_id": 5},
        {"type": "read_ok", "in_reply_to": 77},
    ]
    for body in bodies:
        driver.deliver(body)
        await driver.settle(5)
    driver.deliver_line(b"{oops")
    await driver.stop()
    return [orjson.dumps(envelope) for envelope in driver.sent]


def test_logs_are_json_lines_with_protocol_fields(json_log: io.StringIO) -> None:
    asyncio.run(exercise(Echo(seed=1)))
    logged = records(json_log)
    assert all({"level", "logger", "msg", "node"} <= r.keys() for r in logged)
    by_msg = {r["msg"].split(":")[0].split(" '")[0]: r for r in logged}
    unknown = by_msg["no handler for"]
    assert unknown == {**unknown, "level": "warning", "node": "n1", "type": "nope", "msg_id": 4}
    crash = by_msg["handler for"]
    assert crash["level"] == "error" and crash["type"] == "boom" and crash["msg_id"] == 5
    assert "RuntimeError: kaput" in crash["exc"]
    late = by_msg["dropping a reply no RPC is waiting for"]
    assert late["level"] == "debug" and late["in_reply_to"] == 77 and late["type"] == "read_ok"
    bad = by_msg["skipping malformed line"]
    assert bad["level"] == "warning" and bad["line"] == "{oops"


def test_metrics_json_line_is_the_last_record_at_stop(json_log: io.StringIO) -> None:
    node = Echo(seed=1)
    out = asyncio.run(exercise(node))
    last = records(json_log)[-1]
    assert last["msg"] == "metrics" and last["node"] == "n1"
    snap = last["metrics"]
    assert snap == orjson.loads(orjson.dumps(node.metrics.snapshot()))
    assert snap["msgs_in"] == {"boom": 1, "echo": 2, "init": 1, "nope": 1, "read_ok": 1}
    assert snap["msgs_out"] == {"echo_ok": 2, "error": 2, "init_ok": 1}
    assert snap["bytes_out"] == sum(len(line) + 1 for line in out)
    assert snap["bytes_in"] > 0
    assert snap["handler_latency"]["count"] == 3  # two echoes and the crash
    assert sum(snap["handler_latency"]["histogram_us_log2"].values()) == 3
    assert snap["unknown_types"] == 1
    assert snap["handler_crashes"] == 1
    assert snap["late_replies"] == 1
    assert snap["malformed_lines"] == 1


def test_hostile_type_names_cannot_grow_the_counters_without_bound() -> None:
    async def main() -> Node:
        node = Echo(seed=1)
        driver = Driver(node, "n1", ["n1"])
        await driver.start(init=False)
        for i in range(2000):
            driver.deliver({"type": f"t{i}", "in_reply_to": i})
        await driver.stop()
        return node

    node = asyncio.run(main())
    assert len(node.metrics.msgs_in) <= 257
    assert sum(node.metrics.msgs_in.values()) == 2000


def test_log_records_that_orjson_refuses_are_still_written(json_log: io.StringIO) -> None:
    logging.getLogger("glome.test").warning("lone \ud800", extra={"big": 2**80, "b": b"x"})
    (rec,) = records(json_log)
    assert rec["big"] == str(2**80) and rec["msg"] == "lone \\ud800"


def test_metrics_line_is_written_even_when_logs_are_quiet() -> None:
    root = logging.getLogger("glome")
    saved = (list(root.handlers), root.level, root.propagate)
    stream = io.StringIO()
    glome_logs.configure(stream, level="error")
    try:
        asyncio.run(exercise(Echo(seed=1)))
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root.propagate = saved[2]
    logged = records(stream)
    assert [r["level"] for r in logged] == ["error", "info"]  # the crash, then the metrics
    assert logged[-1]["msg"] == "metrics" and logged[-1]["logger"] == "glome.metrics"
