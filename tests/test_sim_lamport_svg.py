"""messages.svg (glome.sim.render.lamport_svg): Maelstrom's Lamport diagram from glome's journal."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs
from nodes.sim_nodes import Gossip

from analysis.messages import read_journal, read_messages_svg
from glome.nodes.echo import Echo
from glome.sim import run
from glome.sim.render.lamport_svg import (
    NOTICE,
    body_edn,
    journal_events,
    label_text,
    messages_svg,
    sort_nodes,
)

CORPUS = maelstrom_runs()
CORPUS_SVGS = sorted(CORPUS.glob("*/store/*/*/messages.svg")) if CORPUS.is_dir() else []


def message(
    mid: int, src: str, dest: str, body: dict[str, Any], times: tuple[int, int | None]
) -> dict[str, Any]:
    send, recv = times
    return {
        "id": mid,
        "src": src,
        "dest": dest,
        "body": body,
        "send_time": send,
        "recv_time": recv,
        "dropped": False,
    }


def parse_xml(text: str) -> ET.Element:
    """Parse SVG that glome wrote (trusted input, so the stdlib parser is fine)."""
    return ET.fromstring(text)  # noqa: S314


def write(tmp_path: Path, svg: str) -> Path:
    path = tmp_path / "messages.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def delivered_in_receive_order(journal: Path) -> list[tuple[str, str, str]]:
    frame, problems = read_journal(journal)
    assert problems == []
    rows = [
        r
        for r in frame.to_dict("records")
        if not math.isnan(r["recv_time_s"]) and r["type"] not in ("init", "init_ok")
    ]
    rows.sort(key=lambda r: (r["recv_time_s"], r["id"]))
    return [(r["src"], r["dest"], r["type"]) for r in rows]


# ----------------------------------------------------------------------- whole runs
def test_echo_run_svg_reads_back_as_the_journal(tmp_path: Path) -> None:
    result = run(
        Echo, workload="echo", node_count=3, time_limit=2, rate=10, seed=3, store_dir=tmp_path
    )
    store = Path(result.store_path)
    svg = store / "messages.svg"
    parse_xml(svg.read_text(encoding="utf-8"))  # well-formed XML
    frame, problems = read_messages_svg(svg)
    assert problems == []
    got = [(r["src"], r["dest"], r["type"]) for r in frame.to_dict("records")]
    want = delivered_in_receive_order(store / "net-journal.jsonl")
    assert got == want and len(got) >= 20
    assert {t for _, _, t in got} == {"echo", "echo_ok"}
    assert all(r["send_step"] < r["recv_step"] for r in frame.to_dict("records"))


def test_partitioned_broadcast_svg_matches_journal_bodies_and_is_deterministic(
    tmp_path: Path,
) -> None:
    settings: dict[str, Any] = {
        "workload": "broadcast",
        "node_count": 5,
        "time_limit": 3,
        "rate": 30,
        "latency": 20,
        "latency_dist": "exponential",
        "nemesis": "partition",
        "nemesis_interval": 0.5,
        "recovery_time": 1,
        "seed": 5,
    }
    a = Path(run(Gossip, store_dir=tmp_path / "a", **settings).store_path)
    b = Path(run(Gossip, store_dir=tmp_path / "b", **settings).store_path)
    assert (a / "messages.svg").read_bytes() == (b / "messages.svg").read_bytes()

    journal, _ = read_journal(a / "net-journal.jsonl")
    assert journal["dropped"].any(), "the partition should have dropped something"
    frame, problems = read_messages_svg(a / "messages.svg")
    assert problems == []
    assert [(r["src"], r["dest"], r["type"]) for r in frame.to_dict("records")] == (
        delivered_in_receive_order(a / "net-journal.jsonl")
    )
    # Bodies survive the trip through EDN (topology maps keep their string keys).
    by_key = {
        (r["src"], r["dest"], repr(r["body"])) for r in journal.to_dict("records") if r["type"]
    }
    for r in frame.to_dict("records"):
        assert (r["src"], r["dest"], repr(r["body"])) in by_key
    assert "topology" in set(frame["type"])
    # Steps: every event (dropped sends too) takes one; the picture's height says how many.
    events = len(journal) + int(journal["recv_time_s"].notna().sum())
    init = int(journal["type"].isin(["init", "init_ok"]).sum()) * 2
    text = (a / "messages.svg").read_text()
    assert f'height="{20 * (events - init + 7)}"' in text


def test_bin_runs_write_both_files(tmp_path: Path) -> None:
    import sys

    plain = [sys.executable, str(Path(__file__).resolve().parent / "nodes" / "plain_node.py")]
    result = run(
        bin=plain, workload="echo", node_count=1, time_limit=1, rate=10, store_dir=tmp_path
    )
    store = Path(result.store_path)
    frame, _ = read_messages_svg(store / "messages.svg")
    assert len(frame) > 0
    assert (store / "timeline.html").read_text().count('class="op ok"') > 0


# ---------------------------------------------------------------- layout and text
def test_events_rebuilt_in_causal_order() -> None:
    lines = [
        message(1, "n0", "n1", {"type": "b"}, (5, 5)),  # reply to message 0, same instant
        message(0, "c1", "n0", {"type": "a"}, (5, 5)),
        message(2, "n1", "n0", {"type": "c"}, (6, None)),  # never delivered
    ]
    order = [(e.kind, e.message["id"]) for e in journal_events(lines)]
    assert order == [("send", 0), ("recv", 0), ("send", 1), ("recv", 1), ("send", 2)]


def test_undelivered_messages_take_a_step_but_draw_nothing(tmp_path: Path) -> None:
    lines = [
        message(0, "n0", "n1", {"type": "lost"}, (0, None)),
        message(1, "n1", "n0", {"type": "kept"}, (10, 20)),
    ]
    svg = messages_svg(lines)
    frame, _ = read_messages_svg(write(tmp_path, svg))
    assert list(frame["type"]) == ["kept"]
    assert (frame["send_step"][0], frame["recv_step"][0]) == (2, 3)
    assert 'height="200"' in svg  # 20 * (3 steps + 7)


def test_init_traffic_is_left_out() -> None:
    lines = [
        message(0, "c0", "n0", {"type": "init", "node_id": "n0", "msg_id": 1}, (0, 0)),
        message(1, "n0", "c0", {"type": "init_ok", "in_reply_to": 1}, (0, 0)),
        message(2, "c1", "n0", {"type": "echo", "echo": "x", "msg_id": 1}, (1, 1)),
    ]
    svg = messages_svg(lines)
    assert "init" not in svg and ">c0<" not in svg and ">c1<" in svg
    assert "translate(300.0 50.0)" in svg  # first event is step 1: y = 20 * 2.5


def test_columns_clients_then_nodes_then_services() -> None:
    ids = ["seq-kv", "n10", "c10", "n2", "lin-kv", "c2", "lww-kv"]
    assert sort_nodes(ids) == ["c2", "c10", "n2", "n10", "lin-kv", "lww-kv", "seq-kv"]


def test_colours() -> None:
    lines = [
        message(0, "c1", "n0", {"type": "echo"}, (0, 0)),
        message(1, "n0", "n1", {"type": "gossip"}, (1, 2)),
        message(2, "n1", "n0", {"type": "error", "code": 11, "text": "down"}, (3, 4)),
    ]
    fills = re.findall(r'<rect [^>]*fill="([^"]+)"', messages_svg(lines))
    assert fills == ["#81BFFC", "#000", "#FF1E90"]


def test_titles_are_edn_with_keyword_top_level_keys() -> None:
    body = {"type": "topology", "topology": {"n0": ["n1"]}, "msg_id": 1, "x": 0.5, "y": None}
    assert (
        body_edn(body) == '{:type "topology", :topology {"n0" ["n1"]}, :msg_id 1, :x 0.5, :y nil}'
    )
    svg = messages_svg([message(0, "c1", "n0", body, (0, 0))])
    assert '<title >c1 \u2192 n0 {:type "topology", :topology {"n0" ["n1"]}' in svg


def test_labels() -> None:
    assert label_text({"type": "echo", "echo": "hi", "msg_id": 3}) == 'echo {:echo "hi"}'
    assert label_text({"type": "read_ok", "in_reply_to": 1}) == "read_ok {}"
    assert label_text({"type": "error", "code": 20, "text": "not found"}) == "error not found"
    assert label_text({"type": "error", "code": 20}) == "error "
    long = label_text({"type": "broadcast_ok", "messages": list(range(100))})
    assert len(long) == 48 and long.endswith("\u2026")
    assert long.startswith("broadcast_ok {:messages [0 1 2")


def test_bodies_with_markup_characters_stay_well_formed(tmp_path: Path) -> None:
    body = {"type": "echo", "echo": "a<b & c>d </title>", "msg_id": 1}
    svg = messages_svg([message(0, "c1", "n0", body, (0, 0))])
    parse_xml(svg)
    frame, problems = read_messages_svg(write(tmp_path, svg))
    assert problems == []
    assert frame["body"][0] == body


def test_control_characters_are_written_as_edn_escapes(tmp_path: Path) -> None:
    body = {"type": "echo", "echo": "bell\x07 and tab\t", "msg_id": 1}
    svg = messages_svg([message(0, "c1", "n0", body, (0, 0))])
    parse_xml(svg)
    frame, _ = read_messages_svg(write(tmp_path, svg))
    assert frame["body"][0] == body


def test_empty_journal(tmp_path: Path) -> None:
    svg = messages_svg([])
    root = parse_xml(svg)
    assert root.get("height") == "140" and root.get("width") == "1200"
    frame, problems = read_messages_svg(write(tmp_path, svg))
    assert len(frame) == 0 and problems == []


def test_event_limit_and_notice(tmp_path: Path) -> None:
    # 6,000 client round trips after init on 2 nodes: 24,000 events, far past the limit.
    lines = [
        message(i, "c0", f"n{i}", {"type": "init", "node_id": f"n{i}"}, (0, 0)) for i in range(2)
    ]
    lines += [message(2 + i, f"n{i}", "c0", {"type": "init_ok"}, (0, 0)) for i in range(2)]
    for k in range(6000):
        mid = 4 + 2 * k
        lines.append(
            message(mid, "c5", "n0", {"type": "echo", "msg_id": k}, (10 * k + 1, 10 * k + 1))
        )
        lines.append(message(mid + 1, "n0", "c5", {"type": "echo_ok"}, (10 * k + 2, 10 * k + 2)))
    svg = messages_svg(lines)
    parse_xml(svg)
    # Journal ids below 10000 + 4 * 2 + 1 are kept, then the 8 init events dropped: 10001.
    assert 'height="200160"' in svg  # 20 * (10001 + 7)
    frame, problems = read_messages_svg(write(tmp_path, svg))
    assert len(frame) == 5000  # the 10001st event is a send whose receive was cut
    assert any("cut short" in p for p in problems)
    assert svg.count(NOTICE) == 1

    short = messages_svg(lines[:40])
    assert NOTICE not in short


def test_small_limit_parameter() -> None:
    lines = [message(k, "n0", "n1", {"type": "g"}, (2 * k, 2 * k + 1)) for k in range(10)]
    svg = messages_svg(lines, limit=6)
    assert svg.count("<title >") == 3 and NOTICE in svg
    assert NOTICE not in messages_svg(lines, limit=20)


# ------------------------------------------------------------------ real Maelstrom
_NUMBER = re.compile(r"-?\d+\.\d+(?:E-?\d+)?")


def _rounded(text: str) -> str:
    """Numbers to 9 digits: Java's atan2 and glibc's differ in the last bit now and then."""
    return _NUMBER.sub(lambda m: f"{float(m.group()):.9g}", text)


@pytest.mark.skipif(not CORPUS_SVGS, reason="no real Maelstrom runs next to the repository")
@pytest.mark.parametrize("path", CORPUS_SVGS, ids=lambda p: p.parts[-5])
def test_real_diagrams_redrawn_from_their_messages(path: Path) -> None:
    """Turn a real messages.svg back into a journal and draw it: the same document comes out.

    Steps no drawn message uses were undelivered sends; they become undelivered messages.
    """
    real = path.read_text(encoding="utf-8")
    if len(real) > 1_000_000:
        pytest.skip("large diagram: the smaller ones cover the same code")
    frame, _ = read_messages_svg(path)
    nodes = re.findall(r'<text x="[^"]*" y="20.0"[^>]*>([^<]*)</text>', real)
    match = re.search(r'height="(\d+)"', real)
    assert match is not None
    steps = int(match.group(1)) // 20 - 7
    lines: list[dict[str, Any]] = []
    used: set[int] = set()
    for r in frame.to_dict("records"):
        used |= {r["send_step"], r["recv_step"]}
        lines.append(message(0, r["src"], r["dest"], r["body"], (r["send_step"], r["recv_step"])))
    free = [s for s in range(1, steps + 1) if s not in used]
    for i, step in enumerate(free):
        node = nodes[i % len(nodes)]
        lines.append(message(0, node, node, {"type": "lost"}, (step, None)))
    lines.sort(key=lambda m: m["send_time"])
    for i, m in enumerate(lines):
        m["id"] = i
    assert _rounded(messages_svg(lines)) == _rounded(real)
