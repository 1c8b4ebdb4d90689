"""A fast, lenient EDN reader for Maelstrom's `history.edn` and `results.edn`.

The only Python EDN reader on PyPI (edn_format) is a PLY grammar that parses a few thousand
history lines a second. This one tokenizes with a single regular expression (``re.findall``
returns every token as a string in C) and builds values with an explicit stack, so deep nesting
never hits Python's recursion limit.

When the install could compile ``analysis/_cedn.c`` (:data:`ACCELERATED`), a C reader answers
first and this module's Python reader reads only what the C one gives up on (errors, comments,
characters, ``#_``, deep nesting): same values, 4-5x faster on history files.

What Maelstrom writes, and how it comes back:

- ``nil true false`` -> ``None True False``; integers (``12``, ``12N``) -> ``int``; floats
  (``1.0E-5``, ``##NaN``, ``##Inf``) -> ``float``; ``1.5M`` -> ``Decimal``; ratios ``1/3`` ->
  ``Fraction``.
- strings -> ``str`` (escapes decoded, embedded newlines kept); characters (``\\a``,
  ``\\newline``, ``\\u0041``) -> one-character ``str``, as edn_format does.
- keywords -> :class:`Keyword` (a ``str`` equal to the bare name: ``Keyword("valid?") ==
  "valid?"``, so pandas columns of keywords compare with plain strings); symbols (including
  ``slingshot.support$stack_trace``) -> :class:`Symbol`.
- vectors and lists -> ``list``; sets -> ``frozenset`` (or :class:`EdnSet`, a tuple, when an
  element cannot be hashed); maps -> ``dict`` (keys that cannot be hashed become
  :func:`freeze`-d: lists to tuples, maps to :class:`FrozenDict`).
- ``#inst`` -> ``datetime``, ``#uuid`` -> ``uuid.UUID``; any other tag (``#jepsen.history.Op``,
  ``#knossos.model.CASRegister``) -> :class:`Tagged`; ``#_`` discards the next value; ``;``
  comments are skipped.
"""

from __future__ import annotations

import datetime as _dt
import gc
import operator
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from itertools import chain, repeat
from typing import Any

import orjson

try:  # the compiled half (analysis/_cedn.c), built by the install when a C compiler is there
    from analysis import _cedn
except ImportError:  # pragma: no cover - an install without a compiler
    _cedn = None  # type: ignore[assignment]

__all__ = [
    "ACCELERATED",
    "EdnError",
    "EdnSet",
    "FrozenDict",
    "Keyword",
    "Symbol",
    "Tagged",
    "freeze",
    "loads",
    "loads_all",
    "loads_lines",
]


class EdnError(ValueError):
    """Malformed EDN. The message says what was wrong and where (token number or line)."""


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


# One token per match. Leading whitespace, commas and ; comments are swallowed by the prefix,
# so findall returns just the tokens. The last alternative (any single character) never
# matches valid EDN; it turns an unterminated string into a token the parser rejects.
_TOKEN = re.compile(
    r"""(?:[\s,]++|;[^\n]*+)*+                               # whitespace, commas, comments
    (
      "[^"\\]*+(?:\\.[^"\\]*+)*+"                          # string (may span lines)
    | [\[\](){}]                                         # delimiters
    | \#[{_]                                             # set open, discard
    | \\(?:u[0-9a-fA-F]{4}|newline|space|tab|return|formfeed|backspace|.) # character
    | \#\#?[^\s,\[\](){}"\\;]*                           # tag or symbolic value (##NaN)
    | [^\s,\[\](){}"\\;\#][^\s,\[\](){}"\\;]*            # keyword, number, symbol, nil...
    | [^\s,]                                             # anything else: an error
    | $                                                  # trailing blanks/comments: ""
    )""",
    re.VERBOSE | re.DOTALL,
)

_INT = re.compile(r"[-+]?\d+N?")
_FLOAT = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?M?")
_RATIO = re.compile(r"[-+]?\d+/\d+")
_STRING_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}
_CHARS = {
    "newline": "\n",
    "space": " ",
    "tab": "\t",
    "return": "\r",
    "formfeed": "\f",
    "backspace": "\b",
}
_SYMBOLIC = {"##NaN": float("nan"), "##Inf": float("inf"), "##-Inf": float("-inf")}
_CONSTANTS: dict[str, Any] = {"nil": None, "true": True, "false": False}

