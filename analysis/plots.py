"""Plots of one run. Each ``plot_x(run, ax=None) -> Axes`` draws on `ax` (a new figure when
None) with matplotlib only; time plots shade the nemesis windows (:func:`shade_nemesis`).

matplotlib is imported lazily so that loading runs never needs a display or a backend.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.load import node_order

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from analysis.load import Run

TYPE_COLOURS = {"ok": "#2b83ba", "info": "#fdae61", "fail": "#d7191c", "incomplete": "#999999"}
QUANTILES = (0.5, 0.95, 0.99, 1.0)


def _axes(ax: Axes | None, size: tuple[float, float] = (8, 4)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size)
    return new


def _empty(ax: Axes, title: str, why: str) -> Axes:
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def shade_nemesis(run: Run, ax: Axes, label: bool = True) -> Axes:
    """Shade each fault window (partition etc.) of `run` on a time-axis plot."""
    nem = run.nemesis
    for i, (start, stop, fault) in enumerate(
        zip(nem["start_s"].astype(float), nem["stop_s"].astype(float), nem["fault"], strict=True)
    ):
        ax.axvspan(
            start,
            stop,
            color="#e31a1c",
            alpha=0.08,
            lw=0,
            label=f"{fault} (nemesis)" if label and i == 0 else None,
        )
    return ax


def plot_latency(run: Run, ax: Axes | None = None) -> Axes:
    """Latency of every client operation over time, one colour per completion type, one
    marker per f (log scale)."""
    ax = _axes(ax)
    ops = run.client_ops.dropna(subset=["latency_ms"])
    if not len(ops):
        return _empty(ax, "Latency", "no completed operations")
    markers = "os^vD<>ph*"
    for i, (f, by_f) in enumerate(sorted(ops.groupby("f"), key=lambda kv: str(kv[0]))):
        for kind, group in sorted(by_f.groupby("type"), key=lambda kv: str(kv[0])):
            ax.scatter(
                group["invoke_time_s"],
                group["latency_ms"].clip(lower=1e-3),
                s=8,
                marker=markers[i % len(markers)],
                color=TYPE_COLOURS.get(str(kind), "#555"),
                alpha=0.6,
                label=f"{f} {kind}",
            )
    shade_nemesis(run, ax)
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"Latency: {run.name}")
    ax.legend(fontsize="small", markerscale=2, loc="best")
    return ax


def plot_latency_quantiles(run: Run, ax: Axes | None = None, buckets: int = 30) -> Axes:
    """Latency quantiles (median, 95th, 99th, max) of ok operations per time bucket, by f."""
    ax = _axes(ax)
    ops = run.client_ops
    ops = ops[(ops["type"] == "ok")].dropna(subset=["latency_ms"])
    if not len(ops):
        return _empty(ax, "Latency quantiles", "no ok operations")
    start, end = ops["invoke_time_s"].min(), ops["invoke_time_s"].max()
    width = max((end - start) / buckets, 1e-3)
    ops = ops.assign(bucket=((ops["invoke_time_s"] - start) // width) * width + start + width / 2)
    styles = {0.5: "-", 0.95: "--", 0.99: "-.", 1.0: ":"}
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    for i, (f, by_f) in enumerate(sorted(ops.groupby("f"), key=lambda kv: str(kv[0]))):
        grouped = by_f.groupby("bucket")["latency_ms"]
        for q in QUANTILES:
            series = grouped.quantile(q)
            ax.plot(
                series.index,
                series.clip(lower=1e-3).to_numpy(dtype=float),
                styles[q],
                color=colours[i % len(colours)],
                label=f"{f} p{q * 100:g}",
            )
    shade_nemesis(run, ax)
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"Latency quantiles: {run.name}")
    ax.legend(fontsize="x-small", ncol=2)
    return ax


def plot_rate(run: Run, ax: Axes | None = None, buckets: int = 40) -> Axes:
    """Completed operations per second over time, by f and completion type."""
    ax = _axes(ax)
    ops = run.client_ops.dropna(subset=["complete_time_s"])
    if not len(ops):
        return _empty(ax, "Rate", "no completed operations")
    start, end = 0.0, max(ops["complete_time_s"].max(), 1e-3)
    width = max((end - start) / buckets, 1e-3)
    ops = ops.assign(bucket=(ops["complete_time_s"] // width) * width + width / 2)
    for (f, kind), group in sorted(ops.groupby(["f", "type"]), key=lambda kv: str(kv[0])):
        rate = group.groupby("bucket").size() / width
        ax.plot(
            rate.index,
            rate.values,
            marker=".",
            label=f"{f} {kind}",
            color=TYPE_COLOURS.get(str(kind)) if ops["f"].nunique() == 1 else None,
        )
    shade_nemesis(run, ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ops / s")
    ax.set_title(f"Operation rate: {run.name}")
    ax.legend(fontsize="small")
    return ax


def plot_message_counts(run: Run, ax: Axes | None = None) -> Axes:
    """Messages by body type (from the journal or messages.svg), else the :net counts."""
    ax = _axes(ax)
    msgs = run.messages
    if len(msgs):
        counts = msgs["type"].fillna("?").astype(str).value_counts().sort_values()
        ax.barh([str(t) for t in counts.index], counts.to_numpy(dtype=float), color="#4c72b0")
        ax.set_xlabel("messages")
        ax.set_title(f"Messages by type ({msgs['source'].iloc[0]}): {run.name}")
        return ax
    net = run.net
    if not len(net):
        return _empty(ax, "Messages", "no message data (no journal, svg or :net)")
    ax.bar(net["group"], net["msg_count"].astype(float), color="#4c72b0")
    ax.set_ylabel("messages")
    ax.set_title(f"Messages (results.edn :net): {run.name}")
    return ax


def _pair_counts(run: Run) -> pd.DataFrame:
    msgs = run.messages
    if not len(msgs):
        return pd.DataFrame()
    return msgs.groupby(["src", "dest"]).size().unstack(fill_value=0)


def plot_message_pairs(run: Run, ax: Axes | None = None) -> Axes:
    """A src x dest heat map of message counts."""
    ax = _axes(ax, (6, 5))
    table = _pair_counts(run)
    if table.empty:
        return _empty(ax, "Messages by node pair", "no per-message data")
    names = sorted(set(table.index) | set(table.columns), key=node_order)
    table = table.reindex(index=names, columns=names, fill_value=0)
    image = ax.imshow(table.values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize="x-small")
    ax.set_yticks(range(len(names)), names, fontsize="x-small")
    ax.set_xlabel("dest")
    ax.set_ylabel("src")
    ax.set_title(f"Messages by node pair: {run.name}")
    ax.figure.colorbar(image, ax=ax, label="messages")
    return ax


def plot_topology(run: Run, ax: Axes | None = None, clients: bool = False, seed: int = 7) -> Axes:
    """The nodes as a networkx graph, edges weighted (width) by messages exchanged.

    Clients (c*) are left out unless `clients`; services (lin-kv, seq-kv...) stay. The layout
    is seeded, so the same run draws the same picture.
    """
    import networkx as nx

    ax = _axes(ax, (6, 6))
    msgs = run.messages
    graph = nx.Graph()
    graph.add_nodes_from(run.nodes)
    if len(msgs):
        keep = (
            msgs
            if clients
            else msgs[
                ~msgs["src"].astype(str).str.match(r"c\d+$")
                & ~msgs["dest"].astype(str).str.match(r"c\d+$")
            ]
        )
        pairs = keep.groupby(["src", "dest"]).size()
        for (a, b), n in zip(pairs.index.tolist(), pairs.tolist(), strict=True):
            if a == b:
                continue
            u, v = sorted((str(a), str(b)))
            w = graph.get_edge_data(u, v, {"weight": 0})["weight"]
            graph.add_edge(u, v, weight=w + int(n))
    if graph.number_of_nodes() == 0:
        return _empty(ax, "Topology", "no nodes found")
    pos = nx.spring_layout(graph, seed=seed, weight=None)
    weights = [d["weight"] for _, _, d in graph.edges(data=True)]
    top = max(weights) if weights else 1
    widths = [0.5 + 5 * math.log1p(w) / math.log1p(top) for w in weights]
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=300, node_color="#a6cee3")
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=8)
    nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, edge_color="#555", alpha=0.6)
    if len(weights) <= 40:
        nx.draw_networkx_edge_labels(
            graph,
            pos,
            ax=ax,
            font_size=6,
            edge_labels={(u, v): d["weight"] for u, v, d in graph.edges(data=True)},
        )
    ax.set_title(f"Topology by messages: {run.name}")
    ax.set_axis_off()
    return ax


def plot_spacetime(run: Run, ax: Axes | None = None, limit: int = 200) -> Axes:
    """A Lamport (space-time) diagram of the first `limit` messages: one column per node,
    time (journal) or event order (messages.svg) downwards, an arrow per message.
    Dropped messages end in a cross halfway."""
    ax = _axes(ax, (8, 8))
    msgs = run.messages
    if not len(msgs):
        return _empty(ax, "Space-time diagram", "no per-message data")
    msgs = msgs.head(limit)
    timed = msgs["send_time_s"].notna().any()
    send = msgs["send_time_s"] if timed else msgs["send_step"].astype(float)
    recv = msgs["recv_time_s"] if timed else msgs["recv_step"].astype(float)
    names = sorted(
        set(msgs["src"].astype(str)) | set(msgs["dest"].astype(str)),
        key=node_order,
    )
    column = {n: i for i, n in enumerate(names)}
    for n in names:
        ax.axvline(column[n], color="#ddd", lw=1, zorder=0)
    for s, d, t0, t1, kind, dropped in zip(
        msgs["src"].astype(str),
        msgs["dest"].astype(str),
        send,
        recv,
        msgs["type"],
        msgs["dropped"],
        strict=True,
    ):
        x0, x1 = column[s], column[d]
        colour = (
            "#d7191c"
            if kind == "error"
            else ("#81bffc" if s.startswith("c") or d.startswith("c") else "#222")
        )
        if dropped or pd.isna(t1):
            ax.plot([x0, (x0 + x1) / 2], [t0, t0], color=colour, lw=0.8, alpha=0.7)
            ax.plot((x0 + x1) / 2, t0, "x", color="#d7191c", ms=4)
            continue
        ax.annotate(
            "",
            xy=(x1, t1),
            xytext=(x0, t0),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 0.8, "alpha": 0.8},
        )
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize="x-small")
    ax.set_xlim(-0.5, len(names) - 0.5)
    lo, hi = float(pd.concat([send, recv]).min()), float(pd.concat([send, recv]).max())
    ax.set_ylim(hi + (hi - lo) * 0.02 + 1e-9, lo - (hi - lo) * 0.02 - 1e-9)
    ax.set_ylabel("time (s)" if timed else "event order (messages.svg)")
    ax.set_title(f"Space-time diagram, first {len(msgs)} messages: {run.name}")
    if timed:
        shade = run.nemesis
        for start, stop in zip(
            shade["start_s"].astype(float), shade["stop_s"].astype(float), strict=True
        ):
            ax.axhspan(start, stop, color="#e31a1c", alpha=0.08, lw=0)
    return ax


def all_plots() -> dict[str, Any]:
    """The per-run plot functions by short name (used by the CLI)."""
    return {
        "latency": plot_latency,
        "latency-quantiles": plot_latency_quantiles,
        "rate": plot_rate,
        "message-counts": plot_message_counts,
        "message-pairs": plot_message_pairs,
        "topology": plot_topology,
        "spacetime": plot_spacetime,
    }
