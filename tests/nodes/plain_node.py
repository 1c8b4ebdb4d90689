#!/usr/bin/env python3
"""A third-party-style Maelstrom node: plain ``json`` and the standard library, no glome import.

Handles echo (challenge 1) and broadcast (challenges 3a-3c): ``topology``, ``broadcast``,
``read``. New values are forwarded to every neighbour at once and then re-sent by periodic
anti-entropy until the neighbour acknowledges them, so values survive dropped messages.

Single-threaded: stdin is read with ``select`` so the gossip timer can run between messages.
Run it as ``--bin python3 tests/nodes/plain_node.py`` or through an executable wrapper.
"""

import json
import os
import select
import sys
import time

GOSSIP_INTERVAL = 1.0


class PlainNode:
    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.neighbours = []
        self.next_msg_id = 0
        self.values = set()
        self.unacked = {}  # neighbour -> set of values it has not acknowledged

    def send(self, dest, body):
        line = json.dumps({"src": self.node_id, "dest": dest, "body": body})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def reply(self, request, body):
        self.next_msg_id += 1
        body = dict(body, msg_id=self.next_msg_id, in_reply_to=request["body"].get("msg_id"))
        self.send(request["src"], body)

    def add_values(self, values, source=None):
        new = [v for v in values if v not in self.values]
        self.values.update(new)
        for peer in self.neighbours:
            if peer != source and new:
                self.unacked.setdefault(peer, set()).update(new)
                self.send(peer, {"type": "gossip", "values": sorted(new)})

    def gossip(self):
        for peer in sorted(self.unacked):
            pending = self.unacked[peer]
            if pending:
                self.send(peer, {"type": "gossip", "values": sorted(pending)})

    def handle(self, msg):
        body = msg["body"]
        kind = body.get("type")
        if kind == "init":
            self.node_id = body["node_id"]
            self.node_ids = body["node_ids"]
            self.neighbours = [n for n in self.node_ids if n != self.node_id]
            self.reply(msg, {"type": "init_ok"})
        elif kind == "echo":
            self.reply(msg, {"type": "echo_ok", "echo": body["echo"]})
        elif kind == "topology":
            self.neighbours = list(body["topology"].get(self.node_id, self.neighbours))
            self.reply(msg, {"type": "topology_ok"})
        elif kind == "broadcast":
            self.add_values([body["message"]])
            self.reply(msg, {"type": "broadcast_ok"})
        elif kind == "read":
            self.reply(msg, {"type": "read_ok", "messages": sorted(self.values)})
        elif kind == "gossip":
            self.add_values(body["values"], source=msg["src"])
            self.send(msg["src"], {"type": "gossip_ok", "values": body["values"]})
        elif kind == "gossip_ok":
            self.unacked.get(msg["src"], set()).difference_update(body["values"])
        elif "msg_id" in body:
            self.reply(msg, {"type": "error", "code": 10, "text": f"unsupported type {kind}"})

    def run(self):
        buffer = b""
        next_gossip = time.monotonic() + GOSSIP_INTERVAL
        while True:
            timeout = max(0.0, next_gossip - time.monotonic())
            readable, _, _ = select.select([0], [], [], timeout)
            if readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    return
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        self.handle(json.loads(line))
            if time.monotonic() >= next_gossip:
                self.gossip()
                next_gossip = time.monotonic() + GOSSIP_INTERVAL


if __name__ == "__main__":
    PlainNode().run()
