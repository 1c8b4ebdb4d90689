"""Challenge 1, echo: answer every ``echo`` with the same text.

Maelstrom's ``--bin`` takes one executable path: use the console script the package installs,
``maelstrom test -w echo --bin .venv/bin/glome-echo --node-count 1 --time-limit 10``. The same
node also runs as ``python -m glome.nodes.echo`` or ``python -m glome.runtime
glome.nodes.echo:Echo`` (wrap either in a two-line ``exec`` shell script to use it as --bin).

The handler is a plain ``def``: it never awaits, so the runtime runs it inline as the line is
read, without creating a task (the fastest path; see ``glome.runtime.node``).
"""

from __future__ import annotations

from typing import Any

from glome.runtime import Message, Node, handler


class Echo(Node):
    """Replies ``echo_ok`` carrying the request's ``echo`` value unchanged."""

    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body.get("echo")}


NODE = Echo

if __name__ == "__main__":
    Echo.main()
