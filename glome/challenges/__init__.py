"""The Gossip Glomers challenges, their targets, and the grader over seeds.

``glome challenge 4 --node glome.nodes.counter:SeqKVCounter`` runs every check (official
command line) of challenge 4 on ``DEFAULT_SEEDS["4"]`` seeds from a fresh random one, on every
core, and prints per criterion the pass rate and the worst measured value against the target,
the workload's headline figures, then each failing seed with the line that replays it. The
exit status is 0 only when every run passes.

- ``catalog``: the challenges, checks and criteria; ``evaluate`` for one run's results;
- ``grading``: ``grade_seeds`` and ``SeedGrade`` (the runs go through ``glome.swarm``);
- ``seeds``: ``DEFAULT_SEEDS`` and how they follow from measured failure rates;
- ``report``: the printed table; ``command``: ``glome challenge``.
"""

from glome.challenges.catalog import (
    AVAILABILITY_INFO,
    CHALLENGES,
    TOTAL_AVAILABILITY,
    VALID,
    Challenge,
    Check,
    Criterion,
    Grade,
    Results,
    Verdict,
    evaluate,
    latency,
    msgs_per_op,
    official_command,
)
from glome.challenges.command import main
from glome.challenges.grading import (
    SeedGrade,
    challenge_cases,
    get_challenge,
    grade_seeds,
    judge_columns,
)
from glome.challenges.seeds import DEFAULT_SEEDS

__all__ = [
    "AVAILABILITY_INFO",
    "CHALLENGES",
    "DEFAULT_SEEDS",
    "TOTAL_AVAILABILITY",
    "VALID",
    "Challenge",
    "Check",
    "Criterion",
    "Grade",
    "Results",
    "SeedGrade",
    "Verdict",
    "challenge_cases",
    "evaluate",
    "get_challenge",
    "grade_seeds",
    "judge_columns",
    "latency",
    "main",
    "msgs_per_op",
    "official_command",
]
