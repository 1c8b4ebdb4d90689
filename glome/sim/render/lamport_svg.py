"""``messages.svg``: Maelstrom's Lamport diagram of a run's messages (docs/protocol.md#messagessvg),
from the journal.

Maelstrom draws its network journal, a list of ``send`` and ``recv`` *events*, as one column per
node and one row ("step") per event: each delivered message is an arrow from its sender's column
at the send step to its receiver's column at the receive step. glome's ``net-journal.jsonl`` has
one line per *message* (``send_time``, ``recv_time``), so the events are rebuilt first: a send and,
if delivered, a receive per message, ordered by ``(time, message id, send before receive)``. Ids
are handed out in send order, so that order never puts a receive before its send, nor before the
send of a message it caused at the same instant; ties between unrelated events are broken by id.

As Maelstrom: ``init``/``init_ok`` traffic is left out; events are cut after the first
``10000 + 4N + 1`` of the whole journal (N = initialised nodes, 4 init events each) and a notice
"Additional network events not shown" ends the picture when that dropped some; messages never
delivered (partition drops, sends to a closed client) only take up their send step; columns are
clients by number, then ``n*`` by number, then services alphabetically; ``y = 20 * (step + 1.5)``;
an arrow is red (``#FF1E90``) for an ``error`` body, light blue (``#81BFFC``) when a client is at
either end, black otherwise; each arrow's ``<title >`` reads ``SRC → DEST EDN-BODY`` with the body
as Clojure prints it (keyword top-level keys, string keys inside); the label is the body type and
the rest of the body (or an error's text), cut to 48 characters with "…".

One deliberate difference: Maelstrom's SVG library escapes nothing, so a body containing ``<`` or
``&`` makes its file ill-formed XML. glome escapes ``&``, ``<`` and ``>`` in all text (and writes
control characters XML forbids as ``\\uXXXX``, which EDN readers read back as the same
character), so every file parses; ``analysis.messages`` unescapes titles, so it reads both.

Cost is one pass over the journal plus sorting the events that can be shown (a journal as glome
writes it, ids in send order, only needs its first ``cutoff`` messages' events sorted; any other
is sorted whole); rendering is capped by the event limit. No plotting library is used.
"""

from __future__ import annotations

import math
import operator
import re
import struct
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from glome.edn import Str, dumps
from glome.protocol import is_client

if TYPE_CHECKING:
    from glome.sim.render.store import Store

JOURNAL_LIMIT = 10_000
"""Maelstrom stops drawing after this many journal events (past the init traffic)."""
WIDTH = 1200
Y_STEP = 20
LABEL_LIMIT = 48
NOTICE = "Additional network events not shown"
INIT_TYPES = frozenset({"init", "init_ok"})

_STYLE = """
svg {
  font-family: Helvetica, Arial, sans-serif;
  font-size: 11px;
}
rect {
  stroke-linecap: butt;
  stroke-width: 3;
  stroke: #fff;
/*  stroke-opacity: 1; */
}
rect:hover {
  stroke: #fff;
/*  stroke-opacity: 1; /*
}
polygon { fill: #000; }"""
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<svg xmlns:svg="http://www.w3.org/2000/svg" xmlns="http://www.w3.org/2000/svg" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" version="2.0" width="WIDTH" height="HEIGHT" >'
    "<style >" + _STYLE + "</style>"
    '<defs ><polygon id="ahead" points="0 0, -12 4, -12 -4" />'
    '<filter id="glow" x="0" y="0" >'
    '<feGaussianBlur in="SourceAlpha" stdDeviation="2" result="blurred" />'
    '<feFlood flood-color="#fff" /><feComposite operator="in" in2="blurred" />'
    '<feComponentTransfer ><feFuncA type="linear" slope="10" intercept="0" />'
    "</feComponentTransfer>"
    '<feMerge ><feMergeNode /><feMergeNode in="SourceGraphic" /></feMerge></filter></defs>'
)
_NOTICE_COLOR = "#D96918"

_XML_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_REPLACEMENTS = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _xml_char(match: re.Match[str]) -> str:
    char = match.group()
    return _XML_REPLACEMENTS.get(char) or f"\\u{ord(char):04x}"


