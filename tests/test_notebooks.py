"""Every notebook runs top to bottom; every exercise passes with its solution and fails kindly
without it.

Notebooks are jupytext percent scripts (``notebooks/*.py``): jupytext reads them, nbclient runs
them on the ``python3`` kernel of this interpreter, in a scratch directory (their ``store/``
lands there). A cell that raises fails the test with the cell and traceback.

Exercises (``notebooks/exercises/*.py``): the cells tagged ``exercise`` are what a student
fills in; ``notebooks/solutions/<same name>`` holds, in order, one cell tagged ``solution``
per exercise cell. With the solution injected, every ``ExerciseGrade`` the notebook leaves in
its namespace must pass; left blank, the notebook must still run to the end and every grade
must fail with the grader's "Not there yet" explanation.

Claims: a figure in a notebook's prose comes from a computed cell (Markdown formatted from the
run's values, with an ``assert`` for every qualitative word such as "above" or "none"), so a
claim that stops matching its run fails the notebook's execution here. Hand-written Markdown
cells are linted for typed-in measurements ("a fifth", "4 of 15", "above 600 ms", "12 %").

Timing: the whole set runs in a few minutes on two cores (docs/notebooks.md has the figures);
each notebook has its own timeout so a hang fails fast.
"""

from __future__ import annotations

import json
import os
import re
import resource
import time
from pathlib import Path
from typing import Any

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
EXERCISES = sorted((NOTEBOOK_DIR / "exercises").glob("*.py"))
SOLUTIONS = NOTEBOOK_DIR / "solutions"
CELL_TIMEOUT = 240
"""Seconds one cell may take (the slowest runs a challenge's official command)."""
GRADES_PROBE = (
    "import json as _json\n"
    "from glome.classroom import NodeGrade as _NG\n"
    "from glome.exercises import ExerciseGrade as _EG\n"
    "print('GRADES=' + _json.dumps({k: v.passed for k, v in sorted(globals().items())"
    " if isinstance(v, (_EG, _NG))}))"
)


