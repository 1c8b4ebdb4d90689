"""Instructions a command executes, counted by valgrind's callgrind (shared by the benchmarks
that compare two trees: ``bench_versus.py``, ``bench_echo_memory.py``).

On a machine shared by other jobs, wall and even CPU time move with the load; the instruction
count of the same command does not, so it is the figure to compare.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

TIMEOUT_S = 3600


def instructions(argv: Sequence[str], *, cwd: str | Path | None = None) -> int:
    """Total instructions ``argv`` executes under callgrind (``cwd``: a scratch directory when
    None)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            check=True,
            capture_output=True,
            cwd=tmp if cwd is None else cwd,
            timeout=TIMEOUT_S,
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")
