"""Property-based fuzzing of the runtime with hostile input, through the echo node.

Hostile lines (invalid UTF-8, truncated and byte-mutated JSON, deep nesting, huge numbers,
wrong types, missing fields, lines over 1 MB, NUL bytes, lone surrogates, replies with bogus
in_reply_to, repeated init, unknown types) are interleaved with valid echo requests from the
client ``cv``. Properties: the node never dies, stdout carries protocol messages only, and
every valid request gets exactly one correct reply (matched by msg_id and content).

Two drivers share the generator: the real process over pipes (one process for the whole run,
every Hypothesis example a batch of lines) and the in-memory transport. Both are derandomized,
so a run is reproducible; the subprocess run asserts at least 10,000 hostile lines in total.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glome.nodes.echo import Echo
from glome.testing import Driver

ROOT = Path(__file__).resolve().parents[1]
VALID_SRC = "cv"  # only valid requests come from here; hostile lines use other sources
INIT = {
    "src": "c0",
    "dest": "n0",
    "body": {"type": "init", "node_id": "n0", "node_ids": ["n0", "n1"], "msg_id": 1},
}

# ---------------------------------------------------------------------------- generators
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
json_values = (
    json_scalars
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=4), json_scalars, max_size=3)
)
"""Echo payloads: flat on purpose (recursive strategies cost Hypothesis ~20 ms a draw)."""
WRONG = [None, True, False, 0, -1, 1.5, 2**64 - 1, 1.8e19, "", "n0", [], {}, [1], {"a": 1}, "\x00"]
HUGE = [
    b"1e400",
    b"-1e400",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b"1e308",
    b"-0",
    b"0.0000001e-400",
    b"1" * 5000,
]


def envelope(body: Any, src: Any = "cx", dest: Any = "n0") -> bytes:
    return orjson.dumps({"src": src, "dest": dest, "body": body})


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value drawn from ``rng``: cheap filler for the hostile templates."""
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 3 and roll < 0.35:
        return {rng.choice("abc\x00é"): random_value(rng, depth + 1) for _ in range(3)}
    return rng.choice([None, True, 0, -(2**63), 2**64 - 1, 0.1, "", "x\x00y", "é世😀", "\\"])


VARIANTS = 20
"""Lines per hostile template: volume comes cheaply from the seed, structure from Hypothesis."""


