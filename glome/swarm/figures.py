"""The figures of one run that a swarm row carries: cost, latency and the workload's counts.

Read from the results map and the history where the run happened, so only these few numbers
travel back to the caller (the results map of a 3d run is megabytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

WORKLOAD_TEXT_FIGURES = ("anomaly-types", "final-reads", "acceptable")
"""Workload checker fields shown as text (anomaly names, a counter's reads and totals)."""
REASONS_SEPARATOR = " | "
"""Between the sentences of a row's ``reasons`` (a sentence may itself hold "; ")."""


def results_at(results: Mapping[str, Any] | None, *path: str) -> Any:
    """``results["net"]["servers"]["msgs-per-op"]`` as ``results_at(results, "net", "servers",
    "msgs-per-op")``; None where the path ends early."""
    node: Any = results
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def op_latencies_ms(history: Sequence[Mapping[str, Any]]) -> list[float]:
    """Latency of every ``ok`` client operation: completion time minus its invocation's."""
    pending: dict[Any, int] = {}
    out: list[float] = []
    for op in history:
        process = op.get("process")
        if process == "nemesis":
            continue
        kind = op.get("type")
        if kind == "invoke":
            pending[process] = int(op.get("time", 0))
        elif process in pending:
            start = pending.pop(process)
            if kind == "ok":
                out.append((int(op.get("time", 0)) - start) / 1e6)
    return out


def _quantile(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank quantile (a value that occurred), None for no values."""
    if not sorted_values:
        return None
    rank = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[rank]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple | set | frozenset):
        return " ".join(str(_plain(v)) for v in value)
    return str(_plain(value))


def _plain(value: Any) -> Any:
    """EDN keywords print as their names (``lost-write``, not ``Keyword('lost-write')``)."""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(value, list | tuple):
        return "[" + " ".join(str(_plain(v)) for v in value) + "]"
    return value


def workload_figures(results: Mapping[str, Any] | None) -> dict[str, Any]:
    """The workload checker's counts (``lost-count`` -> ``lost``) and a few text fields."""
    workload = results_at(results, "workload")
    if not isinstance(workload, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in workload.items():
        name = str(_plain(key))
        if name.endswith("-count") and _number(value) is not None:
            out[name.removesuffix("-count").replace("-", "_")] = value
        elif name in WORKLOAD_TEXT_FIGURES:
            out[name.replace("-", "_")] = _text(value)
    return out


def reasons_text(results: Mapping[str, Any] | None) -> str | None:
    """Why the run failed (``glome.sim.explain.failing_reasons``) as one text; None when valid."""
    from glome.sim.explain import failing_reasons

    return REASONS_SEPARATOR.join(failing_reasons(results)) or None


def reasons_of(row: Mapping[str, Any]) -> list[str]:
    """A row's ``reasons`` back as sentences."""
    text = row.get("reasons")
    return text.split(REASONS_SEPARATOR) if isinstance(text, str) and text else []


def run_figures(
    results: Mapping[str, Any] | None, history: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """msgs-per-op, op latency quantiles (ms), ok-fraction, op count and workload figures."""
    latencies = sorted(op_latencies_ms(history))
    return {
        "msgs_per_op": _number(results_at(results, "net", "servers", "msgs-per-op")),
        "latency_p50_ms": _quantile(latencies, 0.5),
        "latency_p99_ms": _quantile(latencies, 0.99),
        "latency_max_ms": latencies[-1] if latencies else None,
        "ok_fraction": _number(results_at(results, "availability", "ok-fraction")),
        "ops": sum(1 for op in history if op.get("type") == "invoke"),
        **workload_figures(results),
        "reasons": reasons_text(results),
    }
