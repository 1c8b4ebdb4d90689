"""Grading a node class written in a notebook: the challenge grader, in-process, with feedback.

    from glome.exercises import grade_node
    grade = grade_node("3b", MyBroadcast)   # every run of challenge 3b's official command
    grade                                   # a table (PASS/FAIL per criterion) and hints
    assert grade.passed

``grade_node`` runs each check of the challenge (``glome.challenges.CHALLENGES``) on the
in-process simulator over many seeds (``glome.challenges.DEFAULT_SEEDS``, on every core), so a
flaw that shows on some seeds only is caught, and a class defined in a notebook cell needs no
binary and no module path (the local pool forks). It never raises for a wrong or unfinished node: a handler that raises, a missing handler,
a node that does not answer ``init`` or a class that is not a ``Node`` all give a failing grade
whose hints say what went wrong (the errors the clients saw, most frequent first). Only a bad
challenge id or a bad keyword raises, since that is a mistake in the exercise, not the answer.

Keyword overrides (``time_limit=5``) shorten a run for a quick try; the grade then names them,
says the runs were not the official command, and ``official`` is False.

Quick checks (``quick_check``) give verdicts, not bare numbers: an experiment returns whether
it passed and what it saw, so "5000 issued, 4096 distinct" prints as a FAIL.
"""

from __future__ import annotations

import itertools
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glome.challenges import (
    DEFAULT_SEEDS,
    Challenge,
    SeedGrade,
    Verdict,
    challenge_cases,
    evaluate,
    get_challenge,
    grade_seeds,
)
from glome.sim.explain import failing_reasons

MAX_HINTS = 5


@dataclass
class ExerciseGrade:
    """A challenge graded over seeds, plus what a student needs to fix it."""

    grade: SeedGrade
    hints: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    """Options that replaced the official command's (a quick try, not a grade)."""

    @property
    def official(self) -> bool:
        """True when every run used the challenge's official command."""
        return not self.overrides

    @property
    def passed(self) -> bool:
        return self.grade.passed

    @property
    def runs(self) -> Any:
        """One row per (seed, check) run: a pandas DataFrame (``glome.swarm``'s columns)."""
        return self.grade.runs

    @property
    def failing_seeds(self) -> list[int]:
        return self.grade.failing_seeds

    def report(self) -> str:
        lines = [self.grade.table()]
        if self.passed:
            seeds = len(self.grade.seeds)
            lines.append(f"Well done: every criterion passes on all {seeds} seeds.")
        else:
            lines.append("Not there yet. What went wrong:")
            lines.extend(f"  - {h}" for h in self.hints or ["see the FAIL rows above"])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return self.report()


def _error_hints(history: list[dict[str, Any]]) -> list[str]:
    """The errors clients saw, grouped by f and error text, most frequent first."""
    invoked: Counter[str] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    for op in history:
        if op.get("process") == "nemesis":
            continue
        f = str(op.get("f"))
        if op.get("type") == "invoke":
            invoked[f] += 1
        elif op.get("type") in ("fail", "info"):
            err = op.get("error")
            if isinstance(err, list | tuple) and err:
                text = ": ".join(str(x) for x in err)
            else:
                text = str(err if err is not None else op.get("exception", "no reply"))
            failed[f, text] += 1
    hints = []
    for (f, text), n in sorted(failed.items(), key=lambda kv: (-kv[1], kv[0])):
        hints.append(f"{n} of {invoked[f]} {f!r} requests got no ok reply ({text})")
    return hints


def _criterion_hints(verdicts: list[Verdict]) -> list[str]:
    out = []
    for v in verdicts:
        if v.passed is False:
            out.append(f"{v.criterion}: measured {v.measured!r}, target {v.target} ({v.flags})")
    return out


def grade_node(
    challenge_id: str,
    node_class: Any,
    *,
    seeds: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    store_dir: str | Path = "store",
    **overrides: Any,
) -> ExerciseGrade:
    """Grade ``node_class`` (a glome ``Node`` subclass) on challenge ``challenge_id``.

    Every check of the challenge runs in-process with the official flags, then ``overrides``
    (for example ``time_limit=5``), on seeds ``seed .. seed + seeds - 1`` (default: the
    challenge's ``DEFAULT_SEEDS``), spread over every core; stores go to ``store_dir``. The
    first failing seed is replayed here (same seed, same run) to read the hints from its
    history.
    """
    from glome.runtime.node import Node

    challenge = get_challenge(challenge_id)
    if not (isinstance(node_class, type) and issubclass(node_class, Node)):
        hint = (
            f"expected a class derived from glome.runtime.Node, got {node_class!r}: "
            "define `class MyNode(Node): ...` and pass the class itself"
        )
        return ExerciseGrade(_unrun_grade(challenge, seed, seeds), [hint], dict(overrides))
    grade = grade_seeds(
        challenge.id,
        node=node_class,
        seeds=seeds,
        seed=seed,
        workers=workers,
        store_dir=str(store_dir),
        overrides=overrides,
    )
    hints: list[str] = []
    if not grade.passed and grade.failing_seeds:
        hints = _replay_hints(grade, node_class, store_dir)
    return ExerciseGrade(grade, _dedup(hints), dict(overrides))


