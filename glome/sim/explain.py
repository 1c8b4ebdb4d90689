"""Why a run is invalid, in plain lines: ``failing_reasons(results)``.

Maelstrom ends an invalid run with "Analysis invalid!" and leaves the reader to dig through
the results map for the checker that failed. ``failing_reasons`` names each checker whose
``:valid?`` is false (or unknown) with its reason in one line::

    stats: no :send succeeded (0 ok of 30; 30 info)
    workload: final reads [5, 7] not in acceptable totals [9..9]

It reads results maps written by glome or by Maelstrom itself (string or keyword keys alike,
the EDN readers' keywords being ``str`` subclasses), and never prints a raw record: ops are
shown as ``process f value``.

Not every false inside a valid checker is a failure: Maelstrom's stats checker lets kafka's
``:crash`` ops (client crashes, :info by design) and its debug op have no successes, so a
``:crash`` entry marked invalid sits inside a valid ``:stats``; that is Maelstrom's own
behaviour, reproduced, and not reported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

SHOWN = 5
"""Elements of a list shown before "... (N more)"."""

CHECKER_ORDER = ("workload", "stats", "availability", "exceptions", "net", "perf", "timeline")


def failing_reasons(results: Mapping[Any, Any] | None) -> list[str]:
    """One line per checker that is not valid: ``"<checker>: <reason>"``. Empty when valid."""
    if not results:
        return ["no results: the analysis did not run"]
    names = sorted(
        (
            str(k)
            for k in results
            if str(k) != "valid?" and "/" not in str(k) and isinstance(results[k], Mapping)
        ),
        key=lambda n: (CHECKER_ORDER.index(n) if n in CHECKER_ORDER else len(CHECKER_ORDER), n),
    )
    lines = []
    for name in names:
        sub = results[name]
        verdict = _valid(sub)
        if verdict is True:
            continue
        explain = _EXPLAINERS.get(name, _generic)
        reason = explain(sub) if verdict is False else _unknown(sub)
        lines.append(f"{name}: {reason}")
    return lines


def seed_note(bin_run: bool, seed: int) -> str:
    """What ``--seed`` replays, for the line that names the seed."""
    if bin_run:
        return (
            f"--seed {seed} replays the schedule (generator, nemesis, network latencies) but "
            "not the processes' own timing; only in-process (--node) runs replay byte for byte"
        )
    return f"--seed {seed} replays this in-process run byte for byte"


# ------------------------------------------------------------------------------- values
def _get(mapping: Mapping[Any, Any], key: str, default: Any = None) -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _valid(sub: Any) -> bool | str:
    value = _get(sub, "valid?")
    if value is True or value is False:
        return value
    return "unknown"


def show(value: Any) -> str:
    """A result value as a reader writes it: ``[1, 2]``, ``:G2-item``, ``3 :add 5``."""
    if value is None:
        return "nil"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if type(value).__name__ == "Keyword":
        return f":{value}"
    if isinstance(value, str):
        return str(value)
    record = getattr(value, "value", None)
    if hasattr(value, "tag") and isinstance(record, Mapping):
        return show_op(record)  # a #jepsen.history.Op{...} record
    if isinstance(value, Mapping):
        if "f" in value and "type" in value:
            return show_op(value)
        return "{" + ", ".join(f"{show(k)} {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Iterable):
        return show_list(list(value))
    return str(value)


def show_list(items: list[Any], limit: int = SHOWN) -> str:
    """``[a, b, ... (N more)]``; strings quoted, so an empty one is seen."""
    shown = ", ".join(_quoted(v) for v in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return f"[{shown}{more}]"


def _quoted(value: Any) -> str:
    if isinstance(value, str) and type(value).__name__ not in ("Keyword", "Symbol"):
        return '"' + value.replace('"', '\\"') + '"'
    return show(value)


def show_op(op: Mapping[Any, Any]) -> str:
    """``process f value`` (``process f value -> type`` when the type is not ok)."""
    parts = [show(_get(op, "process")), f":{_get(op, 'f')}", show(_get(op, "value"))]
    kind = str(_get(op, "type", ""))
    text = " ".join(parts)
    return text if kind in ("ok", "") else f"{text} ({kind})"


def _count(sub: Mapping[Any, Any], key: str) -> int:
    value = _get(sub, key, 0)
    return value if isinstance(value, int) else 0


# ---------------------------------------------------------------------------- checkers
IGNORED_STATS_FS = frozenset({"crash", "debug-topic-partitions"})
"""Fs Maelstrom's stats checker lets fail (glome.sim.checkers.stats keeps the same list)."""


