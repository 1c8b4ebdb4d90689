"""Structured logs: one JSON object per line on stderr, through the standard logging module.

Fields: ``level``, ``logger``, ``node``, ``msg``, and whatever the call passes in ``extra``
(``type``, ``msg_id``, ``in_reply_to``, ``src``, ``dest``...). The level comes from
``GLOME_LOG_LEVEL`` (default INFO); the ``glome.metrics`` logger (one line when a node stops)
stays at INFO whatever that level, so quiet nodes still report their metrics.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"level": record.levelname.lower(), "logger": record.name}
        out["msg"] = record.getMessage()
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(out, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # ints beyond 64 bits, lone surrogates: never lose the record
            return orjson.dumps({_safe(k): _safe(v) for k, v in out.items()}).decode()


def _safe(value: Any) -> Any:
    """A JSON-safe stand-in: scalars as they are, strings with lone surrogates escaped."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return ascii(value)


def configure(stream: Any = None, level: str | None = None) -> None:
    """Send glome's logs to ``stream`` (stderr) as JSON lines. Idempotent."""
    root = logging.getLogger("glome")
    for h in list(root.handlers):
        if getattr(h, "_glome", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._glome = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("GLOME_LOG_LEVEL", "INFO")).upper())
    root.propagate = False
    logging.getLogger("glome.metrics").setLevel(logging.INFO)
