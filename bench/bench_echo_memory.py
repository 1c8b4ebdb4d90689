"""The runtime's own cost per message: echo lines through a node on a memory transport.

    .venv/bin/python bench/bench_echo_memory.py [--base /tmp/base] [--lines 50000]
    .venv/bin/python bench/bench_echo_memory.py --base /tmp/base --callgrind --lines 20000

No pipes, no event-loop wake-ups: each line goes through the transport's line parser, the
runtime's routing and dispatch, the echo handler, the reply and the transport's send, which is
what ``bench_echo.py`` measures plus the pipes. Each tree (this one, and ``--base``: another
checkout, e.g. ``git worktree add /tmp/base 523db65``) runs in a fresh interpreter; the figure
is CPU microseconds per line (best of 5 passes), or with ``--callgrind`` the instructions of the
whole child (start-up included: read the difference).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
import orjson
from glome.nodes.echo import Echo
from glome.runtime import MemoryTransport

LINES, PASSES = int(sys.argv[2]), int(sys.argv[3])
# The memory transport took lines before the redesign (deliver), messages after (deliver_line).
by_line = not hasattr(MemoryTransport, "deliver_line")


async def main() -> None:
    transport = MemoryTransport((lambda line: None) if by_line else (lambda *sent: None))
    node = Echo(seed=1)
    task = asyncio.ensure_future(node.serve(transport))
    await asyncio.sleep(0)
    feed = transport.deliver if by_line else transport.deliver_line
    init = {"type": "init", "msg_id": 0, "node_id": "n0", "node_ids": ["n0"]}
    feed(orjson.dumps({"src": "c0", "dest": "n0", "body": init}))
    for _ in range(5):
        await asyncio.sleep(0)
    lines = [
        orjson.dumps({"src": "c1", "dest": "n0", "body": {"type": "echo", "echo": f"m{i}", "msg_id": i + 1}})
        for i in range(LINES)
    ]
    best = float("inf")
    for _ in range(PASSES):
        started = time.process_time()
        for line in lines:
            feed(line)
        best = min(best, (time.process_time() - started) / LINES * 1e6)
    print(f"{best:.2f}")
    transport.end()
    await task


asyncio.run(main())
"""


def cpu_us(tree: Path, lines: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(lines), "5"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return float(out.split()[-1])


def instructions(tree: Path, lines: int) -> int:
    return callgrind.instructions(
        [sys.executable, "-c", CHILD, str(tree), str(lines), "1"], cwd=Path.cwd()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="another checkout to run side by side")
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    trees = {"this": ROOT} | ({"base": args.base.resolve()} if args.base else {})
    for name, tree in trees.items():
        if args.callgrind:
            print(f"{name}: {instructions(tree, args.lines):,} instructions ({args.lines} lines)")
        else:
            print(f"{name}: {cpu_us(tree, args.lines):.2f} CPU us per line (best of 5 passes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
