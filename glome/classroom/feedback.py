"""Why a run failed, in plain words: expected against got, for every workload.

    failing_reasons(results)   # ["counter: every final read must be one of the acceptable
                               #   totals 1254; got final reads 1252, 1254, 1254 (1 of 3 off)"]

``results`` is a run's results map (``RunResult.results``, or ``results.edn`` read back with
``analysis.edn.loads``). Each checker whose ``valid?`` is false gives one or more sentences;
operations print as ``process 0 read -> 1252 (ok, at 29.98 s, op #4015)``, never as the raw
``Tagged('jepsen.history.Op', ...)`` record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SHOWN = 5
"""Examples quoted per finding (values, ops, anomalies)."""
ANOMALY_MEANING = {
    "G0": "write cycle: two transactions each overwrote the other's write (dirty write)",
    "G1a": "aborted read: a committed transaction read a value written by a transaction "
    "that failed (aborted)",
    "G1b": "intermediate read: a transaction read a value that its writer overwrote later "
    "in the same transaction",
    "G1c": "circular information flow: transactions read from each other in a cycle",
    "G-single": "read skew: a transaction saw part of another's writes",
    "G2": "anti-dependency cycle",
    "internal": "a transaction's read disagrees with its own earlier write",
    "duplicate": "one message was given two offsets (or sent twice)",
    "lost-write": "an acknowledged send never showed up in polls that reached past it",
    "inconsistent-offsets": "two different messages at the same offset of a key",
    "nonmonotonic-poll": "a consumer's polls went backwards in offset",
    "nonmonotonic-send": "a producer's sends got decreasing offsets",
    "int-nonmonotonic-poll": "offsets inside one poll went backwards",
    "int-nonmonotonic-send": "offsets inside one send went backwards",
    "poll-skip": "a consumer skipped offsets it should have seen",
    "unseen": "acknowledged messages that no poll ever returned",
}


def failing_reasons(results: Mapping[str, Any] | None) -> list[str]:
    """One plain sentence per finding of every checker that is not valid."""
    if not results:
        return ["the run produced no results (it aborted or never started)"]
    reasons: list[str] = []
    for name, part in _items(results):
        if not isinstance(part, Mapping) or _get(part, "valid?") is not False:
            continue
        explain = _EXPLAINERS.get(name, _generic)
        reasons.extend(explain(part) or [f"{name}: not valid"])
    if not reasons and _get(results, "valid?") is False:
        reasons.append("the run is not valid (no checker says why)")
    return reasons


def reasons_from_store(store: str | Path | None) -> list[str]:
    """``failing_reasons`` of a kept store directory's ``results.edn`` ([] when unreadable)."""
    if not store:
        return []
    path = Path(store) / "results.edn"
    try:
        from analysis.edn import loads

        return failing_reasons(loads(path.read_text()))
    except (OSError, ValueError):
        return []


# -- values ---------------------------------------------------------------------------------


def _name(key: Any) -> str:
    return str(getattr(key, "name", key)).lstrip(":")


def _items(mapping: Mapping[Any, Any]) -> Iterable[tuple[str, Any]]:
    return ((_name(k), v) for k, v in mapping.items())


