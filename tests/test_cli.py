"""``glome test`` flags, defaults, warnings and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glome import cli

REPO = Path(__file__).resolve().parents[1]
ECHO_TEST = ("test", "-w", "echo", "--node", "glome.nodes.echo:Echo", "--node-count", "1")
"""``glome test`` on the reference echo node, one node: the flags most tests start from."""


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_echo_in_process_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        *ECHO_TEST,
        "--time-limit",
        "2",
        "--store",
        str(tmp_path),
        "--seed",
        "3",
    )
    assert code == 0
    assert out.rstrip().endswith("Everything looks good! ヽ(‘ー`)ノ")
    assert ":workload {:valid? true" in out
    assert "glome: store" in err
    assert (tmp_path / "latest" / "results.edn").exists()


def test_invalid_run_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "test",
        "-w",
        "broadcast",
        "--node",
        "nodes.sim_nodes:Forgetful",
        "--node-count",
        "3",
        "--time-limit",
        "3",
        "--rate",
        "20",
        "--recovery-time",
        "1",
        "--store",
        str(tmp_path),
        "--seed",
        "1",
        "--quiet",
    )
    assert code == 1
    verdict, *reasons = out.strip().splitlines()
    assert verdict == "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻"
    assert [r.split(":")[0].strip() for r in reasons] == ["workload"]  # why, even when quiet
    assert "acknowledged value(s) went missing for good (lost)" in reasons[0]


def test_crash_exits_255(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "test",
        "-w",
        "echo",
        "--node",
        "nodes.sim_nodes:Silent",
        "--node-count",
        "1",
        "--time-limit",
        "2",
        "--store",
        str(tmp_path),
        "--quiet",
    )
    assert code == 255
    assert "Test aborted: Expected node n0 to respond to an init message" in out


def test_missing_binary_exits_255_with_the_store_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-node"
    code, out, err = run_cli(
        capsys, "test", "-w", "echo", "--bin", str(missing), "--node-count", "1",
        "--time-limit", "1", "--store", str(tmp_path / "store"), "--quiet",
    )  # fmt: skip
    assert code == 255
    assert f"Test aborted: --bin {missing}: no such file" in out
    assert "glome: store" in err  # a RunResult, as from the Python API, not an exception


@pytest.mark.parametrize(
    "args",
    [
        [],  # neither --bin nor --node
        ["--bin", "x", "--node", "glome.nodes.echo:Echo"],
        ["--node", "glome.nodes.echo:Echo", "--time-limit", "soon"],
        ["--node", "glome.nodes.echo:Echo", "--latency-dist", "gaussian"],
        ["--node", "glome.nodes.echo:Echo", "-w", "nope"],
        ["--node", "glome.nodes.echo:Echo", "--nemesis", "partition,meteor"],
        ["--node", "glome.nodes.echo:Echo", "--availability", "2"],
        ["--node", "no_such_module:Node"],
        ["--node", "glome.nodes.echo:Echo", "stray-positional"],
    ],
)
def test_bad_arguments_exit_254(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "test", "-w", "echo", *args, "--store", str(tmp_path))
    assert code == 254, err
    assert err


def test_unicode_dash_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys,
        *ECHO_TEST,
        "\u2013-nemesis",
        "partition",
        "--store",
        str(tmp_path),
    )
    assert "starts with a Unicode dash" in err
    assert code == 254  # in-process nodes take no extra arguments


def test_options_parse_like_maelstrom() -> None:
    ns = cli._test_parser().parse_intermixed_args(
        [
            "--node",
            "m:C",
            "--node-count",
            "3",
            "--concurrency",
            "2n",
            "--availability",
            "0.9",
            "--consistency-models",
            "read-committed , serializable",
            "--nemesis",
            "partition",
            "--latency",
            "100",
            "--time-limit",
            "20",
            "--rate",
            "100",
        ]
    )
    opts = cli._options(ns)
    assert opts.node_ids == ["n0", "n1", "n2"]
    assert opts.concurrency == 6 and opts.worker_count == 6
    assert opts.availability == 0.9
    assert opts.consistency_models == ("read-committed", "serializable")
    assert opts.nemesis == ("partition",)
    assert (opts.latency, opts.time_limit, opts.rate) == (100, 20, 100)
    defaults = cli._options(cli._test_parser().parse_intermixed_args(["--node", "m:C"]))
    assert defaults.workload == "lin-kv" and defaults.node_ids == ["n1", "n2", "n3", "n4", "n5"]
    assert (defaults.time_limit, defaults.rate, defaults.latency) == (60, 5, 0)
    assert defaults.concurrency == 5 and defaults.topology == "grid"
    assert defaults.nemesis_interval == 10 and defaults.availability is None
    named = cli._options(
        cli._test_parser().parse_intermixed_args(["--node", "m:C", "--nodes", "a, b"])
    )
    assert named.node_ids == ["a", "b"]
    total = cli._options(
        cli._test_parser().parse_intermixed_args(["--node", "m:C", "--availability", "total"])
    )
    assert total.availability == "total"


def test_bin_extra_arguments_are_collected() -> None:
    ns = cli._test_parser().parse_intermixed_args(
        ["--bin", "./node.py", "--node-count", "2", "fast", "--rate", "3", "mode"]
    )
    assert ns.bin == "./node.py" and ns.args == ["fast", "mode"] and ns.rate == 3


def test_consistency_models_plain_commas_warn(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.parse_consistency_models("read-committed,serializable") == (
        "read-committed",
        "serializable",
    )
    assert "only splits on ' , '" in capsys.readouterr().err
    assert cli.parse_consistency_models("strict-serializable") == ("strict-serializable",)


def test_usage_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "glome COMMAND" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 254
    assert cli.main([]) == 254


def test_glome_test_does_not_import_pandas(tmp_path: Path) -> None:
    code = (
        "import sys; from glome import cli; "
        f"c = cli.main(['test', '-w', 'echo', '--node', 'glome.nodes.echo:Echo', "
        f"'--node-count', '1', '--time-limit', '1', '--store', {str(tmp_path)!r}, '--quiet']); "
        "assert 'pandas' not in sys.modules, 'pandas imported'; sys.exit(c)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_nemesis_help_lists_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    from glome.sim.net.nemesis import FAULTS

    code, out, _ = run_cli(capsys, "test", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "partition (Maelstrom's), kill, pause (glome)" in text
    assert sorted(FAULTS) == ["kill", "partition", "pause"]


def test_run_keywords_parse_flags_as_glome_test_does() -> None:
    kw = cli.run_keywords(
        [
            "-w",
            "txn-rw-register",
            "--node-count",
            "2",
            "--concurrency",
            "2n",
            "--seed",
            "4",
            "--consistency-models",
            "read-committed",
            "--availability",
            "total",
            "--nemesis",
            "partition",
        ]
    )
    assert kw["workload"] == "txn-rw-register" and kw["node_count"] == 2
    assert kw["concurrency"] == "2n" and kw["seed"] == 4
    assert kw["consistency_models"] == ("read-committed",)
    assert kw["availability"] == "total" and kw["nemesis"] == "partition"
    with pytest.raises(ValueError, match="cannot parse"):
        cli.run_keywords(["--rate", "fast"])


def test_processing_flags_parse() -> None:
    keywords = cli.run_keywords(
        [
            "--processing-time",
            "2.5",
            "--processing-dist",
            "exponential",
            "--processing-per-byte",
            "0",
            "--io-delay",
            "1",
            "--io-delay-dist",
            "constant",
            "--router-per-byte",
            "0.5",
        ]
    )
    assert keywords["processing_time"] == 2.5
    assert keywords["processing_dist"] == "exponential"
    assert keywords["processing_per_byte"] == 0
    assert keywords["io_delay"] == 1 and keywords["io_delay_dist"] == "constant"
    assert keywords["router_per_byte"] == 0.5


def test_bin_runs_say_what_the_seed_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = run_cli(
        capsys,
        *("test", "--bin", "/bin/true", "-w", "echo", "--node-count", "1"),
        *("--time-limit", "1", "--seed", "3", "--quiet", "--store", str(tmp_path)),
    )
    assert "--seed 3 replays the schedule" in err and "not the processes' own timing" in err


def test_sweep_runs_the_grid_writes_runs_csv_and_a_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    out = tmp_path / "sweep"
    code = cli.main(
        ["sweep", "--seeds", "2", "--seed", "5", "--quiet", "--out", str(out), "--store",
         str(tmp_path / "store"), "--", "-w", "broadcast", "--node",
         "glome.nodes.broadcast:MarkOnSendDelta", "--node-count", "3", "--time-limit", "3",
         "--rate", "5,20", "--latency", "0,50", "--nemesis", "partition"]
    )  # fmt: skip
    assert code in (0, 1)
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 8  # 2 rates x 2 latencies x 2 seeds
    assert {"seed", "valid", "rate", "latency", "msgs_per_op", "replay"} <= set(runs.columns)
    assert sorted(set(zip(runs["rate"], runs["latency"], strict=True))) == [
        (5, 0), (5, 50), (20, 0), (20, 50)
    ]  # fmt: skip
    assert set(runs["seed"]) == {5, 6}
    assert (out / "sweep.png").stat().st_size > 10_000
    table = capsys.readouterr().out
    assert "pass_rate" in table and "msgs_per_op" in table
    assert code == (0 if runs["passed"].all() else 1)


def test_sweep_grid_keeps_list_valued_flags_whole() -> None:
    from glome.swarm.sweep import grid

    args = ["--nemesis", "partition,kill", "--rate", "1,2,3", "--nodes", "a,b"]
    names, points = grid(args)
    assert names == ["rate"] and len(points) == 3
    names, points = grid(["--nemesis", "partition;partition,kill", "--rate", "5"])
    assert names == ["nemesis"] and [p[0][1] for p in points] == ["partition", "partition,kill"]


def test_sweep_bad_arguments_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep", "--seeds", "2"]) == cli.EXIT_BAD_ARGS
    assert "after --" in capsys.readouterr().err
    assert cli.main(["sweep", "--", "-w", "echo", "--node", "no.such:Node"]) == cli.EXIT_BAD_ARGS
    assert cli.main(["sweep", "--", "-w", "echo", "--rate", "1,2"]) == cli.EXIT_BAD_ARGS
    assert "exactly one of --node or --bin" in capsys.readouterr().err


def test_challenges_do_not_import_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, glome.challenges; print('glome.cli' in sys.modules)"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == b"False"