def expand(kind: str, seed: int) -> list[bytes]:
    """One hostile template -> about VARIANTS lines, seeded by Hypothesis."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for _ in range(1 if kind == "long" else VARIANTS):
        out.extend(variant(kind, rng))
    return out


def variant(kind: str, rng: random.Random) -> list[bytes]:
    value = random_value(rng)
    echo = envelope({"type": "echo", "echo": value, "msg_id": rng.randrange(1, 10**6)})
    if kind == "raw":
        return [rng.randbytes(rng.randrange(0, 300)).replace(b"\n", b"")]
    if kind == "prefixes":  # every proper prefix of a valid message is invalid JSON
        return [echo[: rng.randrange(1, len(echo))]]
    if kind == "mutate":  # flip bytes; a survivor may even be valid (then it is answered)
        b = bytearray(echo)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.choice(b'\x00\xff\x80\xc0"{}[],:\\ ax1')
        return [bytes(b).replace(b"\n", b"")]
    if kind == "nesting":
        n = rng.choice([2, 100, 255, 1023, 1025, 3000, 20_000])
        return [
            b"[" * n + b"]" * n,
            b'{"a":' * n + b"1" + b"}" * n,
            b'{"src":"cx","dest":"n0","body":{"type":"echo","msg_id":3,"echo":'
            + b"[" * n
            + b"]" * n
            + b"}}",
        ]
    if kind == "huge":
        num = rng.choice(HUGE)
        field = rng.choice([b"msg_id", b"echo", b"in_reply_to", b"code"])
        return [
            b'{"src":"cx","dest":"n0","body":{"type":"echo","' + field + b'":' + num + b"}}",
            b'{"src":"cx","dest":"n0","id":' + num + b',"body":{"type":"echo"}}',
        ]
    if kind == "wrong_types":
        msg: dict[str, Any] = {
            "src": "cx",
            "dest": "n0",
            "body": {"type": "echo", "echo": value, "msg_id": 5},
        }
        where, field = rng.choice(
            [
                (msg, "src"),
                (msg, "dest"),
                (msg, "body"),
                (msg["body"], "type"),
                (msg["body"], "msg_id"),
            ]
        )
        where[field] = rng.choice(WRONG)
        return [orjson.dumps(msg)]
    if kind == "missing":
        msg = {"src": "cx", "dest": "n0", "body": {"type": "echo", "msg_id": 6}}
        del msg[rng.choice(["src", "dest", "body"])]
        body_less = {"src": "cx", "dest": "n0", "body": {"msg_id": 7, "echo": value}}
        return [orjson.dumps(msg), orjson.dumps(body_less), b"{}", b"null", b"[]", b'"x"']
    if kind == "long":  # > 1 MB: an unterminated string, and a valid one (answered)
        n = 1_000_000 + rng.randrange(100_000)
        return [
            b'{"src":"cx","dest":"n0","body":{"type":"echo","echo":"' + b"y" * n,
            envelope({"type": "echo", "echo": "z" * n, "msg_id": 8}),
        ]
    if kind == "nul":
        pos = rng.randrange(len(echo))
        return [echo[:pos] + b"\x00" + echo[pos:], b"\x00" * rng.randrange(1, 50), echo + b"\x00"]
    if kind == "surrogates":
        bad = rng.choice([rb'"\ud800"', rb'"\udfff"', rb'"a\udc00b"', rb'"\ud800\ud800"'])
        return [
            b'{"src":"cx","dest":"n0","body":{"type":"echo","msg_id":9,"echo":' + bad + b"}}",
            b'{"src":' + bad + b',"dest":"n0","body":{"type":"echo","msg_id":9}}',
            b'{"src":"cx","dest":"n0","body":{"type":' + bad + b',"msg_id":9}}',
        ]
    if kind == "bogus_reply":
        irt = rng.choice([1, 2, 10**6, -1, 0, True, False, 1.0, "1", [1], {"x": 1}, 2**64 - 1])
        return [
            envelope(
                {
                    "type": rng.choice(["echo_ok", "read_ok", "error", "echo"]),
                    "in_reply_to": irt,
                    "code": 11,
                },
                src=rng.choice(["n1", "lin-kv", "cx"]),
            )
        ]
    if kind == "init":
        body = {
            "type": "init",
            "msg_id": rng.randrange(100),
            "node_id": rng.choice(["n0", "n1", 7, None]),
            "node_ids": rng.choice([["n0"], ["n0", "n1"], "n0", [1, 2], None]),
        }
        if rng.random() < 0.3:
            del body["node_ids"]
        return [envelope(body, src=rng.choice(["c0", "cx"]))]
    if kind == "unknown":
        return [
            envelope(
                {
                    "type": rng.choice(["", "ECHO", "echo_ok", "topology", "\x00", "é"]),
                    "msg_id": rng.randrange(10**6),
                }
            )
        ]
    if kind == "whitespace":
        return [b"", b" ", b"\t", b"\r", echo + b"\r", b" " + echo + b" ", echo + b"garbage"]
    raise AssertionError(kind)


COMMON = [
    "raw",
    "prefixes",
    "mutate",
    "nesting",
    "huge",
    "wrong_types",
    "missing",
    "nul",
    "surrogates",
    "bogus_reply",
    "init",
    "unknown",
    "whitespace",
]
KINDS = COMMON * 15 + ["long"]  # a > 1 MB line in about one template in 200
hostile = st.tuples(st.just("hostile"), st.sampled_from(KINDS), st.integers(0, 2**32))
valid = st.tuples(st.just("valid"), json_values)
batches = st.lists(st.one_of(hostile, hostile, valid), min_size=10, max_size=40)


class Batch:
    """A batch of lines with the valid requests it contains and the replies they need."""

    def __init__(self, items: list[tuple[Any, ...]], next_id: int) -> None:
        self.lines: list[bytes] = []
        self.expected: dict[int, dict[str, Any]] = {}
        self.hostile = 0
        for item in items:
            if item[0] == "valid":
                next_id += 1
                body = {"type": "echo", "echo": item[1], "msg_id": next_id}
                self.lines.append(envelope(body, src=VALID_SRC))
                self.expected[next_id] = {
                    "src": "n0",
                    "dest": VALID_SRC,
                    "body": {"type": "echo_ok", "echo": item[1], "in_reply_to": next_id},
                }
            else:
                produced = expand(item[1], item[2])
                self.hostile += len(produced)
                self.lines.extend(produced)
        next_id += 1  # a sentinel: when its reply arrives, the batch has been processed
        self.sentinel = next_id
        self.lines.append(
            envelope({"type": "echo", "echo": "sentinel", "msg_id": next_id}, src=VALID_SRC)
        )
        self.next_id = next_id

    def check(self, replies: list[dict[str, Any]]) -> None:
        """``replies``: everything the node said to VALID_SRC during this batch."""
        by_id: dict[int, list[dict[str, Any]]] = {}
        for r in replies:
            by_id.setdefault(r["body"]["in_reply_to"], []).append(r)
        assert set(by_id) == {*self.expected, self.sentinel}, "unexpected or missing replies"
        for msg_id, want in self.expected.items():
            assert by_id[msg_id] == [want], f"wrong reply to {msg_id}"


def assert_protocol(msg: Any) -> None:
    assert isinstance(msg, dict) and set(msg) == {"src", "dest", "body"}, msg
    assert msg["src"] == "n0"  # repeated hostile inits never changed the node's id
    assert isinstance(msg["dest"], str) and isinstance(msg["body"]["type"], str)


def fuzz_settings(max_examples: int) -> settings:
    """Deterministic: derandomized, no example database, no deadline (processes are slow)."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        max_examples=max_examples,
        suppress_health_check=list(HealthCheck),
    )


