"""The general EDN reader: one regular expression cuts the text into tokens, an explicit stack
builds the values (deep nesting never hits Python's recursion limit). It reads everything
``analysis.edn`` accepts; the compiled reader and the history fast path hand it what they
cannot read exactly, and the compiled reader builds its atoms with ``atom`` and friends."""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

from analysis.edn_values import EdnError, EdnSet, Keyword, Symbol, Tagged, freeze

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
        try:
            if _INT.fullmatch(token):
                return int(token.rstrip("N"))
            if _FLOAT.fullmatch(token):
                return Decimal(token[:-1]) if token[-1] == "M" else float(token)
            if _RATIO.fullmatch(token):
                return Fraction(token)
        except ZeroDivisionError:  # 1/0: Clojure's reader refuses it too
            raise EdnError(f"ratio {token!r} divides by zero") from None
        except ValueError as err:  # e.g. more digits than int() converts
            raise EdnError(f"number {token[:40]!r} cannot be read: {err}") from None
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
    """Build the top-level values from a token list with an explicit stack. An ``EdnError``
    carries the index of the token where reading failed (``token``): for input that ends
    inside a form, the token that opened the innermost unclosed one."""
    try:
        return _build(tokens)
    except EdnError as err:
        if err.token is None:
            err.token = _unclosed_at(tokens)
        raise


def _unclosed_at(tokens: list[str]) -> int:
    """Index of the token that opened the innermost form left open at the end."""
    opened: list[int] = []
    for n, tok in enumerate(tokens):
        if tok in _OPEN:
            opened.append(n)
        elif tok and tok in "])}" and opened:
            opened.pop()
    return opened[-1] if opened else max(len(tokens) - 1, 0)


def _build(tokens: list[str]) -> list[Any]:
    out: list[Any] = []
    # Each frame is [kind, payload]: collections collect items in payload; a tag frame (payload
    # = the tag) wraps the next value; a discard frame swallows it.
    stack: list[list[Any]] = []
    atom = _atom
    n = 0
    try:
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
    except EdnError as err:  # where it failed, for the caller to name the line
        err.token = n
        raise
    if stack:
        raise EdnError(
            f"input ended inside an open form ({len(stack)} unclosed): the text looks truncated"
        )
    return out


def _tokens(text: str) -> list[str]:
    tokens = _TOKEN.findall(text)
    while tokens and not tokens[-1]:
        tokens.pop()  # the empty match(es) at the end of the input
    return tokens
