"""The history fast path, first half: op-line tails rewritten as one JSON document for orjson.

See ``analysis.edn.loads_lines`` for the scheme. Strings are set aside, keywords and symbols
become marked strings (``":name"``, ``"'name"``), maps and sets marked arrays (``[":", k, v]``,
``["#", ...]``); ``_Unsafe`` says a tail needs the general reader. ``analysis.edn_restore``
undoes the marks.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any

import orjson

from analysis.edn_values import Keyword, Symbol

# --- fast path for history.edn lines -------------------------------------------------------

_HEAD = re.compile(
    r"\{:index (\d+), :time (\d+), :type :([\w-]+), :process (:nemesis|\d+), "
    r":f :([\w?!*+\-./<>=]+), :value (.*)\}"
)
_HEAD_LINES = re.compile("^" + _HEAD.pattern + "$", re.MULTILINE)
_TAIL = operator.itemgetter(5)  # of the groups
_FIRST = operator.itemgetter(0)
_STRING = re.compile(r'("[^"\\]*+(?:\\.[^"\\]*+)*+")')
# Outside strings the rewrite admits no dispatch but #{ (tags, characters, ##NaN and #_ need
# the general reader), no backslash, comment or reader macro, and no NUL (the placeholder for
# strings).
_UNSAFE_CHARS = "\\;'`~^@"
# A string that starts like a marker (':', "'", or is "#") would be mistaken for one; so
# would one that starts with an escape (\u003a is a colon).
_MARKER_LOOKALIKES = ('":', "\"'", '"#"', '"\\u')
# orjson reads integers beyond 64 bits as floats: refuse any run of 19 digits. (Translating
# digits and searching for a run is 20x quicker than the regular expression \d{19}.)
_DIGITS_TO_HASH = str.maketrans("0123456789", "##########")
_DIGIT_RUN = "#" * 19
_NO_DIGITS = str.maketrans("", "", "0123456789")
# A bare word (keyword, symbol, nil/true/false) starts after a delimiter. The pattern opens
# with the word's first character so the engine skips digits quickly, then looks back.
# Numbers and strings are left alone: they are JSON already.
_BARE = re.compile(
    r"([:A-Za-z*!_?$%&=<>.'/+\-](?<=[\s,\[{(\x00].)(?!(?<=[+\-])\d)[^\s,\[\]{}()\x00]*)"
)
# Single characters, one for one (str.translate's fast path): after ", " has become " ".
_PUNCTUATION = str.maketrans({"}": "]", "(": "[", ")": "]", " ": ","})
# A tail of nothing but digits, minus, brackets, commas and spaces (a possessive run of one
# class: the engine's tightest loop, 5x quicker than searching for the first other character).
_NUMERIC = re.compile(r"[-0-9\[\] ,]*+")
_MAP_MARK = ":"  # a JSON array whose first element is ":" was a map: [":", k, v, k, v]
_SET_MARK = "#"  # ... and "#" a set


class _Unsafe(Exception):
    """The bulk rewrite cannot handle these tails exactly: sort them out line by line."""


class _KeywordCache(dict[str, Keyword | Symbol]):
    """Interned keywords and symbols, by their marked spelling (":send", "'invoke")."""

    def __missing__(self, spelled: str) -> Keyword | Symbol:
        made = self[spelled] = Keyword(spelled[1:]) if spelled[0] == ":" else Symbol(spelled[1:])
        return made


_KEYWORDS = _KeywordCache()


class _NamedCache(dict[str, Keyword | Symbol]):
    """The same interned keywords, by bare name ("send"), for the op head's fields."""

    def __missing__(self, name: str) -> Keyword | Symbol:
        kw = self[name] = _KEYWORDS[":" + name]
        return kw


_NAMED = _NamedCache()


class _ProcessCache(dict[str, Any]):
    """The op head's process: an integer, or a keyword (":nemesis")."""

    def __missing__(self, text: str) -> Any:
        made = self[text] = _NAMED[text[1:]] if text[0] == ":" else int(text)
        return made


_PROCESS = _ProcessCache()


class _WordJson(dict[str, str]):
    """A bare word's JSON: nil/true/false as JSON, keywords and symbols as marked strings.

    Making the marked spelling also interns its Keyword/Symbol in _KEYWORDS, so the restore
    step can look every marked string up with a plain ``dict.get`` (no ``__missing__``)."""

    def __missing__(self, word: str) -> str:
        if word == "nil":
            made = "null"
        elif word in ("true", "false"):
            made = word
        else:
            spelled = word if word[0] == ":" else "'" + word
            if len(spelled) < 2:
                raise _Unsafe(f"lone {word!r}")
            _KEYWORDS[spelled]  # interns it
            made = f'"{spelled}"'
        self[word] = made
        return made


_WORD_JSON = _WordJson()
_KEYS6 = tuple(_NAMED[n] for n in ("index", "time", "type", "process", "f", "value"))
_NO_VALUE = object()  # a line the fast path left to the general reader


