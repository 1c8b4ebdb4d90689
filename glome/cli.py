"""The ``glome`` command: ``glome test``, ``glome analyze``, ``glome challenge``, ``glome sweep``,
``glome check`` (``glome.check``).

``glome test`` takes Maelstrom's ``test`` flags with Maelstrom's defaults
(docs/protocol.md#glome-test) and either

- ``--bin PATH [ARGS...]``: any binary, one process per node, real time (as Maelstrom); or
- ``--node MODULE:CLASS``: a glome ``Node`` class, in-process on a virtual clock (deterministic
  by ``--seed``, much faster than real time).

Differences from Maelstrom's CLI: ``--node`` names the in-process node class, so literal node
names are given with ``--nodes a,b,c`` (Maelstrom's ``--node HOST``); ``--seed``, ``--store``,
``--quiet``, ``--recovery-time`` and ``--lww-converge`` are glome's own. Like Maelstrom, any
token not starting with ``-`` is passed to the binary as an argument, including one starting
with a Unicode dash (``–-nemesis``, as typed by word processors): glome warns about those.

Exit codes (Maelstrom's): 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 the test
crashed or aborted (a node that never answered init, a node that died before teardown).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from glome.flags import (
    EXIT_BAD_ARGS,
    UNICODE_DASHES,
    _options,
    _Parser,
    _test_parser,
    _warn,
    _warn_unicode_dashes,
    parse_availability,
    parse_consistency_models,
    run_keywords,
)

EXIT_CRASH = 255

__all__ = [
    "EXIT_BAD_ARGS",
    "EXIT_CRASH",
    "UNICODE_DASHES",
    "_Parser",
    "_options",
    "_test_parser",
    "_warn",
    "_warn_unicode_dashes",
    "main",
    "parse_availability",
    "parse_consistency_models",
    "run_keywords",
]


def cmd_test(argv: Sequence[str]) -> int:
    parser = _test_parser()
    _warn_unicode_dashes(argv)
    ns = parser.parse_intermixed_args(list(argv))
    if (ns.bin is None) == (ns.node is None):
        parser.error(
            "give exactly one of --bin PATH (processes) or --node MODULE:CLASS "
            "(in-process); Maelstrom says: Expected a --bin PATH_TO_BINARY to test"
        )
    if ns.node is not None and ns.args:
        parser.error(f"unexpected arguments {ns.args} (extra arguments go to a --bin binary)")
    try:
        opts = _options(ns)
        from glome.errors import RunnerError
        from glome.sim import run_options
        from glome.sim.hosts.vclock import VirtualClockStalled
        from glome.sim.net.nemesis import parse_faults
        from glome.sim.workloads import get as get_workload

        get_workload(opts.workload).validate(opts)
        parse_faults(opts.nemesis)
        if ns.node is not None:
            from glome.runtime.loader import load_node_class

            node_class = load_node_class(ns.node)
    except (ValueError, ImportError, AttributeError) as e:
        print(f"glome test: error: {e}", file=sys.stderr)
        return EXIT_BAD_ARGS
    argv_line = ["glome", "test", *argv]
    code = 0
    for attempt in range(max(1, ns.test_count)):
        if attempt:
            opts.seed += 1
        if ns.seed is None or attempt or ns.bin is not None:
            from glome.sim.explain import seed_note

            print(
                f"glome: seed {opts.seed} ({seed_note(ns.bin is not None, opts.seed)})",
                file=sys.stderr,
            )
        try:
            if ns.node is not None:
                result = run_options(
                    opts,
                    node=node_class,
                    store_dir=ns.store,
                    argv=argv_line,
                    verbose=not ns.quiet,
                )
            else:
                result = run_options(
                    opts, bin=ns.bin, store_dir=ns.store, argv=argv_line, verbose=not ns.quiet
                )
        except (RunnerError, VirtualClockStalled) as e:
            print(f"Test aborted: {e}")
            return EXIT_CRASH
        if ns.quiet:
            from glome.sim.explain import failing_reasons
            from glome.sim.render.store import verdict_line

            print(f"Test aborted: {result.error}" if result.error else verdict_line(result.valid))
            if not result.error and result.valid is not True:
                for reason in failing_reasons(result.results):
                    print(f"  {reason}")
        print(f"glome: store {result.store_path}", file=sys.stderr)
        code = result.exit_code
        if code != 0:
            break
    return code


def cmd_analyze(argv: Sequence[str]) -> int:
    from analysis import cli as analysis_cli  # lazy: only `glome analyze` needs pandas

    code: Any = analysis_cli.main(list(argv))
    return int(code or 0)


def cmd_challenge(argv: Sequence[str]) -> int:
    from glome.challenges import main as challenge_main

    return challenge_main(list(argv))


def cmd_sweep(argv: Sequence[str]) -> int:
    """``glome sweep [--seeds N] [--seed S] [--workers K] [--cluster ADDR] [--out DIR] --
    TEST-ARGS``: see ``glome.swarm.sweep``."""
    from glome.swarm import sweep as sweeping

    args = list(argv)
    if "--" not in args:
        print(
            "glome sweep: give the test flags after --, e.g. glome sweep --seeds 5 -- "
            "-w echo --node glome.nodes.echo:Echo --rate 1,10",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGS
    cut = args.index("--")
    p = _Parser(prog="glome sweep", description="glome test over a grid of flag values and seeds")
    p.add_argument("--seeds", type=int, default=10, metavar="N", help="seeds per grid point (10)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="first seed (default 1)")
    p.add_argument("--workers", type=int, metavar="K", help="local processes (default: per core)")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT", help="a Dask scheduler to run on")
    p.add_argument("--out", default="sweep", metavar="DIR", help="runs.csv and sweep.png (./sweep)")
    p.add_argument("--store", default="store", metavar="DIR", help="store root (default ./store)")
    p.add_argument("--keep", choices=("failing", "all", "none"), default="failing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    ns = p.parse_args(args[:cut])
    if ns.seeds < 1 or (ns.workers is not None and ns.workers < 1):
        p.error("--seeds and --workers must be at least 1")
    try:
        cases, names = sweeping.sweep_cases(args[cut + 1 :], [ns.seed])
        for case in cases:  # load each node once here: a typo is one clear error
            if case.node is not None:
                from glome.swarm.case import load_node

                load_node(case.node)
    except (ValueError, ImportError, AttributeError) as e:
        print(f"glome sweep: error: {e}", file=sys.stderr)
        return EXIT_BAD_ARGS
    runs = sweeping.sweep(
        args[cut + 1 :],
        seeds=ns.seeds,
        seed=ns.seed,
        workers=ns.workers,
        cluster=ns.cluster,
        out=ns.out,
        store_dir=ns.store,
        keep=ns.keep,
        progress=not ns.quiet,
    )
    print(sweeping.summary(runs, names).to_string(float_format=lambda v: f"{v:.3g}"))
    print(f"glome sweep: {ns.out}/runs.csv, {ns.out}/sweep.png", file=sys.stderr)
    if runs.attrs.get("interrupted"):
        return 130
    return 0 if bool(runs["passed"].astype(bool).all()) else 1


def cmd_check(argv: Sequence[str]) -> int:
    from glome import check  # lazy: reads stores with analysis (pandas)

    return check.main(list(argv))


def cmd_grade(argv: Sequence[str]) -> int:
    from glome.classroom.cli import grade_main  # lazy: pandas, the swarm

    return grade_main(list(argv))


def cmd_classroom(argv: Sequence[str]) -> int:
    from glome.classroom.cli import classroom_main

    return classroom_main(list(argv))


COMMANDS = {
    "test": cmd_test,
    "analyze": cmd_analyze,
    "challenge": cmd_challenge,
    "grade": cmd_grade,
    "classroom": cmd_classroom,
    "sweep": cmd_sweep,
    "check": cmd_check,
}

USAGE = """usage: glome COMMAND [ARGS...]

commands:
  test       run a Maelstrom test (glome test -w echo --node glome.nodes.echo:Echo ...)
  analyze    read store directories (glome analyze store/latest)
  challenge  grade a node on a Gossip Glomers challenge over many seeds
  sweep      glome test over a grid of flag values and seeds (glome sweep -- TEST-ARGS)
  check      re-judge a store run (Maelstrom's or glome's) with glome's checkers
  grade      grade a class: every student's nodes, sandboxed (glome grade ROSTER --out DIR)
  classroom  teaching tools (glome classroom nbgrader DIR: the exercises as an nbgrader course)
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else EXIT_BAD_ARGS
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"glome: unknown command {args[0]!r}\n{USAGE}", end="", file=sys.stderr)
        return EXIT_BAD_ARGS
    try:
        return command(args[1:])
    except SystemExit as e:  # argparse exits with our codes; keep them as return values
        return e.code if isinstance(e.code, int) else EXIT_BAD_ARGS
    except KeyboardInterrupt:
        print("glome: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
