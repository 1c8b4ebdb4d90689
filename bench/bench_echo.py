"""Echo round trips per second through one node process over pipes, against a bare ceiling.

    .venv/bin/python bench/bench_echo.py [--requests 20000] [--window 64] [--repeats 3]

Two binaries are driven by the same driver, in the same run:

- ``node (asyncio)`` / ``node (uvloop)``: ``python -m glome.nodes.echo`` (the full glome
  runtime: parsing and validation, dispatch, metrics, reply routing) on asyncio's own event
  loop and, when uvloop is installed, on uvloop's (``GLOME_LOOP``);
- ``async handler``: the same with ``async def echo`` (asyncio loop): a task per request on
  Python 3.11, an eager task on 3.12+, where the plain ``def`` handler runs inline;
- ``ceiling``: a bare loop that reads a line from stdin, ``orjson.loads`` it, builds the reply
  and ``orjson.dumps`` it to stdout with a flush. No runtime can do less per message in Python.
- ``asyncio floor``: the least an asyncio program can do (``add_reader``, ``os.read``, orjson,
  one ``os.write`` per chunk): what the event loop itself costs, for scale.

Two modes: ``sequential`` (one request, wait for its reply, next request: latency-bound) and
``pipelined`` (keep ``--window`` requests outstanding: throughput-bound). Every reply is parsed
and checked (``in_reply_to`` and echoed text), so a fast but wrong binary cannot win.
The best of ``--repeats`` runs is reported for each cell (rate and the binary's own CPU time
per round trip, read from /proc: the CPU figure is the one to trust on a busy machine); the
table goes to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]

CEILING_SOURCE = r"""
import sys, orjson
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    msg = orjson.loads(line)
    body = msg["body"]
    reply = dict(body)
    reply.pop("msg_id", None)
    reply["type"] = body["type"] + "_ok"
    reply["in_reply_to"] = body["msg_id"]
    out.write(orjson.dumps({"src": msg["dest"], "dest": msg["src"], "body": reply}) + b"\n")
    out.flush()
"""

ASYNCIO_FLOOR_SOURCE = r"""
import asyncio, os, orjson
async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    rest = b""
    os.set_blocking(0, False)
    def ready():
        nonlocal rest
        data = os.read(0, 65536)
        if not data:
            loop.remove_reader(0)
            done.set_result(None)
            return
        *lines, rest = (rest + data).split(b"\n")
        out = []
        for line in lines:
            msg = orjson.loads(line)
            body = msg["body"]
            reply = dict(body)
            reply.pop("msg_id", None)
            reply["type"] = body["type"] + "_ok"
            reply["in_reply_to"] = body["msg_id"]
            out.append(orjson.dumps({"src": msg["dest"], "dest": msg["src"], "body": reply}))
        os.write(1, b"\n".join(out) + b"\n")
    loop.add_reader(0, ready)
    await done
asyncio.run(main())
"""

NODE = [sys.executable, "-m", "glome.nodes.echo"]
ASYNC_ECHO_SOURCE = r"""
from glome.runtime import Node, handler
class AsyncEcho(Node):
    @handler("echo")
    async def echo(self, msg):
        return {"type": "echo_ok", "echo": msg.body.get("echo")}
