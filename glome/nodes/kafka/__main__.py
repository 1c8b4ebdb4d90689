"""``python -m glome.nodes.kafka [CLASS]``: run a kafka node (default SingleNodeKafka)."""

import sys

from glome.nodes import kafka

if __name__ == "__main__":
    getattr(kafka, sys.argv[1] if len(sys.argv) > 1 else "NODE").main()
