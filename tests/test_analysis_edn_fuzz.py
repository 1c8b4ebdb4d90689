"""Fuzzing both halves of the EDN reader (compiled and pure Python) with mutated corpus text:
every malformed input raises ``EdnError`` (a ``ValueError``), never anything else, and
``loads_lines`` reports a broken line as an ``EdnError`` value instead of raising."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from helpers.paths import maelstrom_runs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import edn
from analysis.edn import EdnError


def _corpus() -> Path | None:
    root = maelstrom_runs()
    return root if root.is_dir() else None


BUILT_IN = [
    "{:index 0, :time 8413366, :type :invoke, :process 0, :f :crash, :value nil}",
    '{:index 3, :time 26334014, :type :ok, :process 1, :f :send, :value [:send "7" 51]}',
    "{:index 5, :time 9, :type :ok, :process 0, :f :read, :value [1 2 3]}",
    "{:index 7, :time 15127171, :type :ok, :process 2, :f :txn, :value [[:r 9 1] [:w 8 nil]]}",
    '{:index 9, :time 1, :type :info, :process :nemesis, :f :start-partition, :value {"n1" '
    '#{"n2"}}, :error [:net-timeout "no reply"]}',
    "{:perf {:latency-graph {:valid? true}, :valid? true}, :stats {:count 1626, :ok-count 1623,"
    " :by-f {:crash {:valid? false}}}, :availability {:valid? true, :ok-fraction 0.998155}}",
    "{:worst-stale ({:element 5, :known #jepsen.history.Op{:index 31, :time 920498192, "
    ":type :ok, :process 4, :f :add, :value 5}}), :stable-latencies {0 0, 0.5 0, 1 29975}}",
    '{:x 1.5M, :y 12N, :z 1/3, :t #inst "2024-01-06T14:47:01Z", :c \\a, :n ##NaN} ; comment',
]


def _samples() -> list[str]:
    samples = list(BUILT_IN)
    corpus = _corpus()
    if corpus is not None:
        for path in sorted(corpus.glob("*/store/*/*/*.edn"))[:40]:
            with path.open(errors="replace") as f:
                lines = [next(f, "") for _ in range(6)]
            samples.append("".join(lines))
    return samples


SAMPLES = _samples()
NOISE = st.sampled_from([*list("{}[]()#:\"\\;,/ 0123456789-+.eENM_^@'`~\n"), "0/0", "##", "#_"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "truncate", "duplicate", "replace"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif kind == "insert":
            text = text[:at] + draw(NOISE) + text[at:]
        elif kind == "truncate":
            text = text[:at]
        elif kind == "duplicate":
            text = text[:at] + text[at : at + draw(st.integers(1, 20))] + text[at:]
        else:
            text = text[:at] + draw(NOISE) + text[at + 1 :]
    return text


@contextmanager
def _reader(kind: str) -> Iterator[None]:
    saved = edn._cedn
    if kind == "python":
        edn._cedn = None  # type: ignore[assignment]
    elif saved is None:
        pytest.skip("analysis._cedn is not built")
    try:
        yield
    finally:
        edn._cedn = saved


@pytest.mark.parametrize("kind", ["c", "python"])
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_malformed_text_raises_edn_error_only(kind: str, text: str) -> None:
    with _reader(kind):
        with suppress(EdnError):
            edn.loads_all(text)
        for _, value in edn.loads_lines(text):  # never raises: broken lines are values
            assert not isinstance(value, Exception) or isinstance(value, EdnError)


@pytest.mark.parametrize("kind", ["c", "python"])
@settings(max_examples=300, deadline=None)
@given(text=mutated())
def test_both_halves_agree_on_mutated_text(kind: str, text: str) -> None:
    """Same values (compared by repr: NaN) or both an EdnError."""

    def outcome() -> str:
        try:
            return repr(edn.loads_all(text))
        except EdnError:
            return "EdnError"

    with _reader("python"):
        pure = outcome()
    with _reader(kind):
        assert outcome() == pure


@pytest.mark.parametrize("kind", ["c", "python"])
@pytest.mark.parametrize("text", ["0/0", "[1 0/0]", "{:a 5/0}", "9" * 5000, '#inst "2024-13"'])
def test_numbers_that_cannot_be_built_are_edn_errors(kind: str, text: str) -> None:
    with _reader(kind), pytest.raises(EdnError):
        edn.loads(text)
