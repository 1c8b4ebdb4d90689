"""Challenge 1, echo: answer every ``echo`` with the same text.

Run as a Maelstrom binary: ``maelstrom test -w echo --bin .venv/bin/glome-echo --node-count 1
--time-limit 10`` (or ``glome test -w echo --node glome.nodes.echo:Echo`` in-process).
"""

from __future__ import annotations

from typing import Any

from glome.runtime import Message, Node, handler


class Echo(Node):
    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body.get("echo")}


NODE = Echo

if __name__ == "__main__":
    Echo.main()