def _fast_tails(
    tails: list[str],
) -> tuple[list[list[Any] | None], list[int], list[str]]:
    """Each tail ``V, :k v, ...`` as ``[V, k, v, ...]``, or None where the fast path cannot
    go; and the positions of the tails that are still marked (to restore). Tails of nothing
    but numbers and vectors (broadcast reads) and bare ``nil`` tails skip the rewriting and
    the restoring; the rest are checked, rewritten and parsed together."""
    n = len(tails)
    out: list[list[Any] | None] = [None] * n
    found = list(map(_NUMERIC.fullmatch, tails))
    numeric: list[int] = []
    other: list[int] = []
    if found.count(None) == n and "nil" not in tails:
        other = list(range(n))
    else:
        for i, tail, is_numeric in zip(range(n), tails, found, strict=True):
            if is_numeric is not None:
                numeric.append(i)
            elif tail == "nil":
                out[i] = [None]
            else:
                other.append(i)
    shapes: list[str] = []  # of the `other` rows, when they went through in bulk
    for group, to_json in ((numeric, _numeric_json), (other, _as_json)):
        if not group:
            continue
        chosen = [tails[i] for i in group] if len(group) < n else tails
        try:
            parsed = _parse_json_lines(chosen, to_json, shapes)
        except _Unsafe:  # something in there needs care: line by line
            shapes.clear()
            parsed = [_one_tail(tail, to_json) for tail in chosen]
        if len(group) == n:
            out = parsed
        else:
            for i, rest in zip(group, parsed, strict=True):
                out[i] = rest
    return out, other, shapes


_ToJson = Callable[[list[str], list[str]], str]


def _one_tail(tail: str, to_json: _ToJson) -> list[Any] | None:
    try:
        return _parse_json_lines([tail], to_json, [])[0]
    except _Unsafe:
        return None


def _parse_json_lines(
    tails: list[str], to_json: _ToJson, shapes: list[str]
) -> list[list[Any] | None]:
    """orjson over all tails at once; when it refuses, line by line to find the culprit.
    `shapes` receives each tail's shape (see :func:`_as_json`) when all went in bulk."""
    try:
        parsed: list[list[Any] | None] = orjson.loads(to_json(tails, shapes))
    except orjson.JSONDecodeError:
        parsed = []
    if len(parsed) != len(tails):  # refused (or, impossible after _rows, misaligned)
        shapes.clear()
        if len(tails) == 1:
            return [None]
        parsed = [_one_tail(tail, to_json) for tail in tails]
    return parsed


def _numeric_json(tails: list[str], shapes: list[str]) -> str:
    """Tails of only integers and vectors, single-spaced as Clojure prints them."""
    j = "\n".join(tails)
    if _DIGIT_RUN in j.translate(_DIGITS_TO_HASH):
        raise _Unsafe("an integer of 19 digits or more")
    return _rows(j.replace(", ", ",").replace(" ", ",").split("\n"))


def _rows(lines: list[str]) -> str:
    """One JSON array per line, all in one array. Each line must hold as many '[' as ']'
    (strings are set aside by now): then, since orjson checks the nesting of the whole, every
    row boundary sits at the top level and no tail can spill into its neighbour."""
    if list(map(str.count, lines, repeat("["))) != list(map(str.count, lines, repeat("]"))):
        raise _Unsafe("unbalanced brackets")
    return "[[" + "],[".join(lines) + "]]"


def _as_json(tails: list[str], shapes: list[str]) -> str:
    """Rewrite tails as one JSON array of arrays (see :func:`loads_lines`), or raise _Unsafe
    when some tail holds something the rewrite would get wrong.

    Appends each tail's shape to `shapes`: its JSON with strings blanked and digits deleted.
    Tails of one shape have the same markers at the same places (only digits in the names of
    symbols can differ, and :func:`_apply_plan` checks those), so one plan restores them all.
    """
    joined = "\n".join(tails)
    if "\x00" in joined or any(s in joined for s in _MARKER_LOOKALIKES):
        raise _Unsafe("a NUL, or a string that looks like a marker")
    parts = _STRING.split(joined)
    strings = parts[1::2]
    j = "\x00".join(parts[0::2])
    if any(c in j for c in _UNSAFE_CHARS) or j.count("#") != j.count("#{"):
        raise _Unsafe("a tag, character, comment or reader macro")
    if _DIGIT_RUN in j.translate(_DIGITS_TO_HASH):
        raise _Unsafe("an integer of 19 digits or more")
    words = _BARE.split("\n" + j)  # a newline in front: the first word has its delimiter
    if len(words) > 1:
        words[1::2] = map(_WORD_JSON.__getitem__, words[1::2])
        j = "".join(words)[1:]
    if "{" in j:
        j = j.replace("#{}", '["#"]').replace("#{", '["#",').replace("{}", '[":"]')
        j = j.replace("{", '[":",')
    j = j.replace(", ", " ").translate(_PUNCTUATION)
    lines = j.split("\n")
    # One translate over everything: per line, each call would rebuild its lookup table.
    shapes.extend(j.translate(_NO_DIGITS).split("\n"))
    j = _rows(lines)
    if strings:
        pieces = j.split("\x00")
        j = "".join(chain.from_iterable(zip(pieces, [*strings, ""], strict=True)))
    return j
