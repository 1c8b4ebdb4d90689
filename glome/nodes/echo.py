"""Challenge 1, echo: answer every ``echo`` with the same text.

Run it as a process: ``python -m glome.nodes.echo`` (or ``python -m glome.runtime
glome.nodes.echo:Echo``). Maelstrom's ``--bin`` takes one executable path, so give it a
two-line wrapper script, for example ``bin/glome-echo``::

    #!/bin/sh
    exec /path/to/glome/.venv/bin/python -m glome.nodes.echo "$@"

then ``maelstrom test -w echo --bin bin/glome-echo --node-count 1 --time-limit 10``.

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
