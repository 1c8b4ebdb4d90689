"""A class of submissions for the roster tests: good, buggy and hostile, in Python and sh.

``make_roster(root)`` lays them out as ``root/<student>/<challenge>``; ``EXPECTED`` says what
grading must make of each. Shared by tests/test_classroom_roster.py (not a test module).
"""

from __future__ import annotations

import os
from pathlib import Path

SH_ECHO = r"""#!/bin/sh
# A Maelstrom echo node in POSIX sh: one JSON message per line on stdin, replies on stdout.
field() { printf '%s' "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p"; }
while IFS= read -r line; do
  src=$(field "$line" src); dest=$(field "$line" dest); id=$(field "$line" msg_id)
  case "$line" in
    *'"type":"init"'*|*'"type": "init"'*)
      printf '{"src":"%s","dest":"%s","body":{"type":"init_ok","in_reply_to":%s}}\n' "$dest" "$src" "$id" ;;
    *'"type":"echo"'*|*'"type": "echo"'*)
      echo=$(printf '%s' "$line" | sed -n 's/.*"echo": *\("[^"]*"\).*/\1/p')
      printf '{"src":"%s","dest":"%s","body":{"type":"echo_ok","in_reply_to":%s,"echo":%s}}\n' "$dest" "$src" "$id" "$echo" ;;
  esac
done
"""

# A stdlib-only Python script (a Maelstrom binary in "another language": no glome inside).
# HOSTILE is spliced in: what the node does besides echoing.
SCRIPT_ECHO = r"""#!/usr/bin/env python3
import json, os, signal, sys
HOSTILE
for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    reply = {"in_reply_to": body["msg_id"]}
    if body["type"] == "init":
        reply["type"] = "init_ok"
    elif body["type"] == "echo":
        reply.update(type="echo_ok", echo=ECHO)
    print(json.dumps({"src": msg["dest"], "dest": msg["src"], "body": reply}), flush=True)
"""

HOSTILE = {
    # allocates without end (the memory limit stops it)
    "hog": ("x = []\nwhile True:\n    x.append(bytearray(1 << 24))", 'body["echo"]'),
    # forks many children, each sleeping (the process limit stops it; the sweep kills them)
    "bomb": (
        "for _ in range(10000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            signal.pause()\n"
        "    except OSError:\n"
        "        break",
        'body["echo"]',
    ),
    # writes one huge file (the file-size limit stops it), then echoes
    "writer": (
        "try:\n"
        "    with open('huge', 'wb') as f:\n"
        "        while True:\n"
        "            f.write(b'x' * (1 << 20))\n"
        "except OSError:\n"
        "    pass",
        'body["echo"]',
    ),
    # ignores SIGTERM and leaves a child that ignores it too
    "stubborn": (
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        signal.pause()",
        'body["echo"]',
    ),
    # never answers anything
    "silent": ("import time\nwhile True:\n    time.sleep(1)", 'body["echo"]'),
    # prints its environment to stderr (the node log) and echoes it back
    "snoop": (
        "sys.stderr.write(json.dumps(dict(os.environ)) + '\\n')",
        'body["echo"] + json.dumps(sorted(os.environ))',
    ),
}

PY_GOOD = '''"""A glome Node class for challenge 1, named NODE as the grader expects."""
from glome.nodes.echo import Echo as NODE
'''

PY_BUGGY = '''"""Echoes the whole body: every reply is wrong."""
from glome.runtime import Message, Node, handler


class NODE(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict:
        return {"type": "echo_ok", "echo": dict(msg.body)}
'''

EXPECTED = {
    # student: (challenge 1 verdict of "valid?", how it was submitted)
    "good": ("PASS", "executable"),
    "pygood": ("PASS", "python"),
    "buggy": ("FAIL", "python"),
    "hog": ("FAIL", "executable"),
    "bomb": ("PASS", "executable"),  # its forks fail at the limit; it still echoes
    "writer": ("PASS", "executable"),
    "stubborn": ("PASS", "executable"),
    "silent": ("FAIL", "executable"),
    "snoop": ("FAIL", "executable"),
}


def make_roster(root: Path) -> Path:
    def put(student: str, name: str, text: str, executable: bool) -> None:
        folder = root / student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        os.chmod(folder / name, 0o755 if executable else 0o644)

    put("good", "1", SH_ECHO, True)
    put("pygood", "1.py", PY_GOOD, False)
    put("buggy", "1.py", PY_BUGGY, False)
    for student, (code, echo) in HOSTILE.items():
        script = SCRIPT_ECHO.replace("HOSTILE", code).replace("ECHO", echo)
        put(student, "1", script, True)
    (root / "absent").mkdir(parents=True, exist_ok=True)
    return root
