"""glome.exercises: the in-process grader for node classes written in notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glome.exercises import grade_node
from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler


class Unfinished(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("write the echo handler")


class BadInit(Node):
    async def on_init(self) -> None:
        raise ValueError("no index for this node")


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
