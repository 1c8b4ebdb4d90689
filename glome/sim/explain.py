"""Why a run failed, in plain words: ``failing_reasons(results)``, expected against got.

Maelstrom ends an invalid run with "Analysis invalid!" and leaves the reader to dig through
the results map for the checker that failed. ``failing_reasons`` gives one sentence per finding
of each checker whose ``:valid?`` is false (or unknown), named after the checker so the reader
can find it in ``results.edn``; students read these, so each says what was expected and what
the run did::

    workload: every final read must be one of the acceptable totals 1254 (the sum of the
      acknowledged adds, give or take those whose outcome is unknown); got final reads 1252,
      1254, 1254 (1 of 3 off)
    workload: wrong read: process 0 read 1252 (ok, at 29.98 s, op #4015)
    stats: expected some send requests to succeed; got 0 ok of 37 (7 failed, 30 with no reply)

It reads results maps written by glome or by Maelstrom itself (string or keyword keys alike,
the EDN readers' keywords being ``str`` subclasses), and never prints a raw record: an op is
shown as ``process 0 read 4 (ok, at 0.19 s, op #5)``, never as ``Tagged('jepsen.history.Op',
...)``. Transaction anomalies (Elle's names, ``G-single-item-realtime`` and the like) are
explained in words, suffixes included (``glome.sim.glossary``).

Not every false inside a valid checker is a failure: Maelstrom's stats checker lets kafka's
``:crash`` ops (client crashes, :info by design) and its debug op have no successes, so a
``:crash`` entry marked invalid sits inside a valid ``:stats``; that is Maelstrom's own
behaviour, reproduced, and not reported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from glome.sim.glossary import anomaly_meaning

SHOWN = 5
"""Examples quoted per finding (values, ops, keys) before "... (N in all)"."""

CHECKER_ORDER = ("workload", "stats", "availability", "exceptions", "net", "perf", "timeline")

IGNORED_STATS_FS = frozenset({"crash", "debug-topic-partitions"})
"""Fs Maelstrom's stats checker lets fail (glome.sim.checkers.stats keeps the same list)."""


def failing_reasons(results: Mapping[Any, Any] | None) -> list[str]:
    """One ``"<checker>: <sentence>"`` per finding of each checker not valid; [] when valid."""
    if not results:
        return ["no results: the run aborted or the analysis never ran"]
    names = sorted(
        (
            name
            for name, sub in _items(results)
            if name != "valid?" and "/" not in name and isinstance(sub, Mapping)
        ),
        key=lambda n: (CHECKER_ORDER.index(n) if n in CHECKER_ORDER else len(CHECKER_ORDER), n),
    )
    lines: list[str] = []
    for name in names:
        sub = _get(results, name)
        verdict = _valid(sub)
        if verdict is True:
            continue
        explain = _EXPLAINERS.get(name, _generic)
        sentences = explain(sub) if verdict is False else [_unknown(sub)]
        lines.extend(f"{name}: {s}" for s in sentences or ["not valid (no further detail)"])
    if not lines and _valid(results) is False:
        lines.append("the run is not valid, though no checker says why")
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
def _name(key: Any) -> str:
    return str(getattr(key, "name", key)).lstrip(":")


def _items(mapping: Mapping[Any, Any]) -> Iterable[tuple[str, Any]]:
    return ((_name(k), v) for k, v in mapping.items())


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    if not isinstance(mapping, Mapping):
        return default
    if key in mapping:
        return mapping[key]
    return next((v for k, v in mapping.items() if _name(k) == key), default)


