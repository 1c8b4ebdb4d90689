"""glome.exercises: the in-process grader for node classes written in notebooks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from glome.exercises import flags_to_options, grade_node
from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler


class Unfinished(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("write the echo handler")


class BadInit(Node):
    async def on_init(self) -> None:
        raise ValueError("no index for this node")


def test_flags_to_options() -> None:
    assert flags_to_options(
        "--node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --latency 100 "
        "--consistency-models read-committed --availability total --nemesis partition"
    ) == {
        "node_count": 2,
        "concurrency": "2n",
        "time_limit": 20.0,
        "rate": 1000.0,
        "latency": 100,
        "consistency_models": ("read-committed",),
        "availability": "total",
        "nemesis": "partition",
    }
    with pytest.raises(ValueError, match="--bogus"):
        flags_to_options("--bogus 1")
    with pytest.raises(ValueError, match="--rate"):
        flags_to_options("--rate")


def test_correct_node_passes(tmp_path: Path) -> None:
    grade = grade_node("1", Echo, store_dir=tmp_path)
    assert grade.passed and grade.official
    assert "Well done" in grade.report()
    assert grade.runs[0].store_path.is_relative_to(tmp_path)


def test_unfinished_node_fails_with_the_errors_clients_saw(tmp_path: Path) -> None:
    grade = grade_node("1", Unfinished, store_dir=tmp_path, time_limit=2)
    assert not grade.passed and not grade.official
    text = grade.report()
    assert "Not there yet" in text and "time_limit=2" in text
    assert any("NotImplementedError: write the echo handler" in h for h in grade.hints)


def test_init_failure_and_non_node_are_grades_not_crashes(tmp_path: Path) -> None:
    grade = grade_node("1", BadInit, store_dir=tmp_path, time_limit=1)
    assert not grade.passed
    assert any("no index for this node" in h for h in grade.hints), grade.hints
    grade = grade_node("1", 42, store_dir=tmp_path)
    assert not grade.passed and "glome.runtime.Node" in grade.hints[0]


def test_unknown_challenge_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown challenge"):
        grade_node("9z", Echo)


def test_every_challenge_command_parses_as_the_cli_parses_it() -> None:
    """grade_node's flag reading must agree with `glome challenge`'s (the CLI parser)."""
    from glome.challenges import CHALLENGES
    from glome.cli import _options, _test_parser
    from glome.sim import build_options

    for challenge in CHALLENGES.values():
        for check in challenge.checks:
            ns = _test_parser().parse_intermixed_args(
                ["-w", challenge.workload, "--seed", "3", *check.flags.split()]
            )
            ours = build_options(
                workload=challenge.workload, seed=3, **flags_to_options(check.flags)
            )
            theirs = _options(ns)
            # concurrency None means Maelstrom's default 1n; the CLI spells it out
            ours = dataclasses.replace(ours, concurrency=ours.worker_count)
            theirs = dataclasses.replace(theirs, concurrency=theirs.worker_count)
            assert ours == theirs, (challenge.id, check.flags)
