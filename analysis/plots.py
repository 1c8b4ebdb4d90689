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
ERROR_COLOUR = "#d7191c"
CLIENT_COLOUR = "#81bffc"
NODE_COLOUR = "#222222"
QUANTILES = (0.5, 0.95, 0.99, 1.0)


ZERO_NOTE = "every latency is 0 ms: the nodes answered in zero simulated time"
"""Shown instead of an empty log axis (an in-process run without a processing-time model)."""
CLIENT_CRASH = "crash"
"""kafka's client crash op (`:f :crash`): the client is replaced; no request, no latency."""


def run_label(run: Run) -> str:
    """A short name for titles and legends: the node (glome) or binary (Maelstrom) and seed,
    else the workload and the run's start time, never the whole timestamped path."""
    glome = run.options.get("glome")
    node = glome.get("node") if isinstance(glome, dict) else None
    binary = run.options.get("bin")
    name = (
        str(node).rsplit(":", 1)[-1]
        if node
        else (str(binary).rsplit("/", 1)[-1] if binary else None)
    )
    if name:
        seed = run.options.get("seed")
        return f"{name} ({run.workload}{f', seed {seed}' if seed is not None else ''})"
    when = run.started.strftime("%H:%M:%S") if run.started is not None else run.path.name
    return f"{run.workload or 'run'} at {when}"


def _latency_axis(ax: Axes, values: pd.Series) -> None:
    """Log scale when every latency is positive and they span more than a decade (linear from
    0 when they do not); symlog (linear below 1 ms) when some are 0, so zeros sit at 0 instead
    of at a made-up 1e-3; a note when all are 0."""
    from matplotlib.ticker import FuncFormatter

    if (values > 0).all() and values.max() < 10 * values.min():
        ax.set_ylim(bottom=0)  # within one decade a linear axis reads better than a log one
        ax.set_ylabel("latency (ms)")
        return
    if (values > 0).all():
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms, log scale)")
    elif (values > 0).any():
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylabel("latency (ms; linear below 1, log above)")
    else:
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(-0.1, 1)
        ax.text(0.5, 0.6, ZERO_NOTE, ha="center", transform=ax.transAxes, color="#777")
        return
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 3, not 3x10^0
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))


def _client_crashes(ops: pd.DataFrame, ax: Axes) -> pd.DataFrame:
    """Draw kafka's client crash ops as ticks along the bottom (they are not requests, so
    they have no latency worth plotting); return the other ops."""
    crashes = ops[ops["f"].astype(str) == CLIENT_CRASH]
    if len(crashes):
        ax.plot(
            crashes["invoke_time_s"],
            [0.02] * len(crashes),
            "|",
            color="#6a3d9a",
            ms=10,
            transform=ax.get_xaxis_transform(),
            label="client crash (client replaced; not a request)",
        )
    return ops[ops["f"].astype(str) != CLIENT_CRASH]


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


def kill_windows(run: Run) -> pd.DataFrame:
    """When nodes were down: one row per kill..start pair of glome's `kill` nemesis (the fault
    windows in `Run.nemesis` are start-*/stop-* pairs, which a kill is not)."""
    hist = run.history
    rows: list[dict[str, Any]] = []
    if len(hist) and "process" in hist:
        nem = hist[(hist["process"] == "nemesis") & hist["f"].isin(["kill", "start"])]
        down_since: float | None = None
        for f, t in zip(nem["f"], nem["time_s"].astype(float), strict=True):
            if f == "kill" and down_since is None:
                down_since = t
            elif f == "start" and down_since is not None:
                rows.append({"fault": "kill", "start_s": down_since, "stop_s": t})
                down_since = None
        if down_since is not None:
            rows.append({"fault": "kill", "start_s": down_since, "stop_s": run.end_s or down_since})
    return pd.DataFrame(rows, columns=["fault", "start_s", "stop_s"])


