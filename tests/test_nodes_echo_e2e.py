"""The echo node as a real process over pipes: ``python -m glome.nodes.echo``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "module": [sys.executable, "-m", "glome.nodes.echo"],
    "runner": [sys.executable, "-m", "glome.runtime", "glome.nodes.echo:Echo"],
}


def line(src: str, body: dict[str, Any], dest: str = "n0") -> bytes:
    return orjson.dumps({"src": src, "dest": dest, "body": body}) + b"\n"


LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop not installed"
        ),
    ),
]


def run_node(
    argv: list[str], stdin: bytes | Path, loop: str = "auto"
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GLOME_LOOP": loop}
    if isinstance(stdin, Path):
        with stdin.open("rb") as f:
            return subprocess.run(
                argv, stdin=f, check=False, capture_output=True, cwd=ROOT, timeout=30, env=env
            )
    return subprocess.run(
        argv, input=stdin, check=False, capture_output=True, cwd=ROOT, timeout=30, env=env
    )


def protocol_lines(stdout: bytes) -> list[dict[str, Any]]:
    """Every stdout line must be a protocol message: that is all stdout may carry."""
    out = []
    for raw in stdout.split(b"\n")[:-1]:
        msg = orjson.loads(raw)
        assert set(msg) == {"src", "dest", "body"}, msg
        assert isinstance(msg["body"], dict) and isinstance(msg["body"]["type"], str)
        out.append(msg)
    assert stdout.endswith(b"\n") or stdout == b""
    return out


def script(n: int) -> tuple[bytes, dict[int, Any]]:
    data = line("c0", {"type": "init", "node_id": "n0", "node_ids": ["n0"], "msg_id": 1})
    expected: dict[int, Any] = {}
    junk = [b"not json", b'{"src": 1}', b"\xff\xfe", b"[]", b"", b"{" * 3000, b"\x00"]
    for i in range(n):
        value: Any = [f"echo {i}", {"i": i, "f": i / 7, "u": "\u00e9\u4e16\U0001f600"}]
        expected[i + 2] = value
        data += line("c1", {"type": "echo", "echo": value, "msg_id": i + 2})
        data += junk[i % len(junk)] + b"\n"
    return data, expected


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("how", sorted(COMMANDS))
def test_echo_process_over_pipes(how: str, loop: str) -> None:
    data, expected = script(1000)
    done = run_node(COMMANDS[how], data, loop)
    assert done.returncode == 0, done.stderr[-2000:]
    replies = protocol_lines(done.stdout)
    assert replies[0] == {"src": "n0", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1}}
    echoes = {r["body"]["in_reply_to"]: r for r in replies[1:]}
    assert len(echoes) == len(replies) - 1 == len(expected)
    for msg_id, value in expected.items():
        assert echoes[msg_id] == {
            "src": "n0",
            "dest": "c1",
            "body": {"type": "echo_ok", "echo": value, "in_reply_to": msg_id},
        }
    # stderr: JSON lines only, the malformed ones logged, the metrics line last
    logged = [orjson.loads(x) for x in done.stderr.splitlines()]
    assert sum(r["msg"].startswith("skipping malformed line") for r in logged) == 1000 * 6 // 7
    metrics = logged[-1]
    assert metrics["msg"] == "metrics" and metrics["node"] == "n0"
    assert metrics["metrics"]["msgs_out"] == {"echo_ok": 1000, "init_ok": 1}


@pytest.mark.parametrize("loop", LOOPS)
def test_echo_process_reads_a_regular_file_and_dev_null(tmp_path: Path, loop: str) -> None:
    data, expected = script(50)
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    done = run_node(COMMANDS["module"], path, loop)
    assert done.returncode == 0
    assert len(protocol_lines(done.stdout)) == 1 + len(expected)
    empty = run_node(COMMANDS["module"], Path("/dev/null"), loop)
    assert empty.returncode == 0 and empty.stdout == b""


def test_echo_process_handles_a_line_split_across_writes() -> None:
    """Lines arrive in arbitrary chunks over a pipe; a final line without newline counts."""
    proc = subprocess.Popen(
        COMMANDS["module"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    data = line("c0", {"type": "init", "node_id": "n0", "node_ids": ["n0"], "msg_id": 1})
    data += line("c1", {"type": "echo", "echo": "x" * 200_000, "msg_id": 2})
    data += line("c1", {"type": "echo", "echo": "tail", "msg_id": 3}).rstrip(b"\n")
    for start in range(0, len(data), 4093):
        proc.stdin.write(data[start : start + 4093])
        proc.stdin.flush()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    replies = protocol_lines(out)
    assert [r["body"].get("echo", "")[:4] for r in replies] == ["", "xxxx", "tail"]


def test_print_in_a_handler_goes_to_stderr_not_stdout(tmp_path: Path) -> None:
    module = tmp_path / "chatty_node.py"
    module.write_text(
        "from glome.runtime import Node, handler\n"
        "class Chatty(Node):\n"
        "    @handler('echo')\n"
        "    def echo(self, msg):\n"
        "        print('debugging output')\n"
        "        return {'type': 'echo_ok', 'echo': msg.body['echo']}\n"
    )
    data = line("c0", {"type": "init", "node_id": "n0", "node_ids": ["n0"], "msg_id": 1})
    data += line("c1", {"type": "echo", "echo": 1, "msg_id": 2})
    done = subprocess.run(
        [sys.executable, "-m", "glome.runtime", "chatty_node:Chatty"],
        check=False,
        input=data,
        capture_output=True,
        cwd=tmp_path,
        timeout=30,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert len(protocol_lines(done.stdout)) == 2
    assert b"debugging output" in done.stderr
