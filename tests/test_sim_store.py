"""Store layout and file formats; results.edn keys against real Maelstrom runs."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from nodes.sim_nodes import Flood, GCounter, Ids

from glome.edn import Keyword, Str, dumps, op_map
from glome.nodes.echo import Echo
from glome.sim import run
from glome.sim.render.store import Store, fast_dumps, op_edn, op_line, timestamp_name, verdict_line

CORPUS = maelstrom_runs()


def test_timestamp_names_match_maelstrom() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert (
        timestamp_name(dt.datetime(2025, 4, 21, 9, 43, 38, 263000, tzinfo=tz))
        == "20250421T094338.263+0530"
    )
    assert (
        timestamp_name(dt.datetime(2022, 3, 7, 15, 58, 28, tzinfo=dt.UTC)) == "20220307T155828.000Z"
    )


def test_two_stores_in_the_same_millisecond_get_distinct_dirs(tmp_path: Path) -> None:
    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    a, b = Store(tmp_path, "echo", started=when), Store(tmp_path, "echo", started=when)
    assert a.path != b.path and b.path.name == "20250101T000000.001Z"
    a.close()
    b.close()
    assert (tmp_path / "latest").resolve() == b.path.resolve()
    assert (tmp_path / "echo" / "latest").resolve() == b.path.resolve()


def test_store_layout_and_files(tmp_path: Path) -> None:
    result = run(Echo, workload="echo", node_count=2, time_limit=2, rate=10, store_dir=tmp_path)
    path = result.store_path
    assert path.parent == tmp_path / "echo"
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}([+-]\d{4}|Z)", path.name)
    for name in (
        "results.edn",
        "history.edn",
        "history.txt",
        "jepsen.log",
        "test.json",
        "net-journal.jsonl",
        "node-logs/n0.log",
        "node-logs/n1.log",
    ):
        assert (path / name).exists(), name
    assert (tmp_path / "latest").resolve() == path.resolve()
    edn_lines = (path / "history.edn").read_text().splitlines()
    assert len(edn_lines) == len(result.history)
    assert edn_lines[0].startswith("{:index 0, :time ")
    assert edn_lines[0] == dumps(op_map(result.history[0]))
    txt = (path / "history.txt").read_text().splitlines()[0].split("\t")
    assert txt[:3] == ["0", ":invoke", ":echo"] and txt[3].startswith('"Please echo')
    log = (path / "jepsen.log").read_text()
    assert "{GMT}\tINFO\t[jepsen test runner] jepsen.core: Command line:\n" in log
    assert '[jepsen worker 0] jepsen.util: 0\t:invoke\t:echo\t"Please echo' in log
    assert log.rstrip().endswith(verdict_line(True))
    test = json.loads((path / "test.json").read_text())
    assert test["workload"] == "echo" and test["glome"]["mode"] == "in-process"
    results = (path / "results.edn").read_text()
    assert results.startswith("{:perf ") and results.rstrip().endswith(":valid? true}")
    assert results.count("\n") == 8  # one top-level key per line


def test_history_lines_render_errors_as_maelstrom() -> None:
    op = {
        "index": 2,
        "time": 5,
        "type": "fail",
        "process": 1,
        "f": "read",
        "value": [0, None],
        "error": [Keyword("temporarily-unavailable"), "temporarily-unavailable"],
    }
    assert (
        op_line(op, error_readable=False)
        == "1\t:fail\t:read\t[0 nil]\t[:temporarily-unavailable temporarily-unavailable]"
    )
    assert op_line(op, error_readable=True).endswith(
        '\t[:temporarily-unavailable "temporarily-unavailable"]'
    )
    info = {**op, "type": "info", "error": "indeterminate: Client read timeout"}
    assert op_line(info, error_readable=True).endswith("\tindeterminate: Client read timeout")
    nemesis = {
        "index": 0,
        "time": 0,
        "type": "info",
        "process": "nemesis",
        "f": "start-partition",
        "value": Keyword("majority"),
    }
    assert op_line(nemesis, error_readable=False) == ":nemesis\t:info\t:start-partition\t:majority"


@pytest.mark.parametrize(
    "value",
    [
        [],
        [1, 2, 3],
        [1, True],
        [1, None],
        [1.5],
        ["a"],
        [[1]],
        None,
        True,
        False,
        0,
        -7,
        2**70,
        "plain",
        'quo"te',
        "back\\slash",
        "new\nline",
        "tab\t",
        "uni\u00e9\u2013",
        "",
        Keyword("majority"),
        [Keyword("isolated"), {Str("n1"): {"n2", "n0"}}],
        {"type": "echo_ok", "echo": "Please echo 3", "in_reply_to": 1, "msg_id": 2},
        {"9": [[0, 1]], "a b": 1, 3: "x", Str("n0"): None},
        (1, "two"),
        1.0e-4,
        {"nested": {"k": []}},
        list(range(-5, 3000)),  # integer vectors go through orjson
        [1, [2, [3, []]], -4],
        [1, True, 2],
        [1, 2.5],
        [1, "a,b", 2],
        [1, 2**70, -(2**70)],
        [1, None],
        (7, 8),
        [3, Keyword("x")],
    ],
)
def test_fast_rendering_is_byte_identical(value: Any) -> None:
    assert fast_dumps(value) == dumps(value)
    op = {
        "index": 1,
        "time": 2,
        "type": "ok",
        "process": 0,
        "f": "read",
        "value": value,
        "final?": True,
        "error": [Keyword("timeout"), "t"],
    }
    assert op_edn(op) == dumps(op_map(op))
    assert op_edn(op, fast_dumps(value)) == dumps(op_map(op))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
@settings(max_examples=120, deadline=None)
def test_fast_rendering_matches_dumps_on_any_json(value: Any) -> None:
    assert fast_dumps(value) == dumps(value)


# ------------------------------------------------------------------ compatibility with Maelstrom
edn_format = pytest.importorskip("edn_format")
for _tag in ("jepsen.history.Op", "knossos.model.CASRegister", "knossos.model.Inconsistent"):
    edn_format.add_tag(_tag, lambda value: value)


def _keys(d: Any) -> set[str]:
    return {k.name if hasattr(k, "name") else str(k) for k in d}


def _get(d: Any, key: str) -> Any:
    return d[edn_format.Keyword(key)]


def _corpus_results(run_name: str) -> Any:
    found = sorted(CORPUS.glob(f"{run_name}/store/*/*/results.edn"))
    if not found:
        pytest.skip(f"corpus run {run_name} not available")
    return edn_format.loads(found[0].read_text())


@pytest.mark.parametrize(
    ("corpus_run", "node", "options"),
    [
        ("echo-1node-pass", Echo, {"workload": "echo", "node_count": 1}),
        ("broadcast-5node-pass", Flood, {"workload": "broadcast", "node_count": 5}),
        (
            "g-counter-3node-partition-pass",
            GCounter,
            {"workload": "g-counter", "node_count": 3, "nemesis": "partition"},
        ),
        (
            "unique-ids-1node-partition-pass",
            Ids,
            {"workload": "unique-ids", "node_count": 1, "nemesis": "partition"},
        ),
    ],
)
def test_results_edn_has_the_keys_of_a_real_run(
    tmp_path: Path, corpus_run: str, node: Any, options: dict[str, Any]
) -> None:
    real = _corpus_results(corpus_run)
    result = run(node, store_dir=tmp_path, time_limit=3, rate=20, recovery_time=2, **options)
    ours = edn_format.loads((result.store_path / "results.edn").read_text())
    assert _keys(ours) == _keys(real)
    for section in ("stats", "availability", "net", "workload", "timeline"):
        assert _keys(_get(ours, section)) == _keys(_get(real, section)), section
    assert _keys(_get(real, "perf")) <= _keys(_get(ours, "perf"))
    for part in ("all", "clients", "servers"):
        assert _keys(_get(_get(ours, "net"), part)) == _keys(_get(_get(real, "net"), part))
    # history.edn parses with the same reader, one map per line with Maelstrom's keys
    for line in (result.store_path / "history.edn").read_text().splitlines()[:50]:
        op = edn_format.loads(line)
        assert {"index", "time", "type", "process", "f", "value"} <= _keys(op)