def _execute(nb: Any, cwd: Path) -> Any:
    # The kernel imports glome from this checkout even when it is not pip-installed.
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    try:
        client = nbclient.NotebookClient(
            nb,
            kernel_name="python3",
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute()
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            os.environ.pop("PYTHONPATH", None)
    return nb


def _children_cpu() -> float:
    """CPU seconds of finished child processes (the kernels): a load-independent figure."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.append(data.get("text/plain", ""))
    return "\n".join(parts)


def _grades(nb: Any) -> dict[str, bool]:
    for line in _text(nb).splitlines():
        if line.startswith("GRADES="):
            grades: dict[str, bool] = json.loads(line[len("GRADES=") :])
            return grades
    raise AssertionError("the grades probe printed nothing")


MEASURED_CLAIM = re.compile(
    r"\ba (fifth|third|quarter|half)\b"  # a share of what a run did
    r"|\bexactly the same\b"
    r"|\d ?%"  # a percentage
    r"|\b\d[\d,.]* of \d"  # "4 of 15"
    r"|\b(above|below|over|under|more than|fewer than|less than) \d[\d,.]* ?(ms|s|msgs)\b",
    re.IGNORECASE,
)
"""What a measurement typed into prose looks like. Specification figures (3d's "< 600 ms",
"the 4097th id") are written differently and are not flagged."""


def measured_claims(markdown: str) -> list[str]:
    """Measured figures stated in hand-written Markdown, outside code and tables. Paragraphs
    are joined first, so a claim broken over two lines is still found."""
    paragraphs, current, fenced = [], [], False
    for line in [*markdown.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced or stripped.startswith("|"):
            continue
        if stripped:
            current.append(re.sub(r"`[^`]*`", "", stripped))
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return [
        paragraph[max(0, m.start() - 30) : m.end() + 10]
        for paragraph in paragraphs
        for m in MEASURED_CLAIM.finditer(paragraph)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Valid, yet a fifth of the requests went unanswered.",
        "Full-state and evidence-only gossip send exactly the\n  same number of messages",
        "the maximum lands above 600 ms.",
        "the run shows 4 of 15 unanswered",
        "Even a billion ids give about 3 %.",
    ],
)
def test_the_claims_lint_catches_typed_in_figures(text: str) -> None:
    assert len(measured_claims(text)) == 1, text


def test_the_claims_lint_passes_specifications_and_code() -> None:
    spec = (
        "3d: msgs-per-op < 30, max < 600 ms\n"
        "| 3d | `--rate 100` | median < 400 ms |\n"
        "`f'{unanswered} of {total}'` is formatted from the run\n"
        "**Flaw 2: more than 4096 ids in one millisecond.**\n"
    )
    assert measured_claims(spec) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_states_no_measured_figure_by_hand(path: Path) -> None:
    """A measured figure belongs in a computed cell (Markdown built from the run's values)."""
    nb = jupytext.read(path)
    typed = [
        line
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in measured_claims(cell.source)
    ]
    assert typed == [], f"{path.name}: compute these from the run instead: {typed}"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 9, NOTEBOOKS
    assert (NOTEBOOK_DIR / "08_linearizability.py") in NOTEBOOKS
    assert EXERCISES


def _tracked_ipynb() -> list[str]:
    import subprocess

    out = subprocess.run(
        ["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if line.endswith(".ipynb")]


def test_no_ipynb_is_committed() -> None:
    assert _tracked_ipynb() == []


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS + EXERCISES + sorted(SOLUTIONS.glob("*.py")),
    ids=lambda p: p.parent.name + "/" + p.name,
)
def test_notebook_is_percent_format_with_python3_kernel(path: Path) -> None:
    nb = jupytext.read(path)
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown", "a notebook opens with its story"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    started, cpu = time.monotonic(), _children_cpu()
    nb = _execute(jupytext.read(path), tmp_path)
    # Reported with `pytest -s`; docs/notebooks.md records these figures.
    print(
        f"{path.name}: {time.monotonic() - started:.1f} s wall, kernel CPU {_children_cpu() - cpu:.1f} s"
    )
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")


def _exercise_cells(nb: Any) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", [])]


def _solution_cells(path: Path) -> list[str]:
    sol = jupytext.read(SOLUTIONS / path.name)
    return [c.source for c in sol.cells if "solution" in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_has_blanks_and_no_solution(path: Path) -> None:
    nb = jupytext.read(path)
    blanks = _exercise_cells(nb)
    solutions = _solution_cells(path)
    assert blanks, "an exercise needs cells tagged 'exercise'"
    assert len(blanks) == len(solutions), "one solution cell per exercise cell, in order"
    text = path.read_text()
    for source in solutions:
        body = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        leaked = [ln for ln in body if len(ln.strip()) > 30 and ln.strip() in text]
        assert len(leaked) < max(2, len(body) // 3), f"solution lines in the exercise: {leaked}"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_passes_with_its_solution(path: Path, tmp_path: Path) -> None:
    nb = jupytext.read(path)
    for index, source in zip(_exercise_cells(nb), _solution_cells(path), strict=True):
        nb.cells[index].source = source
    nb.cells.append(nbformat.v4.new_code_cell(GRADES_PROBE))
    grades = _grades(_execute(nb, tmp_path))
    assert grades, "the exercise graded nothing"
    assert all(grades.values()), (grades, _text(nb)[-3000:])


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_blank_exercise_fails_with_a_helpful_message(path: Path, tmp_path: Path) -> None:
    nb = jupytext.read(path)
    nb.cells.append(nbformat.v4.new_code_cell(GRADES_PROBE))
    nb = _execute(nb, tmp_path)  # no cell may raise: a blank answer is a grade, not a crash
    grades = _grades(nb)
    assert grades and not any(grades.values()), grades
    text = _text(nb)
    assert "Not there yet" in text
    assert "What went wrong" in text