def _replay_hints(grade: SeedGrade, node_class: Any, store_dir: str | Path) -> list[str]:
    """Hints from the first failing run, replayed in this process (deterministic by seed)."""
    from glome.sim import run

    runs = grade.runs
    first = runs[~runs["passed"].astype(bool)].iloc[0]
    seed = int(first["seed"])
    rate = 1 - float(runs["passed"].astype(bool).mean())
    hints = [f"{rate:.0%} of the runs fail; the first failing seed is {seed}, replayed here"]
    index = next(i for i, c in enumerate(grade.challenge.checks) if c.flags == first["check"])
    check = grade.challenge.checks[index]
    options = {**challenge_cases(grade.challenge, [seed], node=node_class)[index].options}
    options.update(grade.overrides)
    try:
        result = run(node_class, store_dir=store_dir, seed=seed, **options)
    except Exception as e:  # the student's class failed outside any handler
        last = traceback.extract_tb(e.__traceback__)[-1:]
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        return [*hints, f"the run could not go on: {type(e).__name__}: {e}{where}"]
    if result.error:
        hints.append(f"the test aborted: {result.error}")
    else:
        verdicts = evaluate(grade.challenge, check, result.results or {})
        hints.extend(_criterion_hints(verdicts))
        hints.extend(failing_reasons(result.results))
    hints.extend(_error_hints(result.history)[:MAX_HINTS])
    hints.append(f"details: {result.store_path} (analysis.load(...) reads it)")
    return hints


def _unrun_grade(challenge: Challenge, seed: int, seeds: int | None) -> SeedGrade:
    """A failing grade with no runs (the answer is not a node class at all)."""
    import pandas as pd

    count = DEFAULT_SEEDS[challenge.id] if seeds is None else seeds
    runs = pd.DataFrame({"seed": [], "passed": [], "check": [], "error": []})
    return SeedGrade(challenge, list(range(seed, seed + count)), runs, "(not a node class)")


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- quick checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuickCheck:
    """The verdict of one small experiment: PASS, FAIL, or TODO (not written yet)."""

    name: str
    passed: bool | None
    detail: str

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "TODO"}[self.passed]

    def __str__(self) -> str:
        return f"{self.label} {self.name}: {self.detail}"

    __repr__ = __str__


def quick_check(name: str, experiment: Callable[[], tuple[bool, str]]) -> QuickCheck:
    """Run ``experiment()`` (returning ``(passed, what it saw)``) and print its verdict.

    ``NotImplementedError`` means the student has not written that part yet (TODO); any other
    exception is a FAIL that shows the error, without stopping the notebook.
    """
    try:
        passed, detail = experiment()
        check = QuickCheck(name, bool(passed), detail)
    except NotImplementedError as e:
        check = QuickCheck(name, None, f"not written yet ({e})")
    except Exception as e:
        check = QuickCheck(name, False, f"raised {type(e).__name__}: {e}")
    print(check)
    return check


def distinct_ids(ids: Sequence[int | None]) -> tuple[bool, str]:
    """Ids handed out (None: the generator asked to wait) must all differ."""
    issued = [i for i in ids if i is not None]
    distinct = len(set(issued))
    detail = f"{len(issued)} issued, {distinct} distinct, {len(ids) - len(issued)} waits"
    if distinct < len(issued):
        detail += f": {len(issued) - distinct} ids were handed out twice"
    if not issued:
        return False, detail + ": no id at all"
    return distinct == len(issued), detail


def increasing_ids(ids: Sequence[int | None]) -> tuple[bool, str]:
    """Ids handed out by one generator must grow strictly, even when its clock steps back."""
    issued = [i for i in ids if i is not None]
    ok = all(a < b for a, b in itertools.pairwise(issued))
    return ok, f"ids {issued}; strictly increasing: {ok}"
