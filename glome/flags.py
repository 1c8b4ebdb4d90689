"""The flags of ``glome test`` (Maelstrom's ``test`` flags) and their parsing.

Shared by ``glome test`` (``glome.cli``), the challenge grader and the swarm, which turn an
official command line into keyword arguments of ``glome.sim.run`` with ``run_keywords``. It
lives apart from ``glome.cli`` so the library (``glome.challenges``) does not import the
command-line front end that imports it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_BAD_ARGS = 254

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
    """What a message costs in-process: I/O delay and service time (``glome.sim.net.processing``)."""
    from glome.sim.net.processing import (
        DEFAULT_IO_DELAY,
        DEFAULT_IO_DELAY_DIST,
        DEFAULT_PROCESSING_DIST,
        DEFAULT_PROCESSING_PER_BYTE,
        DEFAULT_PROCESSING_TIME,
        DEFAULT_ROUTER_PER_BYTE,
        PROCESSING_DISTS,
    )

    p.add_argument(
        "--io-delay",
        type=float,
        default=DEFAULT_IO_DELAY,
        metavar="MS",
        help="mean delay of an in-process message on its way out of its sender, ms; does not "
        f"queue (default {DEFAULT_IO_DELAY:g})",
    )
    p.add_argument(
        "--io-delay-dist",
        default=DEFAULT_IO_DELAY_DIST,
        choices=PROCESSING_DISTS,
        help=f"I/O delay distribution (default {DEFAULT_IO_DELAY_DIST})",
    )
    p.add_argument(
        "--router-per-byte",
        type=float,
        default=DEFAULT_ROUTER_PER_BYTE,
        metavar="US",
        help="time the router spends per byte of a message body, microseconds; one queue for "
        f"all messages (default {DEFAULT_ROUTER_PER_BYTE:g})",
    )
    p.add_argument(
        "--processing-time",
        type=float,
        default=DEFAULT_PROCESSING_TIME,
        metavar="MS",
        help="mean service time of a message at an in-process node or a service, ms; later "
        f"messages queue (default {DEFAULT_PROCESSING_TIME:g}; all four costs 0: messages "
        "cost nothing)",
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
        "io_delay": ns.io_delay,
        "io_delay_dist": ns.io_delay_dist,
        "processing_time": ns.processing_time,
        "processing_dist": ns.processing_dist,
        "processing_per_byte": ns.processing_per_byte,
        "router_per_byte": ns.router_per_byte,
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
