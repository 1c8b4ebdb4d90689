"""Every plot renders under Agg with real data; compare and the CLI work end to end."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from helpers.paths import maelstrom_runs

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from helpers.glome_store import make_glome_store

import analysis
from analysis import cli
from analysis.plots import all_plots

RUNS = maelstrom_runs()
needs_corpus = pytest.mark.skipif(not RUNS.is_dir(), reason="../shared/maelstrom-runs is absent")

PLOTS = sorted(all_plots().items())


@pytest.fixture(scope="module")
def partition_run() -> analysis.Run:
    """A real run with a nemesis, messages.svg and anomalies."""
    if not RUNS.is_dir():
        pytest.skip("../shared/maelstrom-runs is absent")
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
