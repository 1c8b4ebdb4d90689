"""Challenge 6, totally-available transactions: naive to hardened, side by side.

====================== ======= ===========================================================
class                  step    what it shows
====================== ======= ===========================================================
SingleNodeTxn          6a      one dict, each txn alone
NaiveReplicatedTxn     6b      glome-rs tarut: arrival order, no versions -> divergence
CommitTsTxn            review  glome-rs's LWW fix: non-advancing clock, ties, G1b at replicas
LamportLWWTxn          6b      (Lamport, node) versions, final writes only
ReadCommittedTxn       6c      + outbox re-sent with backoff until acked; never aborts
PerKeyListAppend       extra   txn-list-append, one lin-kv op per micro-op: not atomic
RootListAppend         extra   txn-list-append, whole db one lin-kv value + CAS: strict-serial.
====================== ======= ===========================================================

Run any of them as a Maelstrom binary: ``python -m glome.runtime glome.nodes.txn:ReadCommittedTxn``.
"""

from glome.nodes.txn.lamport import LamportLWWTxn, ReadCommittedTxn
from glome.nodes.txn.list_append import PerKeyListAppend, RootListAppend
from glome.nodes.txn.naive import CommitTsTxn, NaiveReplicatedTxn
from glome.nodes.txn.single import SingleNodeTxn

NODE = SingleNodeTxn

__all__ = [
    "NODE",
    "CommitTsTxn",
    "LamportLWWTxn",
    "NaiveReplicatedTxn",
    "PerKeyListAppend",
    "ReadCommittedTxn",
    "RootListAppend",
    "SingleNodeTxn",
]