def shade_nemesis(run: Run, ax: Axes, label: bool = True) -> Axes:
    """Shade each fault window (partition etc., and nodes killed) of `run` on a time-axis
    plot, labelled once per kind of fault for the legend."""
    nem = pd.concat([run.nemesis[["fault", "start_s", "stop_s"]], kill_windows(run)])
    seen: set[str] = set()
    for start, stop, fault in zip(
        nem["start_s"].astype(float), nem["stop_s"].astype(float), nem["fault"], strict=True
    ):
        name = "node down (kill)" if fault == "kill" else f"{fault} (nemesis)"
        ax.axvspan(
            start,
            stop,
            color="#7f7f7f" if fault == "kill" else "#e31a1c",
            alpha=0.12 if fault == "kill" else 0.08,
            lw=0,
            label=name if label and name not in seen else None,
        )
        seen.add(name)
    return ax


def plot_latency(run: Run, ax: Axes | None = None) -> Axes:
    """Latency of every client operation over time: colour = completion type (ok, info = timed
    out or indeterminate, fail = definite error), marker = f. Log scale when every latency is
    positive (see :func:`_latency_axis` for zeros); kafka's client crashes are ticks."""
    ax = _axes(ax)
    ops = run.client_ops.dropna(subset=["latency_ms"])
    if not len(ops):
        return _empty(ax, "Latency", "no completed operations")
    ops = _client_crashes(ops, ax)
    markers = "os^vD<>ph*"
    for i, (f, by_f) in enumerate(sorted(ops.groupby("f"), key=lambda kv: str(kv[0]))):
        for kind, group in sorted(by_f.groupby("type"), key=lambda kv: str(kv[0])):
            ax.scatter(
                group["invoke_time_s"],
                group["latency_ms"],
                s=8,
                marker=markers[i % len(markers)],
                color=TYPE_COLOURS.get(str(kind), "#555"),
                alpha=0.6,
                label=f"{f} {kind}",
            )
    shade_nemesis(run, ax)
    _latency_axis(ax, ops["latency_ms"])
    ax.set_xlabel("time (s)")
    ax.set_title(f"Latency: {run_label(run)}")
    ax.legend(fontsize="small", markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_latency_quantiles(run: Run, ax: Axes | None = None, buckets: int = 30) -> Axes:
    """Latency quantiles (median, 95th, 99th, max) of ok operations per time bucket, by f."""
    ax = _axes(ax)
    ops = run.client_ops
    ops = ops[(ops["type"] == "ok") & (ops["f"].astype(str) != CLIENT_CRASH)]
    ops = ops.dropna(subset=["latency_ms"])
    if not len(ops):
        return _empty(ax, "Latency quantiles", "no ok operations")
    start, end = ops["invoke_time_s"].min(), ops["invoke_time_s"].max()
    width = max((end - start) / buckets, 1e-3)
    index = ((ops["invoke_time_s"] - start) // width).astype(int)
    every_bucket = pd.RangeIndex(0, int(index.max()) + 1)
    centres = start + (every_bucket + 0.5) * width
    ops = ops.assign(bucket=index)
    styles = {0.5: "-", 0.95: "--", 0.99: "-.", 1.0: ":"}
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    for i, (f, by_f) in enumerate(sorted(ops.groupby("f"), key=lambda kv: str(kv[0]))):
        grouped = by_f.groupby("bucket")["latency_ms"]
        for q in QUANTILES:
            series = grouped.quantile(q).reindex(every_bucket)  # empty bucket -> gap
            ax.plot(
                centres,
                series.to_numpy(dtype=float),
                styles[q],
                marker=".",
                ms=3,
                color=colours[i % len(colours)],
                label=f"{f} p{q * 100:g}",
            )
    shade_nemesis(run, ax)
    _latency_axis(ax, ops["latency_ms"])
    ax.set_xlabel("time (s)")
    ax.set_title(f"Latency quantiles of ok ops: {run_label(run)}")
    ax.legend(fontsize="x-small", ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_rate(run: Run, ax: Axes | None = None, buckets: int = 40) -> Axes:
    """Completed operations per second over time, by f (colour) and completion type (solid ok,
    dashed info, dotted fail). A time bucket in which nothing of a kind completed is a gap in
    its line: an outage is not bridged."""
    ax = _axes(ax)
    ops = run.client_ops.dropna(subset=["complete_time_s"])
    if not len(ops):
        return _empty(ax, "Rate", "no completed operations")
    end = max(float(ops["complete_time_s"].max()), 1e-3)
    width = max(end / buckets, 1e-3)
    index = ops["complete_time_s"] // width
    every_bucket = pd.RangeIndex(0, int(index.max()) + 1)
    ops = ops.assign(bucket=index.astype(int))
    fs = sorted(ops["f"].astype(str).unique())
    styles = {"ok": "-", "info": "--", "fail": ":"}
    for (f, kind), group in sorted(ops.groupby(["f", "type"]), key=lambda kv: str(kv[0])):
        rate = group.groupby("bucket").size().reindex(every_bucket) / width  # empty -> NaN
        ax.plot(
            (every_bucket + 0.5) * width,
            rate.to_numpy(dtype=float),
            styles.get(str(kind), "-."),
            marker=".",
            label="client crash" if str(f) == CLIENT_CRASH else f"{f} {kind}",
            # one f: colour by completion type; several: colour by f, line style by type
            color=TYPE_COLOURS.get(str(kind)) if len(fs) == 1 else f"C{fs.index(str(f)) % 10}",
        )
    shade_nemesis(run, ax)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"ops / s ({width:.2g} s buckets)")
    ax.set_title(f"Operation rate: {run_label(run)}")
    ax.legend(
        fontsize="small",
        title="a gap: none completed",
        title_fontsize="x-small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    return ax


def plot_message_counts(run: Run, ax: Axes | None = None) -> Axes:
    """Messages by body type (from the journal or messages.svg), else the :net counts."""
    ax = _axes(ax)
    msgs = run.messages
    if len(msgs):
        counts = msgs["type"].fillna("?").astype(str).value_counts().sort_values()
        colours = [ERROR_COLOUR if t == "error" else "#4c72b0" for t in counts.index]
        ax.barh([str(t) for t in counts.index], counts.to_numpy(dtype=float), color=colours)
        ax.set_xlabel("messages")
        ax.set_title(f"Messages by body type ({msgs['source'].iloc[0]}):\n{run_label(run)}")
        if "error" in counts.index:
            ax.legend(
                handles=[_patch(ERROR_COLOUR, "error: replies carrying an error code")],
                fontsize="small",
                loc="lower right",
            )
        return ax
    net = run.net
    if not len(net):
        return _empty(ax, "Messages", "no message data (no journal, svg or :net)")
    ax.bar(net["group"], net["msg_count"].astype(float), color="#4c72b0")
    ax.set_ylabel("messages")
    ax.set_title(f"Messages (results.edn :net):\n{run_label(run)}")
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
    ax.set_title(f"Messages by node pair:\n{run_label(run)}")
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
    ax.set_title(f"Who talked to whom (edge = messages):\n{run_label(run)}")
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
            ERROR_COLOUR
            if kind == "error"
            else (CLIENT_COLOUR if s.startswith("c") or d.startswith("c") else NODE_COLOUR)
        )
        if dropped or pd.isna(t1):
            ax.plot([x0, (x0 + x1) / 2], [t0, t0], color=colour, lw=0.8, alpha=0.7)
            ax.plot((x0 + x1) / 2, t0, "x", color=ERROR_COLOUR, ms=4)
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
    ax.set_title(f"Space-time diagram, first {len(msgs)} messages:\n{run_label(run)}")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=NODE_COLOUR, lw=1, label="node to node (or service)"),
        Line2D([], [], color=CLIENT_COLOUR, lw=1, label="client request or reply"),
    ]
    if (msgs["type"] == "error").any():
        handles.append(Line2D([], [], color=ERROR_COLOUR, lw=1, label="error reply"))
    if (msgs["dropped"].astype(bool) | recv.isna()).any():
        handles.append(
            Line2D([], [], color=ERROR_COLOUR, marker="x", ls="", label="dropped (never delivered)")
        )
    if timed:
        shade = run.nemesis
        for start, stop in zip(
            shade["start_s"].astype(float), shade["stop_s"].astype(float), strict=True
        ):
            ax.axhspan(start, stop, color="#e31a1c", alpha=0.08, lw=0)
        if len(shade):
            handles.append(_patch("#e31a1c", "fault window (nemesis)", alpha=0.15))
    ax.legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def _patch(colour: str, label: str, alpha: float = 1.0) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, alpha=alpha, label=label)


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
