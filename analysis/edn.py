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

Modules: ``edn_values`` (the value types), ``edn_tokens`` (the general reader), ``edn_json``
and ``edn_restore`` (the history fast path); this one holds the entry points and picks the
compiled reader when it is there.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from analysis.edn_json import _HEAD, _HEAD_LINES, _TAIL, _fast_tails
from analysis.edn_restore import _NO_VALUE, _ops, _restore_rows
from analysis.edn_tokens import (
    _TOKEN,
    _atom,
    _make_map,
    _make_set,
    _parse_tokens,
    _string,
    _tagged,
    _tokens,
)
from analysis.edn_values import EdnError, EdnSet, FrozenDict, Keyword, Symbol, Tagged, freeze

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
        try:
            return _parse_tokens(_tokens(text))
        except EdnError as err:
            raise _with_line(err, text) from None


def _with_line(err: EdnError, text: str) -> EdnError:
    """``err`` with the line (and column) of its token in ``text`` in front."""
    if err.token is None:
        return err
    for n, match in enumerate(_TOKEN.finditer(text)):
        if n == err.token:
            start = match.start(1)
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            located = EdnError(f"line {line}, column {column}: {err}")
            located.token = err.token
            return located
    return err


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
    # A line whose :value has no form (`:value }`) is malformed: the general reader says why.
    rests = [rest if rest else None for rest in rests]
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


# --- the compiled half ---------------------------------------------------------------------

#: True when the C reader (analysis/_cedn.c) was built and answers first.
ACCELERATED = _cedn is not None
if _cedn is not None:
    _cedn.configure(Keyword, Symbol, _tagged, _atom, _string, _make_map, _make_set)
