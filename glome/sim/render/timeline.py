"""``timeline.html``: Jepsen's timeline of a history (docs/protocol.md#timelinehtml), as Maelstrom
writes it.

One absolutely positioned box per op *pair* (an invocation and its completion), in a column per
process (sorted: ``nemesis`` first, as Clojure sorts keywords before numbers, then process
numbers) and a row per history position: a box starts at its invocation's row and ends at its
completion's; an ``info`` completion (outcome unknown) extends the box to the bottom. A
completion without an invocation (the nemesis' ``info`` ops) is a one-row box of its own; an
invocation never completed is not drawn (as Jepsen's pairing). At most 10,000 pairs are drawn,
with a notice when there were more. Colours: ok ``#6DB6FE``, info ``#FFAA26``, fail ``#FEB5DA``.

Each box's ``title`` (the hover text) has the duration, error, wall-clock time and the op, built
as Jepsen builds it; wall-clock time is the run's start time plus the op's relative time, never
the time the file is written, so equal histories and start times give equal files. Values are
printed as Clojure's ``str`` prints them (strings without quotes, nil as nothing).

One deliberate difference: Jepsen's HTML library escapes attribute text but not element text,
so a value containing ``<`` would become markup. glome escapes both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from glome.edn import Keyword
from glome.sim.render.store import fast_dumps, timestamp_name

if TYPE_CHECKING:
    from glome.sim.render.store import Store

OP_LIMIT = 10_000
"""Jepsen draws at most this many op pairs."""
COL_WIDTH = 100
GUTTER_WIDTH = 106
ROW_HEIGHT = 16

STYLESHEET = (
    ".ops        { position: absolute; }\n"
    ".op         { position: absolute; padding: 2px; border-radius: 2px; box-shadow: 0 1px 3px "
    "rgba(0,0,0,0.12), 0 1px 2px rgba(0,0,0,0.24); transition: all 0.3s cubic-bezier(.25,.8,.25,1);"
    " overflow: hidden; }\n"
    ".op.invoke  { background: #eeeeee; }\n"
    ".op.ok      { background: #6DB6FE; }\n"
    ".op.info    { background: #FFAA26; }\n"
    ".op.fail    { background: #FEB5DA; }\n"
    ".op:target  { box-shadow: 0 14px 28px rgba(0,0,0,0.25), 0 10px 10px rgba(0,0,0,0.22); }\n"
)
_HIDDEN_IN_OP = frozenset({"process", "type", "f", "index", "sub-index", "value", "time"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

Pair = tuple[int, dict[str, Any], int | None, dict[str, Any] | None]
"""(row of start, start op, row of completion, completion op or None)."""


def pairs(history: Sequence[dict[str, Any]]) -> list[Pair]:
    """Invocation/completion pairs in completion order, as Jepsen's ``timeline/pairs``.

    Unlike Jepsen, a malformed history (a second invocation before a completion, a completion
    of nothing) does not stop the picture: the odd op gets a box of its own.
    """
    open_calls: dict[Any, tuple[int, dict[str, Any]]] = {}
    out: list[Pair] = []
    for row, op in enumerate(history):
        process = op.get("process")
        kind = op.get("type")
        if kind == "invoke":
            previous = open_calls.pop(process, None)
            if previous is not None:
                out.append((previous[0], previous[1], None, None))
            open_calls[process] = (row, op)
            continue
        start = open_calls.pop(process, None)
        if start is None:
            out.append((row, op, None, None))
        else:
            out.append((start[0], start[1], row, op))
    return out


def _process_key(process: Any) -> tuple[int, Any]:
    if process == "nemesis" or isinstance(process, Keyword):
        return (0, str(process))
    if isinstance(process, int) and not isinstance(process, bool):
        return (1, process)
    return (2, str(process))


def clj_str(value: Any) -> str:
    """Clojure's ``str``: strings as they are, nil as nothing, anything else as EDN."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Keyword):
        return value
    return fast_dumps(value)


def _process_text(process: Any) -> str:
    return ":nemesis" if process == "nemesis" else clj_str(process)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS_PER_DAY = 86_400_000
_DAYS: dict[int, str] = {}
"""``YYYY-MM-DDT`` of days since the epoch (strftime's, so years below 1000 print as it does)."""


def _wall_clock(started_ms: int, op: dict[str, Any]) -> str:
    """Joda's UTC ``2024-01-06T09:17:30.587Z`` for start time + op time (ms, truncated)."""
    when = started_ms + int(int(op.get("time") or 0) / 1e6)
    day, ms = divmod(when, _MS_PER_DAY)  # a run's ops share a day or two: its date is cached
    date = _DAYS.get(day)
    if date is None:
        date = (_EPOCH + dt.timedelta(milliseconds=day * _MS_PER_DAY)).strftime("%Y-%m-%dT")
        if len(_DAYS) < 4096:
            _DAYS[day] = date
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    return f"{date}{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}.{ms:03d}Z"


