"""Grading a whole class: every student's submission for every challenge, over seeds, sandboxed.

    glome grade ROSTER [--challenges 1,2,3c] [--seeds N] [--out DIR] [--workers K]
                       [--cluster ADDR] [--isolate]

``ROSTER/<student>/<challenge-id>`` is an executable in any language (a Maelstrom binary, run
with ``--bin``); ``ROSTER/<student>/<challenge-id>.py`` is a Python file defining a glome Node
class named ``NODE``. Either way every run happens in a sandboxed child process
(``glome.sandbox``), never in the grader's own: the student's code gets a throwaway working
directory, a minimal environment and resource limits, and everything it started is killed at
the end of each run. A challenge with no submission is a "not submitted" row.

Submissions are copied first into a staging directory readable by the sandbox's unprivileged
uid (the roster itself may sit in the teacher's private home); the replay lines in the output
name the roster's files, not the staging copies.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from glome.classroom.grading import (
    REASONS_SHOWN,
    NodeGrade,
    items_of,
    seed_reasons,
)
from glome.sandbox import Limits, Sandbox
from glome.swarm.figures import REASONS_SEPARATOR

NOT_SUBMITTED = "not submitted"
COLUMNS = (
    "student",
    "challenge",
    "check",
    "criterion",
    "target",
    "pass_rate",
    "worst",
    "verdict",
    "points",
    "max_points",
    "failing_seeds",
    "replay",
    "reasons",
)


@dataclass(frozen=True)
class Submission:
    student: str
    challenge: str
    path: Path | None
    """The executable or ``.py`` file; None when nothing was submitted."""

    @property
    def kind(self) -> str:
        if self.path is None:
            return NOT_SUBMITTED
        return "python" if self.path.suffix == ".py" else "executable"


def find_submissions(roster: Path, challenges: Sequence[str]) -> list[Submission]:
    """One submission per student directory and challenge, in name order."""
    if not roster.is_dir():
        raise FileNotFoundError(f"roster {roster} is not a directory")
    out = []
    for student in sorted(p for p in roster.iterdir() if p.is_dir()):
        for challenge in challenges:
            binary, module = student / challenge, student / f"{challenge}.py"
            if binary.is_file() and os.access(binary, os.X_OK):
                path: Path | None = binary
            elif module.is_file():
                path = module
            else:
                path = None
            out.append(Submission(student.name, challenge, path))
    return out


def _stage(submission: Submission, staging: Path) -> Path:
    """A copy the sandbox uid can read (and run), in a world-readable directory."""
    assert submission.path is not None
    folder = staging / submission.student
    folder.mkdir(mode=0o755, exist_ok=True)
    os.chmod(folder, 0o755)  # noqa: S103 (the sandbox's own uid must read the copy)
    copy = folder / submission.path.name
    shutil.copy2(submission.path, copy)
    mode = 0o755 if submission.kind == "executable" else 0o644
    os.chmod(copy, mode | stat.S_IRUSR)
    return copy


def _cases(submission: Submission, copy: Path, seeds: int | None, sandbox: Sandbox) -> list[Any]:
    """The swarm cases of one submission: every check of its challenge on every seed."""
    from glome.challenges import DEFAULT_SEEDS, challenge_cases, get_challenge

    challenge = get_challenge(submission.challenge)
    count = seeds or DEFAULT_SEEDS[challenge.id]
    target: dict[str, Any] = (
        {"bin": [str(copy)]} if submission.kind == "executable" else {"node": f"{copy}:NODE"}
    )
    cases = challenge_cases(challenge, list(range(1, count + 1)), sandbox=sandbox, **target)
    return [replace(c, labels={**c.labels, "student": submission.student}) for c in cases]


def _node_grade(submission: Submission, runs: Any, cases: list[Any]) -> NodeGrade:
    """The grade of one submission from its rows of the class's swarm."""
    from glome.challenges import SeedGrade, get_challenge

    challenge = get_challenge(submission.challenge)
    seeds = sorted({c.seed for c in cases})
    case = cases[0]
    shown = f"--bin {case.bin[0]}" if case.bin else f"--node {case.node}"
    grade = SeedGrade(challenge, seeds, runs.reset_index(drop=True), shown)
    reasons = {
        (challenge.id, seed): seed_reasons(grade, seed)
        for seed in grade.failing_seeds[:REASONS_SHOWN]
    }
    title = f"{submission.student} {submission.challenge}"
    return NodeGrade(title, [grade], items_of(grade), reasons)


