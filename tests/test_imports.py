"""Node processes start fast: the runtime imports none of the analysis stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "matplotlib", "networkx")


@pytest.mark.parametrize("module", ["glome.runtime", "glome.nodes.echo", "glome.runtime.__main__"])
def test_runtime_import_pulls_in_no_heavy_packages(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(','.join(m for m in {HEAVY!r} if any(k == m or k.startswith(m + '.') "
        "for k in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "", f"{module} imported {done.stdout.strip()}"