def xml_text(text: str) -> str:
    """``text`` safe as XML element content (quotes need no escaping there)."""
    return _XML_SPECIAL.sub(_xml_char, text)


def _num(x: float) -> str:
    """A number as Clojure prints a double (``16.0``, ``796.2499609497023``)."""
    return repr(float(x))


_F32 = struct.Struct("f")


def _f32(x: float) -> float:
    """``x`` rounded to single precision: Maelstrom's node columns and rows are Java floats."""
    return float(_F32.unpack(_F32.pack(x))[0])


def _float_text(x: float) -> str:
    """A single-precision value as Java prints a float: the fewest digits that read back."""
    if x.is_integer() and abs(x) < 1e7:  # every row, most columns
        return repr(x)
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        if _f32(float(text)) == x:
            break
    value = float(text)
    return repr(value) if "e" not in repr(value) else text


# ----------------------------------------------------------------------------------- EDN
_INT_VECTOR_BYTES = b"0123456789-,[]"
_EDN_ESCAPED = re.compile(r'["\\\n\t\r]')
"""The characters ``glome.edn.dumps`` escapes in strings."""


def nested_edn(value: Any) -> str:
    """EDN of a value inside a body: map keys stay strings, as Maelstrom's JSON parser leaves
    them below the top level. Integer vectors (broadcast reads of thousands) take a fast path."""
    kind = type(value)
    if kind is str:  # the commonest leaves first, as glome.edn.dumps writes them
        return dumps(value) if _EDN_ESCAPED.search(value) else '"' + value + '"'
    if kind is int:
        return str(value)
    if kind is dict:
        return "{" + ", ".join(f"{_key(k)} {nested_edn(v)}" for k, v in value.items()) + "}"
    if kind is list:
        if value and type(value[0]) is int:
            try:
                raw = orjson.dumps(value)
            except TypeError:  # an integer beyond 64 bits
                raw = b"?"
            # Only digits, signs, commas and brackets: (nested) integers, EDN once "," is " ".
            if not raw.translate(None, _INT_VECTOR_BYTES):
                return raw.decode().replace(",", " ")
        return "[" + " ".join(map(nested_edn, value)) + "]"
    return dumps(value)


def _key(key: Any) -> str:
    return dumps(Str(key) if isinstance(key, str) else key)


def body_edn(body: Mapping[str, Any]) -> str:
    """A message body as Maelstrom prints it: ``{:echo "hi", :type "echo", :msg_id 1}``."""
    # Top-level string keys become keywords (glome.edn writes keys that are not keyword-shaped,
    # such as "9", as strings so the text stays readable EDN).
    return "{" + ", ".join(f"{_top_key(k)} {nested_edn(v)}" for k, v in body.items()) + "}"


_TOP_KEYS: dict[str, str] = {}


def _top_key(key: str) -> str:
    text = _TOP_KEYS.get(key)
    if text is None:
        text = dumps({key: None})[1:-5]  # "{<key> nil}"
        if len(_TOP_KEYS) < 4096:  # body keys repeat constantly; bound the cache all the same
            _TOP_KEYS[key] = text
    return text


def label_text(body: Mapping[str, Any]) -> str:
    """The arrow's label: type, then the rest of the body (an error: its text), <= 48 chars."""
    return _body_texts(body)[1]


_LABEL_HIDDEN = ("type", "msg_id", "in_reply_to")


def _body_texts(body: Mapping[str, Any]) -> tuple[str, str]:
    """``body_edn(body)`` and ``label_text(body)``: each key's text is made once for both."""
    items = [(k, f"{_top_key(k)} {nested_edn(v)}") for k, v in body.items()]
    edn = "{" + ", ".join([text for _, text in items]) + "}"
    kind = body.get("type")
    if kind == "error":
        rest = _clj_str(body.get("text"))
    else:  # the body less three keys, as a map
        rest = "{" + ", ".join([text for k, text in items if k not in _LABEL_HIDDEN]) + "}"
    label = f"{_clj_str(kind)} {rest}"
    if len(label) > LABEL_LIMIT:
        label = label[: LABEL_LIMIT - 1] + "\u2026"
    return edn, label


