"""The store directory, in Maelstrom's layout (spec section 7)::

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
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

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


def fast_dumps(value: Any) -> str:
    """``glome.edn.dumps`` with a fast path for the big values of histories (lists of ints).

    Byte-identical to ``dumps``; a broadcast read of thousands of elements is the common case.
    """
    if type(value) is list and set(map(type, value)) <= _INT_ONLY:
        return "[" + " ".join(map(str, value)) + "]"
    return dumps(value)


def op_edn(op: dict[str, Any], value_text: str | None = None) -> str:
    """``dumps(op_map(op))``, faster for ops with large values (one history.edn line).

    ``value_text`` is ``fast_dumps(op["value"])`` if the caller has it already.
    """
    value = op.get("value")
    if type(value) is not list:
        return dumps(op_map(op))
    line = dumps(op_map({**op, "value": None}))
    text = fast_dumps(value) if value_text is None else value_text
    return line.replace(", :value nil", ", :value " + text, 1)


def op_line(op: dict[str, Any], *, error_readable: bool, value_text: str | None = None) -> str:
    """``process  type  f  value[  error]``, tab separated (history.txt, jepsen.log)."""
    process = op["process"]
    fields = [
        ":nemesis" if process == "nemesis" else dumps(process),
        ":" + op["type"],
        ":" + op["f"],
        fast_dumps(op.get("value")) if value_text is None else value_text,
    ]
    if "error" in op:
        error = op["error"]
        if error_readable and not (isinstance(error, str) and not isinstance(error, Keyword)):
            fields.append(dumps(error))
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
        wall_clock: Callable[[], dt.datetime] | None = None,
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
        self._wall_clock = wall_clock or (lambda: dt.datetime.now(dt.UTC))
        self._value_text: dict[int, str] = {}
        self._stamp_second: dt.datetime | None = None
        self._stamp_prefix = ""
        self._log: IO[str] = (path / "jepsen.log").open("w", encoding="utf-8")
        self.journal: IO[bytes] = (path / "net-journal.jsonl").open("wb")
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
        now = self._wall_clock().astimezone(dt.UTC)
        ms = now.microsecond // 1000
        second = now.replace(microsecond=0)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp_prefix = second.strftime("%Y-%m-%d %H:%M:%S,")
        return f"{self._stamp_prefix}{ms:03d}{{GMT}}"

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
        text = None
        if type(op.get("value")) is list:  # big values: render once, reuse for the history files
            text = self._value_text[op["index"]] = fast_dumps(op["value"])
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

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()
        if not self.journal.closed:
            self.journal.close()
