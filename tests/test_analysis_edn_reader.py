"""analysis.edn: hand-written edge cases, and the same values as edn_format on the real corpus."""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import edn
from analysis.edn import EdnError, EdnSet, FrozenDict, Keyword, Symbol, Tagged

RUNS = maelstrom_runs()
CORPUS = sorted(RUNS.glob("**/*.edn")) if RUNS.is_dir() else []


# --- both readers: the compiled one (analysis/_cedn.c) and the pure-Python one ---------------


@pytest.fixture(autouse=True, params=["c", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs against both readers: "c" (the C reader first, Python for what it gives
    up on, as installed) and "python" (the pure-Python reader alone, as without a compiler)."""
    if request.param == "python":
        monkeypatch.setattr(edn, "_cedn", None)
    elif not edn.ACCELERATED:
        pytest.skip("analysis._cedn is not built (test_the_compiled_reader_is_built says why)")
    return str(request.param)


def test_the_compiled_reader_is_built(reader: str) -> None:
    if reader == "python":  # the fixture really switches the compiled reader off
        assert edn._cedn is None and edn.loads("[1 :a]") == [1, "a"]
        return
    allowed = os.environ.get("GLOME_EDN_PURE_OK") == "1"
    assert edn.ACCELERATED or allowed, (
        "analysis._cedn was not built: install with a C compiler (scripts/setup), or set "
        "GLOME_EDN_PURE_OK=1 to accept the pure-Python reader"
    )


# --- edge cases ------------------------------------------------------------------------------


def test_scalars() -> None:
    assert edn.loads("nil") is None
    assert edn.loads("true") is True and edn.loads("false") is False
    assert edn.loads("42") == 42 and edn.loads("-7") == -7 and edn.loads("+3") == 3
    assert edn.loads("12N") == 12
    assert edn.loads("1.0E-5") == 1e-05
    assert edn.loads("0.5") == 0.5
    assert edn.loads("1.5M") == Decimal("1.5")
    assert edn.loads("1/3") == Fraction(1, 3)
    assert math.isnan(edn.loads("##NaN"))
    assert edn.loads("##Inf") == math.inf and edn.loads("##-Inf") == -math.inf
    assert edn.loads("12345678901234567890123") == 12345678901234567890123


def test_keywords_equal_their_names() -> None:
    kw = edn.loads(":valid?")
    assert isinstance(kw, Keyword) and kw == "valid?" and hash(kw) == hash("valid?")
    assert repr(kw) == ":valid?"
    assert edn.loads(":jepsen.history/op") == "jepsen.history/op"
    assert edn.loads("{:valid? :unknown}")["valid?"] == "unknown"


def test_symbols_with_dollar_and_dots() -> None:
    value = edn.loads("[slingshot.support$stack_trace invoke clojure.lang.ExceptionInfo]")
    assert value == ["slingshot.support$stack_trace", "invoke", "clojure.lang.ExceptionInfo"]
    assert all(isinstance(v, Symbol) for v in value)
    assert not isinstance(value[0], Keyword)


def test_characters() -> None:
    assert edn.loads(r"[\a \newline \space \tab \u0041 \\ \( \"]") == [
        "a",
        "\n",
        " ",
        "\t",
        "A",
        "\\",
        "(",
        '"',
    ]


def test_strings_with_escapes_and_newlines() -> None:
    assert edn.loads(r'"a\"b\\c\nd\te\u00e9"') == 'a"b\\c\nd\te\u00e9'
    assert edn.loads('"line one\nline two"') == "line one\nline two"
    assert edn.loads('"ends with backslash \\\\"') == "ends with backslash \\"
    assert edn.loads('"has ; and # and { inside"') == "has ; and # and { inside"


def test_collections() -> None:
    assert edn.loads("[1 [2 (3 4)] ()]") == [1, [2, [3, 4]], []]
    assert edn.loads("#{1 2 3}") == frozenset({1, 2, 3})
    assert edn.loads("#{}") == frozenset()
    assert edn.loads('{0 0, 0.5 450, 1 795, "k" [1]}') == {0: 0, 0.5: 450, 1: 795, "k": [1]}
    nested = edn.loads('[:isolated {"n2" #{"n1" "n4" "n0"}, "n1" #{"n2"}}]')
    assert nested == ["isolated", {"n2": frozenset({"n1", "n4", "n0"}), "n1": frozenset({"n2"})}]


def test_unhashable_keys_and_set_elements() -> None:
    value = edn.loads('{[0 "0"] 1, {:a 1} 2}')
    assert value[(0, "0")] == 1
    assert value[FrozenDict({"a": 1})] == 2
    assert edn.loads("#{[1 2] [3]}") == frozenset({(1, 2), (3,)})
    # a set holding something freeze cannot hash still loads, as an EdnSet tuple
    weird = edn.loads("#{#{[1]} 2}")
    assert isinstance(weird, frozenset | EdnSet)


def test_tagged_records_inst_uuid() -> None:
    op = edn.loads("#jepsen.history.Op{:index 3, :type :ok, :f :add, :value 0}")
    assert isinstance(op, Tagged) and op.tag == "jepsen.history.Op"
    assert op.value == {"index": 3, "type": "ok", "f": "add", "value": 0}
    assert edn.loads("#knossos.model.CASRegister{:value nil}") == Tagged(
        "knossos.model.CASRegister", {"value": None}
    )
    when = edn.loads('#inst "2024-01-06T14:47:01.874+05:30"')
    assert when == dt.datetime(2024, 1, 6, 9, 17, 1, 874000, tzinfo=dt.UTC)
    assert edn.loads('#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"') == uuid.UUID(
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    )


def test_discard_and_comments() -> None:
    assert edn.loads("[1 #_ 2 3 #_[4 5] 6]") == [1, 3, 6]
    assert edn.loads("; a comment\n[1 ; inside\n 2]") == [1, 2]
    assert edn.loads_all("1 2, 3") == [1, 2, 3]
    assert edn.loads("") is None and edn.loads("  ; only a comment") is None


@pytest.mark.parametrize(
    "text",
    [
        '#inst "yesterday"',
        '#uuid "f81d"',
        '"unterminated',
        "[1 2",
        "{:a 1 :b}",
        "(1 2]",
        "]",
        "#{1",
        "1.2.3",
        "#",
        ":",
        "\\",
    ],
)
def test_malformed_input_raises_a_clear_error(text: str) -> None:
    with pytest.raises(EdnError):
        edn.loads(text)


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    value = edn.loads("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


# --- history lines: the fast path must agree with the general reader -------------------------

HISTORY_LINES = [
    "{:index 0, :time 16839057, :type :info, :process :nemesis, :f :start-partition, "
    ":value :majority}",
    "{:index 2, :time 25074063, :type :info, :process :nemesis, :f :start-partition, :value "
    '[:isolated {"n2" #{"n1" "n4"}, "n1" #{"n2"}}]}',
    "{:index 1, :time 19834443, :type :invoke, :process 1, :f :broadcast, :value 0}",
    "{:index 42, :time 30510679744, :type :invoke, :process 12, :f :read, :value nil, "
    ":final? true}",
    "{:index 2, :time 262027959, :type :fail, :process 1, :f :read, :value [0 nil], :error "
    '[:temporarily-unavailable "temporarily-unavailable"]}',
    '{:index 7, :time 157349900, :type :ok, :process 1, :f :send, :value [[:send "8" [8000 1]]]}',
    '{:index 8, :time 1, :type :ok, :process 5, :f :poll, :value [[:poll {"9" [[0 1] [1 2]]}]]}',
    "{:index 9, :time 1, :type :ok, :process 5, :f :poll, :value [[:poll {}]], :poll-ms 1000}",
    "{:index 10, :time 1, :type :ok, :process 2, :f :txn, :value [[:r 9 [1 2]] [:append 9 6]]}",
    '{:index 11, :time 1, :type :ok, :process 2, :f :echo, :value {:type "echo_ok", :echo '
    '"Please echo 35", :msg_id 1}}',
    "{:index 12, :time 1, :type :ok, :process 2, :f :read, :value [:a-nil nil :nil-b]}",
    "{:index 13, :time 1, :type :ok, :process 2, :f :read, :value 18446744073709551616}",
    "{:index 14, :time 1, :type :ok, :process 2, :f :read, :value [null 1N 01 x]}",
    '{:index 15, :time 1, :type :ok, :process 2, :f :read, :value ["nil" "a:b" "" 1.5 -2]}',
    "{:type :ok, :f :read, :value [1 2], :time 5, :process 0, :index 16}",
    "{:index 17, :time 1, :type :info, :process 0, :f :read, :value nil, :exception {:via "
    '[{:type clojure.lang.ExceptionInfo, :message "a: b\\n{:x 1}", :at '
    '[slingshot.support$stack_trace invoke "support.clj" 201]}], :cause "x"}, '
    ':error "indeterminate: a, b"}',
    '{:index 18, :time 1, :type :ok, :process 0, :f :read, :value [":no" "#" "\'q" "a\\"b"]}',
    "{:index 19, :time 1, :type :ok, :process 0, :f :read, :value [#{} #{1 2} (1 2) () {}]}",
    "{:index 20, :time 1, :type :ok, :process 0, :f :read, :value [- + -x +y :a:b true]}",
    "{:index 21, :time 1, :type :ok, :process 0, :f :read, :value [\\a 1]}",
    '{:index 22, :time 1, :type :ok, :process 0, :f :read, :value #inst "2024-01-01T00:00:00Z"}',
    "{:index 23, :time 1, :type :ok, :process 0, :f :read, :value [1  2 ,3]}",
    "{:index 24, :time 1, :type :ok, :process 0, :f :read, :value {[1 2] #{[3]}}}",
    '{:index 25, :time 1, :type :ok, :process 0, :f :read, :value [:k1 "\\u003ak1" "\\u0023"]}',
    # one shape (digits aside), so one restore plan; the symbols differ only in digits
    "{:index 26, :time 1, :type :ok, :process 0, :f :read, :value [a1 {:x 1} #{:y}]}",
    "{:index 27, :time 1, :type :ok, :process 0, :f :read, :value [a2 {:x 22} #{:y}]}",
    "{:index 28, :time 1, :type :ok, :process 0, :f :read, :value [a1 {:x 3} #{:y}]}",
]


def test_history_fast_path_agrees_with_general_reader() -> None:
    text = "\n".join(HISTORY_LINES) + "\n\n"
    fast = edn.loads_lines(text)
    assert [n for n, _ in fast] == list(range(1, len(HISTORY_LINES) + 1))
    for (_, value), line in zip(fast, HISTORY_LINES, strict=True):
        slow = edn._parse_tokens(edn._tokens(line))[0]
        assert normalise(value) == normalise(slow), line


def test_history_types_on_the_fast_path() -> None:
    ((_, op),) = edn.loads_lines(HISTORY_LINES[5])
    assert isinstance(op["type"], Keyword) and op["type"] == "ok"
    assert all(isinstance(k, Keyword) for k in op)
    mop = op["value"][0]
    assert isinstance(mop[0], Keyword) and not isinstance(mop[1], Keyword)
    ((_, big),) = edn.loads_lines(HISTORY_LINES[11])
    assert big["value"] == 18446744073709551616 and isinstance(big["value"], int)


def test_broken_history_line_is_reported_not_fatal() -> None:
    text = HISTORY_LINES[2] + "\n" + "{:index 3, :time 9, :type :ok, :process 1, :f :broad"
    (n1, v1), (n2, v2) = edn.loads_lines(text)
    assert n1 == 1 and isinstance(v1, dict)
    assert n2 == 2 and isinstance(v2, EdnError) and "line 2" in str(v2)


# --- the corpus against edn_format ----------------------------------------------------------


class _RefTagged:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


def normalise(value: Any) -> Any:
    """A comparable form of a value from either reader (ours or edn_format's)."""
    import edn_format

    if isinstance(value, Keyword):
        return ("kw", str(value))
    if isinstance(value, edn_format.Keyword):
        return ("kw", value.name)
    if isinstance(value, Symbol):
        return ("sym", str(value))
    if isinstance(value, edn_format.Symbol):
        return ("sym", value.name)
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, Tagged | _RefTagged):
        return ("tag", value.tag, normalise(value.value))
    if isinstance(value, dict | edn_format.ImmutableDict):
        return ("map", sorted(((normalise(k), normalise(v)) for k, v in value.items()), key=repr))
    if isinstance(value, frozenset | EdnSet):
        return ("set", sorted((normalise(v) for v in value), key=repr))
    if isinstance(value, list | tuple | edn_format.ImmutableList):
        return ("seq", [normalise(v) for v in value])
    return (type(value).__name__, value)


@contextmanager
def _reference_tags(text: str) -> Iterator[None]:
    """edn_format reads this text's tags as _RefTagged, until the block ends: its tag table is
    global, and other test modules (tests/helpers/corpus.py) register their own handlers."""
    import edn_format

    table = edn_format.edn_parse._serializers
    saved = dict(table)
    try:
        for tag in set(re.findall(r"#([a-zA-Z][\w.\-$]*)", text)) - {"inst", "uuid"}:
            edn_format.add_tag(tag, lambda v, t=tag: _RefTagged(t, v))
        yield
    finally:
        table.clear()
        table.update(saved)


def _corpus_param(path: Path) -> Any:
    # edn_format needs 5-15 s (minutes on a busy machine) for these: whole file all the same
    big = path.stat().st_size > 1_000_000
    marks = [pytest.mark.slow, pytest.mark.timeout(1200)] if big else []
    return pytest.param(path, id=str(path.relative_to(RUNS)), marks=marks)


@functools.cache
def _reference(path: Path) -> list[Any]:
    """edn_format's values for a corpus file, normalised (once for both readers)."""
    import edn_format

    text = path.read_text()
    with _reference_tags(text):
        return [normalise(v) for v in edn_format.loads_all(text)]


@pytest.mark.skipif(not CORPUS, reason="../shared/maelstrom-runs is absent")
@pytest.mark.parametrize("path", [_corpus_param(p) for p in CORPUS])
def test_same_values_as_edn_format(path: Path) -> None:
    text = path.read_text()
    reference = _reference(path)
    assert [normalise(v) for v in edn.loads_all(text)] == reference
    if path.name == "history.edn":  # the line-oriented fast path too
        lines = edn.loads_lines(text)
        assert not [v for _, v in lines if isinstance(v, EdnError)]
        assert [normalise(v) for _, v in lines] == reference


def test_fast_path_covers_maelstrom_shapes(reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pure Python: exceptions, sets, lists, symbols and odd strings stay on the fast path;
    characters, tags, irregular spacing and marker look-alikes go to the general reader.
    C: only the character literal goes to the general reader."""
    slow: list[int] = []
    real = edn._slow_line

    def spy(lineno: int, line: str) -> Any:
        slow.append(lineno)
        return real(lineno, line)

    monkeypatch.setattr(edn, "_slow_line", spy)
    edn.loads_lines("\n".join(HISTORY_LINES))
    fallback = {HISTORY_LINES[n - 1].split(",")[0] for n in slow}
    if reader == "c":
        assert fallback == {"{:index 21"}  # a character
        return
    assert fallback == {
        "{:index 13",  # an integer beyond 64 bits
        "{:index 14",  # null, 1N and 01 are not JSON
        "{:index 18",  # strings that look like markers
        "{:index 21",  # a character
        "{:index 22",  # #inst
        "{:index 23",  # two spaces
        "{:index 25",  # a string opening with an escape (\u003a is a colon)
    }


# --- the compiled reader against the pure one, on generated text -----------------------------

_PIECES = [
    *"[](){}",
    "#{",
    "#_",
    "#inst",
    "#tag",
    "##NaN",
    "#",
    ":",
    ":k",
    ":a/b",
    "sym",
    "a$b",
    "nil",
    "true",
    "false",
    "-",
    "+1",
    "-0",
    "007",
    "1N",
    "1.5",
    "1.5M",
    "1/3",
    "123456789012345678",
    "1234567890123456789",
    "1.2.3",
    '"s"',
    '"a\\"b"',
    '"\\u0041"',
    '"\\q"',
    '"\\n\\t\\r\\b\\f\\/\\\\"',
    '"\\u00e9\\u20ac\\u0000"',
    '"\\ud83d\\ude00"',
    '"\\u12"',
    '"caf\u00e9 \\"q\\""',
    '"\\',
    '"unterminated',
    '"2024-01-01T00:00:00Z"',
    "\\a",
    "\\newline",
    ";c\n",
    "\u00e9",
    "\x1c",
    "\x7f",
]


def _outcome(text: str) -> Any:
    try:
        return ("ok", [normalise(v) for v in edn.loads_all(text)])
    except EdnError as err:
        return ("error", str(err))


@settings(
    max_examples=1500,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(_PIECES), st.sampled_from(["", " ", ",", "\n", "  "])),
        max_size=14,
    )
)
def test_compiled_reader_agrees_with_pure_reader(reader: str, pieces: list[Any]) -> None:
    """Same values, or the same error, from both readers on any mix of EDN pieces."""
    if reader == "python":
        pytest.skip("compares the two readers itself: runs under the c parameter")
    text = "".join(piece + gap for piece, gap in pieces)
    compiled = _outcome(text)
    saved = edn._cedn
    edn._cedn = None  # type: ignore[assignment]
    try:
        pure = _outcome(text)
    finally:
        edn._cedn = saved
    assert compiled == pure, text
    assert edn.loads_lines(text) is not None