def _clj_str(value: Any) -> str:
    """Clojure's ``str``: strings as they are, nil as nothing, anything else as EDN."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return nested_edn(value)


# -------------------------------------------------------------------------------- events
class Event:
    """One send or receive of one message (a journal line gives one or two)."""

    __slots__ = ("kind", "message")

    def __init__(self, kind: str, message: Mapping[str, Any]) -> None:
        self.kind = kind
        self.message = message

    def __repr__(self) -> str:
        m = self.message
        return f"Event({self.kind} {m.get('id')} {m.get('src')}->{m.get('dest')})"


def _body_type(message: Mapping[str, Any]) -> Any:
    body = message.get("body")
    return body.get("type") if isinstance(body, dict) else None


def journal_events(messages: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Send and receive events of journal lines, in the order they happened (module docstring)."""
    keyed: list[tuple[int, int, int, Event]] = []
    for m in messages:
        mid = m["id"]
        keyed.append((m["send_time"], mid, 0, Event("send", m)))
        recv = m.get("recv_time")
        if recv is not None:
            keyed.append((recv, mid, 1, Event("recv", m)))
    keyed.sort()  # (time, id, send-before-receive) is unique: the Event is never compared
    return [k[3] for k in keyed]


def _column_key(node: str) -> tuple[int, int, str]:
    for rank, prefix in ((0, "c"), (1, "n")):
        if node.startswith(prefix) and node[1:].isdigit():
            return (rank, int(node[1:]), node)
    return (2, 0, node)


def sort_nodes(nodes: Iterable[str]) -> list[str]:
    """Clients by number, then ``n*`` by number, then everything else alphabetically."""
    return sorted(set(nodes), key=_column_key)


def messages_svg(journal: Iterable[Mapping[str, Any]], *, limit: int = JOURNAL_LIMIT) -> str:
    """The Lamport diagram of journal lines (dicts as in ``net-journal.jsonl``), as SVG text.

    ``limit`` is Maelstrom's journal limit (10,000 events past the init traffic).
    """
    lines = list(journal)
    selection = _select_in_send_order(lines, limit)
    if selection is not None:
        return _draw(*selection)
    events = journal_events(lines)
    initialised = {m.get("dest") for m in lines if _body_type(m) == "init"}
    cutoff = limit + 4 * len(initialised) + 1
    shown = [e for e in events[:cutoff] if _body_type(e.message) not in INIT_TYPES]
    truncated = len(events) > cutoff and any(
        _body_type(e.message) not in INIT_TYPES for e in events[cutoff:]
    )
    nodes = sort_nodes(
        str(end)
        for m in lines
        if _body_type(m) not in INIT_TYPES
        for end in (m.get("src"), m.get("dest"))
    )
    return render(shown, nodes, truncated)


_by_id = operator.itemgetter("id")

Step = tuple[bool | int, Mapping[str, Any]]
"""A drawn event: (true for a receive, false for a send; its message)."""


