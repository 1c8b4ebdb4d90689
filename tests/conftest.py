"""What the test modules share: fixtures here, nodes in ``tests/nodes/``, helpers in
``tests/helpers/``. A test module imports none of the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.paths import maelstrom_runs


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real Maelstrom runs (``helpers.paths.maelstrom_runs``); skips the test without them."""
    path = maelstrom_runs()
    if not path.is_dir():
        pytest.skip(f"no real Maelstrom runs at {path} (set GLOME_CORPUS)")
    return path