def _rows(
    submission: Submission, grade: NodeGrade, staged: str, original: str
) -> list[dict[str, Any]]:
    seed_grade = grade.grades[0]
    failing = seed_grade.failing_seeds
    replay = " ; ".join(seed_grade.replay(s).replace(staged, original) for s in failing)
    reasons = REASONS_SEPARATOR.join(
        r.replace(staged, original)
        for seed in failing
        for r in grade.reasons.get((submission.challenge, seed), [])
    )
    rows = []
    for item in grade.items:
        rows.append(
            _row(
                submission,
                check=item.check,
                criterion=item.criterion,
                target=item.goal,
                pass_rate=item.pass_rate,
                worst=item.worst,
                verdict=item.verdict,
                points=item.earned,
                max_points=item.points,
                failing_seeds=" ".join(map(str, failing)),
                replay=replay,
                reasons=reasons,
            )
        )
    return rows


def _row(submission: Submission, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(student=submission.student, challenge=submission.challenge, **fields)
    return row


def grade_roster(
    roster: Path,
    *,
    challenges: Sequence[str],
    seeds: int | None = None,
    workers: int | None = None,
    cluster: Any = None,
    sandbox: Sandbox | None = None,
    out: Path = Path("grades"),
    progress: bool = True,
) -> Any:
    """Grade every submission; a DataFrame with ``COLUMNS`` (also written by ``report``).

    All runs of the whole class go to one swarm (``glome.swarm.run_swarm``), so every core
    (or the cluster) stays busy whatever the number of students."""
    import pandas as pd

    from glome.swarm import run_swarm

    sandbox = sandbox or Sandbox(Limits())
    submissions = find_submissions(roster, challenges)
    staging = Path(tempfile.mkdtemp(prefix="glome-roster-"))
    os.chmod(staging, 0o755)  # noqa: S103 (the sandbox's own uid must reach the copies)
    rows: list[dict[str, Any]] = []
    try:
        planned = []
        for submission in submissions:
            if submission.path is None:
                continue
            copy = _stage(submission, staging)
            planned.append((submission, copy, _cases(submission, copy, seeds, sandbox)))
        if progress:
            runs_total = sum(len(cases) for _, _, cases in planned)
            print(
                f"glome grade: {len(planned)} submissions of {len(submissions)} expected, "
                f"{runs_total} runs",
                file=sys.stderr,
            )
        all_cases = [case for _, _, cases in planned for case in cases]
        runs = (
            run_swarm(
                all_cases,
                workers=workers,
                cluster=cluster,
                store_dir=str(out / "store"),
                progress=progress,
            )
            if all_cases
            else pd.DataFrame()
        )
        for submission in submissions:
            if submission.path is None:
                rows.append(
                    _row(submission, criterion=NOT_SUBMITTED, verdict=NOT_SUBMITTED, points=0)
                )
        for submission, copy, cases in planned:
            mine = runs[
                (runs["student"] == submission.student)
                & (runs["challenge"] == submission.challenge)
            ]
            grade = _node_grade(submission, mine, cases)
            rows.extend(_rows(submission, grade, str(copy), str(submission.path)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.sort_values(["student", "challenge"], kind="stable").reset_index(drop=True)
    for column in ("points", "max_points"):  # whole numbers, empty for "not submitted"
        table[column] = table[column].astype("Int64")
    return table