# ------------------------------------------------------------------ the real process driver
class NodeProcess:
    """``python -m glome.nodes.echo`` with its stdout parsed on a reader thread."""

    def __init__(self, stderr_path: Path) -> None:
        self.stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "glome.nodes.echo"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env={**os.environ, "GLOME_LOG_LEVEL": "ERROR"},
        )
        self.out: queue.Queue[bytes | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.out.put(raw)
        self.out.put(None)

    def write(self, lines: list[bytes]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(line + b"\n" for line in lines))
        self.proc.stdin.flush()

    def until_reply(self, msg_id: int, dest: str) -> list[dict[str, Any]]:
        """Every message up to and including the reply to ``msg_id`` (bounded wait)."""
        seen = []
        while True:
            raw = self.out.get(timeout=30)
            assert raw is not None, "the node closed its stdout (it died)"
            msg = orjson.loads(raw)
            assert_protocol(msg)
            seen.append(msg)
            if msg["dest"] == dest and msg["body"].get("in_reply_to") == msg_id:
                return seen


def test_fuzz_echo_process(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "stderr.log")
    state = {"next_id": 1, "hostile": 0, "valid": 0}
    try:
        node.write([orjson.dumps(INIT)])
        node.until_reply(1, "c0")

        @fuzz_settings(max_examples=45)
        @given(items=batches)
        def one_batch(items: list[tuple[Any, ...]]) -> None:
            batch = Batch(items, state["next_id"])
            state["next_id"] = batch.next_id
            node.write(batch.lines)
            said = node.until_reply(batch.sentinel, VALID_SRC)
            batch.check([m for m in said if m["dest"] == VALID_SRC])
            state["hostile"] += batch.hostile
            state["valid"] += len(batch.expected)

        one_batch()
        assert node.proc.stdin is not None
        node.proc.stdin.close()
        assert node.proc.wait(timeout=30) == 0
        assert node.out.get(timeout=30) is None  # nothing after the last reply
    finally:
        if node.proc.poll() is None:
            node.proc.kill()
        node.stderr.close()
    assert state["hostile"] >= 10_000, state
    assert state["valid"] >= 300, state
    metrics = orjson.loads((tmp_path / "stderr.log").read_bytes().splitlines()[-1])
    assert metrics["msg"] == "metrics", "the last stderr line is the metrics record"


# ------------------------------------------------------------------ the in-memory driver
@fuzz_settings(max_examples=30)
@given(items=batches)
def test_fuzz_echo_in_memory(items: list[tuple[Any, ...]]) -> None:
    async def main() -> None:
        said: list[dict[str, Any]] = []

        def outbox(msg: dict[str, Any]) -> None:
            assert_protocol(msg)
            said.append(msg)

        driver = Driver(Echo(seed=0))
        driver.on_send = outbox
        await driver.start(init=False)
        driver.deliver_line(orjson.dumps(INIT))
        while not said:
            await asyncio.sleep(0)
        batch = Batch(items, 1)
        for line in batch.lines:
            driver.deliver_line(line)
            assert driver.task is not None and not driver.task.done(), "the node stopped serving"
        while not any(
            m["body"].get("in_reply_to") == batch.sentinel and m["dest"] == VALID_SRC for m in said
        ):
            await asyncio.sleep(0)
        batch.check([m for m in said if m["dest"] == VALID_SRC])
        await driver.stop()

    asyncio.run(asyncio.wait_for(main(), 10))
