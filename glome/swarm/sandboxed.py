"""Sandboxed cases: the case runs in a child process that a ``Sandbox`` confines.

The parent starts ``python -m glome.swarm run-case CASE_JSON`` through ``case.sandbox.run``
(``glome.sandbox.Sandbox``, or any object with its ``run(argv, *, timeout, keep)``). The child
runs the case with its store under its own working directory and prints the row as one JSON
line, the last line of its stdout. The sandbox copies the working directory to ``keep``; the
row's ``store`` is rewritten to point there, and the copy is removed when the run passed and
``keep`` is ``"failing"`` (the child keeps every store; the parent decides).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson

from glome.swarm.case import Case, empty_row, run_case

CHILD_STORE = "store"
"""The child's store root, relative to its (sandboxed) working directory."""
OUTPUT_TAIL = 2000
"""Characters of a failed child's stderr quoted in the row's error."""
_serial = itertools.count()


def run_sandboxed(case: Case, *, store_dir: str, keep: str, timeout: float) -> dict[str, Any]:
    """Run ``case`` in ``case.sandbox``; its row (an error row when the child fails)."""
    label = f"sandbox-{case.seed}-{os.getpid()}-{next(_serial)}"
    kept = Path(store_dir) / "sandboxed" / label
    kept.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "glome.swarm", "run-case", orjson.dumps(case.to_json()).decode()]
    result = case.sandbox.run(argv, timeout=timeout, keep=kept)
    row = _last_json_line(result.stdout)
    if row is None:
        why = "timed out" if result.timed_out else f"exited with code {result.returncode}"
        if result.killed:
            why += f", killed: {result.killed}"
        tail = result.stderr.decode(errors="replace")[-OUTPUT_TAIL:]
        shutil.rmtree(kept, ignore_errors=True)
        return empty_row(case, f"the sandboxed run {why}: {tail}".rstrip(": "))
    child_store = row.get("store")
    wanted = keep == "all" or (keep == "failing" and not row.get("passed"))
    if child_store and wanted:
        row["store"] = str(kept / child_store)
    else:
        shutil.rmtree(kept, ignore_errors=True)
        row["store"] = None
    return row


def _last_json_line(stdout: bytes) -> dict[str, Any] | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        row = orjson.loads(lines[-1])
    except orjson.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None


def child_main(case_json: str) -> int:
    """``python -m glome.swarm run-case CASE_JSON``: run it here, print the row as JSON."""
    case = Case.from_json(orjson.loads(case_json))
    row = run_case(case, store_dir=CHILD_STORE, keep="all")  # the parent decides
    if row.get("store"):  # relative to the working directory the sandbox keeps
        row["store"] = os.path.relpath(row["store"])
    sys.stdout.flush()
    sys.stdout.write("\n" + orjson.dumps(row, default=str).decode() + "\n")
    sys.stdout.flush()
    return 0 if row.get("passed") else 1
