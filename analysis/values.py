"""Turning parsed EDN values into plain Python for DataFrames.

The EDN reader keeps keywords as :class:`~analysis.edn.Keyword` and tagged records as
:class:`~analysis.edn.Tagged`; frames want plain strings, dicts and lists, so a column of `f`
or `type` holds ordinary ``str`` and validity is ``True``, ``False`` or ``"unknown"``.
"""

from __future__ import annotations

from typing import Any

from analysis.edn import EdnSet, Keyword, Symbol, Tagged

UNKNOWN = "unknown"


def plain(value: Any) -> Any:
    """`value` with keywords/symbols as str, tagged records as their map, sets as sorted lists."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, frozenset | EdnSet):
        items = [plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, Tagged):
        return plain(value.value)
    return value


def validity(value: Any) -> bool | str | None:
    """Maelstrom's :valid? as True, False, "unknown" (or None when absent)."""
    if value is True or value is False or value is None:
        return value
    if isinstance(value, str) and str(value) == UNKNOWN:
        return UNKNOWN
    return UNKNOWN


def merge_validity(values: list[bool | str | None]) -> bool | str | None:
    """Maelstrom's rule: false beats unknown beats true; None when nothing is known."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if False in present:
        return False
    if UNKNOWN in present:
        return UNKNOWN
    return True


def error_kind(error: Any) -> tuple[str | None, str | None]:
    """(kind, detail) of an op's :error: a keyword, a [kind text] vector, or free text."""
    if error is None:
        return None, None
    if isinstance(error, Keyword):
        return str(error), None
    if isinstance(error, list | tuple) and error:
        head = error[0]
        rest = " ".join(str(plain(e)) for e in error[1:]) or None
        return (str(head) if isinstance(head, str) else repr(plain(head))), rest
    if isinstance(error, str):
        text = str(error)
        # "indeterminate: Client read timeout" -> kind "indeterminate"
        kind, sep, detail = text.partition(": ")
        if sep and " " not in kind and len(kind) < 40:
            return kind, detail
        return text, None
    return repr(plain(error)), None


def is_symbolish(value: Any) -> bool:
    """True for keywords and symbols (names rather than data)."""
    return isinstance(value, Keyword | Symbol)
