"""Grading one node over seeds, with points per criterion and feedback a student can read.

    grade = grade_exercise("ex4_counter", MyCounter)        # in a notebook
    grade                       # per criterion: pass rate, points; each failing seed: why
    grade.points, grade.max_points, grade.passed

A node is graded on *targets*: Gossip Glomers challenges (``glome.challenges.CHALLENGES``, run
with ``glome.challenges.grade_seeds``) or the exercise-only checks in ``EXTRA_CHALLENGES`` (run
through ``glome.swarm.run_swarm`` the same way). Every (target, check, criterion) is an *item*
with points. An item passes when it passes on every seed; an efficiency item (msgs-per-op,
latency) counts on a seed only when that run is also valid, since speed without correctness
earns nothing (a node that answers nothing sends few messages).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glome.challenges import (
    CHALLENGES,
    VALID,
    Challenge,
    Check,
    SeedGrade,
    challenge_cases,
    grade_seeds,
)
from glome.challenges.report import failed_criteria
from glome.swarm.figures import reasons_of

LIN_FLAGS = "--node-count 3 --concurrency 2n --time-limit 20 --rate 30 --nemesis partition"
TXN_ABORT_FLAGS = "--node-count 2 --concurrency 2n --time-limit 20 --rate 500 --latency 5 --consistency-models read-committed"
EXTRA_CHALLENGES: dict[str, Challenge] = {
    c.id: c
    for c in (
        Challenge(
            "lin",
            "Linearizable register on lin-kv",
            "lin-kv",
            (Check(LIN_FLAGS, (VALID,)),),
            note="not a Gossip Glomers challenge: a classroom exercise on linearizability",
        ),
        Challenge(
            "txn-abort",
            "Read-committed transactions that abort on conflict, on lin-kv",
            "txn-rw-register",
            (Check(TXN_ABORT_FLAGS, (VALID,)),),
            note="not a Gossip Glomers challenge: aborts (error 30) are allowed, G1a is not",
        ),
    )
}
"""Exercise-only targets: their only criterion is ``valid?`` (it is the row's own verdict)."""
REASONS_SHOWN = 3
"""Failing seeds whose reasons a grade shows."""


def get_target(target_id: str) -> Challenge:
    """A challenge or an exercise-only target (KeyError naming the known ones)."""
    found = CHALLENGES.get(str(target_id).lower()) or EXTRA_CHALLENGES.get(str(target_id))
    if found is None:
        known = ", ".join([*CHALLENGES, *EXTRA_CHALLENGES])
        raise KeyError(f"unknown challenge {target_id!r}; known: {known}")
    return found


def grade_target(
    target_id: str,
    *,
    node: Any = None,
    bin: Sequence[str] | None = None,
    seeds: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    cluster: Any = None,
    sandbox: Any = None,
    store_dir: str = "store",
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> SeedGrade:
    """``grade_seeds`` for a challenge; the same, through the swarm, for an exercise target."""
    if str(target_id).lower() in CHALLENGES:
        return grade_seeds(
            target_id,
            node=node,
            bin=bin,
            seeds=seeds,
            seed=seed,
            workers=workers,
            cluster=cluster,
            sandbox=sandbox,
            store_dir=store_dir,
            quiet=quiet,
            overrides=overrides,
        )
    from glome.swarm import run_swarm

    challenge = get_target(target_id)
    seed_list = list(range(seed, seed + (seeds or 5)))
    cases = challenge_cases(
        challenge, seed_list, node=node, bin=bin, sandbox=sandbox, overrides=overrides, judged=False
    )
    runs = run_swarm(
        cases, workers=workers, cluster=cluster, store_dir=store_dir, progress=not quiet
    )
    runs["valid?"] = runs["valid"] == "true"  # the only criterion of an exercise target
    runs["valid? ok"] = runs["valid?"] & runs["error"].isna()
    shown = shlex.join(["--bin", *bin]) if bin else f"--node {cases[0].node_spec}"
    return SeedGrade(challenge, seed_list, runs, shown, dict(overrides or {}))


@dataclass(frozen=True)
class Item:
    """One graded criterion with its result over seeds."""

    target: str
    check: str
    criterion: str
    goal: str
    pass_rate: float | None
    worst: Any
    points: int
    earned: int

    @property
    def verdict(self) -> str:
        if self.pass_rate is None:
            return "INFO"
        return "PASS" if self.pass_rate == 1 else "FAIL"


def items_of(grade: SeedGrade, points: Mapping[str, int] | None = None) -> list[Item]:
    """The criteria of ``grade`` as items; an efficiency item passes a seed only if valid."""
    runs = grade.runs
    out = []
    for check in grade.challenge.checks:
        mine = runs[runs["check"] == check.flags] if "check" in runs else runs.iloc[0:0]
        completed = mine["error"].isna() if len(mine) else mine.get("error")
        valid = mine["valid"] == "true" if len(mine) else None
        for criterion in check.criteria:
            ok_column = criterion.name + " ok"
            if criterion.passes is None or not len(mine) or ok_column not in mine:
                rate = None if criterion.passes is None else 0.0
            else:
                ok = mine[ok_column].fillna(False).astype(bool) & completed
                if criterion.name != VALID.name:
                    ok = ok & valid
                rate = float(ok.mean())
            value = mine.get(criterion.name)
            worst = _worst(value, criterion.target)
            worth = 0 if criterion.passes is None else (points or {}).get(criterion.name, 1)
            out.append(
                Item(
                    grade.challenge.id,
                    check.flags,
                    criterion.name,
                    criterion.target,
                    rate,
                    worst,
                    worth,
                    worth if rate == 1 else 0,
                )
            )
    return out


def _worst(values: Any, target: str) -> Any:
    if values is None:
        return None
    pool = [v for v in values if not _missing(v)]
    numbers = [v for v in pool if isinstance(v, int | float) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(pool):
        return max(numbers) if target.startswith("<") else min(numbers)
    if any(v is False for v in pool):
        return False
    return pool[0] if pool else None


@dataclass
class NodeGrade:
    """A node graded on one or more targets: items with points, and why seeds failed."""

    title: str
    grades: list[SeedGrade]
    items: list[Item]
    reasons: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    """(target, seed) -> plain-language reasons, for the first failing seeds of each target."""
    quick: bool = False
    notes: list[str] = field(default_factory=list)
    """Findings that belong to no seed (a class that is not a Node, ...)."""

    @property
    def points(self) -> int:
        return sum(i.earned for i in self.items)

    @property
    def max_points(self) -> int:
        return sum(i.points for i in self.items)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.grades) and all(i.verdict != "FAIL" for i in self.items)

    def item(self, target: str, criterion: str, check: int = 0) -> Item:
        """The item of ``criterion`` in the ``check``-th check of ``target``."""
        flags = get_target(target).checks[check].flags
        for i in self.items:
            if i.target == target and i.criterion == criterion and i.check == flags:
                return i
        raise KeyError(f"no criterion {criterion!r} in check {check} of {target}")

    def report(self) -> str:
        rows = [("challenge", "run", "criterion", "pass rate", "worst", "target", "points")]
        for i in self.items:
            rate = "-" if i.pass_rate is None else f"{i.pass_rate:.0%}"
            rows.append(
                (
                    i.target,
                    i.check,
                    i.criterion,
                    rate,
                    _text(i.worst),
                    i.goal,
                    f"{i.earned}/{i.points}" if i.points else "info",
                )
            )
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if not self.passed:
            lines.append("What went wrong:")
        lines.extend(f"  - {note}" for note in self.notes)
        for grade in self.grades:
            seeds = grade.seeds
            lines.append(
                f"{grade.challenge.id}: {len(grade.runs)} runs on seeds {seeds[0]}..{seeds[-1]}, "
                f"{len(grade.failing_seeds)} seeds failing"
            )
            for seed in grade.failing_seeds[:REASONS_SHOWN]:
                lines.append(f"  seed {seed} failed; replay: {grade.replay(seed)}")
                for reason in self.reasons.get((grade.challenge.id, seed), []):
                    lines.append(f"    - {reason}")
        lines.append(f"{self.title}: {self.points}/{self.max_points} points")
        if self.quick:
            lines.append("note: a quick grade (fewer seeds, shorter runs), not the official one")
        lines.append(
            "Well done: every criterion passes on every seed."
            if self.passed
            else "Not there yet: read the reasons above, fix, and run the grade again."
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return self.report()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def grade_node(
    targets: Sequence[str],
    *,
    title: str = "",
    points: Mapping[str, Mapping[str, int]] | None = None,
    quick: bool = False,
    **kwargs: Any,
) -> NodeGrade:
    """Grade one node (``node=`` or ``bin=``, and ``grade_target``'s keywords) on ``targets``.

    ``points[target][criterion]`` gives the points of an item (default 1)."""
    grades, items = [], []
    reasons: dict[tuple[str, int], list[str]] = {}
    for target in targets:
        grade = grade_target(target, **kwargs)
        grades.append(grade)
        items.extend(items_of(grade, (points or {}).get(target)))
        for seed in grade.failing_seeds[:REASONS_SHOWN]:
            reasons[target, seed] = seed_reasons(grade, seed)
    return NodeGrade(title or ", ".join(targets), grades, items, reasons, quick)


def seed_reasons(grade: SeedGrade, seed: int) -> list[str]:
    """Why ``seed`` failed: run errors, failed criteria, and the checkers' own findings."""
    out: list[str] = []
    for _, row in grade.runs[grade.runs["seed"] == seed].iterrows():
        if bool(row.get("passed")):
            continue
        error = row.get("error")
        if isinstance(error, str) and error:
            out.append(f"the run did not complete: {error.strip().splitlines()[-1].strip()[:300]}")
            continue
        for criterion in failed_criteria(row):
            if criterion != "valid?":  # the checkers' reasons below say why
                goal = _goal(grade.challenge, criterion)
                out.append(f"{criterion}: expected {goal}; got {_text(row.get(criterion))}")
        out.extend(reasons_of(row))
    return list(dict.fromkeys(out)) or ["not valid (no checker says why)"]


def _goal(challenge: Challenge, criterion: str) -> str:
    for check in challenge.checks:
        for c in check.criteria:
            if c.name == criterion:
                return c.target
    return "?"
