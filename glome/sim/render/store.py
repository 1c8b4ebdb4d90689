"""The store directory, in Maelstrom's layout (docs/protocol.md#the-store)::

    <root>/latest -> <workload>/<ts>        <root>/<workload>/latest -> <ts>
    <root>/<workload>/<ts>/
        results.edn  history.edn  history.txt  jepsen.log  test.json  net-journal.jsonl
        node-logs/<id>.log   state/<id>/   (durable node state, glome only)

``<ts>`` is the local start time as Maelstrom writes it (``20250421T094338.263+0530``); if that
directory exists already the milliseconds are bumped, so two runs never share a directory.
Nothing written *inside* the directory depends on its name, so runs with the same seed give
byte-identical ``history.edn`` and ``net-journal.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from glome.edn import Keyword, dumps, op_map

VERDICTS = {
    True: "Everything looks good! ヽ(‘ー`)ノ",
    False: "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻",
    None: "Errors occurred during analysis, but no anomalies found. ಠ~ಠ",
}


def verdict_line(valid: Any) -> str:
    """Maelstrom's last console line for a ``:valid?`` value (``:unknown`` -> the third)."""
    if valid is True:
        return VERDICTS[True]
    if valid is False:
        return VERDICTS[False]
    return VERDICTS[None]


def timestamp_name(when: dt.datetime) -> str:
    """``20250421T094338.263+0530`` (``Z`` for UTC), Joda's basic date-time."""
    offset = when.strftime("%z")
    suffix = "Z" if offset in ("+0000", "") else offset
    return when.strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}" + suffix


