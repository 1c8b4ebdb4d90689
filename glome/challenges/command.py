"""``glome challenge ID (--node X | --bin P [ARGS...]) [--seeds N] [--seed S] [--workers K]
[--cluster ADDR]``: grade a node on a challenge over seeds S .. S+N-1."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from glome.challenges.catalog import CHALLENGES
from glome.challenges.seeds import DEFAULT_SEEDS

EXIT_PASS, EXIT_FAIL, EXIT_BAD_ARGS, EXIT_INTERRUPTED = 0, 1, 254, 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="glome challenge",
        description="Run a Gossip Glomers challenge's official command lines over many seeds "
        "and judge every run. Exit status 0 only when every run passes.",
    )
    p.add_argument("id", nargs="?", help="challenge id: " + ", ".join(CHALLENGES))
    p.add_argument("--node", metavar="MODULE:CLASS", help="glome Node class, in-process")
    p.add_argument("--bin", metavar="PATH", help="binary, one process per node (real time)")
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="how many seeds (default: per challenge, see --list; 1 when only --seed is given)",
    )
    p.add_argument("--seed", type=int, metavar="S", help="first seed (default: fresh, printed)")
    p.add_argument("--workers", type=int, metavar="K", help="local processes (default: per core)")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT", help="a Dask scheduler to run on")
    p.add_argument(
        "--keep",
        choices=("failing", "all", "none"),
        default="failing",
        help="store directories to keep (default: those of failing runs)",
    )
    p.add_argument("--store", default="store", help="store root (default ./store)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the challenges and exit")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    return p


def _list() -> None:
    for c in CHALLENGES.values():
        for check in c.checks:
            seeds = f"{DEFAULT_SEEDS[c.id]} seeds"
            print(f"{c.id:3} {c.title:48} {seeds:>9}  -w {c.workload} {check.flags}")


def main(argv: Sequence[str] | None = None) -> int:
    from glome.challenges.grading import grade_seeds

    p = parser()
    ns = p.parse_intermixed_args(list(sys.argv[1:] if argv is None else argv))
    if ns.list or ns.id is None:
        _list()
        return EXIT_PASS if ns.list else EXIT_BAD_ARGS
    if (ns.node is None) == (ns.bin is None):
        p.error("give exactly one of --node MODULE:CLASS or --bin PATH")
    if ns.node is not None and ns.args:
        p.error(f"unexpected arguments {ns.args} (extra arguments go to a --bin binary)")
    if ns.seeds is not None and ns.seeds < 1:
        p.error("--seeds must be at least 1")
    if ns.workers is not None and ns.workers < 1:
        p.error("--workers must be at least 1")
    if ns.id.lower() not in CHALLENGES:
        print(f"glome challenge: unknown challenge {ns.id!r}; known: {', '.join(CHALLENGES)}")
        return EXIT_BAD_ARGS
    if ns.node is not None:
        try:
            from glome.swarm.case import load_node

            load_node(ns.node)  # a bad path is a clear error now, not N failing rows
        except (ImportError, ValueError, AttributeError) as e:
            print(f"glome challenge: cannot load --node {ns.node}: {e}", file=sys.stderr)
            return EXIT_BAD_ARGS
    seeds = ns.seeds if ns.seeds is not None else 1 if ns.seed is not None else None
    first = ns.seed if ns.seed is not None else int.from_bytes(os.urandom(4), "big") >> 1
    binary: Any = [ns.bin, *ns.args] if ns.bin is not None else None
    grade = grade_seeds(
        ns.id,
        node=ns.node,
        bin=binary,
        seeds=seeds,
        seed=first,
        workers=ns.workers,
        cluster=ns.cluster,
        store_dir=ns.store,
        quiet=ns.quiet,
        keep=ns.keep,
    )
    print(grade.table())
    if grade.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PASS if grade.passed else EXIT_FAIL
