"""``:stats`` and ``:exceptions``: what happened to the client operations.

``check`` is Jepsen's ``stats`` checker wrapped as Maelstrom wraps it
(docs/protocol.md#the-results-map): completions of client ops are counted overall and per ``:f``; an
``:f`` is valid iff it has at least one ``:ok``; the aggregate is the worst of those, then forced
valid when every ``:f`` other than ``:crash`` and ``:debug-topic-partitions`` is valid. So any
``:f`` with zero successes fails the test.

``check_exceptions`` is Jepsen's ``unhandled-exceptions``: ``:info`` ops carrying an
``exception`` grouped by exception class, largest group first, always valid.
"""

from __future__ import annotations

from typing import Any

from glome.edn import EdnList, op_record
from glome.sim.checkers import History, Op, client_ops, merge_valid
from glome.sim.options import TestOptions

IGNORED_FS = frozenset({"crash", "debug-topic-partitions"})
"""Fs that Maelstrom's wrapper lets fail (kafka's crash ops, its debug op)."""

_TYPES = ("ok", "fail", "info")


def _fold(ops: list[Op]) -> dict[str, Any]:
    counts = {t: 0 for t in _TYPES}
    for op in ops:
        t = op.get("type")
        if t in counts:
            counts[t] += 1
    return {
        "valid?": counts["ok"] > 0,
        "count": len(ops),
        "ok-count": counts["ok"],
        "fail-count": counts["fail"],
        "info-count": counts["info"],
    }


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Counts of ok/fail/info completions, overall and per ``:f`` (sorted by ``:f``)."""
    completions = [op for op in client_ops(history) if op.get("type") != "invoke"]
    groups: dict[str, list[Op]] = {}
    for op in completions:
        groups.setdefault(str(op.get("f")), []).append(op)
    by_f = {f: _fold(groups[f]) for f in sorted(groups)}
    result = _fold(completions)
    result["valid?"] = merge_valid(entry["valid?"] for entry in by_f.values())
    result["by-f"] = by_f
    if all(entry["valid?"] is True for f, entry in by_f.items() if f not in IGNORED_FS):
        result["valid?"] = True
    return result


def exception_class(exception: Any) -> Any:
    """The class an exception is grouped by: the first ``via`` entry's ``type``.

    Accepts Jepsen's datafied form ``{"via": [{"type": ..., ...}], ...}``, a flat
    ``{"type": ...}`` map, or anything else (grouped by its string form).
    """
    if isinstance(exception, dict):
        via = exception.get("via")
        if isinstance(via, list) and via and isinstance(via[0], dict) and "type" in via[0]:
            return via[0]["type"]
        if "type" in exception:
            return exception["type"]
    return str(exception)


def check_exceptions(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """Group ``:info`` ops that carry an ``exception`` by class; always valid."""
    groups: dict[Any, list[Op]] = {}
    for op in history:
        if op.get("type") == "info" and op.get("exception") is not None:
            cls = exception_class(op["exception"])
            key = cls if isinstance(cls, str | int | float | bool) else repr(cls)
            groups.setdefault(key, []).append(op)
    if not groups:
        return {"valid?": True}
    # Largest group first; ties keep first-seen order so the output is deterministic.
    ordered = sorted(groups.values(), key=lambda ops: -len(ops))
    return {
        "valid?": True,
        "exceptions": EdnList(
            {
                "count": len(ops),
                "class": exception_class(ops[0]["exception"]),
                "example": op_record(dict(ops[0])),
            }
            for ops in ordered
        ),
    }