_CLOSE = {"]": "[", ")": "(", "}": "{"}
# Frame kinds on the parse stack.
_VEC, _LIST, _MAP, _SET, _TAG, _DISCARD = range(6)
_OPEN = {"[": _VEC, "(": _LIST, "{": _MAP, "#{": _SET}
_CLOSES = {_VEC: "]", _LIST: ")", _MAP: "}", _SET: "}"}


def _unescape(match: re.Match[str]) -> str:
    esc = match.group(1)
    if esc[0] == "u" and len(esc) == 5:
        return chr(int(esc[1:], 16))
    try:
        return _ESCAPES[esc]
    except KeyError:
        raise EdnError(f"unknown string escape \\{esc}") from None


def _string(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    return _STRING_ESCAPE.sub(_unescape, body)


def _char(token: str) -> str:
    name = token[1:]
    if len(name) == 1:
        return name
    if name in _CHARS:
        return _CHARS[name]
    return chr(int(name[1:], 16))  # \uXXXX: the token regex admits nothing else


def _atom(token: str) -> Any:
    """A token that is not a delimiter, string, character or tag."""
    first = token[0]
    if first == ":":
        if len(token) == 1:
            raise EdnError("a lone ':' is not a keyword")
        return Keyword(token[1:])
    if first.isdigit() or (first in "+-" and len(token) > 1 and token[1].isdigit()):
        if _INT.fullmatch(token):
            return int(token.rstrip("N"))
        if _FLOAT.fullmatch(token):
            return Decimal(token[:-1]) if token[-1] == "M" else float(token)
        if _RATIO.fullmatch(token):
            return Fraction(token)
        raise EdnError(f"malformed number {token!r}")
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    return Symbol(token)


def _tagged(tag: str, value: Any) -> Any:
    try:
        if tag == "inst" and isinstance(value, str):
            return _inst(value)
        if tag == "uuid" and isinstance(value, str):
            return uuid.UUID(value)
    except ValueError as err:
        raise EdnError(f"#{tag} {value!r} is not a valid {tag}: {err}") from None
    return Tagged(tag, value)


def _inst(text: str) -> _dt.datetime | _dt.date:
    if re.fullmatch(r"\d{4}(-\d{2}){0,2}", text):
        parts = [int(p) for p in text.split("-")] + [1, 1]
        return _dt.date(parts[0], parts[1], parts[2])
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _make_map(items: list[Any]) -> dict[Any, Any]:
    if len(items) % 2:
        raise EdnError(f"map literal has an odd number of forms ({len(items)})")
    it = iter(items)
    try:
        return dict(zip(it, it, strict=True))
    except TypeError:  # an unhashable key (a vector or map used as a key)
        it = iter(items)
        return {freeze(k): v for k, v in zip(it, it, strict=True)}


def _make_set(items: list[Any]) -> frozenset[Any] | EdnSet:
    try:
        return frozenset(items)
    except TypeError:
        try:
            return frozenset(freeze(v) for v in items)
        except TypeError:
            return EdnSet(items)


def _parse_tokens(tokens: list[str]) -> list[Any]:
    """Build the top-level values from a token list with an explicit stack."""
    out: list[Any] = []
    # Each frame is [kind, payload]: collections collect items in payload; a tag frame (payload
    # = the tag) wraps the next value; a discard frame swallows it.
    stack: list[list[Any]] = []
    atom = _atom
    for n, tok in enumerate(tokens):
        c = tok[0]
        if c == ":":
            value: Any = Keyword(tok[1:]) if len(tok) > 1 else atom(tok)
        elif c in "[({":
            stack.append([_OPEN[tok], []])
            continue
        elif c in "])}":
            if not stack or stack[-1][0] not in _CLOSES:
                raise EdnError(f"unexpected {tok!r} at token {n}")
            kind, items = stack.pop()
            if _CLOSES[kind] != tok:
                raise EdnError(f"mismatched {tok!r} at token {n}")
            if kind in (_VEC, _LIST):
                value = items
            elif kind == _MAP:
                value = _make_map(items)
            else:
                value = _make_set(items)
        elif c == '"':
            if len(tok) == 1:
                raise EdnError(f"unterminated string at token {n}")
            value = _string(tok)
        elif c == "#":
            if tok == "#{":
                stack.append([_SET, []])
                continue
            if tok == "#_":
                stack.append([_DISCARD, None])
                continue
            if tok in _SYMBOLIC:
                value = _SYMBOLIC[tok]
            elif len(tok) > 1 and tok[1].isalpha():
                stack.append([_TAG, tok[1:]])
                continue
            else:
                raise EdnError(f"unsupported dispatch {tok!r} at token {n}")
        elif c == "\\":
            if len(tok) == 1:
                raise EdnError(f"backslash with no character at token {n}")
            value = _char(tok)
        else:
            value = atom(tok)
        # Attach the value to the innermost frame, applying pending tags and discards.
        while stack:
            top = stack[-1]
            kind = top[0]
            if kind == _TAG:
                stack.pop()
                value = _tagged(top[1], value)
                continue
            if kind == _DISCARD:
                stack.pop()
                break
            top[1].append(value)
            break
        else:
            out.append(value)
    if stack:
        raise EdnError(f"input ended inside an open form ({len(stack)} unclosed)")
    return out


def _tokens(text: str) -> list[str]:
    tokens = _TOKEN.findall(text)
    while tokens and not tokens[-1]:
        tokens.pop()  # the empty match(es) at the end of the input
    return tokens


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many containers.

    Parsing allocates hundreds of thousands of lists and dicts and frees none, so the collector
    runs again and again over a growing heap for nothing (it made orjson 5x slower on a kafka
    history). Parsed values hold no reference cycles; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _promote_young_objects()
            gc.enable()


def _promote_young_objects() -> None:
    """Move every young object (the parsed values, mostly) straight to the oldest generation.

    Re-enabled as is, the collector's next young collection traverses every container just
    built (100 ms after a 32,000-op history, a fifth of the parse), then traverses them again
    one generation up, only to find them all alive. gc.freeze() + gc.unfreeze() does the same
    promotion for free. Skipped when someone else has frozen objects (say, before forking):
    unfreeze() would thaw those too.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def loads_all(text: str) -> list[Any]:
    """Every top-level value in `text`, in order."""
    with _gc_paused():
        if _cedn is not None:
            values = _cedn.loads_all(text)
            if values is not None:
                return values
        return _parse_tokens(_tokens(text))


def loads(text: str) -> Any:
    """The first top-level value in `text` (None when it holds no value, like edn_format)."""
    values = loads_all(text)
    return values[0] if values else None


def loads_lines(text: str) -> list[tuple[int, Any]]:
    """Parse a one-value-per-line file (history.edn).

    Returns ``(line_number, value)`` pairs with 1-based line numbers, skipping blank lines; a
    broken line (a truncated last op, say) carries an :class:`EdnError` in place of the value
    so callers keep the rest. Values are the same as :func:`loads` gives for each line.

    Fast path: Maelstrom's op lines (``{:index 3, :time 26334014, :type :ok, :process 1, :f
    :add, :value ...}``) have their fixed fields picked by a regular expression; what follows
    (or the whole line, for other layouts) is rewritten, all lines at once, as one JSON
    document for orjson and then restored. The rewrite sets strings aside, turns keywords and
    symbols into marked strings (``":name"``, ``"'name"``) and maps and sets into marked arrays
    (``[":", k, v, ...]``, ``["#", ...]``). Tails of one shape (their JSON, strings blanked and
    digits deleted) share one restore plan. Lines it cannot handle exactly (tags, characters,
    comments, integers beyond 64 bits, strings that look like markers, odd spacing) go through
    the general reader. Benchmarks and design notes: docs/benchmarks.md.
    """
    with _gc_paused():
        return _loads_lines(text)


def _loads_lines(text: str) -> list[tuple[int, Any]]:
    lines = text.splitlines()
    linenos: range | list[int] = range(1, len(lines) + 1)
    if not all(map(str.strip, lines)):  # blank lines are skipped, numbering kept
        numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        linenos = [n for n, _ in numbered]
        lines = [line for _, line in numbered]
    if _cedn is not None:
        values = _cedn.loads_lines(lines, _NO_VALUE)
        if _NO_VALUE in values:
            for i, value in enumerate(values):
                if value is _NO_VALUE:
                    values[i] = _slow_line(linenos[i], lines[i])
        return list(zip(linenos, values, strict=True))
    # One search over the whole text finds every op head (a line matches at most once: the
    # pattern is anchored at both ends of a line); line by line only when some line differs.
    heads: list[Any] = _HEAD_LINES.findall("\n".join(lines))
    if len(heads) == len(lines):
        tails = list(map(_TAIL, heads))
    else:
        matches = list(map(_HEAD.fullmatch, lines))
        heads = [None if m is None else m.groups() for m in matches]
        tails = [line if m is None else m[6] for line, m in zip(lines, matches, strict=True)]
    values = _assemble(linenos, lines, heads, _fast_tails(tails))
    return list(zip(linenos, values, strict=True))


def _slow_line(lineno: int, line: str) -> Any:
    try:
        values = _parse_tokens(_tokens(line))
    except EdnError as err:
        return EdnError(f"line {lineno}: {err}")
    if len(values) != 1:
        return EdnError(f"line {lineno}: expected one value, found {len(values)}")
    return values[0]


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


def _restore(x: list[Any]) -> Any:
    """Undo the JSON markers of a non-empty list, in place: marked strings -> Keyword/Symbol,
    marked arrays -> dict or set. Every marked string is already interned in _KEYWORDS (the
    rewrite did it), and no plain string looks like one, so ``get(s, s)`` restores strings."""
    get = _KEYWORDS.get
    if len(x) > 8:
        kinds = set(map(type, x))
        if list not in kinds:
            if str not in kinds:
                return x  # a long run of numbers (a broadcast read): nothing marked here
            x[:] = map(get, x, x)  # all hashable: one pass in C
            return _unmark(x)
    for i, e in enumerate(x):
        t = type(e)
        if t is str:
            x[i] = get(e, e)
        elif t is list and e:
            if len(e) == 2 and type(e[0]) is int and type(e[1]) is int:
                continue  # an [offset value] pair (kafka): nothing to restore, skip the call
            x[i] = _restore(e)
    return _unmark(x)


def _unmark(x: list[Any]) -> Any:
    """A restored list, or the map or set its marker says it was."""
    first = x[0]
    if type(first) is str and len(first) == 1:
        if first == _MAP_MARK:
            if len(x) % 2 == 0:
                raise EdnError("map literal has an odd number of forms")
            return _make_map(x[1:])
        if first == _SET_MARK:
            return _make_set(x[1:])
    return x


def _restore_one(value: Any) -> Any:
    t = type(value)
    if t is list:
        return _restore(value) if value else value
    if t is str:
        return _KEYWORDS.get(value, value)
    return value


def _assemble(
    linenos: range | list[int],
    lines: list[str],
    heads: list[tuple[str, ...] | None],
    tails: tuple[list[list[Any] | None], list[int], list[str]],
) -> list[Any]:
    """Each line's value: op dicts built from the head fields and the restored tails, other
    lines' restored values, and the general reader's answer where the fast path gave up."""
    rests, marked, shapes = tails
    _restore_rows(rests, marked, shapes)
    n = len(lines)
    if None in heads or None in rests:
        at = [i for i in range(n) if heads[i] is not None and rests[i] is not None]
        values: list[Any] = [
            _NO_VALUE if rest is None or m is not None or len(rest) != 1 else rest[0]
            for m, rest in zip(heads, rests, strict=True)
        ]
    else:
        at = list(range(n))
        values = []
    if at:
        ops = _ops(
            [heads[i] for i in at] if len(at) < n else heads,
            [rests[i] for i in at] if len(at) < n else rests,
        )
        if len(at) == n:
            values = ops
        else:
            for i, op in zip(at, ops, strict=True):
                values[i] = op
    if _NO_VALUE in values:
        for i, value in enumerate(values):
            if value is _NO_VALUE:
                values[i] = _slow_line(linenos[i], lines[i])
    return values


def _restore_rows(rests: list[Any], marked: list[int], shapes: list[str]) -> None:
    """Restore the marked rows in place (None for a row that turns out malformed). Rows of
    one shape share a plan: where their keywords go and which lists become maps or sets."""
    restore = _restore_one
    plans: dict[str, _Plan] = {}
    by_shape = len(shapes) == len(marked)
    for n, i in enumerate(marked):
        rest = rests[i]
        if rest is None:
            continue
        try:
            if by_shape:
                shape = shapes[n]
                plan = plans.get(shape)
                if plan is None:
                    plan = plans[shape] = _plan(rest)
                try:
                    _apply_plan(rest, plan)
                    continue
                except (_Mismatch, IndexError):
                    pass  # a symbol with other digits, say: restore it the long way
            rest[:] = map(restore, rest)
        except (EdnError, TypeError):  # an odd map, say
            rests[i] = None


class _Mismatch(Exception):
    """A row does not fit the plan made from another row of its shape."""


# A plan: the marked strings (path to the list, index, spelling, Keyword/Symbol), then the
# marked lists in post-order (path, index, marker), so inner maps are built before outer ones.
_Plan = tuple[list[tuple[tuple[int, ...], int, str, Any]], list[tuple[tuple[int, ...], int, str]]]


def _plan(row: list[Any]) -> _Plan:
    """Where `row` (still marked) holds keywords, symbols, maps and sets."""
    strings: list[tuple[tuple[int, ...], int, str, Any]] = []
    lists: list[tuple[tuple[int, ...], int, str]] = []
    _walk(row, (), strings, lists)
    return strings, lists


def _walk(
    x: list[Any],
    path: tuple[int, ...],
    strings: list[tuple[tuple[int, ...], int, str, Any]],
    lists: list[tuple[tuple[int, ...], int, str]],
) -> None:
    names = _KEYWORDS
    for i, e in enumerate(x):
        t = type(e)
        if t is str:
            if e in names:
                strings.append((path, i, e, names[e]))
        elif t is list and e:
            _walk(e, (*path, i), strings, lists)
            first = e[0]
            if type(first) is str and first in (_MAP_MARK, _SET_MARK):
                lists.append((path, i, first))


def _apply_plan(row: list[Any], plan: _Plan) -> None:
    """Restore `row` by `plan`, checking each marked string is the one the plan expects."""
    strings, lists = plan
    for path, i, spelled, made in strings:
        x = row
        for k in path:
            x = x[k]
        if x[i] != spelled:
            raise _Mismatch
        x[i] = made
    for path, i, mark in lists:
        x = row
        for k in path:
            x = x[k]
        items = x[i]
        if mark == _MAP_MARK:
            if len(items) % 2 == 0:
                raise EdnError("map literal has an odd number of forms")
            x[i] = _make_map(items[1:])
        else:
            x[i] = _make_set(items[1:])


def _ops(heads: list[Any], rests: list[Any]) -> list[Any]:
    """The op dicts, one dict display each (quicker than ``dict(zip(keys, row))`` or building
    columns). Ops with ``:key value`` pairs after :value get them one by one."""
    k_index, k_time, k_type, k_process, k_f, k_value = _KEYS6
    named = _NAMED
    process = _PROCESS
    ops: list[Any] = [
        {
            k_index: int(i),
            k_time: int(t),
            k_type: named[ty],
            k_process: process[p],
            k_f: named[f],
            k_value: rest[0],
        }
        for (i, t, ty, p, f, _), rest in zip(heads, rests, strict=True)
    ]
    lengths = list(map(len, rests))
    if max(lengths) > 1:
        for i, length in enumerate(lengths):
            if length > 1:
                ops[i] = _add_extras(ops[i], rests[i])
    return ops


def _add_extras(op: dict[Any, Any], rest: list[Any]) -> Any:
    """The op with its (restored) ``:key value`` pairs after :value, or _NO_VALUE if they are
    not such pairs."""
    if len(rest) % 2 == 0:
        return _NO_VALUE
    for i in range(1, len(rest), 2):
        key = rest[i]
        if type(key) is not Keyword:
            return _NO_VALUE  # not an extra `:key value` pair after all
        op[key] = rest[i + 1]
    return op


# --- the compiled half ---------------------------------------------------------------------

#: True when the C reader (analysis/_cedn.c) was built and answers first.
ACCELERATED = _cedn is not None
if _cedn is not None:
    _cedn.configure(Keyword, Symbol, _tagged, _atom, _string, _make_map, _make_set)
