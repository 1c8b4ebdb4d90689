"""The history fast path, second half: orjson's values with their marks undone (keywords,
symbols, maps, sets), and the op maps built from the op heads. Rows of one shape share a
restore plan."""

from __future__ import annotations

from typing import Any

from analysis.edn_json import _KEYS6, _KEYWORDS, _MAP_MARK, _NAMED, _PROCESS, _SET_MARK
from analysis.edn_tokens import _make_map, _make_set
from analysis.edn_values import EdnError, Keyword

_NO_VALUE = object()  # a line the fast path left to the general reader


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