def _stats(sub: Mapping[Any, Any]) -> str:
    by_f = _get(sub, "by-f") or {}
    failed = [
        (str(f), entry)
        for f, entry in by_f.items()
        if _valid(entry) is False and str(f) not in IGNORED_STATS_FS
    ]
    if not failed:
        return f"no operation succeeded ({_count(sub, 'ok-count')} ok of {_count(sub, 'count')})"
    parts = []
    for f, entry in failed:
        detail = [f"{_count(entry, 'ok-count')} ok of {_count(entry, 'count')}"]
        for key, word in (("fail-count", "failed"), ("info-count", "indeterminate")):
            if _count(entry, key):
                detail.append(f"{_count(entry, key)} {word}")
        parts.append(f"no :{f} succeeded ({'; '.join(detail)})")
    return "; ".join(parts)


def _availability(sub: Mapping[Any, Any]) -> str:
    fraction = _get(sub, "ok-fraction")
    if isinstance(fraction, int | float):
        return f"only {fraction:.1%} of operations succeeded, below --availability"
    return "availability below --availability"


def _exceptions(sub: Mapping[Any, Any]) -> str:
    found = _get(sub, "exceptions") or []
    return f"{len(found)} operation(s) threw in the client: {show_list(list(found), 2)}"


def _net(sub: Mapping[Any, Any]) -> str:
    return _get(sub, "error") or "the network checker found a problem"


def _workload(sub: Mapping[Any, Any]) -> str:
    for key, explain in _WORKLOAD_SHAPES:
        if key in sub:
            reason = explain(sub)
            if reason:
                return reason
    return _generic(sub)


def _linearizable(sub: Mapping[Any, Any]) -> str:
    """lin-kv: ``independent`` results per key, each with a Knossos analysis."""
    failures = list(_get(sub, "failures") or [])
    results = _get(sub, "results") or {}
    if not failures:
        return _generic(sub)
    first = results.get(failures[0]) or {}
    analysis = _get(first, "linearizable") or {}
    op = _get(analysis, "op")
    where = f"; first on key {show(failures[0])}: {show(op)} has no linearization" if op else ""
    return f"not linearizable on {len(failures)} key(s) {show_list(failures)}{where}"


def _set_full(sub: Mapping[Any, Any]) -> str:
    parts = []
    lost = list(_get(sub, "lost") or [])
    if _count(sub, "lost-count"):
        parts.append(f"{_count(sub, 'lost-count')} value(s) lost {show_list(lost)}")
    if _count(sub, "duplicated-count"):
        parts.append(f"{_count(sub, 'duplicated-count')} duplicated")
    if _count(sub, "stale-count") and not parts:
        parts.append(f"{_count(sub, 'stale-count')} value(s) stale")
    return "; ".join(parts)


def _counter(sub: Mapping[Any, Any]) -> str:
    reads = list(_get(sub, "final-reads") or [])
    ranges = [f"{lo}..{hi}" for lo, hi in (_get(sub, "acceptable") or []) if lo is not None]
    return f"final reads {show_list(reads)} not in acceptable totals [{', '.join(ranges)}]"


