"""glome classroom nbgrader: every exercise survives nbgrader's own cycle.

``nbgrader generate_assignment`` then ``nbgrader autograde`` on three submissions per
exercise: the teacher's solution (full points), the untouched starter (zero) and the known
buggy variant from the solution notebook (partial). The notebooks grade with ``quick=True``
(2 seeds, 10 s runs for the slow challenges) to keep this bounded: about 3 kernel runs per
exercise, under a minute each on two cores (docs/teaching.md has the measured times).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbgrader")

from glome.classroom.exercises import EXERCISES  # noqa: E402
from glome.classroom.nbgrader_course import (  # noqa: E402
    CODE_STUB,
    answer_cells,
    autograded_cells,
    fill_answers,
    sources,
    write_course,
)

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADE_TIMEOUT = 1800
"""Seconds for one exercise's cycle: three kernels, each running a quick grade (about 6
minutes for the slowest on a loaded 2-core machine; pyproject's default 300 s is too short)."""


def _nbgrader(course: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from the PATH
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),  # the kernels import glome from this checkout
    }
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_every_exercise_becomes_an_assignment(tmp_path: Path) -> None:
    written = write_course(tmp_path)
    assert [p.parent.name for p in written] == list(EXERCISES)
    assert "code_stub" in (tmp_path / "nbgrader_config.py").read_text()
    for path in written:
        nb = nbformat.read(path, as_version=4)
        answers = answer_cells(nb)
        _, solutions, _ = sources(path.stem)
        assert len(answers) == len(solutions)
        for cell, solution in zip(answers, solutions, strict=True):
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            assert solution.strip() in cell.source
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        exercise = EXERCISES[path.stem]
        assert len(tests) == len(autograded_cells(exercise, "g")) >= 2
        assert all(c.metadata["nbgrader"]["points"] >= 1 for c in tests)
        assert any("quick=True" in c.source for c in nb.cells if c.cell_type == "code")


def _generate(course: Path, exercise_id: str) -> Path:
    done = _nbgrader(course, "generate_assignment", exercise_id, "--force", timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return course / "release" / exercise_id / f"{exercise_id}.ipynb"


def test_release_keeps_the_starter_and_drops_the_solution(tmp_path: Path) -> None:
    write_course(tmp_path, ["ex4_counter"])
    release = nbformat.read(_generate(tmp_path, "ex4_counter"), as_version=4)
    (answer,) = answer_cells(release)
    assert "NotImplementedError" in answer.source and CODE_STUB in answer.source
    assert "BEGIN SOLUTION" not in answer.source
    assert "fresh_writes" not in answer.source, "the solution's own code leaked"


def _score(course: Path, exercise_id: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(exercise_id, student)
        return float(submission.score), float(submission.max_score)


@pytest.mark.slow
@pytest.mark.timeout(AUTOGRADE_TIMEOUT)
@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_autograde_solution_starter_and_buggy(exercise_id: str, tmp_path: Path) -> None:
    course = tmp_path / "course"
    write_course(course, [exercise_id])
    release = _generate(course, exercise_id)
    _, solutions, buggy = sources(exercise_id)
    for student, answers in (("teacher", solutions), ("starter", None), ("buggy", buggy)):
        nb = nbformat.read(release, as_version=4)
        if answers is not None:
            fill_answers(nb, answers)
        folder = course / "submitted" / student / exercise_id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{exercise_id}.ipynb")
    done = _nbgrader(course, "autograde", exercise_id, "--create", timeout=AUTOGRADE_TIMEOUT - 60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    teacher, most = _score(course, exercise_id, "teacher")
    starter, _ = _score(course, exercise_id, "starter")
    partial, _ = _score(course, exercise_id, "buggy")
    assert teacher == most > 0, (teacher, most)
    assert starter == 0
    assert 0 < partial < most, (partial, most)
    shutil.rmtree(course / "autograded", ignore_errors=True)
