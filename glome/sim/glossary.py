"""Plain words for the anomaly names checkers report: ``anomaly_meaning("G2-item-realtime")``.

Elle (txn-rw-register, txn-list-append) names an anomaly by its kind and two optional
suffixes: ``-item`` when the cycle runs through reads and writes of single keys, and
``-process`` or ``-realtime`` when the cycle needs each client's own order or real time to
close. Kafka's checker names its error families (``lost-write``, ``poll-skip``, ...).
``anomaly_meaning`` explains any of them, suffixes included, for ``glome.sim.explain``.
"""

from __future__ import annotations

ANOMALY_MEANING = {
    # Adya's and Elle's transactional anomalies (txn-rw-register, txn-list-append, kafka).
    "G0": "dirty write: transactions overwrote each other's writes in a cycle",
    "G1": "a dirty read of some kind (aborted, intermediate or circular)",
    "G1a": "aborted read: a committed transaction read a value written by a transaction "
    "that failed (aborted)",
    "G1b": "intermediate read: a transaction read a value that its writer overwrote later "
    "in the same transaction",
    "G1c": "circular information flow: transactions each saw the other's writes, so no order "
    "of them explains what they read",
    "G-single": "read skew: a transaction saw some of another's effects and missed others (a "
    "dependency cycle with exactly one read-then-overwritten edge)",
    "G-nonadjacent": "a dependency cycle with several read-then-overwritten edges, no two in a "
    "row: each transaction missed a write it should have seen",
    "G2": "anti-dependency cycle (write skew): transactions each read something another "
    "then overwrote, so no serial order explains them",
    "GSI": "a snapshot isolation violation (GSIa or GSIb)",
    "GSIa": "interference: a transaction saw the writes of one that started after it",
    "GSIb": "missed effects: a transaction missed the writes of one that committed before "
    "it started",
    "internal": "a transaction's read disagrees with its own earlier write or read",
    "lost-update": "two transactions read the same value of a key and both wrote it, so one "
    "write was based on a stale read",
    "write-skew": "write skew: two transactions each read a key the other then overwrote",
    "cyclic-versions": "the reads order a key's versions in a cycle, so no version order fits them",
    "incompatible-order": "two reads of a key show lists that are not one a prefix of the "
    "other, so no single order of appends explains both",
    "duplicate-elements": "a read shows the same appended element twice",
    "future-read": "a transaction read a value it only wrote later itself",
    "dirty-update": "an update built on a value written by a transaction that failed",
    "empty-transaction-graph": "no transaction completed ok, so there was nothing to check",
    # kafka's error families.
    "duplicate": "one message was given two offsets (or sent twice)",
    "lost-write": "an acknowledged send never showed up in polls that reached past it",
    "inconsistent-offsets": "two different messages at the same offset of a key",
    "precommitted-read": "a poll returned a message whose send had not completed yet",
    "nonmonotonic-poll": "a consumer's polls went backwards in offset",
    "nonmonotonic-send": "a producer's sends got decreasing offsets",
    "int-nonmonotonic-poll": "offsets inside one poll went backwards",
    "int-nonmonotonic-send": "offsets inside one send went backwards",
    "int-poll-skip": "one poll skipped over offsets of a key",
    "poll-skip": "a consumer skipped offsets it should have seen",
    "unseen": "acknowledged messages that no poll ever returned",
}
"""Plain words for each anomaly, without its ``-item``/``-process``/``-realtime`` suffixes."""

ORDER_SUFFIXES = {
    "-process": "counting each client's own order too (a client runs its transactions one "
    "after another, so they must take effect in that order)",
    "-realtime": "counting real time too (a transaction that completed before another began "
    "must take effect first)",
}


def anomaly_meaning(name: str) -> str:
    """``G2-item-realtime`` -> what a G2 is, on single keys, counting real time too."""
    base, notes = str(name), []
    for suffix, note in ORDER_SUFFIXES.items():
        if base.endswith(suffix):
            base, notes = base.removesuffix(suffix), [note]
    if base.endswith("-item") and base not in ANOMALY_MEANING:
        base = base.removesuffix("-item")
        notes.insert(0, "through reads and writes of single keys")
    meaning = ANOMALY_MEANING.get(base, "see the checker's results.edn")
    return meaning + "".join(f"; {n}" for n in notes)