AsyncEcho.main()
"""
BINARIES: dict[str, tuple[list[str], dict[str, str]]] = {
    "node (asyncio)": (NODE, {"GLOME_LOOP": "asyncio"}),
    "node (uvloop)": (NODE, {"GLOME_LOOP": "uvloop"}),
    "async handler": ([sys.executable, "-c", ASYNC_ECHO_SOURCE], {"GLOME_LOOP": "asyncio"}),
    "ceiling": ([sys.executable, "-c", CEILING_SOURCE], {}),
    "asyncio floor": ([sys.executable, "-c", ASYNCIO_FLOOR_SOURCE], {}),
}
if importlib.util.find_spec("uvloop") is None:
    del BINARIES["node (uvloop)"]


class Peer:
    """One binary under test, driven over raw pipe file descriptors (no Python buffering)."""

    def __init__(self, argv: list[str], extra_env: dict[str, str]) -> None:
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "GLOME_LOG_LEVEL": "WARNING", "PYTHONPATH": pythonpath, **extra_env}
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.buffer = b""
        self.next_id = 1

    def request(self, body: dict[str, object]) -> int:
        msg_id = self.next_id
        self.next_id += 1
        line = orjson.dumps({"src": "c1", "dest": "n0", "body": {**body, "msg_id": msg_id}})
        os.write(self.wfd, line + b"\n")
        return msg_id

    def requests(self, bodies: list[dict[str, object]]) -> list[int]:
        """Send several requests with one write (as a busy client's buffered pipe would)."""
        ids = list(range(self.next_id, self.next_id + len(bodies)))
        self.next_id += len(bodies)
        data = b"".join(
            orjson.dumps({"src": "c1", "dest": "n0", "body": {**body, "msg_id": msg_id}}) + b"\n"
            for body, msg_id in zip(bodies, ids, strict=True)
        )
        os.write(self.wfd, data)  # window * ~60 bytes: far below the pipe's 64 KiB
        return ids

    def replies(self) -> list[dict[str, object]]:
        """Block until at least one full line is available; return every complete reply."""
        while b"\n" not in self.buffer:
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise RuntimeError("binary closed its stdout")
            self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [orjson.loads(line)["body"] for line in lines]

    def init(self) -> None:
        msg_id = self.request({"type": "init", "node_id": "n0", "node_ids": ["n0"]})
        (reply,) = self.replies()
        assert reply["type"] == "init_ok" and reply["in_reply_to"] == msg_id, reply

    def cpu_seconds(self) -> float:
        """User + system CPU time the binary has used so far (from /proc, Linux only)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def sequential(peer: Peer, n: int) -> float:
    """Round trips per second, one request outstanding at a time."""
    started = time.perf_counter()
    for i in range(n):
        text = f"m{i}"
        msg_id = peer.request({"type": "echo", "echo": text})
        (reply,) = peer.replies()
        if reply.get("in_reply_to") != msg_id or reply.get("echo") != text:
            raise AssertionError(f"wrong reply {reply} to {msg_id}")
    return n / (time.perf_counter() - started)


def pipelined(peer: Peer, n: int, window: int) -> float:
    """Round trips per second with up to ``window`` requests outstanding."""
    expected: dict[int, str] = {}
    sent = done = 0
    started = time.perf_counter()
    while done < n:
        texts = [f"m{i}" for i in range(sent, min(n, sent + window - len(expected)))]
        if texts:
            ids = peer.requests([{"type": "echo", "echo": text} for text in texts])
            expected.update(zip(ids, texts, strict=True))
            sent += len(texts)
        for reply in peer.replies():
            text = expected.pop(reply["in_reply_to"], None)  # type: ignore[arg-type]
            if text is None or reply.get("echo") != text:
                raise AssertionError(f"unexpected reply {reply}")
            done += 1
    return n / (time.perf_counter() - started)


def measure(name: str, mode: str, n: int, window: int) -> tuple[float, float]:
    """(round trips per second, CPU microseconds the binary spent per round trip)."""
    peer = Peer(*BINARIES[name])
    try:
        peer.init()
        sequential(peer, max(1, n // 10))  # warm up
        cpu = peer.cpu_seconds()
        rate = sequential(peer, n) if mode == "sequential" else pipelined(peer, n, window)
        return rate, 1e6 * (peer.cpu_seconds() - cpu) / n
    finally:
        peer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.processor() or '?'}; "
        f"Python {platform.python_version()}, orjson {orjson.__version__}"
    )
    print(f"requests per run: {args.requests}, window: {args.window}, best of {args.repeats}")
    print()
    print("| mode                  | binary         |   rt/s | vs ceiling | CPU us/rt |")
    print("|-----------------------|----------------|-------:|-----------:|----------:|")
    ratios = {}
    for mode in ("sequential", "pipelined"):
        rate = {name: 0.0 for name in BINARIES}
        cpu = {name: float("inf") for name in BINARIES}
        for _ in range(args.repeats):
            for name in BINARIES:  # interleaved, so drift in machine load hits all alike
                r, c = measure(name, mode, args.requests, args.window)
                rate[name], cpu[name] = max(rate[name], r), min(cpu[name], c)
        ratios[mode] = max(rate[n] for n in BINARIES if n.startswith("node (")) / rate["ceiling"]
        label = mode if mode == "sequential" else f"pipelined (window {args.window})"
        for name in BINARIES:
            print(
                f"| {label:<21} | {name:<14} | {rate[name]:>6,.0f} "
                f"| {rate[name] / rate['ceiling']:>10.2f} | {cpu[name]:>9.1f} |"
            )
    print()
    verdict = "met" if ratios["sequential"] >= 0.5 else "NOT met"
    print(f"target (best node >= 0.5 x ceiling on sequential round trips): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
