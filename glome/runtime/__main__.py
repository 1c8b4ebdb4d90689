"""``python -m glome.runtime MODULE:CLASS``: run any glome node class as a Maelstrom binary."""

from __future__ import annotations

import sys

from glome.runtime.loader import load_node_class


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m glome.runtime MODULE:CLASS", file=sys.stderr)
        return 2
    load_node_class(args[0]).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
