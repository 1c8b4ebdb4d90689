"""Every plot renders under Agg with real data; compare and the CLI work end to end."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from helpers.paths import maelstrom_runs

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from helpers.glome_store import make_glome_store
from matplotlib.axes import Axes

import analysis
from analysis import cli
from analysis.compare import latency_measure
from analysis.plots import ZERO_NOTE, all_plots, kill_windows, run_label
from glome.sim.options import ZERO_COST

RUNS = maelstrom_runs()
needs_corpus = pytest.mark.skipif(not RUNS.is_dir(), reason="../shared/maelstrom-runs is absent")

PLOTS = sorted(all_plots().items())


@pytest.fixture(scope="module")
def partition_run() -> analysis.Run:
    """A real run with a nemesis, messages.svg and anomalies."""
    if not RUNS.is_dir():
        pytest.skip("no shared/maelstrom-runs corpus")
    return analysis.load(RUNS / "broadcast-5node-partition-fail")


@needs_corpus
@pytest.mark.parametrize(("name", "plot"), PLOTS, ids=[n for n, _ in PLOTS])
def test_plot_renders_real_run(name: str, plot: object, partition_run: analysis.Run) -> None:
    ax = plot(partition_run)  # type: ignore[operator]
    assert ax.has_data() or ax.collections or ax.patches or ax.texts
    assert ax.get_title()
    ax.figure.canvas.draw()
    plt.close(ax.figure)


@needs_corpus
def test_time_plots_shade_nemesis(partition_run: analysis.Run) -> None:
    ax = analysis.plot_latency(partition_run)
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert "partition (nemesis)" in labels
    plt.close(ax.figure)


@pytest.mark.parametrize(("name", "plot"), PLOTS, ids=[n for n, _ in PLOTS])
def test_plot_renders_glome_run_on_given_axes(name: str, plot: object, tmp_path: Path) -> None:
    make_glome_store(tmp_path)
    run = analysis.load(tmp_path / "store")
    fig, ax = plt.subplots()
    assert plot(run, ax=ax) is ax  # type: ignore[operator]
    fig.canvas.draw()
    plt.close(fig)


@needs_corpus
def test_plots_of_a_crashed_run_say_there_is_nothing() -> None:
    run = analysis.load(RUNS / "echo-crashed-no-results")
    for name, plot in PLOTS:
        ax = plot(run)
        ax.figure.canvas.draw()
        notices = [t.get_text() for t in ax.texts if t.get_text()]
        plt.close(ax.figure)
        assert notices, f"{name}: a crashed run's plot must say why it is empty"


@needs_corpus
def test_compare_table_and_figure() -> None:
    names = ["broadcast-5node-pass", "broadcast-5node-partition-fail", "echo-crashed-no-results"]
    table = analysis.compare([RUNS / n for n in names], labels=["flood", "partitioned", "crash"])
    assert table["run"].tolist() == ["flood", "partitioned", "crash"]
    assert table["valid"].tolist() == [True, False, None]
    assert table["msgs_per_op_servers"].iloc[:2].tolist() == pytest.approx([12.450549, 5.029851])
    assert table["lost_count"].iloc[1] == 6
    assert table["missing"].iloc[2] >= 1
    fig = analysis.plot_compare(table)
    assert len(fig.axes) == 4
    fig.canvas.draw()
    plt.close(fig)
    with pytest.raises(ValueError, match="labels"):
        analysis.compare([RUNS / names[0]], labels=["a", "b"])


@needs_corpus
def test_cli_prints_summary_and_writes_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plots"
    assert cli.main([str(RUNS / "echo-3node-partition-fail"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valid?   false" in printed and "availability: false" in printed
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(f"{n}.png" for n in all_plots())
    assert all((out / p).stat().st_size > 1000 for p in pngs)


def test_cli_on_glome_store_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_glome_store(tmp_path)
    assert cli.main([str(tmp_path / "store"), "--all"]) == 0
    assert "broadcast" in capsys.readouterr().out


def test_cli_bad_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


# --- figures that show something (glome runs made here, a few simulated seconds each) -------


def _kafka_run(store: Path, **processing: float) -> analysis.Run:
    """A kafka log killed and restarted every 4 s, in-process, seed 1; ``processing`` overrides
    the processing-time model (0 and 0: the zero-cost model, every latency 0)."""
    from glome.nodes.kafka import SingleNodeKafka
    from glome.sim import run

    result = run(
        SingleNodeKafka,
        workload="kafka",
        node_count=1,
        concurrency=2,
        time_limit=12,
        rate=20,
        nemesis="kill",
        nemesis_interval=4,
        recovery_time=1,
        store_dir=store,
        seed=1,
        **processing,
    )
    return analysis.load(result.store_path)


@pytest.fixture(scope="module")
def glome_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, analysis.Run]:
    """A kafka log killed and restarted (an outage, client crashes), a broadcast node losing
    values under a partition, and a valid one with stale reads; default processing time."""
    from glome.nodes.broadcast import Hardened, MarkOnSendDelta
    from glome.sim import run

    store = tmp_path_factory.mktemp("plots")
    common = {"store_dir": store, "seed": 1}
    made = {
        "lossy": run(
            MarkOnSendDelta,
            workload="broadcast",
            node_count=5,
            time_limit=20,
            rate=10,
            nemesis="partition",
            **common,
        ),
        "hardened": run(
            Hardened, workload="broadcast", node_count=5, time_limit=5, rate=10, **common
        ),
    }
    return {"kafka": _kafka_run(store)} | {k: analysis.load(r.store_path) for k, r in made.items()}


def _y_values(ax: Axes) -> np.ndarray:
    points = [c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())]
    lines = [line.get_ydata() for line in ax.get_lines()]
    return np.concatenate([np.asarray(v, dtype=float) for v in points + lines])


@pytest.mark.parametrize("name", ["latency", "latency-quantiles"])
def test_zero_latencies_are_not_drawn_on_a_log_axis(
    name: str, glome_runs: dict[str, analysis.Run]
) -> None:
    run = glome_runs["kafka"]
    ops = run.client_ops.dropna(subset=["latency_ms"])
    ops = ops[ops["f"] != "crash"]
    drawn = ops if name == "latency" else ops[ops["type"] == "ok"]  # timeouts are info
    assert (drawn["latency_ms"] == 0).any(), "the fixture should have zero latencies"
    ax = all_plots()[name](run)
    ys = _y_values(ax)
    assert not np.any(np.isclose(ys[ys > 0], 1e-3)), "no zero clipped up to 1e-3"
    if (drawn["latency_ms"] == 0).all():
        assert ax.get_yscale() == "linear"
        assert any("0 ms" in t.get_text() for t in ax.texts), "an all-zero panel says why"
    else:
        assert ax.get_yscale() == "symlog"
    plt.close(ax.figure)


def test_positive_latencies_axis_fits_their_spread(
    partition_run: analysis.Run, glome_runs: dict[str, analysis.Run]
) -> None:
    """Within a decade: linear from 0. Over several (timeouts beside fast replies): log, with
    plain tick labels (3, not 3x10^0)."""
    narrow = partition_run.client_ops["latency_ms"].dropna()
    assert narrow.min() > 0 and narrow.max() < 10 * narrow.min(), "fixture: one decade"
    ax = analysis.plot_latency(partition_run)
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    plt.close(ax.figure)
    wide = glome_runs["kafka"]
    ops = wide.client_ops[wide.client_ops["latency_ms"] > 0]  # the timeouts and nothing else
    ax = analysis.plot_latency(wide)
    ax.figure.canvas.draw()
    assert ax.get_yscale() in ("log", "symlog")
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("times" in t or "^" in t for t in labels), labels
    assert len(ops)
    plt.close(ax.figure)


def test_rate_lines_have_gaps_during_an_outage(glome_runs: dict[str, analysis.Run]) -> None:
    run = glome_runs["kafka"]
    down = kill_windows(run)
    assert len(down), "the fixture kills the node"
    ax = analysis.plot_rate(run)
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "poll ok")
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    longest = (down["stop_s"] - down["start_s"]).idxmax()
    start, stop = float(down.loc[longest, "start_s"]), float(down.loc[longest, "stop_s"])
    assert stop - start > 2, down
    inside = (x > start + 1) & (x < stop - 0.5)
    assert inside.any() and np.isnan(y[inside]).all(), "no line across the outage"
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert "node down (kill)" in labels and "client crash" in labels
    assert ax.get_legend().get_title().get_text(), "the legend says what a gap means"
    plt.close(ax.figure)


def test_latency_plot_explains_client_crashes(glome_runs: dict[str, analysis.Run]) -> None:
    ax = analysis.plot_latency(glome_runs["kafka"])
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert any(label.startswith("client crash (") for label in labels), labels
    assert not any(label.startswith("crash ") for label in labels), "no bare 'crash info'"
    plt.close(ax.figure)


def test_titles_use_short_labels_not_timestamps(glome_runs: dict[str, analysis.Run]) -> None:
    run = glome_runs["lossy"]
    assert run_label(run) == "MarkOnSendDelta (broadcast, seed 1)"
    for name, plot in PLOTS:
        ax = plot(run)
        assert run.path.name not in ax.get_title(), name
        plt.close(ax.figure)


def test_spacetime_legend_explains_every_colour(glome_runs: dict[str, analysis.Run]) -> None:
    run = glome_runs["lossy"]
    ax = analysis.plot_spacetime(run, limit=2000)
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert "client request or reply" in labels and "node to node (or service)" in labels
    assert "dropped (never delivered)" in labels and "fault window (nemesis)" in labels
    plt.close(ax.figure)


@needs_corpus
def test_message_counts_explain_error_bars() -> None:
    run = analysis.load(RUNS / "lin-kv-1node-nonlinearizable")
    ax = analysis.plot_message_counts(run)
    if (run.messages["type"] == "error").any():
        labels = [h.get_label() for h in ax.get_legend().legend_handles]
        assert any(label.startswith("error") for label in labels)
    plt.close(ax.figure)


def test_compare_counts_only_invalidating_anomalies_and_shows_stable_latency(
    glome_runs: dict[str, analysis.Run], tmp_path: Path
) -> None:
    runs = [glome_runs["lossy"], glome_runs["hardened"]]
    table = analysis.compare(runs)
    assert table["run"].tolist() == [run_label(r) for r in runs]
    hardened = table.iloc[1]
    assert bool(hardened["valid"]) and hardened["anomalies"] == 0
    # its stale reads are listed in Run.anomalies but do not fail a broadcast run
    assert hardened["stale_count"] > 0 and hardened["anomalies_all"] > 0
    assert table.iloc[0]["anomalies"] > 0, "the lossy run's lost values count"
    assert latency_measure(table) == "stable"
    fig = analysis.plot_compare(table)
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("Stable latency") for t in titles), titles
    plt.close(fig)
    kafka = analysis.compare([glome_runs["kafka"]])
    assert latency_measure(kafka) == "ops"
    fig = analysis.plot_compare(kafka)
    latency_panel = fig.axes[1]
    assert kafka.iloc[0]["latency_p99_ms"] > 0, "in-process ops cost processing time"
    assert not any(t.get_text() == ZERO_NOTE for t in latency_panel.texts)
    plt.close(fig)
    # The old zero-cost model, asked for explicitly: every latency is 0, and the panel says why
    # instead of drawing nothing.
    zero_cost = analysis.compare([_kafka_run(tmp_path, **ZERO_COST)])
    assert (zero_cost[["latency_p50_ms", "latency_p99_ms"]] == 0).all(axis=None)
    fig = analysis.plot_compare(zero_cost)
    latency_panel = fig.axes[1]
    assert any(t.get_text() == ZERO_NOTE for t in latency_panel.texts), "zeros are explained"
    plt.close(fig)
