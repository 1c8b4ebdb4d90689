"""The kafka checker: Jepsen's kafka analysis as Maelstrom runs it (docs/protocol.md#kafka).

``check(history, opts=None)`` returns ``{"valid?", "worst-realtime-lag", "bad-error-types",
"error-types", "info-txn-causes", <error type>: {"count", "errs"}, ...}``.

From the history alone:

- **Version order** per key: offsets seen in every poll (any completion type) and in sends that
  must have happened (ok, or info with one of its messages polled by an ok poll). Offsets are
  compressed to dense *indices* (gaps are allowed). One offset with several messages is
  ``inconsistent-offsets``; one message at several offsets is ``duplicate``.
- ``G1a``: an ok poll returned a message whose send failed.
- ``precommitted-read``: one op polled a message that the same op sent (only possible in
  multi-mop transactions; Maelstrom's kafka ops are single mops).
- ``lost-write``: for each key, take the highest index any ok poll read; a message of an
  ok (or provably committed info) send at or below it that no ok poll ever returned is lost.
- ``int-poll-skip`` / ``int-nonmonotonic-poll``: inside one poll's list for a key, consecutive
  messages whose indices jump by more than one / do not advance. ``int-send-skip`` /
  ``int-nonmonotonic-send``: the same for several sends to one key in one op.
- ``poll-skip`` / ``nonmonotonic-poll``: per process, a poll's first message of a key versus the
  last message that process's previous non-empty ok poll of that key returned. An ok assign
  keeps only the assigned keys' positions; a crash forgets everything (the process is replaced
  anyway). Empty polls do not move the position, so a skip across an empty poll is caught.
- ``nonmonotonic-send``: per process, a send landing at or before that process's previous send
  to the key.
- ``unseen``: ok-sent messages that no ok poll returned by the end.
- ``G1c-realtime``: an ok poll returned a message whose send was invoked only after the poll
  had completed (a wr + realtime cycle; by the interval-order property every wr/realtime cycle
  contains such a pair, so this is Elle's cycle search for this graph). ww edges are not
  inferred (Maelstrom does not set ``:ww-deps``), so G0 never arises and is allowed anyway.
- ``empty-transaction-graph``: no ok poll read a sent message and no two ok sends/polls were
  ordered in real time (Elle could not build a graph).

Validity: every error type except ``int-send-skip``, ``G0``, ``G0-process``, ``G0-realtime``,
``PL-1-cycle-exists`` and ``strong-PL-1-cycle-exists`` invalidates (Maelstrom's settings).
"""

from __future__ import annotations

from typing import Any

from glome.edn import EdnList, Keyword
from glome.sim.checkers.kafka_errors import error_families
from glome.sim.checkers.kafka_lag import worst_realtime_lag
from glome.sim.checkers.kafka_log import (
    TXN_FS,
    KafkaLog,
    Op,
    op_read_pairs,
    op_reads,
    op_write_pairs,
    op_writes,
)

__all__ = [
    "ALLOWED_ERROR_TYPES",
    "KafkaLog",
    "check",
    "op_read_pairs",
    "op_reads",
    "op_write_pairs",
    "op_writes",
]

ALLOWED_ERROR_TYPES = frozenset(
    {
        "int-send-skip",
        "G0",
        "G0-process",
        "G0-realtime",
        "PL-1-cycle-exists",
        "strong-PL-1-cycle-exists",
    }
)
"""Error types that don't invalidate (Maelstrom's settings)."""


def check(history: list[Op], opts: Any = None, *, unseen: bool = True) -> dict[str, Any]:
    """Analyse a kafka history; see the module docstring.

    ``unseen=False`` leaves out the ``unseen`` error, as the Maelstrom of the 2023 corpus run
    did (its results.edn is valid although 9 acknowledged messages were never polled); current
    Jepsen reports it and it invalidates, so it is on by default.
    """
    del opts  # kafka's checker takes no options from the CLI
    ops = [op for op in history if op.get("process") != "nemesis"]
    log = KafkaLog(ops)
    errors = error_families(log)
    if not unseen:
        errors.pop("unseen", None)
    bad = sorted(t for t in errors if t not in ALLOWED_ERROR_TYPES)
    result: dict[str, Any] = {
        "valid?": not bad,
        "worst-realtime-lag": worst_realtime_lag(log),
        "bad-error-types": EdnList(Keyword(t) for t in bad),
        "error-types": EdnList(Keyword(t) for t in sorted(errors)),
        "info-txn-causes": EdnList(_info_causes(ops)),
    }
    for t in sorted(errors):
        result[t] = _condense(t, errors[t])
    return result


def _info_causes(ops: list[Op]) -> list[Any]:
    causes: list[Any] = []
    for op in ops:
        if op.get("type") == "info" and op.get("f") in TXN_FS:
            e = op.get("error")
            if e not in causes:
                causes.append(e)
    return causes


_TAKE_FIRST = {
    "duplicate": (32, "count"),
    "inconsistent-offsets": (32, "values"),
    "int-nonmonotonic-poll": (8, "delta"),
    "int-nonmonotonic-send": (8, "delta"),
    "nonmonotonic-poll": (8, "delta"),
    "nonmonotonic-send": (8, "delta"),
    "G0": (8, "steps"),
    "G0-process": (8, "steps"),
    "G0-realtime": (8, "steps"),
    "G1c": (8, "steps"),
    "G1c-process": (8, "steps"),
    "G1c-realtime": (8, "steps"),
}
_TAKE_LAST = {"int-poll-skip", "int-send-skip", "poll-skip"}


def _condense(kind: str, errs: Any) -> Any:
    """Maelstrom's condense-error: counts plus the most telling few cases."""
    if kind == "unseen":
        return errs
    if not isinstance(errs, list):
        return {"count": 1, "errs": errs}
    shown = errs
    if kind in _TAKE_FIRST:
        n, field = _TAKE_FIRST[kind]
        shown = sorted(errs, key=lambda e: _measure(e[field]))[:n]
    elif kind in _TAKE_LAST:
        shown = sorted(errs, key=lambda e: e["delta"])[-8:]
    return {"count": len(errs), "errs": shown}


def _measure(x: Any) -> Any:
    return len(x) if isinstance(x, list | set | tuple) else x
