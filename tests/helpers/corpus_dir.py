"""Where the real Maelstrom runs are, without needing the EDN reader that ``corpus`` needs."""

from __future__ import annotations

import os
from pathlib import Path


def find_corpus() -> Path:
    """``$GLOME_CORPUS``, else the first ``shared/maelstrom-runs`` beside the repository or
    any folder above it (a worktree may sit deeper than the main checkout). The path may not
    exist: callers skip when ``is_dir()`` is false."""
    if os.environ.get("GLOME_CORPUS"):
        return Path(os.environ["GLOME_CORPUS"])
    repo = Path(__file__).resolve().parents[2]
    for parent in repo.parents:
        candidate = parent / "shared" / "maelstrom-runs"
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "maelstrom-runs"
