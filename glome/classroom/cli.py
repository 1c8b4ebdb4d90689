"""``glome grade ROSTER ...`` and ``glome classroom ...``: the classroom's command lines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from glome.flags import EXIT_BAD_ARGS, _Parser


def _grade_parser() -> _Parser:
    p = _Parser(
        prog="glome grade",
        description="Grade every student's submission for every challenge over seeds, each "
        "run sandboxed. ROSTER/<student>/<challenge-id> is an executable (any language, run "
        "like --bin); ROSTER/<student>/<challenge-id>.py defines a glome Node class NODE.",
    )
    p.add_argument("roster", type=Path)
    p.add_argument("--challenges", help="comma-separated ids (default: every challenge)")
    p.add_argument("--seeds", type=int, help="seeds per challenge (default: per challenge)")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output (default ./grades)")
    p.add_argument("--workers", type=int, help="local processes (default: per core)")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT", help="a Dask scheduler to run on")
    p.add_argument("--isolate", action="store_true", help="no network (Linux namespaces)")
    p.add_argument("--memory-mb", type=int, default=2048, help="per process (default 2048)")
    p.add_argument("--cpu-seconds", type=int, default=600, help="per process (default 600)")
    p.add_argument("--quiet", action="store_true")
    return p


def grade_main(argv: Sequence[str]) -> int:
    """Exit 0 once grading completes, whatever the students scored; 254 on bad arguments."""
    from glome.challenges import CHALLENGES
    from glome.classroom.report import summary, write_reports
    from glome.classroom.roster import grade_roster
    from glome.sandbox import Limits, Sandbox, isolation_problem

    parser = _grade_parser()
    ns = parser.parse_args(list(argv))
    challenges = (
        [c.strip().lower() for c in ns.challenges.split(",") if c.strip()]
        if ns.challenges
        else list(CHALLENGES)
    )
    unknown = [c for c in challenges if c not in CHALLENGES]
    if unknown:
        print(f"glome grade: unknown challenges {unknown}; known: {', '.join(CHALLENGES)}")
        return EXIT_BAD_ARGS
    if not ns.roster.is_dir():
        print(f"glome grade: roster {ns.roster} is not a directory", file=sys.stderr)
        return EXIT_BAD_ARGS
    if ns.isolate and (problem := isolation_problem()):
        print(f"glome grade: --isolate is not available here: {problem}", file=sys.stderr)
        return EXIT_BAD_ARGS
    sandbox = Sandbox(
        Limits(memory_mb=ns.memory_mb, cpu_seconds=ns.cpu_seconds), isolate=ns.isolate
    )
    for note in sandbox.notes:
        print(f"glome grade: note: {note}", file=sys.stderr)
    grades = grade_roster(
        ns.roster,
        challenges=challenges,
        seeds=ns.seeds,
        workers=ns.workers,
        cluster=ns.cluster,
        sandbox=sandbox,
        out=ns.out,
        progress=not ns.quiet,
    )
    paths = write_reports(grades, ns.out)
    table = summary(grades)
    for _, row in table.iterrows():
        print(
            f"{row['student']:20} {row['challenge']:4} {row['points']}/{row['max_points']} "
            f"{row['status']}"
        )
    print(f"grades: {paths['csv']}; overview: {paths['html']}; feedback: {paths['feedback']}/")
    return 0


def classroom_main(argv: Sequence[str]) -> int:
    from glome.classroom.nbgrader_course import main

    return main(list(argv))
