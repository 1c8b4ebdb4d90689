"""glome grade: a class of good, buggy and hostile submissions (Python and sh) grades correctly,
in bounded time, without the teacher's environment, and leaves nothing running."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers.roster import EXPECTED, make_roster

from glome.classroom.roster import NOT_SUBMITTED, find_submissions
from glome.sandbox import MARKER, UID_BASE, UID_SLOTS

ROOT = Path(__file__).resolve().parents[1]
BOUND_S = 600
"""Wall seconds the whole class may take (10 real-time runs of 10 s, two at a time)."""


def _leftovers() -> list[str]:
    """Processes from a sandbox: a sandbox uid, or the marker variable in the environment."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        zombie = "State:\tZ" in status
        if not zombie and (
            UID_BASE <= uid < UID_BASE + UID_SLOTS or MARKER.encode() + b"=" in environ
        ):
            found.append(status.splitlines()[0])
    return found


def test_find_submissions(tmp_path: Path) -> None:
    make_roster(tmp_path)
    found = {(s.student, s.kind) for s in find_submissions(tmp_path, ["1", "3a"])}
    assert ("good", "executable") in found and ("pygood", "python") in found
    assert ("absent", NOT_SUBMITTED) in found and ("good", NOT_SUBMITTED) in found  # no 3a


@pytest.mark.slow
@pytest.mark.timeout(BOUND_S + 60)
def test_class_grades_in_bounded_time_and_leaves_nothing(tmp_path: Path) -> None:
    roster, out = make_roster(tmp_path / "roster"), tmp_path / "grades"
    before = _leftovers()
    env = {**os.environ, "TEACHER_SECRET": "hunter2-teacher-only"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "glome.cli", "grade", str(roster), "--challenges", "1",
         "--seeds", "1", "--workers", "2", "--out", str(out), "--memory-mb", "1024",
         "--cpu-seconds", "60"],
        env=env, capture_output=True, text=True, timeout=BOUND_S, check=False, cwd=tmp_path,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed < BOUND_S
    time.sleep(1)
    assert _leftovers() == before, "a submission's process outlived the grading"

    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    verdicts = {r["student"]: r["verdict"] for r in rows if r["criterion"] == "valid?"}
    assert verdicts == {student: want for student, (want, _) in EXPECTED.items()}, rows
    absent = [r for r in rows if r["student"] == "absent"]
    assert [r["verdict"] for r in absent] == [NOT_SUBMITTED]
    failing = [r for r in rows if r["verdict"] == "FAIL"]
    assert all(r["replay"].startswith("glome challenge 1 ") for r in failing)
    assert all(str(roster) in r["replay"] for r in failing), "replay names the roster file"
    reasons = {r["student"]: r["reasons"] for r in failing}
    assert "MemoryError" in reasons["hog"] or "memory" in reasons["hog"].lower()
    assert "did not respond" in reasons["silent"]
    assert "expected a reply echoing" in reasons["buggy"]

    written = [p for p in out.rglob("*") if p.is_file()]
    assert (out / "report.html").exists() and (out / "feedback" / "snoop.md").exists()
    for path in written:  # node logs, results, feedback: the teacher's variable is nowhere
        assert b"hunter2-teacher-only" not in path.read_bytes(), path
    html = (out / "report.html").read_text()
    assert "good" in html and "not submitted" in html
