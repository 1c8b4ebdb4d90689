"""Challenge 5a: a single-node kafka-style log, all in memory.

``maelstrom test -w kafka --bin BIN --node-count 1 --concurrency 2n --time-limit 20 --rate 1000``
where BIN runs ``python -m glome.runtime glome.nodes.kafka:SingleNodeKafka``

Offsets are dense per key (0, 1, 2...). Everything runs in one handler without awaiting, so
appends are atomic without locks. glome-rs later added a ``send_dedupe`` map keyed by (client,
msg_id); Maelstrom clients never resend a msg_id, so it does nothing there and is left out.
"""

from __future__ import annotations

from typing import Any

from glome.nodes.kafka.common import Logs, parse_keys, parse_offsets, parse_send
from glome.runtime import Message, Node, handler


class SingleNodeKafka(Node):
    """5a: one node, one in-memory log per key."""

    def setup(self) -> None:
        self.logs = Logs()

    @handler("send")
    async def on_send(self, msg: Message) -> dict[str, Any]:
        key, value = parse_send(msg.body)
        return {"type": "send_ok", "offset": self.logs.append_next(key, value)}

    @handler("poll")
    async def on_poll(self, msg: Message) -> dict[str, Any]:
        return {"type": "poll_ok", "msgs": self.logs.poll(parse_offsets(msg.body))}

    @handler("commit_offsets")
    async def on_commit_offsets(self, msg: Message) -> dict[str, Any]:
        self.logs.commit(parse_offsets(msg.body))
        return {"type": "commit_offsets_ok"}

    @handler("list_committed_offsets")
    async def on_list_committed_offsets(self, msg: Message) -> dict[str, Any]:
        return {
            "type": "list_committed_offsets_ok",
            "offsets": self.logs.list_committed(parse_keys(msg.body)),
        }


if __name__ == "__main__":
    SingleNodeKafka.main()
