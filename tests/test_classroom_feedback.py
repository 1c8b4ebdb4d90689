"""Grades a student reads: points per criterion, and why failing seeds failed (the wording
itself is tested in test_explain.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from glome.challenges import CHALLENGES, SeedGrade
from glome.classroom import failing_reasons, grade_exercise
from glome.classroom.grading import items_of
from glome.nodes.counter import SeqKVCounter, StaleReadCounter


def _grade(rows: list[dict[str, object]]) -> SeedGrade:
    return SeedGrade(CHALLENGES["3d"], [1, 2], pd.DataFrame(rows), "--node x:Y")


def test_efficiency_counts_only_on_valid_runs() -> None:
    check = CHALLENGES["3d"].checks[0].flags
    row = {"check": check, "error": None, "valid": "false", "passed": False,
           "valid?": False, "valid? ok": False,
           "servers msgs-per-op": 0.0, "servers msgs-per-op ok": True}  # fmt: skip
    items = {(i.check, i.criterion): i for i in items_of(_grade([row, {**row, "seed": 2}]))}
    assert items[check, "valid?"].earned == 0
    speedy = items[check, "servers msgs-per-op"]
    assert speedy.pass_rate == 0 and speedy.earned == 0, "no messages, no answers: no points"


def test_stale_read_counter_fails_on_some_seeds_with_its_reads(tmp_path: Path) -> None:
    # seeds 3..8: passes 3, fails 4 and 5, passes 6 to 8 (docs/findings.md, "Seeds per challenge")
    grade = grade_exercise(
        "ex4_counter", StaleReadCounter, seeds=6, seed=3, store_dir=str(tmp_path)
    )
    assert not grade.passed and 0 < grade.points < grade.max_points
    text = grade.report()
    assert "--seed 4" in text and "--seed 5" in text
    assert not any(f"--seed {s}" in text for s in (3, 6, 7, 8))
    assert "acceptable totals" in text and "final reads" in text and "replay:" in text
    assert "Tagged(" not in text


def test_hardened_counter_gets_full_points(tmp_path: Path) -> None:
    grade = grade_exercise("ex4_counter", SeqKVCounter, seeds=2, store_dir=str(tmp_path))
    assert grade.passed and grade.points == grade.max_points == 3
    assert "Well done" in grade.report()


def test_not_a_node_is_a_zero_grade_with_a_reason() -> None:
    grade = grade_exercise("ex1_echo", 42)
    assert grade.points == 0 and not grade.passed
    assert "glome.runtime.Node" in grade.report()


def test_the_classroom_explains_with_glome_sim_explain() -> None:
    from glome.sim import explain

    assert failing_reasons is explain.failing_reasons