def _select_in_send_order(
    lines: list[Mapping[str, Any]], limit: int
) -> tuple[list[Step], list[str], bool] | None:
    """``messages_svg``'s shown events, columns and truncation, without sorting every event.

    Only for journals as glome writes them: integer ids and times, ids handed out in send order
    (send times never decrease with the id) and no receive before its send; None otherwise, and
    the caller sorts everything. Then, lines in id order, the first ``cutoff`` lines' sends are
    the first ``cutoff`` sends of the event order and every other line's events come after the
    last of them; a receive comes after its own send. So the first ``cutoff`` events are among
    those lines' sends and their receives up to that last send, and only those are sorted.
    One pass over the whole journal finds the columns, the initialised nodes and whether
    events past the cut would be drawn.
    """
    types: list[str | None] = []
    initialised: set[Any] = set()
    ends: set[Any] = set()
    drawable = 0  # events of non-init messages in the whole journal
    last_id, last_send = -1, -math.inf  # ids are never negative; times may be
    try:
        # The journal has a line per message when it is done with (delivered or dropped).
        lines = sorted(lines, key=_by_id)
        for m in lines:
            mid, send, recv = m["id"], m["send_time"], m.get("recv_time")
            if type(mid) is not int or type(send) is not int or mid <= last_id or send < last_send:
                return None
            if recv is not None and (type(recv) is not int or recv < send):
                return None
            last_id, last_send = mid, send
            body = m.get("body")
            kind = body.get("type") if isinstance(body, dict) else None
            if kind is not None and type(kind) is not str:  # hashing it could fail: sort all
                return None
            types.append(kind)
            if kind in INIT_TYPES:
                if kind == "init":
                    initialised.add(m.get("dest"))
            else:
                ends.add(m.get("src"))
                ends.add(m.get("dest"))
                drawable += 1 if recv is None else 2
    except (KeyError, TypeError):  # the general path raises or copes, as it always did
        return None
    cutoff = limit + 4 * len(initialised) + 1
    if cutoff < 1:
        return None
    head = lines[:cutoff]
    # Receives after the last head send are past the cut (cutoff events precede them).
    bound = head[-1]["send_time"] if len(lines) > cutoff else None
    keyed: list[tuple[int, int, int, int]] = []
    append = keyed.append
    for i, m in enumerate(head):
        mid = m["id"]
        append((m["send_time"], mid, 0, i))
        recv = m.get("recv_time")
        if recv is not None and (bound is None or recv <= bound):
            append((recv, mid, 1, i))
    keyed.sort()  # (time, id, send-before-receive) is unique
    del keyed[cutoff:]
    shown = [(k[2], head[k[3]]) for k in keyed if types[k[3]] not in INIT_TYPES]
    nodes = sort_nodes(map(str, ends))
    return shown, nodes, drawable > len(shown)


def _x(column: int, columns: int) -> float:
    return _f32(WIDTH * (column + 0.5) / columns)


def _y(step: float) -> float:
    if type(step) is int and 0 <= step < _EXACT_STEPS:
        return float(Y_STEP * step + 30)  # a whole number below 2**24: already a Java float
    return _f32(Y_STEP * (step + 1.5))


_EXACT_STEPS = 1 << 18
"""Rows ``20 * (step + 1.5)`` of steps below this are whole numbers that floats hold exactly,
below 10**7 (so Java prints them as ``1234.0``)."""


def render(events: list[Event], nodes: list[str], truncated: bool) -> str:
    """SVG text for events already in order and cut to the limit, over these node columns."""
    return _draw([(e.kind != "send", e.message) for e in events], nodes, truncated)


