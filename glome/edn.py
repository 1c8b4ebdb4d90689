"""A small EDN writer: how glome's runner writes ``history.edn`` and ``results.edn``.

Maelstrom's files are EDN, so glome writes EDN too, and ``analysis`` reads both the same way.
Python has no keyword type, so the rules are:

- ``Keyword("ok")`` is written ``:ok``; a plain ``str`` value is written as a string ``"ok"``.
- Dict keys are written as keywords when they are ``str`` (as Maelstrom's top-level maps are),
  unless wrapped in ``Str`` (``Str("n0")`` stays ``"n0"``); int and float keys stay numbers.
  Keys that are not keyword-shaped (``"9"``, ``"a b"``) are always written as strings.
- ``list`` and ``tuple`` are vectors ``[...]``; ``EdnList`` is a list ``(...)``; ``set`` and
  ``frozenset`` are sets ``#{...}`` (sorted, so output is deterministic); ``Tagged`` is
  ``#tag value``; ``None`` is ``nil``; ``True`` is ``true``.
- Floats are written the way Clojure prints doubles (``0.5``, ``1.0E-4``), never ``nan``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any


class Keyword(str):
    """An EDN keyword; compares equal to the plain string of its name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f":{str.__str__(self)}"


class Str(str):
    """A string that must stay a string even where a dict key would become a keyword."""

    __slots__ = ()


class EdnList(list[Any]):
    """An EDN list ``( ... )`` rather than a vector ``[ ... ]``."""


class Tagged:
    """A tagged literal such as ``#jepsen.history.Op{...}``."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and (self.tag, self.value) == (other.tag, other.value)

    def __hash__(self) -> int:
        return hash(self.tag)

    def __repr__(self) -> str:
        return f"Tagged({self.tag!r}, {self.value!r})"


UNKNOWN = Keyword("unknown")
"""The third validity value, ``:unknown``, next to ``True`` and ``False``."""

_KEYWORD_SHAPED = re.compile(r"^[A-Za-z*!_?<>=+\-][A-Za-z0-9*!_?<>=+\-.'/#:$]*$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _string(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _float(x: float) -> str:
    if math.isnan(x):
        return "##NaN"
    if math.isinf(x):
        return "##Inf" if x > 0 else "##-Inf"
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{int(exponent)}"
    return text


def _key(k: Any) -> str:
    if isinstance(k, str) and not isinstance(k, Str) and _KEYWORD_SHAPED.match(k):
        return ":" + str.__str__(k)
    return dumps(k)


def _sort_key(x: Any) -> tuple[int, Any]:
    if isinstance(x, bool | type(None)):
        return (0, str(x))
    if isinstance(x, int | float):
        return (1, x)
    return (2, dumps(x))


def _seq(items: Iterable[Any]) -> str:
    return " ".join(dumps(x) for x in items)


def dumps(value: Any) -> str:
    """Render ``value`` as one line of EDN."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Keyword):
        return ":" + str.__str__(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, EdnList):
        return "(" + _seq(value) + ")"
    if isinstance(value, list | tuple):
        return "[" + _seq(value) + "]"
    if isinstance(value, set | frozenset):
        return "#{" + _seq(sorted(value, key=_sort_key)) + "}"
    if isinstance(value, Tagged):
        return f"#{value.tag}{dumps(value.value)}"
    raise TypeError(f"cannot write {type(value).__name__} as EDN: {value!r}")


def op_record(op: dict[str, Any]) -> Tagged:
    """A history op as results.edn embeds it: ``#jepsen.history.Op{...}``."""
    return Tagged("jepsen.history.Op", op_map(op))


_OP_KEYWORD_FIELDS = ("type", "f")


def op_map(op: dict[str, Any]) -> dict[str, Any]:
    """A history op with the fields Maelstrom writes as keywords turned into keywords.

    Field order is Maelstrom's: index, time, type, process, f, value, then extras.
    """
    out: dict[str, Any] = {}
    for name in ("index", "time", "type", "process", "f", "value"):
        if name in op:
            out[name] = op[name]
    for name, v in op.items():
        if name not in out:
            out[name] = v
    for name in _OP_KEYWORD_FIELDS:
        v = out.get(name)
        if isinstance(v, str) and not isinstance(v, Keyword):
            out[name] = Keyword(v)
    if out.get("process") == "nemesis":
        out["process"] = Keyword("nemesis")
    return out
