"""``python -m glome.nodes.broadcast [CLASS]``: run a broadcast node (default ``Hardened``)."""

import sys

from glome.nodes import broadcast

if __name__ == "__main__":
    getattr(broadcast, sys.argv[1] if len(sys.argv) > 1 else "NODE").main()
