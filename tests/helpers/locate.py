"""Where the real Maelstrom corpus is, for tests that read it (and skip without it)."""

from __future__ import annotations

import os
from pathlib import Path


def corpus_root() -> Path:
    """``GLOME_CORPUS``, else the nearest ``shared/maelstrom-runs`` above this checkout (a
    worktree sits deeper than the main checkout). The path may not exist: tests skip then."""
    env = os.environ.get("GLOME_CORPUS")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "shared" / "maelstrom-runs").is_dir():
            return parent / "shared" / "maelstrom-runs"
    return here.parents[3] / "shared" / "maelstrom-runs"
