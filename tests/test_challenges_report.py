"""The table ``glome challenge`` prints says what ran, official flags or a try's."""

from __future__ import annotations

from typing import Any

import pytest

from glome.challenges import grade_seeds
from glome.challenges.report import flags_as_run, seed_grade_table


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "--node-count 1 --time-limit 10"),
        ({"time_limit": 2}, "--node-count 1 --time-limit 2"),
        ({"rate": 5}, "--node-count 1 --time-limit 10 --rate 5"),
        (
            {"nemesis": ("partition", "kill")},
            "--node-count 1 --time-limit 10 --nemesis partition,kill",
        ),
        ({"lww_converge": True}, "--node-count 1 --time-limit 10 --lww-converge"),
    ],
)
def test_flags_as_run_puts_the_overrides_in(overrides: dict[str, Any], expected: str) -> None:
    assert flags_as_run("--node-count 1 --time-limit 10", overrides) == expected


def test_a_try_shows_the_flags_it_ran_with(tmp_path: Any) -> None:
    grade = grade_seeds(
        "1",
        node="glome.nodes.echo:Echo",
        seeds=1,
        seed=4,
        workers=1,
        store_dir=str(tmp_path),
        quiet=True,
        overrides={"time_limit": 1},
    )
    table = seed_grade_table(grade)
    assert "--time-limit 1" in table and "--time-limit 10" not in table
    assert "a try, not a grade" in table