def _count(sub: Any, key: str) -> int:
    value = _get(sub, key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _valid(sub: Any) -> bool | str:
    value = _get(sub, "valid?")
    return value if value is True or value is False else "unknown"


def _record(value: Any) -> Any:
    """The map inside a tagged record (``#jepsen.history.Op{...}``), else the value."""
    inner = getattr(value, "value", None)
    return inner if hasattr(value, "tag") and inner is not None else value


def _is_op(value: Any) -> bool:
    op = _record(value)
    return isinstance(op, Mapping) and _get(op, "f") is not None and _get(op, "type") is not None


def show(value: Any) -> str:
    """A value as a student reads it: keywords bare, ops as sentences, lists in brackets."""
    if _is_op(value):
        return op_text(value)
    value = _record(value)
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return _name(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_name(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(_quoted(v) for v in _ordered(value)) + "]"
    return str(value)


def _quoted(value: Any) -> str:
    """Plain strings quoted (an empty id is then seen), keywords and symbols bare."""
    if isinstance(value, str) and type(value).__name__ not in ("Keyword", "Symbol"):
        return '"' + value.replace('"', '\\"') + '"'
    return show(value)


def op_text(op: Any) -> str:
    """``process 0 read 1252 (ok, at 29.98 s, op #4015)``."""
    op = _record(op)
    process, f, kind = _get(op, "process"), _name(_get(op, "f")), _name(_get(op, "type"))
    when = _get(op, "time")
    at = f"at {when / 1e9:.2f} s" if isinstance(when, int | float) else ""
    index = _get(op, "index")
    where = ", ".join(x for x in (kind, at, f"op #{index}" if index is not None else "") if x)
    return f"process {show(process)} {f} {show(_get(op, 'value'))} ({where})"


def listing(
    values: Iterable[Any], limit: int = SHOWN, render: Callable[[Any], str] = _quoted
) -> str:
    """``1, 5, 14, 19, 26 ... (6 in all)``; a set in order, so the text is deterministic."""
    items = _ordered(values)
    text = ", ".join(render(v) for v in items[:limit])
    return text + (f" ... ({len(items)} in all)" if len(items) > limit else "")


def _ordered(values: Iterable[Any]) -> list[Any]:
    if not isinstance(values, set | frozenset):
        return list(values)
    return sorted(
        values, key=lambda v: (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))
    )


def _first_line(text: str, limit: int = 300) -> str:
    """A message's first line (a traceback's last), clipped."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines and lines[0].startswith("Traceback") else (lines or [""])[0]
    return _clip(line, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------- the run's checkers
def _stats(sub: Mapping[Any, Any]) -> list[str]:
    failed = [
        (f, entry)
        for f, entry in _items(_get(sub, "by-f") or {})
        if _valid(entry) is False and f not in IGNORED_STATS_FS
    ]
    if not failed:
        return [f"expected some requests to succeed; got {_ok_of(sub)}"]
    return [f"expected some {f} requests to succeed; got {_ok_of(entry)}" for f, entry in failed]


def _ok_of(entry: Any) -> str:
    """``0 ok of 37 (7 failed, 30 with no reply)``."""
    detail = [
        f"{_count(entry, key)} {word}"
        for key, word in (("fail-count", "failed"), ("info-count", "with no reply"))
        if _count(entry, key)
    ]
    more = f" ({', '.join(detail)})" if detail else ""
    return f"{_count(entry, 'ok-count')} ok of {_count(entry, 'count')}{more}"


def _availability(sub: Mapping[Any, Any]) -> list[str]:
    fraction = _get(sub, "ok-fraction")
    got = f"{fraction:.1%}" if isinstance(fraction, int | float) else "less"
    return [
        "expected at least the --availability share of requests answered ok (all of them "
        f"for 'total'); got {got}"
    ]


def _exceptions(sub: Mapping[Any, Any]) -> list[str]:
    found = list(_get(sub, "exceptions") or [])
    return [f"expected no client to throw; {len(found)} operation(s) threw: {listing(found, 2)}"]


def _net(sub: Mapping[Any, Any]) -> list[str]:
    return [_first_line(show(_get(sub, "error") or "the network checker found a problem"))]


def _generic(sub: Mapping[Any, Any]) -> list[str]:
    """Any other checker: its error, its non-zero counts, or its first fields."""
    for key in ("error", "cause", "message"):
        if _get(sub, key):
            return [_first_line(show(_get(sub, key)))]
    found = [
        f"{k.removesuffix('-count').replace('-', ' ')} {v}"
        for k, v in _items(sub)
        if k.endswith("-count") and isinstance(v, int) and v
    ]
    failing = [k for k, v in _items(sub) if isinstance(v, Mapping) and _valid(v) is False]
    if failing:
        found.append(f"failing: {', '.join(failing)}")
    if not found:
        found = [f"{k} = {_clip(show(v), 200)}" for k, v in _items(sub) if k != "valid?" and v]
    return ["; ".join(found[:SHOWN])] if found else []


def _unknown(sub: Mapping[Any, Any]) -> str:
    for key in ("error", "cause"):
        if _get(sub, key):
            return "could not decide: " + _first_line(show(_get(sub, key)))
    if _get(sub, "anomaly-types") is not None:  # Elle: e.g. empty-transaction-graph
        types = [f"{_name(t)} ({anomaly_meaning(_name(t))})" for t in _get(sub, "anomaly-types")]
        return f"could not decide: {', '.join(types) or 'no anomaly types reported'}"
    if _get(sub, "stable-count") is not None and not _count(sub, "stable-count"):
        # set-full: unknown when no element was ever seen stable (nothing was read back)
        return (
            f"could not decide: no element was read back ({_count(sub, 'attempt-count')} "
            f"attempted, {_count(sub, 'never-read-count')} never read)"
        )
    inner = [k for k, v in _items(sub) if isinstance(v, Mapping) and _valid(v) is not True]
    return f"could not decide ({', '.join(inner)} unknown)" if inner else "could not decide"


# ------------------------------------------------------------------ the workload's checkers
def _workload(sub: Mapping[Any, Any]) -> list[str]:
    for key, explain in _WORKLOAD_SHAPES:
        if _get(sub, key) is not None:
            reasons = explain(sub)
            if reasons:
                return reasons
    return _generic(sub)


def _counter(sub: Mapping[Any, Any]) -> list[str]:
    reads = list(_get(sub, "final-reads") or [])
    ranges = [tuple(r) for r in _get(sub, "acceptable") or [] if r and r[0] is not None]
    allowed = ", ".join(str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in ranges) or "none"
    off = [r for r in reads if not any(lo <= r <= hi for lo, hi in ranges)]
    out = [
        f"every final read must be one of the acceptable totals {allowed} (the sum of the "
        f"acknowledged adds, give or take those whose outcome is unknown); got final reads "
        f"{listing(reads) or 'none'} ({len(off)} of {len(reads)} off)"
    ]
    out += [f"wrong read: {op_text(op)}" for op in list(_get(sub, "errors") or [])[:SHOWN]]
    return out


def _set_full(sub: Mapping[Any, Any]) -> list[str]:
    out = []
    if _count(sub, "lost-count"):
        out.append(
            "every acknowledged value must be in the final reads of every node; "
            f"{_count(sub, 'lost-count')} acknowledged value(s) went missing for good (lost): "
            f"{listing(_get(sub, 'lost') or [])}"
        )
    if _count(sub, "never-read-count"):
        out.append(
            f"{_count(sub, 'never-read-count')} value(s) were never read by anyone: "
            f"{listing(_get(sub, 'never-read') or [])}"
        )
    if _count(sub, "duplicated-count"):
        out.append(
            f"each value must be read once; {_count(sub, 'duplicated-count')} were read more than once"
        )
    if _count(sub, "stale-count") and not out:
        out.append(f"{_count(sub, 'stale-count')} values took long to show up everywhere (stale)")
    return out


def _unique_ids(sub: Mapping[Any, Any]) -> list[str]:
    duplicated = _get(sub, "duplicated") or {}
    pairs = list(duplicated.items()) if isinstance(duplicated, Mapping) else []
    acknowledged = _get(sub, "acknowledged-count")
    of = f" (of {acknowledged} acknowledged)" if acknowledged is not None else ""
    shown = listing((f"{_quoted(k)} ({n} times)" for k, n in pairs), render=str)
    return [
        f"every acknowledged id must be distinct; got {_count(sub, 'duplicated-count')} id(s) "
        f"handed out more than once{of}, e.g. {shown}"
    ]


def _anomalies(sub: Mapping[Any, Any]) -> list[str]:
    anomalies = _get(sub, "anomalies") or {}
    out = []
    for kind in _get(sub, "anomaly-types") or [name for name, _ in _items(anomalies)]:
        cases = _get(anomalies, _name(kind))
        count = len(cases) if isinstance(cases, list | tuple) else None
        first = f". {_first_case(cases[0])}" if count else ""
        out.append(
            f"{_name(kind)}: {anomaly_meaning(_name(kind))}; expected none, "
            f"found {count if count is not None else 'some'}{first}"
        )
    ruled_out = sorted(_name(m) for m in _get(sub, "not") or [])
    if ruled_out:
        out.append(f"so the history is not even {' or '.join(ruled_out)} (nor anything stronger)")
    return out


def _kafka(sub: Mapping[Any, Any]) -> list[str]:
    out = []
    for kind in _get(sub, "bad-error-types") or []:
        count = _get(_get(sub, _name(kind)), "count")
        found = count if isinstance(count, int) else "some"
        out.append(f"{_name(kind)}: {anomaly_meaning(_name(kind))}; expected none, found {found}")
    return out


def _first_case(case: Any, limit: int = 400) -> str:
    """An anomaly's first case: the checker's own explanation when it has one, else its fields."""
    explanation = _get(case, "explanation")
    if isinstance(explanation, str):
        return "First, with T<n> the transaction of op #<n>: " + _clip(explanation, limit)
    if _is_op(case) or not isinstance(case, Mapping):
        text = show(case)
    else:
        text = "; ".join(f"{k} = {show(v)}" for k, v in _items(case))
    return "First: " + _clip(text, limit)


def _linearizable(sub: Mapping[Any, Any]) -> list[str]:
    """lin-kv: ``independent`` results per key, each with a Knossos analysis."""
    failures = list(_get(sub, "failures") or [])
    results = _get(sub, "results") or {}
    out = []
    for key in failures[:SHOWN]:
        analysis = _get(_by_key(results, key), "linearizable") or {}
        op, before = _get(analysis, "op"), _get(analysis, "previous-ok")
        text = f"key {show(key)}: " + (
            f"no order of the operations explains {op_text(op)}" if op else "not linearizable"
        )
        if before:
            text += f", right after {op_text(before)}"
        held = [_register_value(c) for c in _get(analysis, "configs") or []]
        if held:
            text += f"; at that point the register could only hold {listing(held, render=str)}"
        out.append(f"not linearizable: {text}")
    if len(failures) > SHOWN:
        out.append(f"not linearizable on {len(failures)} keys in all: {listing(failures)}")
    return out


def _by_key(results: Any, key: Any) -> Any:
    if not isinstance(results, Mapping):
        return None
    if key in results:
        return results[key]
    return next((v for k, v in results.items() if show(k) == show(key)), None)


def _register_value(config: Any) -> str:
    """A Knossos config's register value: ``{model: #CASRegister{value: 2}}`` -> ``2``."""
    model = _record(_get(_record(config), "model"))
    return show(_get(model, "value")) if isinstance(model, Mapping) else show(model)


def _echo(sub: Mapping[Any, Any]) -> list[str]:
    errors = list(_get(sub, "errors") or [])
    out = []
    for error in errors[:SHOWN]:
        if isinstance(error, list | tuple) and len(error) == 4:
            out.append(f"expected a reply echoing {show(error[1])}; got {show(error[3])}")
        else:
            out.append(f"error: {show(error)}")
    if len(errors) > SHOWN:
        out.append(f"{len(errors)} replies in all did not echo their request")
    return out


_WORKLOAD_SHAPES: list[tuple[str, Callable[[Mapping[Any, Any]], list[str]]]] = [
    ("final-reads", _counter),
    ("lost-count", _set_full),
    ("attempted-count", _unique_ids),
    ("duplicated", _unique_ids),
    ("anomaly-types", _anomalies),
    ("anomalies", _anomalies),
    ("bad-error-types", _kafka),
    ("failures", _linearizable),
    ("errors", _echo),
]
"""Each workload checker's result, recognised by a key only it has (first match wins)."""

_EXPLAINERS: dict[str, Callable[[Mapping[Any, Any]], list[str]]] = {
    "stats": _stats,
    "availability": _availability,
    "exceptions": _exceptions,
    "net": _net,
    "workload": _workload,
}
