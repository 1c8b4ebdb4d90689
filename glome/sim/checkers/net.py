"""``:net``: message counts from the message journal (Maelstrom's net checker,
docs/protocol.md#the-results-map).

The journal is ``net-journal.jsonl`` (format in ``docs/design.md``): one record per message.
Every record is one send; a record with a ``recv_time`` is also one delivery. ``msg-count`` is
the number of distinct message ids. ``clients`` counts messages with a client (an id starting
with ``c``) at either end, including ``init`` and ``topology`` traffic; ``servers`` is the rest
(node to node and node to service). ``msgs-per-op`` = msg-count / client invocations (all
non-nemesis ``:invoke`` ops, final phase included), only under ``all`` and ``servers``, and
only when something was invoked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from glome.protocol import is_client
from glome.sim.checkers import History, jfloat
from glome.sim.options import TestOptions

Journal = str | os.PathLike[str] | Iterable[Mapping[str, Any]]


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a ``net-journal.jsonl`` file, one per non-empty line."""
    with Path(path).open("rb") as lines:
        yield from journal_records(lines, str(path))


def journal_records(lines: Iterable[bytes], source: str = "journal") -> Iterator[dict[str, Any]]:
    """The records of journal lines (``source`` names them in errors), skipping empty ones."""
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():  # (strip() would copy every line to find out)
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"{source}:{number}: not a JSON journal record: {e}") from None
        if not isinstance(record, dict):
            raise ValueError(f"{source}:{number}: journal record is not an object")
        yield record


class _Counts:
    __slots__ = ("ids", "recvs", "sends")

    def __init__(self) -> None:
        self.sends = 0
        self.recvs = 0
        self.ids: set[Any] = set()

    def add(self, record: Mapping[str, Any]) -> None:
        self.sends += 1
        if record.get("recv_time") is not None and not record.get("dropped"):
            self.recvs += 1
        self.ids.add(record.get("id"))

    def as_map(self) -> dict[str, Any]:
        return {"send-count": self.sends, "recv-count": self.recvs, "msg-count": len(self.ids)}


def journal_stats(messages: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{"all": ..., "clients": ..., "servers": ...}`` send/recv/msg counts."""
    all_, clients, servers = _Counts(), _Counts(), _Counts()
    for record in messages:
        if "id" not in record:
            raise ValueError(f"journal record without an id: {record!r}")
        all_.add(record)
        src, dest = record.get("src"), record.get("dest")
        if (isinstance(src, str) and is_client(src)) or (isinstance(dest, str) and is_client(dest)):
            clients.add(record)
        else:
            servers.add(record)
    return {"all": all_.as_map(), "clients": clients.as_map(), "servers": servers.as_map()}


def check(
    history: History,
    opts: TestOptions | None = None,
    *,
    journal: Journal | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Net statistics; ``journal`` is the journal path or an iterable of message records."""
    if journal is None:
        raise ValueError("the net checker needs the message journal (journal=path or records)")
    if isinstance(journal, str | os.PathLike):
        stats = journal_stats(read_journal(journal))
    else:
        stats = journal_stats(journal)
    op_count = sum(
        1 for op in history if op.get("process") != "nemesis" and op.get("type") == "invoke"
    )
    if op_count:
        for part in ("all", "servers"):
            stats[part]["msgs-per-op"] = jfloat(stats[part]["msg-count"] / op_count)
    result: dict[str, Any] = dict(stats)
    result["valid?"] = True
    return result
