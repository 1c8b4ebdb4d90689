"""Messages between nodes: glome's `net-journal.jsonl`, or Maelstrom's `messages.svg`.

Both give one row per message with `src`, `dest`, `type` (the body's type), `msg_id`,
`in_reply_to` and `body`. The journal adds real times (`send_time_s`, `recv_time_s`,
`latency_ms`) and dropped messages; the SVG (docs/protocol.md#messagessvg) only has delivered
messages and ordinal positions (`send_step`, `recv_step`: the rank of the send and receive events),
not times.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from analysis import edn
from analysis.values import plain

MESSAGE_COLUMNS = [
    "id",
    "src",
    "dest",
    "type",
    "msg_id",
    "in_reply_to",
    "body",
    "send_time_s",
    "recv_time_s",
    "latency_ms",
    "dropped",
    "send_step",
    "recv_step",
    "source",
]


def read_journal(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows of a net-journal.jsonl in send order (by id), plus problems with broken lines."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            m = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            problems.append(f"net-journal.jsonl line {lineno} is not JSON ({err}): skipped")
            continue
        if not isinstance(m, dict):
            problems.append(f"net-journal.jsonl line {lineno} is not an object: skipped")
            continue
        raw_body = m.get("body")
        body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
        send, recv = m.get("send_time"), m.get("recv_time")
        rows.append(
            {
                "id": m.get("id"),
                "src": m.get("src"),
                "dest": m.get("dest"),
                "type": body.get("type"),
                "msg_id": body.get("msg_id"),
                "in_reply_to": body.get("in_reply_to"),
                "body": body,
                "send_time_s": send / 1e9 if send is not None else math.nan,
                "recv_time_s": recv / 1e9 if recv is not None else math.nan,
                "latency_ms": (recv - send) / 1e6
                if send is not None and recv is not None
                else math.nan,
                "dropped": bool(m.get("dropped")),
                "send_step": None,
                "recv_step": None,
                "source": "net-journal.jsonl",
            }
        )
    frame = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    if len(frame):
        frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    return frame, problems


_GROUP = re.compile(
    r'<g transform="translate\(([-\d.eE]+) ([-\d.eE]+)\) rotate\(([-\d.eE]+)\) "\s*>'
    r'.*?<title\s*>(.*?)</title>.*?<use [^>]*?x="([-\d.eE]+)"',
    re.S,
)
_TITLE = re.compile(r"<title\s*>(.*?)</title>", re.S)
_ARROW = " \u2192 "


def read_messages_svg(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Delivered messages from Maelstrom's Lamport diagram (docs/protocol.md#messagessvg), in
    document order.

    Each message group is translated to the sender's column at the send step and rotated
    towards the receiver; the arrow length and angle give the receive step. Bodies are EDN
    (read leniently; a body that will not parse is kept as text under ``{"raw": ...}``).
    """
    text = path.read_text(errors="replace")
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    groups = list(_GROUP.finditer(text))
    titles = (
        [(g.group(4), g) for g in groups]
        if groups
        else [(t.group(1), None) for t in _TITLE.finditer(text)]
    )
    bad = 0
    for n, (raw_title, g) in enumerate(titles):
        src, sep, rest = html.unescape(raw_title).partition(_ARROW)
        dest, _, body_text = rest.partition(" ")
        if not sep:
            bad += 1
            continue
        try:
            body = plain(edn.loads(body_text))
        except edn.EdnError:
            body = {"raw": body_text}
        if not isinstance(body, dict):
            body = {"raw": body_text}
        send_step = recv_step = None
        if g is not None:
            y0, deg, length = float(g.group(2)), float(g.group(3)), float(g.group(5))
            send_step = round(y0 / 20 - 1.5)
            recv_step = round((y0 + length * math.sin(math.radians(deg))) / 20 - 1.5)
        rows.append(
            {
                "id": n,
                "src": src,
                "dest": dest,
                "type": body.get("type"),
                "msg_id": body.get("msg_id"),
                "in_reply_to": body.get("in_reply_to"),
                "body": body,
                "send_time_s": math.nan,
                "recv_time_s": math.nan,
                "latency_ms": math.nan,
                "dropped": False,
                "send_step": send_step,
                "recv_step": recv_step,
                "source": "messages.svg",
            }
        )
    if bad:
        problems.append(f"messages.svg: {bad} message titles without 'src \u2192 dest': skipped")
    if "Additional network events not shown" in text:
        problems.append("messages.svg is cut short: Maelstrom drew only the first ~10,000 events")
    return pd.DataFrame(rows, columns=MESSAGE_COLUMNS), problems
