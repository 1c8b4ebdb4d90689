#!/usr/bin/env python3
"""Single-node kafka test nodes for the kafka workload and the kill nemesis (glome runtime).

- ``MemKafka``: the log in memory only; correct until it is killed, then it forgets everything
  (offsets start again from 0), so acknowledged messages are lost.
- ``DurableKafka``: the same, but every change is written to ``<state_dir>/kafka.json`` (temp
  file, fsync, rename) before the reply, and loaded when the node object is built: survives
  kills in-process and as a process (``python w4_kafka.py`` runs it over stdio).
"""

from __future__ import annotations

import json
import os
from typing import Any

from glome.runtime import Message, Node, handler

POLL_BATCH = 5


class MemKafka(Node):
    def setup(self) -> None:
        self.logs: dict[str, list[Any]] = {}
        self.committed: dict[str, int] = {}

    def changed(self) -> None:
        """Hook: called after every change, before the reply."""

    @handler("send")
    def send_msg(self, msg: Message) -> dict[str, Any]:
        log = self.logs.setdefault(msg.body["key"], [])
        log.append(msg.body["msg"])
        self.changed()
        return {"type": "send_ok", "offset": len(log) - 1}

    @handler("poll")
    def poll(self, msg: Message) -> dict[str, Any]:
        out = {}
        for key, start in sorted(msg.body["offsets"].items()):
            log = self.logs.get(key, [])
            out[key] = [[i, log[i]] for i in range(start, min(len(log), start + POLL_BATCH))]
        return {"type": "poll_ok", "msgs": out}

    @handler("commit_offsets")
    def commit(self, msg: Message) -> dict[str, Any]:
        for key, offset in sorted(msg.body["offsets"].items()):
            self.committed[key] = max(offset, self.committed.get(key, 0))
        self.changed()
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    def list_committed(self, msg: Message) -> dict[str, Any]:
        offsets = {k: self.committed[k] for k in msg.body["keys"] if k in self.committed}
        return {"type": "list_committed_offsets_ok", "offsets": offsets}


class DurableKafka(MemKafka):
    def setup(self) -> None:
        super().setup()
        self.path = self.state_dir / "kafka.json"
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            self.logs, self.committed = saved["logs"], saved["committed"]

    def changed(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump({"logs": self.logs, "committed": self.committed}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


if __name__ == "__main__":
    DurableKafka.main()
