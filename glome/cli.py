"""The ``glome`` command: ``glome test``, ``glome analyze``, ``glome challenge``,
``glome check`` (``glome.check``).

``glome test`` takes Maelstrom's ``test`` flags with Maelstrom's defaults (spec 5.1) and either

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

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_BAD_ARGS = 254
EXIT_CRASH = 255
UNICODE_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"


class _Parser(argparse.ArgumentParser):
    """argparse that exits with Maelstrom's bad-arguments code (254) instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_ARGS, f"{self.prog}: error: {message}\n")


def _test_parser() -> _Parser:
    p = _Parser(prog="glome test", description="Run a Maelstrom test against your nodes.")
    target = p.add_argument_group("nodes under test (exactly one)")
    target.add_argument(
        "--bin",
        metavar="PATH",
        help="binary to run, one process per node "
        "(real time); extra arguments after it are passed to it",
    )
    target.add_argument(
        "--node",
        metavar="MODULE:CLASS",
        help="glome Node class to run in-process on a virtual clock",
    )
    p.add_argument("-w", "--workload", default="lin-kv", help="workload (default lin-kv)")
    p.add_argument("--node-count", type=int, help="nodes n0..n(N-1)")
    p.add_argument("--nodes", help="comma-separated node names (default n1..n5)")
    p.add_argument("--concurrency", default="1n", help="workers: an integer or <k>n (default 1n)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--rate", type=float, default=5.0, help="ops/s, all workers (default 5)")
    p.add_argument("--latency", type=float, default=0, help="mean inter-node latency, ms")
    p.add_argument(
        "--latency-dist", default="constant", choices=("constant", "uniform", "exponential")
    )
    _add_processing_flags(p)
    p.add_argument(
        "--nemesis",
        default="",
        help="comma-separated faults: partition (Maelstrom's), kill, pause (glome)",
    )
    p.add_argument(
        "--nemesis-interval",
        type=float,
        default=10.0,
        help="mean seconds between nemesis ops (default 10)",
    )
    p.add_argument("--availability", help="total, or a fraction in [0, 1]")
    p.add_argument(
        "--consistency-models",
        default="strict-serializable",
        help='models, separated by " , " (Maelstrom\'s quirk; plain commas warn)',
    )
    p.add_argument("--key-count", type=int)
    p.add_argument("--max-txn-length", type=int, default=4)
    p.add_argument("--max-writes-per-key", type=int, default=16)
    p.add_argument(
        "--topology",
        default="grid",
        choices=("grid", "line", "tree", "tree2", "tree3", "tree4", "total"),
    )
    p.add_argument("--log-stderr", action="store_true", help="copy node logs to the console")
    p.add_argument(
        "--test-count", type=int, default=1, help="repeat; stop at the first run that does not pass"
    )
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    p.add_argument("--store", default="store", metavar="DIR", help="store root (default ./store)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results dump")
    p.add_argument(
        "--recovery-time",
        type=float,
        default=10.0,
        help="seconds before the final phase (default 10, Maelstrom's)",
    )
    p.add_argument(
        "--lww-converge",
        action="store_true",
        help="lww-kv replicas converge (Maelstrom's never do)",
    )
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    return p


def _add_processing_flags(p: argparse.ArgumentParser) -> None:
    """In-process nodes and services as single servers (``glome.sim.processing``)."""
    from glome.sim.processing import (
        DEFAULT_PROCESSING_DIST,
        DEFAULT_PROCESSING_PER_BYTE,
        DEFAULT_PROCESSING_TIME,
        PROCESSING_DISTS,
    )

    p.add_argument(
        "--processing-time",
        type=float,
        default=DEFAULT_PROCESSING_TIME,
        metavar="MS",
        help="mean service time of a message at an in-process node or a service, ms "
        f"(default {DEFAULT_PROCESSING_TIME:g}; 0 with --processing-per-byte 0: free)",
    )
    p.add_argument(
        "--processing-dist",
        default=DEFAULT_PROCESSING_DIST,
        choices=PROCESSING_DISTS,
        help=f"service time distribution (default {DEFAULT_PROCESSING_DIST})",
    )
    p.add_argument(
        "--processing-per-byte",
        type=float,
        default=DEFAULT_PROCESSING_PER_BYTE,
        metavar="US",
        help="extra service time per byte of message body, microseconds "
        f"(default {DEFAULT_PROCESSING_PER_BYTE:g})",
    )


def _warn(text: str) -> None:
    print(f"glome: warning: {text}", file=sys.stderr)


