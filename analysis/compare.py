"""Several runs side by side (e.g. a naive node against a hardened one): one table, one figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.load import Run, load
from analysis.plots import ZERO_NOTE, run_label

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
    "anomalies_all",
    "missing",
]
"""`anomalies` counts only the kinds that fail the test (a valid broadcast run's stale reads
are not counted there); `anomalies_all` counts every row of `Run.anomalies`."""


def _as_runs(runs: Sequence[Run | str | Path]) -> list[Run]:
    return [r if isinstance(r, Run) else load(r) for r in runs]


def compare(runs: Sequence[Run | str | Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run: verdict, ops, availability, msgs-per-op, latency quantiles, lost/stale
    counts, broadcast stable latencies, anomaly and missing-file counts. Figures come from
    results.edn where it has them, else from the history and messages. Runs are labelled by
    `labels`, else by :func:`analysis.plots.run_label`."""
    loaded = _as_runs(runs)
    if labels is not None and len(labels) != len(loaded):
        raise ValueError(f"{len(labels)} labels for {len(loaded)} runs")
    rows = [_row(run, labels[i] if labels else run_label(run)) for i, run in enumerate(loaded)]
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def _row(run: Run, label: str) -> dict[str, Any]:
    fig = run.figures
    ops = run.client_ops
    done = ops[ops["type"] != "incomplete"]
    ok = ops[(ops["type"] == "ok") & (ops["f"].astype(str) != "crash")]["latency_ms"].dropna()
    anomalies = run.anomalies
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
        "anomalies": int(anomalies["invalidating"].astype(bool).sum()),
        "anomalies_all": len(anomalies),
        "missing": len(run.missing),
    }


LATENCY_PANELS = {
    "stable": (
        ["stable_latency_p50_ms", "stable_latency_max_ms"],
        "Stable latency: broadcast until every read has it",
    ),
    "ops": (["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"], "Latency of ok operations"),
}


def latency_measure(table: pd.DataFrame) -> str:
    """ "stable" when every run is a broadcast-like run with stable latencies (the latency its
    challenge grades), else "ops" (client operation latency)."""
    stable = pd.to_numeric(table["stable_latency_max_ms"], errors="coerce")
    return "stable" if len(table) and stable.notna().all() else "ops"


def _bar_text(value: float) -> str:
    if pd.isna(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def plot_compare(
    runs: Sequence[Run | str | Path] | pd.DataFrame,
    labels: Sequence[str] | None = None,
) -> Figure:
    """One figure of four panels: msgs-per-op; the latency that matters for the workload
    (stable latency for broadcast, else ok-op quantiles); availability; what failed (lost
    values and the anomalies that invalidate a run; a valid run's stale reads are not failures).
    The title gives each run's verdict."""
    import matplotlib.pyplot as plt

    table = runs if isinstance(runs, pd.DataFrame) else compare(runs, labels)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    names = table["run"].astype(str).tolist()
    x = range(len(names))

    def bars(ax: Any, columns: list[str], title: str, ylabel: str) -> None:
        width = 0.8 / len(columns)
        values = {c: pd.to_numeric(table[c], errors="coerce") for c in columns}
        for i, col in enumerate(columns):
            bars = ax.bar([p + i * width for p in x], values[col].fillna(0.0), width, label=col)
            # the value on each bar, so that a real 0 is told apart from a missing bar
            ax.bar_label(
                bars,
                labels=[_bar_text(v) for v in values[col]],
                fontsize="x-small",
            )
        ax.set_xticks(
            [p + 0.4 - width / 2 for p in x], names, rotation=20, ha="right", fontsize="small"
        )
        ax.set_title(title, fontsize="medium")
        ax.set_ylabel(ylabel)
        known = pd.concat(values.values())
        top = known.max()
        # room above the tallest bar for its value label and the legend
        if ylabel == "ok fraction":
            ax.set_ylim(0, 1.2)  # a fraction: room for the labels, no made-up values above 1
        else:
            ax.set_ylim(0, 1.0 if pd.isna(top) or top <= 0 else top * 1.4)
        ax.legend(fontsize="x-small", loc="upper right")
        if known.isna().all():
            ax.text(0.5, 0.5, "not measured for these runs", ha="center", transform=ax.transAxes)
        elif ylabel == "ms" and (known.fillna(0) == 0).all():
            ax.text(0.5, 0.5, ZERO_NOTE, ha="center", transform=ax.transAxes, fontsize="small")
        elif ylabel == "count" and (known.fillna(0) == 0).all():
            ax.text(0.5, 0.5, "none", ha="center", transform=ax.transAxes, color="#777")

    bars(axes[0][0], ["msgs_per_op_servers", "msgs_per_op_all"], "Messages per op", "msgs/op")
    columns, title = LATENCY_PANELS[latency_measure(table)]
    bars(axes[0][1], columns, title, "ms")
    bars(axes[1][0], ["ok_fraction"], "Availability", "ok fraction")
    bars(
        axes[1][1],
        ["lost_count", "anomalies"],
        "What failed: lost values, invalidating anomalies",
        "count",
    )
    verdicts = ", ".join(f"{n}: {v}" for n, v in zip(names, table["valid"], strict=True))
    fig.suptitle(f"valid? {verdicts}", fontsize="small", wrap=True)
    fig.tight_layout()
    return fig