def _unique_ids(sub: Mapping[Any, Any]) -> str:
    duplicated = _get(sub, "duplicated") or {}
    pairs = list(duplicated.items()) if isinstance(duplicated, Mapping) else []
    shown = ", ".join(f"{_quoted(k)} x{n}" for k, n in pairs[:SHOWN])
    more = f", ... ({len(pairs) - SHOWN} more)" if len(pairs) > SHOWN else ""
    count = _count(sub, "duplicated-count")
    return f"{count} id(s) handed out more than once [{shown}{more}]"


def _anomalies(sub: Mapping[Any, Any]) -> str:
    types = [f":{t}" for t in _get(sub, "anomaly-types") or []]
    reason = f"anomalies {', '.join(types)}" if types else ""
    not_models = list(_get(sub, "not") or [])
    if not_models:
        reason += f"; not {', '.join(str(m) for m in sorted(map(str, not_models)))}"
    return reason


def _kafka(sub: Mapping[Any, Any]) -> str:
    bad = [str(t) for t in _get(sub, "bad-error-types") or []]
    if not bad:
        return ""
    parts = []
    for name in bad:
        detail = _get(sub, name)
        count = _get(detail, "count") if isinstance(detail, Mapping) else None
        parts.append(f":{name}" + (f" ({count})" if isinstance(count, int) else ""))
    return f"errors {', '.join(parts)}"


def _echo(sub: Mapping[Any, Any]) -> str:
    errors = list(_get(sub, "errors") or [])
    if not errors:
        return ""
    first = errors[0]
    text = " ".join(show(x) for x in first) if isinstance(first, list | tuple) else show(first)
    return f"{len(errors)} reply(ies) did not echo the request; first: {text}"


_WORKLOAD_SHAPES: list[tuple[str, Callable[[Mapping[Any, Any]], str]]] = [
    ("failures", _linearizable),
    ("lost-count", _set_full),
    ("final-reads", _counter),
    ("duplicated-count", _unique_ids),
    ("anomaly-types", _anomalies),
    ("bad-error-types", _kafka),
    ("errors", _echo),
]


def _generic(sub: Mapping[Any, Any]) -> str:
    """Any other checker: its error, or its non-zero counts."""
    for key in ("error", "cause", "message"):
        if _get(sub, key):
            return _first_line(show(_get(sub, key)))
    counts = [
        f"{str(k).removesuffix('-count').replace('-', ' ')} {v}"
        for k, v in sub.items()
        if str(k).endswith("-count") and isinstance(v, int) and v
    ]
    failing = [str(k) for k, v in sub.items() if isinstance(v, Mapping) and _valid(v) is False]
    if failing:
        counts.append(f"failing: {', '.join(failing)}")
    return "; ".join(counts) if counts else "invalid (no further detail in the results)"


def _unknown(sub: Mapping[Any, Any]) -> str:
    for key in ("error", "cause"):
        if _get(sub, key):
            return "could not decide: " + _first_line(show(_get(sub, key)))
    if "anomaly-types" in sub:  # Elle: e.g. :empty-transaction-graph, nothing to analyse
        types = ", ".join(f":{t}" for t in _get(sub, "anomaly-types") or [])
        return f"could not decide: {types or 'no anomaly types reported'}"
    if "stable-count" in sub and not _count(sub, "stable-count"):
        # set-full: unknown when no element was ever seen stable (nothing was read back)
        return (
            f"could not decide: no element was read back ({_count(sub, 'attempt-count')} "
            f"attempted, {_count(sub, 'never-read-count')} never read)"
        )
    inner = [
        str(k)
        for k, v in sub.items()
        if isinstance(v, Mapping) and "valid?" in v and _valid(v) is not True
    ]
    if inner:
        return f"could not decide ({', '.join(inner)} unknown)"
    return "could not decide"


def _first_line(text: str, limit: int = 200) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines and lines[0].startswith("Traceback") else (lines or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


_EXPLAINERS: dict[str, Callable[[Mapping[Any, Any]], str]] = {
    "stats": _stats,
    "availability": _availability,
    "exceptions": _exceptions,
    "net": _net,
    "workload": _workload,
}