def _warn_unicode_dashes(argv: Sequence[str]) -> None:
    for token in argv:
        if token and token[0] in UNICODE_DASHES:
            _warn(
                f"argument {token!r} starts with a Unicode dash, not '-': it is not read as a "
                "flag but passed to the node binary as an argument (as Maelstrom does). "
                "Retype it with ASCII hyphens."
            )


def parse_consistency_models(text: str) -> tuple[str, ...]:
    """Maelstrom splits on ``\\s+,\\s+`` only; glome also accepts plain commas, with a warning."""
    models = [m.strip() for m in re.split(r"\s+,\s+", text.strip()) if m.strip()]
    out: list[str] = []
    for model in models:
        if "," in model:
            _warn(
                f"--consistency-models {model!r}: Maelstrom only splits on ' , ' (spaces "
                "around the comma) and would reject this; glome splits on the commas"
            )
            out.extend(m.strip() for m in model.split(",") if m.strip())
        else:
            out.append(model)
    return tuple(out)


def parse_availability(text: str | None) -> str | float | None:
    if text is None:
        return None
    if text.strip() in ("total", ":total"):
        return "total"
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"--availability must be total or a number in [0, 1], not {text!r}")
    return value


def _keywords(ns: argparse.Namespace) -> dict[str, Any]:
    """Parsed ``glome test`` flags as keyword arguments of ``glome.sim.build_options``."""
    if ns.node_count is not None:
        if ns.node_count < 1:
            raise ValueError("--node-count must be at least 1")
        nodes = None
    elif ns.nodes:
        nodes = [n.strip() for n in ns.nodes.split(",") if n.strip()]
    else:
        nodes = None
    seed = ns.seed if ns.seed is not None else int.from_bytes(os.urandom(4), "big")
    return {
        "workload": ns.workload,
        "node_count": ns.node_count,
        "nodes": nodes,
        "nemesis": ns.nemesis,
        "seed": seed,
        "concurrency": ns.concurrency,
        "time_limit": ns.time_limit,
        "rate": ns.rate,
        "latency": int(ns.latency) if float(ns.latency).is_integer() else ns.latency,
        "latency_dist": ns.latency_dist,
        "processing_time": ns.processing_time,
        "processing_dist": ns.processing_dist,
        "processing_per_byte": ns.processing_per_byte,
        "nemesis_interval": ns.nemesis_interval,
        "availability": parse_availability(ns.availability),
        "consistency_models": parse_consistency_models(ns.consistency_models),
        "key_count": ns.key_count,
        "max_txn_length": ns.max_txn_length,
        "max_writes_per_key": ns.max_writes_per_key,
        "topology": ns.topology,
        "log_stderr": ns.log_stderr,
        "recovery_time": ns.recovery_time,
        "lww_converge": ns.lww_converge,
        "extra_args": list(ns.args),
    }


def _options(ns: argparse.Namespace) -> Any:
    from glome.sim import build_options

    return build_options(**_keywords(ns))


def run_keywords(argv: Sequence[str]) -> dict[str, Any]:
    """Maelstrom ``test`` flags (``["-w", "broadcast", "--node-count", "5"]``) as keyword
    arguments of ``glome.sim.run`` / ``build_options``, parsed exactly as ``glome test``
    parses them. ``seed`` is fresh unless ``--seed`` is given. ValueError on a bad flag."""
    try:
        ns = _test_parser().parse_intermixed_args(list(argv))
    except SystemExit as e:
        raise ValueError(f"cannot parse test flags {list(argv)}") from e
    return _keywords(ns)


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
        from glome.sim.nemesis import parse_faults
        from glome.sim.vclock import VirtualClockStalled
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
            from glome.sim.store import verdict_line

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
    try:
        from glome import challenges  # lazy: written separately, may be absent
    except ImportError:
        challenges = None  # type: ignore[assignment]
    entry = getattr(challenges, "main", None)
    if entry is None:
        print("glome challenge: not available in this version yet", file=sys.stderr)
        return EXIT_BAD_ARGS
    code: Any = entry(list(argv))
    return int(code or 0)


def cmd_check(argv: Sequence[str]) -> int:
    from glome import check  # lazy: reads stores with analysis (pandas)

    return check.main(list(argv))


COMMANDS = {
    "test": cmd_test,
    "analyze": cmd_analyze,
    "challenge": cmd_challenge,
    "check": cmd_check,
}

USAGE = """usage: glome COMMAND [ARGS...]

commands:
  test       run a Maelstrom test (glome test -w echo --node glome.nodes.echo:Echo ...)
  analyze    read store directories (glome analyze store/latest)
  challenge  Gossip Glomers challenges and their grader
  check      re-judge a store run (Maelstrom's or glome's) with glome's checkers
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
