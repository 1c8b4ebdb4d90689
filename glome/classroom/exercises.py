"""The classroom exercises: which node class each asks for, what grades it, and for how much.

    from glome.classroom import grade_exercise
    grade_exercise("ex4_counter", MyCounter)              # the full grade (default seeds)
    grade_exercise("ex4_counter", MyCounter, quick=True)  # 2 seeds: what nbgrader runs

Each exercise is a jupytext notebook ``notebooks/exercises/<id>.py`` (the starter: cells
tagged ``exercise``) with its teacher version ``notebooks/solutions/<id>.py`` (cells tagged
``solution``, and one tagged ``buggy``: a known mistake, worth partial points). Points: an
"answers requests" item (the node answers at least some requests ok on every seed), then each
criterion of each target's checks (``valid?`` 2 points, the others 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glome.classroom.grading import Item, NodeGrade, get_target, grade_node

ANSWERS = "answers requests"
VALID_POINTS = 2


@dataclass(frozen=True)
class Exercise:
    id: str
    """The notebook's file stem, e.g. ``ex4_counter``; also the nbgrader assignment name."""
    title: str
    node_class: str
    """The name of the class the student writes (what the grade cell passes)."""
    targets: tuple[str, ...]
    quick: Mapping[str, Any] = field(default_factory=dict)
    """Option overrides of the quick grade (nbgrader's), e.g. a shorter ``time_limit``."""
    quick_seeds: int = 2
    seeds: int | None = None
    """Seeds of the full grade; None: each challenge's ``DEFAULT_SEEDS``. Set where those
    would make a notebook cell run for minutes (the notebook says how many it runs)."""

    def points(self, target: str, criterion: str) -> int:
        if criterion == "valid?":
            return VALID_POINTS
        return 1


EXERCISES: dict[str, Exercise] = {
    e.id: e
    for e in (
        Exercise("ex1_echo", "Echo", "MyEcho", ("1",)),
        Exercise("ex2_snowflake", "Unique ids (Snowflake)", "MyIds", ("2",), {"time_limit": 10}),
        Exercise("ex3_broadcast", "Broadcast under partitions", "MyBroadcast", ("3b", "3c")),
        Exercise("ex4_counter", "Grow-only counter on seq-kv", "MyCounter", ("4",)),
        Exercise(
            "ex5_efficient_broadcast",
            "Efficient broadcast",
            "MyBroadcast",
            ("3d", "3e"),
            {"time_limit": 10},
        ),
        Exercise(
            "ex6_kafka", "Kafka-style log", "MyKafka", ("5a", "5b"), {"time_limit": 10}, seeds=3
        ),
        Exercise(
            "ex7_transactions",
            "Totally-available transactions",
            "MyTxn",
            ("6a", "6b", "6c"),
            {"time_limit": 10},
            seeds=3,
        ),
        Exercise(
            "ex8_txn_abort",
            "Transactions that abort",
            "MyTxn",
            ("txn-abort",),
            {"time_limit": 10},
        ),
        Exercise(
            "ex9_linearizable_register",
            "A linearizable register",
            "MyRegister",
            ("lin",),
            {"time_limit": 10},
        ),
    )
}


def get_exercise(exercise_id: str) -> Exercise:
    found = EXERCISES.get(exercise_id)
    if found is None:
        raise KeyError(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    return found


def grade_exercise(
    exercise_id: str,
    node_class: Any,
    *,
    quick: bool = False,
    seeds: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    store_dir: str = "store",
) -> NodeGrade:
    """Grade a node class on every target of the exercise, over seeds, with points.

    Never raises for a wrong answer: a class that is not a Node, or that breaks, gets a zero
    grade with the reason. ``quick``: ``exercise.quick_seeds`` seeds and the exercise's quick
    options (nbgrader's autograded cells use it; the report says it is not the official grade).
    """
    from glome.runtime.node import Node

    exercise = get_exercise(exercise_id)
    if not (isinstance(node_class, type) and issubclass(node_class, Node)):
        return _not_a_node(exercise, node_class)
    grade = grade_node(
        exercise.targets,
        title=f"{exercise.id} ({exercise.title})",
        points={
            t: {
                c.name: exercise.points(t, c.name)
                for ch in get_target(t).checks
                for c in ch.criteria
            }
            for t in exercise.targets
        },
        quick=quick,
        node=node_class,
        seeds=seeds or (exercise.quick_seeds if quick else exercise.seeds),
        seed=seed,
        workers=workers,
        store_dir=store_dir,
        overrides=dict(exercise.quick) if quick else None,
    )
    grade.items.insert(0, _answers_item(grade))
    return grade


def _answers_item(grade: NodeGrade) -> Item:
    """1 point when, on every seed, some requests of the first check were answered ok."""
    first = grade.grades[0]
    runs = first.runs[first.runs["check"] == first.challenge.checks[0].flags]
    if "ok_fraction" in runs and len(runs):
        answered = runs["ok_fraction"].fillna(0) > 0
        rate = float(answered.mean())
        worst: Any = float(runs["ok_fraction"].fillna(0).min())
    else:
        rate, worst = 0.0, None
    return Item(
        first.challenge.id,
        first.challenge.checks[0].flags,
        ANSWERS,
        "ok-fraction > 0",
        rate,
        worst,
        1,
        1 if rate == 1 else 0,
    )


def _not_a_node(exercise: Exercise, value: Any) -> NodeGrade:
    items = [Item(exercise.targets[0], "", ANSWERS, "a Node class", 0.0, None, 1, 0)]
    for target in exercise.targets:
        for check in get_target(target).checks:
            for c in check.criteria:
                if c.passes is not None:
                    worth = exercise.points(target, c.name)
                    items.append(Item(target, check.flags, c.name, c.target, 0.0, None, worth, 0))
    grade = NodeGrade(f"{exercise.id} ({exercise.title})", [], items)
    grade.notes.append(
        f"expected a class derived from glome.runtime.Node, got {value!r}: define "
        f"`class {exercise.node_class}(Node): ...` and pass the class itself"
    )
    return grade


def exercise_ids(selected: Sequence[str] | None = None) -> list[str]:
    return list(selected) if selected else list(EXERCISES)
