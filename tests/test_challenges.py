"""The grader's criteria: each must pass on good results and fail on bad ones."""

from __future__ import annotations

from typing import Any

import pytest

from glome.challenges import CHALLENGES, evaluate, grade, main, run_check_with
from glome.runtime import Message, Node, handler


def results(
    valid: Any = True,
    msgs: float = 4.0,
    median: int = 300,
    worst: int = 500,
    ok_fraction: float = 1.0,
) -> dict[str, Any]:
    return {
        "valid?": valid,
        "availability": {"valid?": True, "ok-fraction": ok_fraction},
        "net": {"servers": {"msgs-per-op": msgs}},
        "workload": {"stable-latencies": {0: 0, 0.5: median, 0.95: worst, 0.99: worst, 1: worst}},
    }


def test_every_challenge_of_the_series_is_known() -> None:
    assert list(CHALLENGES) == [
        "1",
        "2",
        "3a",
        "3b",
        "3c",
        "3d",
        "3e",
        "4",
        "5a",
        "5b",
        "5c",
        "6a",
        "6b",
        "6c",
    ]


def test_3d_passes_within_targets_and_fails_on_each_target() -> None:
    c = CHALLENGES["3d"]
    main = c.checks[0]
    assert all(v.passed for v in evaluate(c, main, results()))
    by_name = {v.criterion: v for v in evaluate(c, main, results(msgs=31.0, median=450, worst=601))}
    assert by_name["servers msgs-per-op"].passed is False
    assert by_name["median stable latency (ms)"].passed is False
    assert by_name["maximum stable latency (ms)"].passed is False
    assert by_name["valid?"].passed is True


def test_missing_figures_fail_rather_than_pass() -> None:
    c = CHALLENGES["3e"]
    verdicts = evaluate(c, c.checks[0], {"valid?": True})
    assert [v.passed for v in verdicts] == [True, False, False, False]


def test_unknown_validity_fails() -> None:
    c = CHALLENGES["1"]
    assert evaluate(c, c.checks[0], results(valid="unknown"))[0].passed is False


def test_total_availability_is_exact() -> None:
    c = CHALLENGES["2"]
    verdicts = evaluate(c, c.checks[0], results(ok_fraction=0.999))
    assert [v.passed for v in verdicts] == [True, False]


def test_grade_runs_every_check_and_reports_6c_intent() -> None:
    seen: list[list[str]] = []

    def fake_run(challenge: Any, check: Any, argv: Any) -> tuple[dict[str, Any], None]:
        seen.append(list(argv))
        return results(), None

    g = grade("6c", fake_run)
    assert g.passed
    assert "--nemesis" in seen[0] and "partition" in seen[0]
    assert "en-dash" in g.table()
    g3d = grade("3d", fake_run)
    assert len(g3d.runs) == 2 and g3d.passed


def test_5c_reports_figures_without_judging_them() -> None:
    c = CHALLENGES["5c"]
    labels = [v.label for v in evaluate(c, c.checks[0], results(msgs=99.0))]
    assert labels == ["PASS", "INFO", "INFO"]


def test_unknown_challenge_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="known: 1, 2, 3a"):
        grade("9z", lambda *a: ({}, None))


class WrongEcho(Node):
    """Answers every echo, with the wrong text."""

    @handler("echo")
    async def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": "something else"}


def test_cli_passes_a_correct_node_in_process(tmp_path: Any, capsys: Any) -> None:
    code = main(
        ["1", "--node", "glome.nodes.echo:Echo", "--seed", "1", "--store", str(tmp_path), "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "challenge 1 (Echo): PASS" in out


def test_a_wrong_node_fails_the_grade(tmp_path: Any) -> None:
    g = grade("1", run_check_with(WrongEcho, None, 1, str(tmp_path), True))
    assert not g.passed
    assert g.verdicts[0].measured is False


def test_cli_lists_challenges(capsys: Any) -> None:
    assert main(["--list"]) == 0
    assert "6c" in capsys.readouterr().out
