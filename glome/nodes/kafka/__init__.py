"""Challenge 5, the kafka-style log: naive to hardened, side by side.

=========================== ===== =============================================================
class                       step  what it shows
=========================== ===== =============================================================
SingleNodeKafka             5a    dense per-key offsets in memory
LinKVKafka                  5b    offsets by cas on a per-key lin-kv counter (cas conflicts)
OwnerKafka                  5c    one owner per key, forwarding, batched polls: no cas at all
StaticLeaderKafka           naive glome-rs: static leader, duplicate acks counted (premature
                                  quorum), in-memory (acknowledged writes lost on restart)
DedupAckStaticLeaderKafka   review the review's fix: acks de-duplicated, nothing else
RaftKafka                   hard  terms, elections, fencing, match index, sqlite WAL + fsync
=========================== ===== =============================================================

Run any of them as a Maelstrom binary: ``python -m glome.runtime glome.nodes.kafka:RaftKafka``.
"""

from glome.nodes.kafka.linkv import LinKVKafka
from glome.nodes.kafka.owner import OwnerKafka
from glome.nodes.kafka.raft import RaftKafka
from glome.nodes.kafka.single import SingleNodeKafka
from glome.nodes.kafka.static_leader import DedupAckStaticLeaderKafka, StaticLeaderKafka
from glome.nodes.kafka.wal import WriteAheadLog

NODE = SingleNodeKafka

__all__ = [
    "NODE",
    "DedupAckStaticLeaderKafka",
    "LinKVKafka",
    "OwnerKafka",
    "RaftKafka",
    "SingleNodeKafka",
    "StaticLeaderKafka",
    "WriteAheadLog",
]
