"""The values the EDN reader builds that Python has no type for: keywords, symbols, tagged
records, hashable maps and unhashable sets; and ``EdnError``, what any malformed input raises."""

from __future__ import annotations

from typing import Any


class EdnError(ValueError):
    """Malformed EDN. The message says what was wrong and where (token number or line)."""

    token: int | None = None
    """Index of the token where reading failed (the general reader sets it)."""


class Keyword(str):
    """An EDN keyword. Equal to (and hashes like) its name without the colon."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f":{str.__str__(self)}"


class Symbol(str):
    """An EDN symbol (Maelstrom writes exception classes and stack frames as symbols)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__repr__(self)})"


class Tagged:
    """A tagged value other than #inst/#uuid, e.g. ``#jepsen.history.Op{...}``."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and other.tag == self.tag and other.value == self.value

    def __hash__(self) -> int:
        return hash((self.tag, freeze(self.value)))

    def __repr__(self) -> str:
        return f"#{self.tag} {self.value!r}"


class FrozenDict(dict[Any, Any]):
    """A hashable dict, used only where a map is a set element or a map key."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


class EdnSet(tuple[Any, ...]):
    """A set whose elements cannot all be hashed: kept as a tuple in source order."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "#{" + " ".join(map(repr, self)) + "}"


def freeze(value: Any) -> Any:
    """A hashable equivalent of `value`: lists -> tuples, dicts -> FrozenDict, recursively."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict) and not isinstance(value, FrozenDict):
        return FrozenDict((freeze(k), freeze(v)) for k, v in value.items())
    if isinstance(value, EdnSet):
        return frozenset(freeze(v) for v in value)
    return value
