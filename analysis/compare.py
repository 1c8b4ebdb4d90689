"""Several runs side by side (e.g. a naive node against a hardened one): one table, one figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.load import Run, load

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COMPARE_COLUMNS = [
    "run",
    "workload",
    "valid",
    "ops",
    "ok_fraction",
    "msgs_per_op_all",
    "msgs_per_op_servers",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "lost_count",
    "stale_count",
    "stable_latency_p50_ms",
    "stable_latency_max_ms",
    "anomalies",
    "missing",
]


def _as_runs(runs: Sequence[Run | str | Path]) -> list[Run]:
    return [r if isinstance(r, Run) else load(r) for r in runs]


def compare(runs: Sequence[Run | str | Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run: verdict, ops, availability, msgs-per-op, latency quantiles, lost/stale
    counts, broadcast stable latencies, anomaly and missing-file counts. Figures come from
    results.edn where it has them, else from the history and messages."""
    loaded = _as_runs(runs)
    if labels is not None and len(labels) != len(loaded):
        raise ValueError(f"{len(labels)} labels for {len(loaded)} runs")
    rows = [_row(run, labels[i] if labels else run.name) for i, run in enumerate(loaded)]
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def _row(run: Run, label: str) -> dict[str, Any]:
    fig = run.figures
    ops = run.client_ops
    done = ops[ops["type"] != "incomplete"]
    ok = ops[ops["type"] == "ok"]["latency_ms"].dropna()
    net = dict(zip(run.net["group"], run.net["msgs_per_op"], strict=True))

    def per_op(group: str) -> float | None:
        value = net.get(group)
        return float(value) if value is not None and pd.notna(value) else None

    ok_fraction = fig.get("availability.ok-fraction")
    if ok_fraction is None and len(ops):
        ok_fraction = float((ops["type"] == "ok").sum() / len(ops))
    return {
        "run": label,
        "workload": run.workload,
        "valid": run.valid,
        "ops": len(done),
        "ok_fraction": ok_fraction,
        "msgs_per_op_all": per_op("all"),
        "msgs_per_op_servers": per_op("servers"),
        "latency_p50_ms": ok.quantile(0.5) if len(ok) else None,
        "latency_p95_ms": ok.quantile(0.95) if len(ok) else None,
        "latency_p99_ms": ok.quantile(0.99) if len(ok) else None,
        "latency_max_ms": ok.max() if len(ok) else None,
        "lost_count": fig.get("workload.lost-count"),
        "stale_count": fig.get("workload.stale-count"),
        "stable_latency_p50_ms": fig.get("workload.stable-latencies.0.5"),
        "stable_latency_max_ms": fig.get("workload.stable-latencies.1"),
        "anomalies": len(run.anomalies),
        "missing": len(run.missing),
    }


def plot_compare(
    runs: Sequence[Run | str | Path] | pd.DataFrame,
    labels: Sequence[str] | None = None,
) -> Figure:
    """One figure of four panels: msgs-per-op, ok-latency quantiles, availability, lost/stale."""
    import matplotlib.pyplot as plt

    table = runs if isinstance(runs, pd.DataFrame) else compare(runs, labels)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    names = table["run"].astype(str).tolist()
    x = range(len(names))

    def bars(ax: Any, columns: list[str], title: str, ylabel: str) -> None:
        width = 0.8 / len(columns)
        for i, col in enumerate(columns):
            values = pd.to_numeric(table[col], errors="coerce").fillna(0.0)
            ax.bar([p + i * width for p in x], values, width, label=col)
        ax.set_xticks(
            [p + 0.4 - width / 2 for p in x], names, rotation=20, ha="right", fontsize="x-small"
        )
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="x-small")

    bars(axes[0][0], ["msgs_per_op_servers", "msgs_per_op_all"], "Messages per op", "msgs/op")
    bars(
        axes[0][1],
        ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"],
        "Latency of ok ops",
        "ms",
    )
    bars(axes[1][0], ["ok_fraction"], "Availability", "ok fraction")
    bars(
        axes[1][1], ["lost_count", "stale_count", "anomalies"], "Lost / stale / anomalies", "count"
    )
    verdicts = ", ".join(f"{n}: {v}" for n, v in zip(names, table["valid"], strict=True))
    fig.suptitle(f"valid? {verdicts}", fontsize="small")
    fig.tight_layout()
    return fig
