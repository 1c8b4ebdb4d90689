"""Reading the real Maelstrom runs in ``<repo>/../shared/maelstrom-runs`` for checker tests.

Histories and results are read with ``edn_format`` (the reference EDN reader, so not glome's
own), converted to glome's in-memory form: design.md op dicts, keywords in values as
``glome.edn.Keyword``. Importing this module skips the importing test module when edn_format
is not installed; the corpus itself may be absent (``CORPUS.is_dir()`` is then false).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from glome.edn import Keyword
from helpers.paths import maelstrom_runs

edn_format = pytest.importorskip("edn_format")

CORPUS = maelstrom_runs()

for _tag in ("jepsen.history.Op", "knossos.model.CASRegister", "knossos.model.Inconsistent"):
    edn_format.add_tag(_tag, lambda value: value)


def to_py(x: Any, *, keywords: bool = True) -> Any:
    """edn_format values -> glome's in-memory form (keywords in values stay Keyword, map keys
    become plain strings)."""
    if isinstance(x, edn_format.Keyword):
        return Keyword(x.name) if keywords else x.name
    if isinstance(x, edn_format.Symbol):
        return x.name
    if isinstance(x, dict | edn_format.ImmutableDict):
        return {to_py(k, keywords=False): to_py(v) for k, v in x.items()}
    if isinstance(x, list | tuple | edn_format.ImmutableList):
        return [to_py(v) for v in x]
    if isinstance(x, frozenset):
        return frozenset(to_py(v) for v in x)
    return x


def to_op(raw: Any) -> dict[str, Any]:
    """A history.edn map -> a design.md op dict (type, f, process as plain str)."""
    op = to_py(raw)
    for field in ("type", "f"):
        op[field] = str.__str__(op[field])
    if op.get("process") == "nemesis":
        op["process"] = "nemesis"
    return op


# edn_format takes ~10 s on a 25-node broadcast history, almost all of it on lines like
# {:index 5, :time 9, :type :ok, :process 0, :f :read, :value [1 2 3]} or, in lin-kv,
# :value [0 [1 2]]. Those simple lines are read by this pattern; every other line goes through
# edn_format (test_checkers_compat's test_fast_path_agrees_with_edn_format checks the two agree).
_SIMPLE_OP = re.compile(
    r"\{:index (\d+), :time (\d+), :type :(invoke|ok|fail|info), :process (\d+), "
    r":f :([a-z-]+), :value (nil|-?\d+|\[[-\d ]*\]|\[-?\d+ (?:nil|\[-?\d+ -?\d+\])\])"
    r"(, :final\? true)?\}"
)


def parse_op_line(line: str) -> dict[str, Any]:
    """One history.edn line as a design.md op dict."""
    m = _SIMPLE_OP.fullmatch(line.strip())
    if m is None:
        return to_op(edn_format.loads(line))
    index, time, type_, process, f, raw, final = m.groups()
    value: Any
    if raw == "nil":
        value = None
    elif raw.startswith("["):  # integers, nil and [a b] pairs: JSON once spaces are commas
        value = json.loads(raw.replace(" ", ",").replace("nil", "null"))
    else:
        value = int(raw)
    op = {
        "index": int(index),
        "time": int(time),
        "type": type_,
        "process": int(process),
        "f": f,
        "value": value,
    }
    if final:
        op["final?"] = True
    return op


@functools.cache
def load_history(history_edn: Path) -> list[dict[str, Any]]:
    """A whole history.edn (cached: tests share it read-only)."""
    lines = history_edn.read_text().splitlines()
    return [parse_op_line(line) for line in lines if line.strip()]


@functools.cache
def load_results(results_edn: Path) -> dict[str, Any]:
    """A results.edn (cached: tests share it read-only)."""
    return to_py(edn_format.loads(results_edn.read_text()))
