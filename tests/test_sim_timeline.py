"""timeline.html (glome.sim.render.timeline): Jepsen's op timeline, from glome histories and real ones."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import maelstrom_runs

from glome.edn import Keyword
from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler
from glome.sim import run
from glome.sim.render.timeline import OP_LIMIT, pairs, timeline_html

CORPUS = maelstrom_runs()
START = dt.datetime(2024, 1, 6, 14, 47, 25, 569000, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))
BOX = re.compile(
    r'<a href="#i(\d+)"><div class="op (\w+)" id="i\d+" '
    r'style="width:100;left:(\d+);top:(\d+);height:(\d+)" title="([^"]*)">(.*?)</div></a>',
    re.S,
)


def op(index: int, type_: str, process: Any, f: str, value: Any = None, **extra: Any) -> dict:
    return {
        "index": index,
        "time": index * 1_000_000,
        "type": type_,
        "process": process,
        "f": f,
        "value": value,
        **extra,
    }


class Mute(Node):
    """Answers init, never an echo: every echo times out (an ``info`` completion)."""

    @handler("echo")
    def echo(self, msg: Message) -> None:
        return None


class TagBalance(HTMLParser):
    """Counts open tags per name (void elements such as <br /> excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth: dict[str, int] = {}
        self.broken = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br":
            self.depth[tag] = self.depth.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # <br /> is reported as a start and an end
            return
        self.depth[tag] = self.depth.get(tag, 0) - 1
        self.broken |= self.depth[tag] < 0


def assert_balanced(page: str) -> None:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert not parser.broken and all(d == 0 for d in parser.depth.values()), parser.depth


def boxes(page: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in BOX.finditer(page)]


# ------------------------------------------------------------------------- unit
HISTORY = [
    op(0, "info", "nemesis", "start-partition", Keyword("majority")),
    op(1, "invoke", 0, "echo", "hi"),
    op(2, "invoke", 10, "read", None),
    op(3, "ok", 0, "echo", "hi"),
    op(4, "invoke", 2, "add", 5),
    op(5, "fail", 2, "add", 5, error=[Keyword("abort"), "no"]),
    op(6, "info", 10, "read", None, error=Keyword("net-timeout")),
    op(7, "invoke", 0, "echo", "never answered"),
    op(8, "info", "nemesis", "stop-partition", None),
]


def test_pairs_follow_jepsen() -> None:
    got = [(s, start["index"], r, stop and stop["index"]) for s, start, r, stop in pairs(HISTORY)]
    # Completion order; nemesis infos stand alone; the dangling invoke (7) is not drawn.
    assert got == [(0, 0, None, None), (1, 1, 3, 3), (4, 4, 5, 5), (2, 2, 6, 6), (8, 8, None, None)]


def test_boxes_columns_rows_and_heights() -> None:
    page = timeline_html(HISTORY, name="echo", started=START)
    assert_balanced(page)
    got = {b[0]: b[1:5] for b in boxes(page)}
    # Columns: nemesis, 0, 2, 10 (numbers sorted as numbers) at 106 px each.
    assert got["0"] == ("info", "0", "0", "16")
    assert got["3"] == ("ok", "106", "16", "32")  # rows 1..3
    assert got["5"] == ("fail", "212", "64", "16")
    assert got["6"] == ("info", "318", "32", str(16 * (len(HISTORY) + 1 - 2)))  # to the bottom
    assert got["8"] == ("info", "0", "128", "16")
    assert "i7" not in page


def test_titles_and_bodies() -> None:
    page = timeline_html(HISTORY, name="echo", started=START)
    by_index = {b[0]: b for b in boxes(page)}
    title, body = by_index["5"][5], by_index["5"][6]
    assert title == (
        "Dur: 1 ms\nErr: [:abort &quot;no&quot;]\nWall-clock Time: 2024-01-06T09:17:25.574Z\n\n"
        "Op:\n{:process 2\n :type :fail\n :f :add\n :index 5\n :error [:abort &quot;no&quot;]"
        "\n :value 5}"
    )
    assert body == "2 add 5"
    assert by_index["0"][5].startswith("Msg: :majority\nErr: nil\n")
    assert by_index["0"][6] == ":nemesis start-partition <br />"
    assert by_index["8"][6] == ":nemesis stop-partition "
    assert by_index["3"][6] == "0 echo hi"
    assert by_index["6"][6] == "10 read "


def test_values_that_differ_show_both_and_markup_is_escaped() -> None:
    history = [
        op(0, "invoke", 0, "echo", "a<b & c"),
        op(1, "ok", 0, "echo", {"type": "echo_ok", "echo": 'a<b "c"'}),
    ]
    page = timeline_html(history, name="echo", started=START)
    assert_balanced(page)
    (box,) = boxes(page)
    assert box[6] == '0 echo a&lt;b &amp; c<br />{:type "echo_ok", :echo "a&lt;b \\"c\\""}'
    assert (
        ":value {:type &quot;echo_ok&quot;, :echo &quot;a&lt;b \\&quot;c\\&quot;&quot;}}" in box[5]
    )


def test_header_and_breadcrumbs() -> None:
    west = dt.datetime(2025, 3, 9, 21, 31, 8, 818000, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    page = timeline_html([], name="echo", started=west)
    # Jepsen strips "-" and ":" from the ISO time, the offset's sign included.
    assert '<a href="/files/echo/20250309T213108.8180400">20250309T213108.8180400</a>' in page
    assert "<h1>echo key </h1>" in page and '<div class="ops"></div>' in page
    assert_balanced(page)


def test_wall_clock_comes_from_the_start_time_only() -> None:
    history = [op(0, "invoke", 0, "echo", "x"), op(1, "ok", 0, "echo", "x")]
    history[1]["time"] = 5_018_571_583
    page = timeline_html(history, name="echo", started=START)
    assert "Wall-clock Time: 2024-01-06T09:17:30.587Z" in page
    assert timeline_html(history, name="echo", started=START) == page
    with pytest.raises(ValueError, match="timezone"):
        timeline_html(history, started=dt.datetime(2024, 1, 1))  # noqa: DTZ001


def test_pair_limit_and_notice() -> None:
    history: list[dict[str, Any]] = []
    for k in range(OP_LIMIT + 5):
        history += [op(2 * k, "invoke", k % 7, "add", k), op(2 * k + 1, "ok", k % 7, "add", k)]
    page = timeline_html(history, name="g-set", started=START)
    assert page.count('<a href="#i') == OP_LIMIT
    assert f"Showing only {OP_LIMIT} of {OP_LIMIT + 5} operations in this history." in page
    small = timeline_html(history[:20], name="g-set", started=START)
    assert "truncation-warning" not in small


def test_odd_histories_do_not_break_the_page() -> None:
    history = [
        op(0, "ok", 0, "read", 1),  # a completion of nothing
        op(1, "invoke", 1, "read"),
        op(2, "invoke", 1, "read"),  # a second invocation before a completion
        op(3, "ok", 1, "read", 2),
    ]
    page = timeline_html(history, name="x", started=START)
    assert_balanced(page)
    assert [b[0] for b in boxes(page)] == ["0", "1", "3"]


# --------------------------------------------------------------------------- runs
def test_run_with_info_completions_writes_the_timeline(tmp_path: Path) -> None:
    result = run(
        Mute, workload="echo", node_count=1, time_limit=2, rate=2, seed=1, store_dir=tmp_path
    )
    store = Path(result.store_path)
    page = (store / "timeline.html").read_text(encoding="utf-8")
    assert_balanced(page)
    infos = [b for b in boxes(page) if b[1] == "info"]
    assert infos, "a silent node should time every echo out"
    total = len(result.history)
    rows = {o["index"]: i for i, o in enumerate(result.history)}
    for index, _, _, top, height, title, _ in infos:
        start_row = int(top) // 16
        assert int(height) == 16 * (total + 1 - start_row)
        assert "Err: :net-timeout" in title
        assert rows[int(index)] > start_row
    # Nothing in the page but the history and the start time: regenerating gives the same.
    started = dt.datetime.fromisoformat(json.loads((store / "test.json").read_text())["start-time"])
    assert timeline_html(result.history, name="echo", started=started) == page


def test_echo_run_timeline_has_one_box_per_op_pair(tmp_path: Path) -> None:
    result = run(
        Echo, workload="echo", node_count=2, time_limit=2, rate=10, seed=2, store_dir=tmp_path
    )
    page = (Path(result.store_path) / "timeline.html").read_text(encoding="utf-8")
    assert_balanced(page)
    completions = [o for o in result.history if o["type"] != "invoke"]
    assert len(boxes(page)) == len(completions) > 5
    assert {b[1] for b in boxes(page)} == {"ok"}


# ------------------------------------------------------------------ real Jepsen
def _simple_corpus_runs() -> list[Path]:
    """Real runs whose timeline can be compared byte for byte: no sets (printed in hash
    order), no exceptions (their op keys come out in hash order), not from 2022 (an older
    timeline), and small."""
    if not CORPUS.is_dir():
        return []
    out = []
    for page in sorted(CORPUS.glob("*/store/*/*/timeline.html")):
        history = page.parent / "history.edn"
        if not history.exists() or page.parent.name < "2023" or history.stat().st_size > 200_000:
            continue
        text = history.read_text()
        if "#{" not in text and ":exception" not in text:
            out.append(page.parent)
    return out


def _start_time(store: Path) -> dt.datetime:
    m = re.fullmatch(r"(\d{8}T\d{6})\.(\d{3})(Z|[+-]\d{4})", store.name)
    assert m is not None
    tz = dt.UTC if m.group(3) == "Z" else dt.datetime.strptime(m.group(3), "%z").tzinfo
    when = dt.datetime.strptime(m.group(1) + "+0000", "%Y%m%dT%H%M%S%z")
    return when.replace(microsecond=int(m.group(2)) * 1000, tzinfo=tz)


@pytest.mark.parametrize("store", _simple_corpus_runs(), ids=lambda p: p.parts[-4])
def test_real_timelines_regenerated_byte_for_byte(store: Path) -> None:
    from helpers.corpus import load_history  # skips without edn_format

    history = load_history(store / "history.edn")
    page = timeline_html(history, name=store.parent.name, started=_start_time(store))
    assert page == (store / "timeline.html").read_text(encoding="utf-8")


def test_some_real_timelines_were_compared() -> None:
    if not CORPUS.is_dir():
        pytest.skip("no real Maelstrom runs next to the repository")
    assert len(_simple_corpus_runs()) >= 5