def _title(
    started_ms: int, start: dict[str, Any], stop: dict[str, Any] | None, value_text: str
) -> str:
    """The hover text; ``value_text`` is ``clj_str`` of the shown op's value."""
    op = stop or start
    parts: list[str] = []
    if op.get("process") == "nemesis":
        parts.append("Msg: " + fast_dumps(start.get("value")))
    if stop is not None:
        duration = int((int(stop.get("time") or 0) - int(start.get("time") or 0)) / 1e6)
        parts.append(f"Dur: {duration} ms")
    extras = "".join(
        [f"\n :{key} {fast_dumps(value)}" for key, value in op.items() if key not in _HIDDEN_IN_OP]
    )
    parts.append(
        f"\nErr: {fast_dumps(op.get('error'))}"
        f"\nWall-clock Time: {_wall_clock(started_ms, op)}"
        f"\n\nOp:\n{{:process {_process_text(op.get('process'))}"
        f"\n :type :{op.get('type')}\n :f :{op.get('f')}\n :index {op.get('index')}"
        f"{extras}\n :value {value_text}}}"
    )
    return "".join(parts)


def _escape_attr(text: str) -> str:
    """``text`` safe inside a double-quoted attribute (most text needs nothing: scans are fast)."""
    if "&" in text or "<" in text or ">" in text or '"' in text:
        return text.translate(_ATTR_ESCAPES)
    return text


def _escape_element(text: str) -> str:
    """``text`` safe as element content."""
    if "&" in text or "<" in text or ">" in text:
        return text.translate(_TEXT_ESCAPES)
    return text


def _box(pair: Pair, columns: dict[Any, int], total: int, started_ms: int) -> str:
    start_row, start, stop_row, stop = pair
    op = stop or start
    if stop is not None and stop.get("type") == "info":
        height = ROW_HEIGHT * (total + 1 - start_row)
    elif stop is not None and stop_row is not None:
        height = ROW_HEIGHT * (stop_row - start_row)
    else:
        height = ROW_HEIGHT
    left = GUTTER_WIDTH * columns[start.get("process")]
    nemesis = op.get("process") == "nemesis"
    start_value = start.get("value")
    # Each value's text is made once: the box shows both, the title the shown op's.
    start_text = clj_str(start_value)
    if stop is None:
        stop_value, stop_text = None, ""
    else:
        stop_value = stop.get("value")
        stop_text = start_text if stop_value is start_value else clj_str(stop_value)
    text = f"{_process_text(op.get('process'))} {op.get('f')} "
    if not nemesis:
        text += start_text
    text = _escape_element(text)
    if start_value != stop_value:
        text += "<br />" + _escape_element(stop_text)
    title = _escape_attr(_title(started_ms, start, stop, start_text if op is start else stop_text))
    index = op.get("index")
    return (
        f'<a href="#i{index}"><div class="op {op.get("type")}" id="i{index}" '
        f'style="width:{COL_WIDTH};left:{left};top:{ROW_HEIGHT * start_row};height:{height}" '
        f'title="{title}">{text}</div></a>'
    )


def timeline_html(
    history: Sequence[dict[str, Any]],
    *,
    name: str = "",
    started: dt.datetime | None = None,
    history_key: str = "",
    limit: int = OP_LIMIT,
) -> str:
    """The timeline page of ``history`` for test ``name`` that started at ``started``.

    ``started`` (default: the Unix epoch, so the output depends on nothing outside the
    arguments) gives the wall-clock times and the breadcrumb links.
    """
    started = started or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if started.tzinfo is None:
        raise ValueError("timeline_html needs a timezone-aware start time")
    started_ms = round(started.timestamp() * 1000)
    all_pairs = pairs(history)
    columns = {
        p: i for i, p in enumerate(sorted({op.get("process") for op in history}, key=_process_key))
    }
    files = "/files/" + name
    # Jepsen's breadcrumbs strip "-" and ":" from the ISO start time, the offset's sign too.
    stamp = timestamp_name(started).replace("-", "")
    esc = _escape_text
    head = (
        f"<html><head><style>{STYLESHEET}</style></head><body>"
        f'<div><a href="/">jepsen</a> / <a href="{esc(files)}">{esc(name)}</a> / '
        f'<a href="{esc(files)}/{stamp}">{stamp}</a> / '
        f'<a href="{esc(files)}/{stamp}/">independent</a> / '
        f'<a href="{esc(files)}/{stamp}/independent/{esc(history_key)}">{esc(history_key)}</a>'
        f"</div><h1>{esc(name)} key {esc(history_key)}</h1>"
    )
    if len(all_pairs) > limit:
        head += (
            f'<div class="truncation-warning">Showing only {limit} of {len(all_pairs)} '
            "operations in this history.</div>"
        )
    total = len(history)
    boxes = (_box(pair, columns, total, started_ms) for pair in all_pairs[:limit])
    return head + '<div class="ops">' + "".join(boxes) + "</div></body></html>"


def _escape_text(text: str) -> str:
    return text.translate(_ATTR_ESCAPES)


def write_timeline(store: Store, history: Iterable[dict[str, Any]]) -> None:
    """Write ``timeline.html`` into the store directory, timed from the store's start time.

    A failure is logged to jepsen.log as a warning, never raised: a picture must not fail a run.
    """
    try:
        page = timeline_html(list(history), name=store.workload, started=store.started)
        (store.path / "timeline.html").write_text(page, encoding="utf-8")
    except Exception as e:  # reported, and the run goes on
        store.log(f"could not write timeline.html: {type(e).__name__}: {e}", level="WARN")