def _draw(events: list[Step], nodes: list[str], truncated: bool) -> str:
    """``render`` of events as (receive?, message) pairs."""
    steps = len(events)
    column = {node: i for i, node in enumerate(nodes)}
    # Each column's x (a Java float) and its text, computed once.
    xs = {
        node: (x, _float_text(x)) for node, x in ((n, _x(i, len(nodes))) for n, i in column.items())
    }
    height = Y_STEP * (steps + 7)
    parts = [_HEAD.replace("WIDTH", str(WIDTH), 1).replace("HEIGHT", str(height), 1)]

    parts.append("<g >")
    # Every column repeats its name on the same rows.
    rows = [
        f'" y="{_float_text(_y(step - 0.5))}" text-anchor="middle" '
        f'alignment-baseline="middle" fill="{"#000" if step == 0 else "#aaa"}" >'
        for step in range(0, steps, 50)
    ]
    for node in nodes:
        before, after = f'<text x="{xs[node][1]}', f"{xml_text(node)}</text>"
        parts.extend([before + row + after for row in rows])
    parts.append("</g><g >")
    bottom = _float_text(_y(steps + 1))
    for node in nodes:
        parts.append(
            f'<line stroke="#ccc" x1="{xs[node][1]}" y1="{_float_text(_y(0))}" x2="{xs[node][1]}" '
            f'y2="{bottom}" />'
        )
    parts.append("</g><g >")

    sent: dict[Any, tuple[str, int]] = {}
    geometry: dict[tuple[str, str, float], tuple[str, str, str]] = {}
    append = parts.append
    for step, (received, m) in enumerate(events, 1):
        if not received:
            sent[m["id"]] = (str(m.get("src")), step)
            continue
        origin = sent.pop(m["id"], None)
        if origin is None:  # its send was cut off or filtered: nothing to draw from
            continue
        append(_arrow(m, origin, (str(m.get("dest")), step), xs, geometry))
    parts.append("</g>")

    if truncated:
        step = steps + 2
        parts.append(
            f'<g ><line x1="30" y1="{_float_text(_y(step))}" x2="{WIDTH - 30}" y2="{_float_text(_y(step))}" '
            f'stroke-width="1" stroke="{_NOTICE_COLOR}" />'
            f'<text x="{WIDTH // 2}" y="{_float_text(_y(step + 1))}" fill="{_NOTICE_COLOR}" '
            f'text-anchor="middle" >{NOTICE}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _arrow(
    message: Mapping[str, Any],
    origin: tuple[str, int],
    target: tuple[str, int],
    xs: Mapping[str, tuple[float, str]],
    geometry: dict[tuple[str, str, float], tuple[str, str, str]],
) -> str:
    """One delivered message: a rotated bar with its title, an arrowhead and a glowing label.

    ``geometry``: ``_shape`` by (columns, row distance), as many arrows share one.
    """
    raw_body = message.get("body")
    body: Mapping[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    src, dest = str(message.get("src")), target[0]
    if body.get("type") == "error":
        color = "#FF1E90"
    elif is_client(src) or is_client(dest):
        color = "#81BFFC"
    else:
        color = "#000"
    edn, label = _body_texts(body)
    label = xml_text(label)
    title = xml_text(f"{src} \u2192 {dest} {edn}")
    if target[1] < _EXACT_STEPS:  # rows are whole numbers (``_y``), printed as such
        y0_text = f"{Y_STEP * origin[1] + 30}.0"
        dy = float(Y_STEP * (target[1] - origin[1]))
    else:
        y0 = _y(origin[1])
        y0_text, dy = _float_text(y0), _y(target[1]) - y0
    key = (origin[0], dest, dy)
    shape = geometry.get(key)
    if shape is None:
        shape = geometry[key] = _shape(xs[origin[0]][0], xs[dest][0], dy)
    rotate, arrowhead, label_again = shape
    return (
        f'<g transform="translate({xs[origin[0]][1]} {y0_text}{rotate}{color}" >'
        f"<title >{title}</title></rect>{arrowhead}{label}{label_again}{label}</text></g>"
    )


def _shape(x0: float, x1: float, dy: float) -> tuple[str, str, str]:
    """An arrow's text around its colour and label, which only its columns and rows decide."""
    length = math.hypot(x1 - x0, dy)
    angle = math.atan2(dy, x1 - x0) / 2 / math.pi * 360
    half = _num(length / 2)
    flip = "" if -90 < angle < 90 else f"rotate(180 {half} 0)"
    text = f'<text text-anchor="middle" x="{half}" y="-4" transform="{flip}"'
    return (
        f') rotate({_num(angle)}) " ><rect x="0" y="-2.5" height="5" width="{_num(length - 4)}" '
        'fill="',
        f'<use xlink:href="#ahead" x="{_num(length)}" y="0" />'
        f'{text} filter="url(#glow)" style="fill: #fff" >',
        f"</text>{text} >",
    )


# --------------------------------------------------------------------------------- files
def write_messages_svg(store: Store, records: list[dict[str, Any]]) -> None:
    """Write ``messages.svg`` into the store directory from the journal's records (the runner
    hands them over in memory, as it does to the net checker).

    A failure is logged to jepsen.log as a warning, never raised: a picture must not fail a run.
    """
    try:
        lines = [m for m in records if isinstance(m.get("id"), int) and "send_time" in m]
        (store.path / "messages.svg").write_text(messages_svg(lines), encoding="utf-8")
    except Exception as e:  # reported, and the run goes on
        store.log(f"could not write messages.svg: {type(e).__name__}: {e}", level="WARN")
