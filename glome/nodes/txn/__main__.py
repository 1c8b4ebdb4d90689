"""``python -m glome.nodes.txn [CLASS]``: run a transaction node (default SingleNodeTxn)."""

import sys

from glome.nodes import txn

if __name__ == "__main__":
    getattr(txn, sys.argv[1] if len(sys.argv) > 1 else "NODE").main()
