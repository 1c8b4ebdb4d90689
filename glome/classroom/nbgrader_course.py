"""``glome classroom nbgrader DIR``: the exercises as an nbgrader course, made from the jupytext
sources (``notebooks/exercises/*.py`` and ``notebooks/solutions/*.py`` stay the truth).

For each exercise, ``DIR/source/<exercise>/<exercise>.ipynb`` holds:

- the exercise's cells, in order;
- each cell tagged ``exercise`` becomes an nbgrader *solution* cell: the starter code, then the
  teacher's solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``.
  ``nbgrader generate_assignment`` removes the region and leaves the starter (the course's
  ``code_stub`` is a comment, not a ``raise``), so students get exactly the starter of the
  jupytext notebook; in the source version the solution's definitions replace the starter's;
- the grade cell asks for a *quick* grade (``quick=True``: 2 seeds and, for the slow
  challenges, 10 s runs instead of 20 s), so that autograding a class stays bounded. It is
  not the official grade; the full one is the same call without ``quick``;
- one autograded test cell per criterion, worth its points (``valid?`` 2, every other
  criterion 1, "answers requests" 1): it passes when the criterion passed on every seed.

``DIR/nbgrader_config.py`` sets the stub and a cell timeout long enough for a grade.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glome.classroom.exercises import ANSWERS, EXERCISES, Exercise, get_exercise
from glome.classroom.grading import get_target

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CODE_STUB = "# YOUR CODE HERE: complete the starter above"
CELL_TIMEOUT = 1800
"""Seconds nbgrader lets one cell run (a quick grade of ex7 takes about a minute)."""
CONFIG = f'''"""nbgrader configuration of the glome exercises (written by glome classroom nbgrader)."""

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "glome"
# The starter stays in the released notebook: the stub replaces only the solution region.
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.Execute.timeout = {CELL_TIMEOUT}
c.ExecutePreprocessor.timeout = {CELL_TIMEOUT}
'''
GRADE_CALL = re.compile(r"^(\w+) = grade_exercise\((\"[^\"]+\"), (\w+)\)", re.MULTILINE)
SOLUTION_ID = "answer-{index}"


def _tagged(nb: Any, tag: str) -> list[Any]:
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def sources(exercise_id: str, notebooks: Path = NOTEBOOKS) -> tuple[Any, list[str], list[str]]:
    """The exercise notebook, its solution cells' code and its buggy cells' code."""
    import jupytext

    exercise = jupytext.read(notebooks / "exercises" / f"{exercise_id}.py")
    teacher = jupytext.read(notebooks / "solutions" / f"{exercise_id}.py")
    solutions = [c.source for c in _tagged(teacher, "solution")]
    buggy = [c.source for c in _tagged(teacher, "buggy")]
    blanks = _tagged(exercise, "exercise")
    if len(solutions) != len(blanks) or len(buggy) != len(blanks):
        raise ValueError(
            f"{exercise_id}: {len(blanks)} exercise cells, {len(solutions)} solution cells and "
            f"{len(buggy)} buggy cells: they must match one to one"
        )
    return exercise, solutions, buggy


def _meta(grade_id: str, *, solution: bool, points: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def autograded_cells(exercise: Exercise, grade_name: str) -> list[tuple[str, str, int]]:
    """(grade id, source, points) of each autograded cell: one per criterion with points."""
    first = exercise.targets[0]
    out = [
        (
            f"{_slug(first)}-{_slug(ANSWERS)}",
            f"# {ANSWERS}: some requests answered ok on every seed\n"
            f'assert {grade_name}.item("{first}", "{ANSWERS}").verdict == "PASS", '
            f"{grade_name}.report()",
            1,
        )
    ]
    for target in exercise.targets:
        for index, check in enumerate(get_target(target).checks):
            for criterion in check.criteria:
                if criterion.passes is None:
                    continue
                out.append(
                    (
                        f"{_slug(target)}-{index}-{_slug(criterion.name)}",
                        f"# challenge {target}, run {check.flags}\n"
                        f"# {criterion.name} {criterion.target} on every seed\n"
                        f'assert {grade_name}.item("{target}", "{criterion.name}", {index})'
                        f'.verdict == "PASS", {grade_name}.report()',
                        exercise.points(target, criterion.name),
                    )
                )
    return out


def build_notebook(exercise_id: str, notebooks: Path = NOTEBOOKS) -> Any:
    """The nbgrader source notebook of one exercise."""
    import nbformat

    exercise = get_exercise(exercise_id)
    nb, solutions, _ = sources(exercise_id, notebooks)
    cells: list[Any] = []
    grade_name = None
    answer = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif "exercise" in tags:
            source = (
                f"{cell.source.rstrip()}\n\n\n### BEGIN SOLUTION\n"
                f"{solutions[answer].rstrip()}\n### END SOLUTION\n"
            )
            new = nbformat.v4.new_code_cell(source)
            new.metadata["nbgrader"] = _meta(SOLUTION_ID.format(index=answer), solution=True)
            cells.append(new)
            answer += 1
        else:
            match = GRADE_CALL.search(cell.source)
            source = cell.source
            if match:
                grade_name = match.group(1)
                source = GRADE_CALL.sub(r"\1 = grade_exercise(\2, \3, quick=True)", source)
                cells.append(
                    nbformat.v4.new_markdown_cell(
                        "The grade below is a *quick* one (`quick=True`: fewer seeds, shorter "
                        "runs) so that autograding stays fast; drop `quick=True` for the "
                        "official grade."
                    )
                )
            cells.append(nbformat.v4.new_code_cell(source))
    if grade_name is None:
        raise ValueError(f"{exercise_id}: no `NAME = grade_exercise(...)` cell to grade")
    cells.append(
        nbformat.v4.new_markdown_cell(
            "## Autograded tests\n\nOne cell per criterion; each is worth its points when the "
            "criterion passed on every seed of the grade above."
        )
    )
    for grade_id, source, points in autograded_cells(exercise, grade_name):
        test = nbformat.v4.new_code_cell(source)
        test.metadata["nbgrader"] = _meta(grade_id, solution=False, points=points)
        cells.append(test)
    out = nbformat.v4.new_notebook(cells=cells, metadata=dict(nb.metadata))
    out.metadata.pop("jupytext", None)
    return out


def write_course(
    root: Path, exercise_ids: Sequence[str] | None = None, notebooks: Path = NOTEBOOKS
) -> list[Path]:
    """Write ``root/nbgrader_config.py`` and one source assignment per exercise."""
    import nbformat

    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    written = []
    for exercise_id in exercise_ids or list(EXERCISES):
        folder = root / "source" / exercise_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{exercise_id}.ipynb"
        nbformat.write(build_notebook(exercise_id, notebooks), path)
        written.append(path)
    return written


def answer_cells(nb: Any) -> list[Any]:
    """The solution (student answer) cells of a notebook, by their nbgrader ids, in order."""
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


def fill_answers(nb: Any, answers: Sequence[str]) -> Any:
    """``nb`` with its answer cells replaced by ``answers`` (what a student hands in)."""
    cells = answer_cells(nb)
    if len(cells) != len(answers):
        raise ValueError(f"{len(cells)} answer cells, {len(answers)} answers")
    for cell, source in zip(cells, answers, strict=True):
        cell.source = source
    return nb


def main(argv: Sequence[str] | None = None) -> int:
    """``glome classroom nbgrader DIR [--exercises ex1_echo,...]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="glome classroom",
        description="Classroom tools. nbgrader DIR: write the exercises as an nbgrader course.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    course = sub.add_parser("nbgrader", help="write an nbgrader course directory")
    course.add_argument("dir", type=Path)
    course.add_argument("--exercises", help="comma-separated ids (default: all)")
    sub.add_parser("list", help="list the exercises")
    ns = parser.parse_args(argv)
    if ns.command == "list":
        for e in EXERCISES.values():
            print(f"{e.id:28} {e.title:36} {', '.join(e.targets)}")
        return 0
    ids = [x.strip() for x in ns.exercises.split(",") if x.strip()] if ns.exercises else None
    for exercise_id in ids or []:
        get_exercise(exercise_id)
    for path in write_course(ns.dir, ids):
        print(path)
    print(
        f"next: cd {ns.dir} && nbgrader generate_assignment ASSIGNMENT, then hand out "
        "release/ASSIGNMENT; after collecting, nbgrader autograde ASSIGNMENT"
    )
    return 0
