"""docs/findings.md names the test that proves each finding: every name must still exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"\b(test_\w+\.py)::(test_\w+)")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_every_test_named_in_the_findings_map_exists() -> None:
    text = (ROOT / "docs" / "findings.md").read_text()
    references = set(REFERENCE.findall(text))
    assert len(references) >= 50, "the map should name the tests that prove each finding"
    missing = []
    for file, name in sorted(references):
        path = ROOT / "tests" / file
        if not path.exists() or name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/findings.md names tests that do not exist: {missing}"