def _get(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    for k, v in mapping.items():
        if _name(k) == key:
            return v
    return None


def show(value: Any) -> str:
    """A value as a student reads it: keywords bare, ops as sentences, lists in brackets."""
    if _is_op(value):
        return op_text(value)
    if isinstance(value, str):
        return _name(value)
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_name(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + " ".join(show(v) for v in value) + "]"
    tagged = getattr(value, "value", None)
    if tagged is not None and hasattr(value, "tag"):
        return show(tagged)
    return str(value)


def _is_op(value: Any) -> bool:
    inner = getattr(value, "value", value) if hasattr(value, "tag") else value
    return (
        isinstance(inner, Mapping)
        and _get(inner, "f") is not None
        and (_get(inner, "type") is not None)
    )


def op_text(op: Any) -> str:
    """``process 0 read -> 1252 (ok, at 29.98 s, op #4015)``."""
    op = getattr(op, "value", op) if hasattr(op, "tag") else op
    process, f, kind = _get(op, "process"), _name(_get(op, "f")), _name(_get(op, "type"))
    when = _get(op, "time")
    at = f"at {when / 1e9:.2f} s" if isinstance(when, int | float) else ""
    index = _get(op, "index")
    where = ", ".join(x for x in (kind, at, f"op #{index}" if index is not None else "") if x)
    value = _get(op, "value")
    return f"process {show(process)} {f} {show(value)} ({where})"


def _first(values: Iterable[Any], n: int = SHOWN) -> str:
    items = list(values)
    text = ", ".join(show(v) for v in items[:n])
    return text + (f" ... ({len(items)} in all)" if len(items) > n else "")


# -- explainers -----------------------------------------------------------------------------


def _workload(part: Mapping[str, Any]) -> list[str]:
    if _get(part, "final-reads") is not None:
        return _counter(part)
    if _get(part, "lost-count") is not None or _get(part, "never-read-count") is not None:
        return _set_full(part)
    if _get(part, "attempted-count") is not None:
        return _unique_ids(part)
    if any(_get(part, k) is not None for k in ("anomaly-types", "anomalies", "bad-error-types")):
        return _anomalies(part)
    if _get(part, "failures") is not None and _get(part, "results") is not None:
        return _linearizable(part)
    errors = _get(part, "errors")
    if errors:
        return _echo_errors(errors)
    return _generic(part)


def _counter(part: Mapping[str, Any]) -> list[str]:
    reads = list(_get(part, "final-reads") or [])
    ranges = [list(r) for r in _get(part, "acceptable") or []]
    allowed = ", ".join(str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in ranges) or "none"
    off = [r for r in reads if not any(lo <= r <= hi for lo, hi in ranges)]
    out = [
        f"counter: every final read must be one of the acceptable totals {allowed} (the sum of "
        f"the acknowledged adds, give or take those whose outcome is unknown); got final reads "
        f"{', '.join(map(str, reads)) or 'none'} ({len(off)} of {len(reads)} off)"
    ]
    for op in list(_get(part, "errors") or [])[:SHOWN]:
        out.append(f"wrong read: {op_text(op)}")
    return out


def _unique_ids(part: Mapping[str, Any]) -> list[str]:
    dups = _get(part, "duplicated") or {}
    shown = _first(f"{show(k)} ({v} times)" for k, v in dict(dups).items())
    return [
        f"unique ids: every acknowledged id must be distinct; got "
        f"{_get(part, 'duplicated-count')} ids handed out more than once "
        f"(of {_get(part, 'acknowledged-count')} acknowledged), e.g. {shown}"
    ]


def _set_full(part: Mapping[str, Any]) -> list[str]:
    out = []
    lost = _get(part, "lost-count") or 0
    if lost:
        out.append(
            f"broadcast: every acknowledged value must be in the final reads of every node; "
            f"{lost} were acknowledged and then missing for good (lost): "
            f"{_first(_get(part, 'lost') or [])}"
        )
    never = _get(part, "never-read-count") or 0
    if never:
        out.append(
            f"broadcast: {never} values were never read by anyone: "
            f"{_first(_get(part, 'never-read') or [])}"
        )
    stale = _get(part, "stale-count") or 0
    if stale and not out:
        out.append(f"broadcast: {stale} values took long to show up everywhere (stale reads)")
    return out


def _anomalies(part: Mapping[str, Any]) -> list[str]:
    out = []
    anomalies = _get(part, "anomalies") or {}
    for kind in _get(part, "anomaly-types") or [name for name, _ in _items(anomalies)]:
        name = _name(kind)
        cases = _get(anomalies, name)
        count = len(cases) if isinstance(cases, list | tuple) else None
        meaning = ANOMALY_MEANING.get(name, "see the checker's results.edn")
        out.append(
            f"{name}: {meaning}; found {count if count is not None else 'some'}; "
            "expected none" + (f". First: {_case_text(cases[0])}" if count else "")
        )
    bad = _get(part, "bad-error-types")
    if bad:
        out.append(f"expected no errors of these types; got {show(bad)}")
    return out


def _case_text(case: Any) -> str:
    if _is_op(case):
        return op_text(case)
    if not isinstance(case, Mapping):
        return show(case)
    parts = []
    for key, value in _items(case):
        parts.append(f"{key} = {op_text(value) if _is_op(value) else show(value)}")
    return "; ".join(parts)


def _linearizable(part: Mapping[str, Any]) -> list[str]:
    out = []
    results = _get(part, "results") or {}
    for key in list(_get(part, "failures") or [])[:SHOWN]:
        lin = _get(_get(results, show(key)) or _lookup(results, key), "linearizable") or {}
        op, before = _get(lin, "op"), _get(lin, "previous-ok")
        models = [_model_value(c) for c in _get(lin, "configs") or []]
        text = (
            f"key {show(key)}: no order of the operations explains {op_text(op)}"
            if op
            else (f"key {show(key)}: not linearizable")
        )
        if before:
            text += f", right after {op_text(before)}"
        if models:
            text += f"; at that point the register could only hold {_first(models)}"
        out.append(f"linearizability: {text}")
    return out


def _lookup(results: Any, key: Any) -> Any:
    if isinstance(results, Mapping):
        for k, v in results.items():
            if k == key or show(k) == show(key):
                return v
    return None


def _echo_errors(errors: Any) -> list[str]:
    out = []
    for error in list(errors)[:SHOWN]:
        if isinstance(error, list | tuple) and len(error) == 4:
            out.append(f"echo: expected a reply echoing {show(error[1])}; got {show(error[3])}")
        else:
            out.append(f"error: {show(error)}")
    return out


def _availability(part: Mapping[str, Any]) -> list[str]:
    return [
        f"availability: expected an ok-fraction of at least {show(_get(part, 'target') or 1)} "
        f"(total: every request answered ok); got {show(_get(part, 'ok-fraction'))}"
    ]


def _stats(part: Mapping[str, Any]) -> list[str]:
    out = []
    for f, figures in _items(_get(part, "by-f") or {}):
        if _get(figures, "valid?") is False:
            out.append(
                f"{f}: expected some {f} requests to succeed; got {_get(figures, 'ok-count')} ok "
                f"of {_get(figures, 'count')} ({_get(figures, 'fail-count')} failed, "
                f"{_get(figures, 'info-count')} with no reply)"
            )
    return out


def _generic(part: Mapping[str, Any]) -> list[str]:
    shown = [
        f"{k} = {show(v)[:200]}" for k, v in _items(part) if k != "valid?" and v not in ({}, [])
    ]
    return ["; ".join(shown[:SHOWN])] if shown else []


_EXPLAINERS = {"workload": _workload, "availability": _availability, "stats": _stats}


def _model_value(config: Any) -> str:
    """A Knossos config's register value: ``{model: #CASRegister{value: 2}}`` -> ``2``."""
    model = _get(getattr(config, "value", config), "model")
    model = getattr(model, "value", model)
    return show(_get(model, "value")) if isinstance(model, Mapping) else show(model)