def _unreadable(value: Any) -> str:
    """EDN printed *non-readably*, as Clojure's ``print``: strings without quotes."""
    if isinstance(value, Keyword):
        return dumps(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(_unreadable(v) for v in value) + "]"
    return dumps(value)


_INT_ONLY = frozenset({int})
_INT_VECTOR_BYTES = b"0123456789-,[]"
_orjson_dumps = orjson.dumps
_ESCAPED = re.compile(r'["\\\n\t\r]')
"""The characters ``glome.edn`` escapes inside strings."""
_KEY_TEXT: dict[tuple[type, Any], str] = {}


def _key_text(key: Any) -> str:
    """How ``glome.edn.dumps`` writes ``key`` as a map key (cached: keys repeat constantly)."""
    cache_key = (type(key), key)
    text = _KEY_TEXT.get(cache_key)
    if text is None:
        text = dumps({key: None})[1:-5]  # "{<key> nil}"
        if len(_KEY_TEXT) < 4096:
            _KEY_TEXT[cache_key] = text
    return text


def fast_dumps(value: Any) -> str:
    """``glome.edn.dumps``, byte for byte, with fast paths for what histories are made of.

    Ints, plain strings without escapes, nil, booleans, keywords, vectors and string-keyed
    maps are rendered here; anything else (floats, sets, tagged values...) by ``dumps``.
    A broadcast read of thousands of integers is the common big case.
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return dumps(value) if _ESCAPED.search(value) else '"' + value + '"'
    if kind is Keyword:
        return ":" + str.__str__(value)
    if value is None:
        return "nil"
    if kind is bool:
        return "true" if value else "false"
    if kind is list or kind is tuple:
        if value and type(value[0]) is int:
            # Integer vectors (broadcast reads of thousands): orjson writes "[1,2,3]" 15x faster
            # than str() per element. Only digits, signs, commas and brackets mean nothing but
            # (nested) integers, whose EDN is the same text with spaces for commas.
            try:
                raw = _orjson_dumps(value)
            except TypeError:  # an integer beyond 64 bits
                raw = b"?"
            if not raw.translate(None, _INT_VECTOR_BYTES):
                return raw.decode().replace(",", " ")
        if set(map(type, value)) <= _INT_ONLY:
            return "[" + " ".join(map(str, value)) + "]"
        return "[" + " ".join(map(fast_dumps, value)) + "]"
    if kind is dict:
        return "{" + ", ".join(f"{_key_text(k)} {fast_dumps(v)}" for k, v in value.items()) + "}"
    return dumps(value)


def op_edn(op: dict[str, Any], value_text: str | None = None) -> str:
    """``dumps(op_map(op))``, faster (one history.edn line).

    ``value_text`` is ``fast_dumps(op["value"])`` if the caller has it already.
    """
    if value_text is None:
        return fast_dumps(op_map(op))
    line = fast_dumps(op_map({**op, "value": None}))
    return line.replace(", :value nil", ", :value " + value_text, 1)


def op_line(op: dict[str, Any], *, error_readable: bool, value_text: str | None = None) -> str:
    """``process  type  f  value[  error]``, tab separated (history.txt, jepsen.log)."""
    process = op["process"]
    fields = [
        ":nemesis" if process == "nemesis" else fast_dumps(process),
        ":" + op["type"],
        ":" + op["f"],
        fast_dumps(op.get("value")) if value_text is None else value_text,
    ]
    if "error" in op:
        error = op["error"]
        if error_readable and not (isinstance(error, str) and not isinstance(error, Keyword)):
            fields.append(fast_dumps(error))
        else:
            fields.append(_unreadable(error))
    return "\t".join(fields)


def pretty_results(results: dict[str, Any]) -> str:
    """results.edn: one top-level key per line, each value on one EDN line."""
    items = [f":{key} {dumps(value)}" for key, value in results.items()]
    return "{" + ",\n ".join(items) + "}\n"


class Store:
    """One run's directory; creates it, keeps jepsen.log open, writes the other files."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        workload: str,
        started: dt.datetime | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.root = Path(root)
        self.workload = workload
        started = started or dt.datetime.now().astimezone()
        self.started = started
        base = self.root / workload
        base.mkdir(parents=True, exist_ok=True)
        when = started
        while True:
            path = base / timestamp_name(when)
            try:
                path.mkdir()
                break
            except FileExistsError:
                when += dt.timedelta(milliseconds=1)
        self.path = path
        (path / "node-logs").mkdir()
        self._wall_clock = wall_clock or time.time
        """POSIX seconds for jepsen.log stamps (virtual runs pass start + virtual time)."""
        self._value_text: dict[int, str] = {}
        self._stamp_second = -1
        self._stamp_prefix = ""
        self._log: IO[str] = (path / "jepsen.log").open("w", encoding="utf-8")
        self._link()

    def _link(self) -> None:
        for link, target in (
            (self.root / "latest", Path(self.workload) / self.path.name),
            (self.root / self.workload / "latest", Path(self.path.name)),
        ):
            try:
                tmp = link.with_name(f".{link.name}.{os.getpid()}")
                if tmp.is_symlink() or tmp.exists():
                    tmp.unlink()
                tmp.symlink_to(target)
                os.replace(tmp, link)
            except OSError:
                pass  # symlinks are a convenience (some filesystems refuse them)

    # ----------------------------------------------------------------------------- jepsen.log
    def _stamp(self) -> str:
        now = self._wall_clock()
        second = int(now)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp_prefix = time.strftime("%Y-%m-%d %H:%M:%S,", time.gmtime(second))
        return f"{self._stamp_prefix}{int((now - second) * 1000):03d}{{GMT}}"

    def log(
        self,
        message: str,
        *,
        thread: str = "jepsen test runner",
        logger: str = "jepsen.core",
        level: str = "INFO",
    ) -> None:
        """One jepsen.log line in Maelstrom's logback pattern (the literal ``{GMT}`` included)."""
        self._log.write(f"{self._stamp()}\t{level}\t[{thread}] {logger}: {message}\n")

    def log_op(self, op: dict[str, Any]) -> None:
        process = op["process"]
        thread = "jepsen worker nemesis" if process == "nemesis" else f"jepsen worker {process}"
        # Render the value once; history.edn and history.txt reuse the text at the end.
        text = self._value_text[op["index"]] = fast_dumps(op.get("value"))
        self.log(
            op_line(op, error_readable=True, value_text=text), thread=thread, logger="jepsen.util"
        )

    def log_raw(self, text: str) -> None:
        self._log.write(text if text.endswith("\n") else text + "\n")

    # ------------------------------------------------------------------------------- files
    def write_history(self, history: Iterable[dict[str, Any]]) -> None:
        ops = list(history)
        texts = self._value_text
        with (self.path / "history.edn").open("w", encoding="utf-8") as f:
            f.writelines(op_edn(op, texts.get(op["index"])) + "\n" for op in ops)
        with (self.path / "history.txt").open("w", encoding="utf-8") as f:
            f.writelines(
                op_line(op, error_readable=False, value_text=texts.get(op["index"])) + "\n"
                for op in ops
            )

    def write_results(self, results: dict[str, Any]) -> None:
        (self.path / "results.edn").write_text(pretty_results(results), encoding="utf-8")

    def write_test(self, test: dict[str, Any]) -> None:
        (self.path / "test.json").write_text(
            json.dumps(test, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )

    def write_journal(self, journal: bytes) -> None:
        """``net-journal.jsonl``: the network's journal lines, as the run settled them."""
        (self.path / "net-journal.jsonl").write_bytes(journal)

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()


HOST_LOGGER = "glome.sim.hosts.processes"
"""The logger of the process host's live notices (``HostNotices`` copies them)."""


class HostNotices(logging.Handler):
    """Copies the process host's live notices (bad lines with excerpts, a crash, throttling,
    a stalled stdin) into jepsen.log as they happen, up to ``limit`` records.

    Only records emitted on the run's own thread are taken, so two runs in one interpreter
    (a notebook's helper threads) do not write into each other's logs.
    """

    def __init__(self, store: Store, limit: int, echo: Callable[[str], None] | None) -> None:
        super().__init__(level=logging.WARNING)
        self.store = store
        self.limit = limit
        self.echo = echo
        self.thread = threading.get_ident()
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        self.seen += 1
        if self.seen > self.limit:
            return
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not break the run
            text = str(record.msg)
        self.store.log(text, thread="glome host", logger=record.name, level=record.levelname)
        if self.echo is not None:
            self.echo(f"glome: {record.levelname.lower()}: {text}")

    def finish(self) -> None:
        """Detach; note how many records went past the limit."""
        logging.getLogger(HOST_LOGGER).removeHandler(self)
        if self.seen > self.limit:
            self.store.log(
                f"{self.seen - self.limit} more notices from the node host were not logged "
                f"(only the first {self.limit} are)",
                thread="glome host",
                logger=HOST_LOGGER,
                level="WARN",
            )
