"""Echo round trips per second through one node process over pipes, against a bare ceiling.

    .venv/bin/python bench/bench_echo.py [--rounds 40] [--burst 1000] [--window 64]
    .venv/bin/python bench/bench_echo.py --base /tmp/base   # also another checkout's node

Every binary is driven by the same driver, in the same run:

- ``node (asyncio)`` / ``node (uvloop)``: ``python -m glome.nodes.echo`` (the full glome
  runtime: parsing and validation, dispatch, metrics, reply routing) on asyncio's own event
  loop and, when uvloop is installed, on uvloop's (``GLOME_LOOP``);
- ``async handler``: the same with ``async def echo`` (asyncio loop): a task per request on
  Python 3.11, an eager task on 3.12+, where the plain ``def`` handler runs inline;
- ``ceiling``: a bare loop that reads a line from stdin, ``orjson.loads`` it, builds the reply
  and ``orjson.dumps`` it to stdout with a flush. No runtime can do less per message in Python.
- ``base (asyncio)`` / ``base (uvloop)``, with ``--base PATH``: the echo node of another
  checkout (``git worktree add PATH COMMIT``), for a side-by-side comparison in one run;
- ``asyncio floor``: the least an asyncio program can do (``add_reader``, ``os.read``, orjson,
  one ``os.write`` per chunk): what the event loop itself costs, for scale.

Two modes: ``sequential`` (one request, wait for its reply, next request: latency-bound) and
``pipelined`` (keep ``--window`` requests outstanding: throughput-bound). Every reply is parsed
and checked (``in_reply_to`` and echoed text), so a fast but wrong binary cannot win.
All binaries run side by side and take turns in short bursts (see ``measure``); each cell
reports the median and best burst rate, and the binary's own CPU time per round trip read
from /proc (the figure least disturbed by other processes). The table goes to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
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
BINARIES: dict[str, tuple[list[str], dict[str, str]] | tuple[list[str], dict[str, str], Path]] = {
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

    def __init__(self, argv: list[str], extra_env: dict[str, str], cwd: Path = ROOT) -> None:
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "GLOME_LOG_LEVEL": "WARNING", "PYTHONPATH": pythonpath, **extra_env}
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            cwd=cwd,
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


class Cell:
    """One binary in one mode: the rate of every burst, and CPU time over all of them."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu_s = 0.0
        self.requests = 0

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu_s / self.requests


def measure(mode: str, rounds: int, burst: int, window: int) -> dict[str, Cell]:
    """Every binary runs at once; bursts of ``burst`` round trips take turns, in a rotating
    order, ``rounds`` times. A busy machine's load drifts on a scale of seconds: bursts of a
    few tens of ms, interleaved, see the same conditions, and the median ignores spikes."""
    peers = {name: Peer(*spec) for name, spec in BINARIES.items()}
    cells = {name: Cell() for name in BINARIES}
    try:
        for peer in peers.values():
            peer.init()
            sequential(peer, burst)  # warm up
        names = list(peers)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                peer, cell = peers[name], cells[name]
                cpu = peer.cpu_seconds()
                if mode == "sequential":
                    cell.rates.append(sequential(peer, burst))
                else:
                    cell.rates.append(pipelined(peer, burst, window))
                cell.cpu_s += peer.cpu_seconds() - cpu
                cell.requests += burst
    finally:
        for peer in peers.values():
            peer.close()
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--burst", type=int, default=1000, help="round trips per turn")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--base", type=Path, help="another checkout whose echo node to run too")
    args = parser.parse_args()
    if args.base is not None:
        base = args.base.resolve()
        for loop in ("asyncio", "uvloop"):
            if f"node ({loop})" in BINARIES:
                env = {"GLOME_LOOP": loop, "PYTHONPATH": str(base)}
                BINARIES[f"base ({loop})"] = (NODE, env, base)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.processor() or '?'}; "
        f"Python {platform.python_version()}, orjson {orjson.__version__}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.rounds} rounds x {args.burst} round trips per binary and mode, "
        f"window {args.window}; rt/s = median (best) burst"
    )
    print()
    print(
        "| mode                  | binary         | rt/s median (best) | vs ceiling | CPU us/rt |"
    )
    print(
        "|-----------------------|----------------|-------------------:|-----------:|----------:|"
    )
    ratios = {}
    for mode in ("sequential", "pipelined"):
        cells = measure(mode, args.rounds, args.burst, args.window)
        ceiling = cells["ceiling"].median
        ratios[mode] = max(c.median for n, c in cells.items() if n.startswith("node (")) / ceiling
        label = mode if mode == "sequential" else f"pipelined (window {args.window})"
        for name, cell in cells.items():
            rates = f"{cell.median:,.0f} ({max(cell.rates):,.0f})"
            print(
                f"| {label:<21} | {name:<14} | {rates:>18} "
                f"| {cell.median / ceiling:>10.2f} | {cell.cpu_us:>9.1f} |"
            )
    print()
    verdict = "met" if ratios["sequential"] >= 0.5 else "NOT met"
    print(f"target (best node >= 0.5 x ceiling, sequential, medians): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
