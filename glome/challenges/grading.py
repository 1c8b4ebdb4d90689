"""Grading a node over many seeds: every check of a challenge on seeds S .. S+N-1.

    from glome.challenges import grade_seeds
    grade = grade_seeds("4", node="glome.nodes.counter:StaleReadCounter")
    grade.passed, grade.failing_seeds, print(grade.table())

The runs go through the swarm (``glome.swarm.run_swarm``: every core, or a Dask cluster); each
run's criteria are measured where it ran and come back as two columns per criterion, the
measured value and ``"<criterion> ok"``. A grade passes only when every run of every check
passes. The default number of seeds per challenge (``DEFAULT_SEEDS``) comes from measured
per-seed failure rates of the flawed nodes glome ships (``glome.challenges.seeds``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glome.challenges.catalog import CHALLENGES, Challenge, evaluate
from glome.challenges.report import criteria_frame, seed_grade_table
from glome.challenges.seeds import DEFAULT_SEEDS


def get_challenge(challenge_id: str) -> Challenge:
    """The challenge with this id (KeyError naming the known ones)."""
    challenge = CHALLENGES.get(str(challenge_id).lower())
    if challenge is None:
        raise KeyError(f"unknown challenge {challenge_id!r}; known: {', '.join(CHALLENGES)}")
    return challenge


def _cell(value: Any) -> Any:
    """A measured value as a DataFrame cell (EDN keywords and maps as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(getattr(value, "name", value))


def judge_columns(judge: tuple[str, int], results: Mapping[str, Any]) -> dict[str, Any]:
    """Each criterion of check ``judge = (challenge id, check index)``, measured in ``results``:
    ``{criterion: measured, criterion + " ok": True/False/None (information only)}``."""
    challenge = get_challenge(judge[0])
    check = challenge.checks[judge[1]]
    out: dict[str, Any] = {}
    for verdict in evaluate(challenge, check, dict(results)):
        out[verdict.criterion] = _cell(verdict.measured)
        out[verdict.criterion + " ok"] = verdict.passed
    return out


def challenge_cases(
    challenge: Challenge,
    seeds: Sequence[int],
    *,
    node: Any = None,
    bin: Sequence[str] | None = None,
    sandbox: Any = None,
    overrides: Mapping[str, Any] | None = None,
    judged: bool = True,
) -> list[Any]:
    """One swarm case per (seed, check), seed by seed. ``judged``: each run measures the
    check's criteria (a challenge of ``CHALLENGES``); False leaves only the run's verdict."""
    from glome.flags import run_keywords
    from glome.swarm import Case

    cases = []
    for seed in seeds:
        for index, check in enumerate(challenge.checks):
            options = run_keywords(["-w", challenge.workload, *shlex.split(check.flags)])
            options.pop("seed")
            options.update(overrides or {})
            cases.append(
                Case(
                    seed,
                    options,
                    node=node,
                    bin=tuple(bin) if bin is not None else None,
                    labels={"challenge": challenge.id, "check": check.flags},
                    sandbox=sandbox,
                    judge=(challenge.id, index) if judged else None,
                )
            )
    return cases


@dataclass
class SeedGrade:
    """A challenge graded over seeds: one row per run in ``runs``."""

    challenge: Challenge
    seeds: list[int]
    runs: Any
    """pandas DataFrame, one row per (seed, check) run, criterion columns included."""
    node: str
    """What was graded, as given on the command line (``--node X`` or ``--bin P ...``)."""
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return bool(self.runs.attrs.get("interrupted"))

    @property
    def complete(self) -> bool:
        """Every (seed, check) run has its row."""
        return len(self.runs) == len(self.seeds) * len(self.challenge.checks)

    @property
    def passed(self) -> bool:
        return self.complete and bool(self.runs["passed"].astype(bool).all())

    @property
    def failing_seeds(self) -> list[int]:
        failing = self.runs.loc[~self.runs["passed"].astype(bool), "seed"]
        return sorted({int(s) for s in failing})

    @property
    def criteria(self) -> Any:
        """DataFrame: check, criterion, target, pass_rate, worst, verdict."""
        return criteria_frame(self.challenge, self.runs)

    def replay(self, seed: int) -> str:
        """The one line that grades this node on ``seed`` alone (a Python call for a class
        with no import path, such as one defined in a notebook)."""
        if self.node.startswith("--node __main__:") or "<locals>" in self.node:
            name = self.node.rpartition(".")[2].rpartition(":")[2]
            return f"grade_seeds({self.challenge.id!r}, node={name}, seed={seed}, seeds=1)"
        words = ["glome", "challenge", self.challenge.id, *shlex.split(self.node)]
        return shlex.join([*words, "--seed", str(seed)])

    def table(self) -> str:
        return seed_grade_table(self)

    def __str__(self) -> str:
        return self.table()


def grade_seeds(
    challenge_id: str,
    *,
    node: Any = None,
    bin: Sequence[str] | str | None = None,
    seeds: int | None = None,
    seed: int = 1,
    workers: int | None = None,
    cluster: Any = None,
    sandbox: Any = None,
    store_dir: str = "store",
    quiet: bool = False,
    keep: str = "failing",
    overrides: Mapping[str, Any] | None = None,
) -> SeedGrade:
    """Grade ``node`` (``"module:Class"``, a file path ``"f.py:Class"`` or a class) or ``bin``
    on every check of the challenge, on seeds ``seed .. seed + seeds - 1`` (default
    ``DEFAULT_SEEDS[challenge]`` seeds). ``overrides`` replace official options (a quick try,
    not a grade: the table says so). ``quiet``: no progress bar."""
    from glome.swarm import run_swarm

    challenge = get_challenge(challenge_id)
    if (node is None) == (bin is None):
        raise ValueError("give exactly one of node= or bin=")
    count = DEFAULT_SEEDS[challenge.id] if seeds is None else seeds
    if count < 1:
        raise ValueError("seeds must be at least 1")
    seed_list = list(range(seed, seed + count))
    command = [bin] if isinstance(bin, str) else list(bin) if bin is not None else None
    cases = challenge_cases(
        challenge, seed_list, node=node, bin=command, sandbox=sandbox, overrides=overrides
    )
    from glome.sim import build_options

    build_options(**{**cases[0].options, "seed": seed})  # a bad option raises here, once
    runs = run_swarm(
        cases,
        workers=workers,
        cluster=cluster,
        keep=keep,
        store_dir=store_dir,
        progress=not quiet,
    )
    shown = shlex.join(["--bin", *command]) if command else f"--node {cases[0].node_spec}"
    return SeedGrade(challenge, seed_list, runs, shown, dict(overrides or {}))
