"""Type stub for analysis._cedn, the compiled half of analysis.edn (analysis/_cedn.c)."""

from collections.abc import Callable
from typing import Any

def configure(
    keyword: type,
    symbol: type,
    tagged: Callable[[str, Any], Any],
    atom: Callable[[str], Any],
    string: Callable[[str], str],
    make_map: Callable[[list[Any]], Any],
    make_set: Callable[[list[Any]], Any],
) -> None: ...
def loads_all(text: str) -> list[Any] | None: ...
def loads_lines(lines: list[str], fallback: object) -> list[Any]: ...
