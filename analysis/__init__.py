"""glome.analysis: Maelstrom and glome store directories as pandas frames and plots.

    import analysis
    run = analysis.load("store/")          # the latest run, or any run directory
    print(run.summary())
    run.ops, run.results, run.net, run.anomalies, run.messages, run.node_logs, run.nemesis
    analysis.plot_latency(run)

Self-contained: reads files only and never imports glome.
"""

from analysis.compare import compare, plot_compare
from analysis.load import Run, find_runs, load
from analysis.plots import (
    plot_latency,
    plot_latency_quantiles,
    plot_message_counts,
    plot_message_pairs,
    plot_rate,
    plot_spacetime,
    plot_topology,
    shade_nemesis,
)

__all__ = [
    "Run",
    "compare",
    "find_runs",
    "load",
    "plot_compare",
    "plot_latency",
    "plot_latency_quantiles",
    "plot_message_counts",
    "plot_message_pairs",
    "plot_rate",
    "plot_spacetime",
    "plot_topology",
    "shade_nemesis",
]
