"""Where the tests find the real Maelstrom runs they compare against (never copied in)."""

from __future__ import annotations

import os
from pathlib import Path


def maelstrom_runs() -> Path:
    """The corpus of real Maelstrom runs: ``$GLOME_CORPUS`` if set, else the first
    ``shared/maelstrom-runs`` found walking up from the repository (a worktree may sit a few
    levels below it). The path may not exist: tests that need it skip."""
    if os.environ.get("GLOME_CORPUS"):
        return Path(os.environ["GLOME_CORPUS"])
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "maelstrom-runs"
        if candidate.is_dir():
            return candidate
    return here.parents[3] / "shared" / "maelstrom-runs"
