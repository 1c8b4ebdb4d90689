#!/usr/bin/env python3
"""Faulty Maelstrom nodes for glome's robustness tests: ``faulty.py MODE [ARG]``.

Plain ``json`` and the standard library (no glome import). Apart from its fault, every mode is
an echo node, so a run shows what the fault alone does:

- ``crash-at-start``: writes to stderr and exits with status 2 before reading anything.
- ``exit-early [N]``: answers init and N echoes (default 3), then exits with status 3.
- ``no-init``: reads stdin forever and never answers anything.
- ``hang``: answers init, then stops reading stdin and ignores SIGTERM.
- ``non-json``: writes a non-JSON line before each echo reply.
- ``bad-schema``: before each echo reply writes three invalid messages: an extra top-level
  key, a body that is not an object, an unknown dest.
- ``late-reply [S]``: answers each echo S seconds late (default 6, past the 5 s RPC timeout).
- ``flood``: after init, writes valid messages to itself as fast as it can, never reading.
- ``flood-stderr``: after init, writes to stderr as fast as it can.
- ``huge-line [MB]``: after init writes one stdout line of MB megabytes (default 20), then
  behaves as an echo node.
"""

import json
import os
import select
import signal
import sys
import time

MODES = (
    "crash-at-start",
    "exit-early",
    "no-init",
    "hang",
    "non-json",
    "bad-schema",
    "late-reply",
    "flood",
    "flood-stderr",
    "huge-line",
)


def write(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def say(text):
    sys.stderr.write(f"faulty: {text}\n")
    sys.stderr.flush()


class Faulty:
    def __init__(self, mode, arg):
        self.mode, self.arg = mode, arg
        self.node_id = None
        self.next_msg_id = 0
        self.echoes = 0
        self.timers = []  # (due, message) replies scheduled for later

    def reply_body(self, request, body):
        self.next_msg_id += 1
        return {
            "src": self.node_id,
            "dest": request["src"],
            "body": dict(body, msg_id=self.next_msg_id, in_reply_to=request["body"].get("msg_id")),
        }

    def handle(self, msg):
        body = msg["body"]
        if self.mode == "no-init":
            return
        if body.get("type") == "init":
            self.node_id = body["node_id"]
            write(self.reply_body(msg, {"type": "init_ok"}))
            self.after_init()
        elif body.get("type") == "echo":
            self.echo(msg, body)

    def after_init(self):
        if self.mode == "hang":
            say("answered init; now never reading stdin again and ignoring SIGTERM")
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(3600)
        elif self.mode == "flood":
            say("flooding stdout")
            line = json.dumps(
                {"src": self.node_id, "dest": self.node_id, "body": {"type": "flood"}}
            )
            block = (line + "\n") * 100
            while True:
                sys.stdout.write(block)
        elif self.mode == "flood-stderr":
            block = "faulty: flooding stderr " + "x" * 100 + "\n"
            while True:
                sys.stderr.write(block * 100)
        elif self.mode == "huge-line":
            size = int(float(self.arg or 20) * 1024 * 1024)
            say(f"writing a stdout line of {size} bytes")
            chunk = "y" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                sys.stdout.write(chunk)
            sys.stdout.write("\n")
            sys.stdout.flush()

    def echo(self, msg, body):
        reply = self.reply_body(msg, {"type": "echo_ok", "echo": body.get("echo")})
        if self.mode == "exit-early":
            limit = int(self.arg or 3)
            if self.echoes >= limit:
                say(f"exiting after {limit} echoes")
                sys.exit(3)
        self.echoes += 1
        if self.mode == "non-json":
            sys.stdout.write("this is not json\n")
        elif self.mode == "bad-schema":
            write(dict(reply, extra="not allowed"))
            write(dict(reply, body="a string body"))
            write(dict(reply, dest="nobody"))
        if self.mode == "late-reply":
            self.timers.append((time.monotonic() + float(self.arg or 6), reply))
        else:
            write(reply)

    def run(self):
        if self.mode == "crash-at-start":
            say("crashing at start")
            sys.exit(2)
        buffer = b""
        while True:
            now = time.monotonic()
            due = [t for t in self.timers if t[0] <= now]
            for t in due:
                self.timers.remove(t)
                write(t[1])
            timeout = min((t[0] for t in self.timers), default=now + 1.0) - now
            readable, _, _ = select.select([0], [], [], max(0.0, timeout))
            if not readable:
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    self.handle(json.loads(line))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.stderr.write(f"usage: faulty.py MODE [ARG]; MODE is one of {', '.join(MODES)}\n")
        sys.exit(64)
    Faulty(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None).run()
