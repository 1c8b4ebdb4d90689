"""A fast, lenient EDN reader for Maelstrom's `history.edn` and `results.edn`.

The only Python EDN reader on PyPI (edn_format) is a PLY grammar that parses a few thousand
history lines a second. This one tokenizes with a single regular expression (``re.findall``
returns every token as a string in C) and builds values with an explicit stack, so deep nesting
never hits Python's recursion limit.

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
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from itertools import chain
from typing import Any

import orjson

__all__ = [
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
    if tag == "inst" and isinstance(value, str):
        return _inst(value)
    if tag == "uuid" and isinstance(value, str):
        return uuid.UUID(value)
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
            gc.enable()


def loads_all(text: str) -> list[Any]:
    """Every top-level value in `text`, in order."""
    with _gc_paused():
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
    (``[":", k, v, ...]``, ``["#", ...]``). Lines it cannot handle exactly (tags, characters,
    comments, integers beyond 64 bits, strings that look like markers, odd spacing) go through
    the general reader.
    """
    with _gc_paused():
        return _loads_lines(text)


def _loads_lines(text: str) -> list[tuple[int, Any]]:
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    heads = [_HEAD.fullmatch(line) for _, line in numbered]
    tails = [line if m is None else m[6] for (_, line), m in zip(numbered, heads, strict=True)]
    results: list[tuple[int, Any]] = []
    for (lineno, line), m, rest in zip(numbered, heads, _fast_tails(tails), strict=True):
        value: Any = None
        if rest is not None:
            if m is not None:
                value = _op_from(m, rest)
            elif len(rest) == 1:
                value = _restore_one(rest[0])
        results.append((lineno, _slow_line(lineno, line) if value is None else value))
    return results


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
_STRING = re.compile(r'("[^"\\]*+(?:\\.[^"\\]*+)*+")')
# Outside strings: no dispatch but #{ (tags, characters, ##NaN, #_ need the general reader),
# no backslash, comment or reader macro, and no NUL (our placeholder for strings).
_SAFE = re.compile(r'(?:[^"#\\;\'`~^@\x00]++|\#\{|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+')
# A string that starts like a marker (':', "'", or is "#") would be mistaken for one.
_MARKER_LOOKALIKES = ('":', "\"'", '"#"')
# orjson reads integers beyond 64 bits as floats: refuse any run of 19 digits. (Translating
# digits and searching for a run is 20x quicker than the regular expression \d{19}.)
_DIGITS_TO_HASH = str.maketrans("0123456789", "##########")
_DIGIT_RUN = "#" * 19
# A bare word: keyword, symbol, nil/true/false (numbers and strings are left alone).
# A bare word (keyword, symbol, nil/true/false) starts after a delimiter. The pattern opens
# with the word's first character so the engine skips digits quickly, then looks back.
_BARE = re.compile(r"(?:[:A-Za-z*!_?$%&=<>.'/]|[+\-](?!\d))(?<=[\s,\[{(\x00].)[^\s,\[\]{}()\x00]*")
_MAP_MARK = ":"  # a JSON array whose first element is ":" was a map: [":", k, v, k, v]
_SET_MARK = "#"  # ... and "#" a set


def _bare(m: re.Match[str]) -> str:
    word = m.group()
    if word[0] == ":":
        return f'"{word}"'
    if word == "nil":
        return "null"
    if word in ("true", "false"):
        return word
    return f'"\'{word}"'


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
_K_INDEX, _K_TIME, _K_TYPE, _K_PROCESS, _K_F, _K_VALUE = (
    Keyword(n) for n in ("index", "time", "type", "process", "f", "value")
)


def _fast_tails(tails: list[str]) -> list[list[Any] | None]:
    """Each tail ``V, :k v, ...`` as ``[V, k, v, ...]`` (still marked), or None where the fast
    path cannot go. Tails of nothing but numbers and vectors (broadcast reads) skip the
    rewriting; the rest are checked, rewritten and parsed together."""
    out: list[list[Any] | None] = [None] * len(tails)
    numeric = [i for i, tail in enumerate(tails) if not tail.strip(_NUMERIC)]
    is_numeric = set(numeric)
    other = [i for i in range(len(tails)) if i not in is_numeric]
    joined = "\n".join(tails[i] for i in other)
    if not (_SAFE.fullmatch(joined) and not any(s in joined for s in _MARKER_LOOKALIKES)):
        other = [
            i
            for i in other
            if _SAFE.fullmatch(tails[i]) and not any(s in tails[i] for s in _MARKER_LOOKALIKES)
        ]
    for candidates, to_json in ((numeric, _numeric_json), (other, _as_json)):
        group = candidates
        if _DIGIT_RUN in "\n".join(tails[i] for i in group).translate(_DIGITS_TO_HASH):
            group = [i for i in group if _DIGIT_RUN not in tails[i].translate(_DIGITS_TO_HASH)]
        for i, rest in zip(
            group, _parse_json_lines([tails[i] for i in group], to_json), strict=True
        ):
            out[i] = rest  # still marked: the caller restores what it keeps
    return out


