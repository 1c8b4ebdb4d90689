"""``python -m glome.swarm run-case CASE_JSON``: the child side of a sandboxed case."""

from __future__ import annotations

import sys

from glome.swarm.sandboxed import child_main

USAGE = "usage: python -m glome.swarm run-case CASE_JSON"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "run-case":
        print(USAGE, file=sys.stderr)
        return 254
    return child_main(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
