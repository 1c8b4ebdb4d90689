"""Grading a node class written in a notebook: the challenge grader, in-process, with feedback.

    from glome.exercises import grade_node
    grade = grade_node("3b", MyBroadcast)   # every run of challenge 3b's official command
    grade                                   # a table (PASS/FAIL per criterion) and hints
    assert grade.passed

``grade_node`` runs each check of the challenge (``glome.challenges.CHALLENGES``) on the
in-process simulator, so a class defined in a notebook cell needs no binary and no module
path. It never raises for a wrong or unfinished node: a handler that raises, a missing handler,
a node that does not answer ``init`` or a class that is not a ``Node`` all give a failing grade
whose hints say what went wrong (the errors the clients saw, most frequent first). Only a bad
challenge id or a bad keyword raises, since that is a mistake in the exercise, not the answer.

Keyword overrides (``time_limit=5``) shorten a run for a quick try; the grade then names them,
says the runs were not the official command, and ``official`` is False.
"""

from __future__ import annotations

import shlex
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glome.challenges import CHALLENGES, Challenge, Check, Grade, Verdict, evaluate

MAX_HINTS = 5


@dataclass
class ExerciseGrade:
    """A challenge grade plus what a student needs to fix it."""

    grade: Grade
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
    def runs(self) -> list[Any]:
        """The ``RunResult`` of each check (None where the run could not start)."""
        return self.grade.runs

    def report(self) -> str:
        lines = [self.grade.table()]
        if not self.official:
            changed = ", ".join(f"{k}={v!r}" for k, v in sorted(self.overrides.items()))
            lines.append(f"note: run with {changed} instead of the flags above: a try, not a grade")
        if self.passed:
            lines.append("Well done: every criterion passes.")
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


def _workload_hints(results: dict[str, Any] | None) -> list[str]:
    """Plain-language readings of the workload checker's failure fields."""
    w = (results or {}).get("workload")
    if not isinstance(w, dict) or w.get("valid?") is True:
        return []
    out = []
    for key in ("lost-count", "duplicated-count", "unexpected-count", "never-read-count"):
        if w.get(key):
            out.append(f"the workload checker counts {key} = {w[key]}")
    for key in ("anomaly-types", "bad-error-types", "errors"):
        value = w.get(key)
        if not value:
            continue
        if key == "errors" and isinstance(value, list | tuple):
            first = _clip(str(value[0]))
            out.append(f"the workload checker reports {len(value)} errors; the first: {first}")
        else:
            out.append(f"the workload checker reports {key} {_clip(str(value))}")
    return out


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def grade_node(
    challenge_id: str,
    node_class: Any,
    *,
    seed: int = 1,
    store_dir: str | Path = "store",
    **overrides: Any,
) -> ExerciseGrade:
    """Grade ``node_class`` (a glome ``Node`` subclass) on challenge ``challenge_id``.

    Each check of the challenge runs in-process with the official flags, then ``overrides``
    (for example ``time_limit=5``), with ``seed``; results go to ``store_dir``.
    """
    from glome.flags import run_keywords
    from glome.runtime.node import Node
    from glome.sim import run

    challenge = CHALLENGES.get(str(challenge_id).lower())
    if challenge is None:
        raise KeyError(f"unknown challenge {challenge_id!r}; known: {', '.join(CHALLENGES)}")
    grade = Grade(challenge)
    hints: list[str] = []
    if not (isinstance(node_class, type) and issubclass(node_class, Node)):
        hints.append(
            f"expected a class derived from glome.runtime.Node, got {node_class!r}: "
            "define `class MyNode(Node): ...` and pass the class itself"
        )
        grade.verdicts.extend(_unrun(challenge, c, "no node class") for c in challenge.checks)
        return ExerciseGrade(grade, hints, dict(overrides))
    for check in challenge.checks:
        flags = ["-w", challenge.workload, *shlex.split(check.flags)]
        options = {**run_keywords(flags), **overrides, "seed": seed}
        try:
            result = run(node_class, store_dir=store_dir, **options)
        except Exception as e:  # the student's class failed outside any handler
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
            hints.append(f"the run could not go on: {type(e).__name__}: {e}{where}")
            grade.runs.append(None)
            grade.verdicts.append(_unrun(challenge, check, f"{type(e).__name__}"))
            continue
        grade.runs.append(result)
        if result.error:
            hints.append(f"the test aborted: {result.error}")
            grade.verdicts.append(_unrun(challenge, check, "aborted"))
            continue
        verdicts = evaluate(challenge, check, result.results or {})
        grade.verdicts.extend(verdicts)
        if any(v.passed is False for v in verdicts):
            hints.extend(_criterion_hints(verdicts))
            hints.extend(_workload_hints(result.results))
            hints.extend(_error_hints(result.history)[:MAX_HINTS])
            hints.append(f"details: {result.store_path} (analysis.load(...) reads it)")
    return ExerciseGrade(grade, _dedup(hints), dict(overrides))


def _unrun(challenge: Challenge, check: Check, why: str) -> Verdict:
    return Verdict(challenge.id, check.flags, "run completed", why, "a completed run", False)


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