_NUMERIC = "0123456789-[] ,"


def _parse_json_lines(
    tails: list[str], to_json: Callable[[list[str]], str]
) -> list[list[Any] | None]:
    """orjson over all tails at once; when it refuses, line by line to find the culprit."""
    if not tails:
        return []
    try:
        parsed: list[list[Any] | None] = orjson.loads(to_json(tails))
    except orjson.JSONDecodeError:
        parsed = []
        for tail in tails:
            try:
                parsed.append(orjson.loads(to_json([tail]))[0])
            except orjson.JSONDecodeError:
                parsed.append(None)
    return parsed


def _numeric_json(tails: list[str]) -> str:
    """Tails of only integers and vectors, single-spaced as Clojure prints them."""
    return "[[" + "],[".join(tails).replace(", ", ",").replace(" ", ",") + "]]"


def _as_json(tails: list[str]) -> str:
    """Rewrite safe tails as one JSON array of arrays (see :func:`loads_lines`)."""
    parts = _STRING.split("\n" + "\n".join(tails) + "\n")
    strings = parts[1::2]
    j = _BARE.sub(_bare, "\x00".join(parts[0::2]))
    j = j.replace("#{}", '["#"]').replace("#{", '["#",').replace("{}", '[":"]')
    j = j.replace("{", '[":",').replace("}", "]").replace("(", "[").replace(")", "]")
    j = j.replace(", ", ",").replace(" ", ",").strip("\n").replace("\n", "],[")
    if strings:
        pieces = j.split("\x00")
        j = "".join(chain.from_iterable(zip(pieces, [*strings, ""], strict=True)))
    return "[[" + j + "]]"


def _restore(x: list[Any]) -> Any:
    """Undo the JSON markers in place: marked strings -> Keyword/Symbol, marked arrays -> dict
    or set."""
    if len(x) > 8:
        kinds = set(map(type, x))
        if str not in kinds:
            if list not in kinds:
                return x  # a long run of numbers (a broadcast read): nothing marked here
            if len(kinds) == 1:
                # A list of lists (kafka's [[offset msg] ...]): look one level down in C.
                inner = set(map(type, chain.from_iterable(x)))
                if str not in inner and list not in inner:
                    return x
    mark = x[0] if x and type(x[0]) is str and x[0] in (_MAP_MARK, _SET_MARK) else None
    names = _KEYWORDS
    for i, e in enumerate(x):
        t = type(e)
        if t is str:
            if e and e[0] in ":'":
                x[i] = names[e]
        elif t is list and e:
            if len(e) <= 2 and type(e[0]) is int and type(e[-1]) is int:
                continue  # an [offset value] pair: nothing to restore, skip the call
            x[i] = _restore(e)
    if mark == _MAP_MARK:
        if len(x) % 2 == 0:
            raise EdnError("map literal has an odd number of forms")
        return _make_map(x[1:])
    if mark == _SET_MARK:
        return _make_set(x[1:])
    return x


def _restore_one(value: Any) -> Any:
    t = type(value)
    if t is list:
        return _restore(value)
    if t is str and value and value[0] in ":'":
        return _KEYWORDS[value]
    return value


def _op_from(m: re.Match[str], rest: list[Any]) -> dict[Any, Any] | None:
    """The op map from the head fields and the (still marked) ``[value, k, v, ...]``."""
    n = len(rest)
    if type(rest) is not list or n % 2 != 1:
        return None
    names = _KEYWORDS
    index, time, type_, process, f, _ = m.groups()
    value = rest[0]
    op: dict[Any, Any] = {
        _K_INDEX: int(index),
        _K_TIME: int(time),
        _K_TYPE: _NAMED[type_],
        _K_PROCESS: _NAMED[process[1:]] if process[0] == ":" else int(process),
        _K_F: _NAMED[f],
        _K_VALUE: value if type(value) is int or value is None else _restore_one(value),
    }
    for i in range(1, n, 2):
        key = rest[i]
        if type(key) is not str or key[:1] != ":" or len(key) < 2:
            return None  # not an extra `:key value` pair after all
        op[names[key]] = _restore_one(rest[i + 1])
    return op
