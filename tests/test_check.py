"""``glome check``: glome's checkers on any store run, compared with the run's own verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.paths import maelstrom_runs

from glome.check import RESULTS_FILE, CheckInputError, check_run, main
from glome.sim import run


def _corpus() -> Path | None:
    root = maelstrom_runs()
    return root if root.is_dir() else None


CORPUS = _corpus()
CORPUS_RUNS = sorted(p.parent for p in CORPUS.glob("*/store/*/*/history.edn")) if CORPUS else []


def _echo_store(tmp_path: Path) -> Path:
    """A small valid glome store: echo, one node, 2 s, seed 1."""
    result = run(
        "glome.nodes.echo:Echo",
        workload="echo",
        node_count=1,
        time_limit=2,
        seed=1,
        store_dir=tmp_path,
    )
    return Path(result.store_path)


@pytest.mark.skipif(not CORPUS_RUNS, reason="no Maelstrom corpus")
@pytest.mark.parametrize("run_dir", CORPUS_RUNS, ids=lambda p: p.parts[-4])
def test_agrees_with_maelstrom_or_explains_why(run_dir: Path) -> None:
    comparison = check_run(run_dir, write=False)
    assert comparison.unexplained() == [], comparison.verdicts()
    if comparison.real is not None:
        # Maelstrom's journal is not in the corpus: net is reported as not compared, not skipped
        assert "net" in comparison.not_compared
        assert any(
            name == "net" and "journal" in note for name, _, _, note in comparison.verdicts()
        )


@pytest.mark.skipif(not CORPUS_RUNS, reason="no Maelstrom corpus")
def test_writes_its_results_beside_the_runs_own_and_never_over_them(tmp_path: Path) -> None:
    source = next(p for p in CORPUS_RUNS if p.parts[-4] == "broadcast-2node-fail")
    copy = tmp_path / "broadcast" / source.name
    shutil.copytree(source, copy)
    before = (copy / "results.edn").read_bytes()
    assert main([str(tmp_path)]) == 0
    assert (copy / "results.edn").read_bytes() == before
    assert ":valid? false" in (copy / RESULTS_FILE).read_text()


def test_a_glome_store_compares_every_checker_including_net(tmp_path: Path) -> None:
    result = run(
        "glome.nodes.broadcast:Review",
        workload="broadcast",
        node_count=5,
        time_limit=5,
        rate=10,
        nemesis="partition",
        seed=1,
        store_dir=tmp_path,
    )
    comparison = check_run(result.store_path)
    assert comparison.not_compared == {}
    assert all(note == "same" for _, _, _, note in comparison.verdicts())
    assert comparison.differing_figures() == []


def test_overrides_change_what_is_checked(tmp_path: Path) -> None:
    comparison = check_run(_echo_store(tmp_path), {"availability": 1.0}, write=False)
    assert comparison.options.availability == 1.0


@pytest.mark.parametrize("content", [None, "just a file"])
def test_a_folder_that_is_not_a_store_is_a_clear_error(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nothing"
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
    with pytest.raises(CheckInputError):
        check_run(target)
    assert main([str(target)]) == 254
    err = capsys.readouterr().err
    assert str(target) in err and "Traceback" not in err


def test_a_truncated_history_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _echo_store(tmp_path)
    history = store / "history.edn"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20] + "\n")
    assert main([str(store)]) == 254
    err = capsys.readouterr().err
    assert "history.edn line 6" in err and "Traceback" not in err


def test_load_names_file_and_line_of_corrupt_results_and_journal(tmp_path: Path) -> None:
    import analysis

    store = _echo_store(tmp_path)
    results = (store / "results.edn").read_text()
    (store / "results.edn").write_text(results[: len(results) // 2])
    journal = (store / "net-journal.jsonl").read_text().splitlines()
    journal[3] = journal[3][:25]
    (store / "net-journal.jsonl").write_text("\n".join(journal) + "\n")
    loaded = analysis.load(store)
    assert loaded.raw_results is None
    assert len(loaded.messages) > 0  # read lazily: the broken line is skipped and noted
    problems = "\n".join(loaded.problems)
    assert "results.edn could not be read (line " in problems and "truncated" in problems
    assert "net-journal.jsonl line 4 is not JSON" in problems
    comparison = check_run(store, write=False)
    assert "net-journal.jsonl:4" in comparison.not_compared["net"]
