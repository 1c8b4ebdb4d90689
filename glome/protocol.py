"""The Maelstrom protocol on the wire: envelopes, their validation, exact JSON, endpoint names.

One message is one line of JSON, an *envelope*::

    {"id": 17, "src": "c4", "dest": "n0", "body": {"type": "echo", "msg_id": 1, ...}}

with exactly the keys ``src``, ``dest``, ``body`` and an optional integer ``id`` (the network's
number for the message). ``src`` and ``dest`` are strings, ``body`` is an object. Clients are
named ``c1``, ``c2`` ...; nodes ``n0``, ``n1`` ...; services by their name (``lin-kv``).

Every part of glome that reads or writes envelopes uses this module: the node runtime (over
stdio), the in-process simulator, the process host, the network's journal and the net checker.
It imports nothing heavier than orjson, because node processes import it at start-up.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import orjson

from glome.errors import ProtocolError

ENVELOPE_KEYS = frozenset({"id", "src", "dest", "body"})
REQUIRED_KEYS = ("src", "dest", "body")

_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
"""A run of 19 digits may be an integer beyond 64 bits (translate + find: 2-10x a regex)."""


class BadEnvelope(ProtocolError):
    """A line that is not a valid envelope. ``kind`` names the problem in one word (for
    counting: ``not-json``, ``extra-keys`` ...); the message explains it in a sentence."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class Message:
    """An envelope ``{"src", "dest", "body"}``; ``id`` is the network's number, if any."""

    __slots__ = ("body", "dest", "id", "src")

    def __init__(self, src: str, dest: str, body: dict[str, Any], id: int | None = None) -> None:
        self.src = src
        self.dest = dest
        self.body = body
        self.id = id

    @property
    def type(self) -> str:
        return self.body["type"]

    @property
    def msg_id(self) -> int | None:
        v = self.body.get("msg_id")
        return v if type(v) is int else None

    @property
    def in_reply_to(self) -> int | None:
        v = self.body.get("in_reply_to")
        return v if type(v) is int else None

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dest": self.dest, "body": self.body}

    def __repr__(self) -> str:
        return f"Message({self.src!r} -> {self.dest!r}, {self.body!r})"


# ------------------------------------------------------------------------------- exact JSON
def loads_exact(line: bytes | str) -> Any:
    """``orjson.loads``, except that integers beyond 64 bits stay exact integers.

    orjson turns them into floats; JSON (and Maelstrom) keeps them, so a line that may hold one
    (a run of 19 digits) is read with the standard library instead. Raises ``ValueError``
    (``orjson.JSONDecodeError`` is one) for a line that is not JSON.
    """
    raw = line.encode() if isinstance(line, str) else line
    if _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO):
        return json.loads(raw, parse_constant=_reject_constant)
    return orjson.loads(raw)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def dumps_exact(value: Any, newline: bool = False) -> bytes:
    """``orjson.dumps`` (non-string keys allowed), falling back to the standard library for
    what orjson refuses: integers beyond 64 bits (kept exact) and lone surrogates (escaped)."""
    option = _NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE if newline else _NON_STR_KEYS
    try:
        return orjson.dumps(value, option=option)
    except TypeError:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        # backslashreplace writes a lone surrogate as the JSON escape \udXXX itself.
        return text.encode("utf-8", "backslashreplace") + (b"\n" if newline else b"")


def dumps_body(body: dict[str, Any]) -> bytes:
    """A body as a node sends it: orjson, non-string keys written as strings.

    The bytes are always those of the JSON the receiver reads back: with a non-string key, two
    keys may come out as the same string (``{1: x, "1": y}``), and then only the last one is
    kept, as any JSON reader would keep it. Raises ``TypeError`` for what JSON cannot hold
    (a set, an integer beyond 64 bits).
    """
    try:
        return orjson.dumps(body)
    except TypeError:
        return orjson.dumps(orjson.loads(orjson.dumps(body, option=_NON_STR_KEYS)))


# -------------------------------------------------------------------------------- envelopes
def encode(src: str, dest: str, body: dict[str, Any], msg_id: int | None = None) -> bytes:
    """One message as its line (without the newline). Raises ``TypeError`` as ``dumps_body``."""
    envelope = {"src": src, "dest": dest, "body": body}
    try:
        return orjson.dumps(envelope if msg_id is None else {"id": msg_id, **envelope})
    except TypeError:  # a key that is not a string, or what JSON cannot hold: as dumps_body
        return envelope_line(src, dest, dumps_body(body), msg_id)


def envelope_line(src: str, dest: str, body_json: bytes, msg_id: int | None = None) -> bytes:
    """The line of an envelope whose body is already JSON: byte for byte what orjson writes
    for ``{"id": msg_id, "src": src, "dest": dest, "body": body}`` (no ``id`` when None)."""
    if msg_id is None:
        return b'{"src":%b,"dest":%b,"body":%b}' % (quoted(src), quoted(dest), body_json)
    return b'{"id":%d,"src":%b,"dest":%b,"body":%b}' % (
        msg_id,
        quoted(src),
        quoted(dest),
        body_json,
    )


def envelope_size(src: str, dest: str, body_json: bytes, msg_id: int | None = None) -> int:
    """``len(envelope_line(src, dest, body_json, msg_id))``, without building the line: the
    envelope around a body costs the same bytes for every message between two endpoints."""
    size = _frame_size(src, dest) + len(body_json)
    return size if msg_id is None else size + len(b'"id":%d,' % msg_id)


@functools.lru_cache(maxsize=65_536)
def _frame_size(src: str, dest: str) -> int:
    return len(envelope_line(src, dest, b""))


_QUOTED: dict[str, bytes] = {}


def quoted(endpoint: str) -> bytes:
    """``endpoint`` as a JSON string (remembered: endpoint ids repeat constantly)."""
    text = _QUOTED.get(endpoint)
    if text is None:
        text = orjson.dumps(endpoint)
        if len(_QUOTED) < 65_536:
            _QUOTED[endpoint] = text
    return text


def parse(line: bytes | str) -> Message:
    """Parse one line into a ``Message``, or raise ``BadEnvelope`` saying what is wrong."""
    try:
        data = loads_exact(line)
    except ValueError as e:  # orjson.JSONDecodeError is a ValueError too
        raise BadEnvelope("not-json", f"not valid JSON ({e})") from None
    # The common case in one test (src, dest, body and perhaps an integer id, nothing else);
    # envelope_problem explains anything else.
    if type(data) is dict:
        src, dest, body, msg_id = (
            data.get("src"),
            data.get("dest"),
            data.get("body"),
            data.get("id"),
        )
        if (
            type(src) is str
            and type(dest) is str
            and type(body) is dict
            and (msg_id is None or type(msg_id) is int)
            and len(data) == (3 if msg_id is None else 4)
        ):
            return Message(src, dest, body, msg_id)
    kind, text = envelope_problem(data) or ("bad-envelope", "not an envelope")
    raise BadEnvelope(kind, text)


def envelope_problem(data: Any) -> tuple[str, str] | None:
    """What is wrong with ``data`` as an envelope: ``(kind, sentence)``, or None if nothing."""
    if not isinstance(data, dict):
        return "not-an-object", f"a JSON {type(data).__name__}, not an object"
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        return "missing-keys", f"missing {', '.join(missing)}"
    extra = sorted(set(data) - ENVELOPE_KEYS)
    if extra:
        return "extra-keys", (
            f"extra top-level key(s) {', '.join(map(repr, extra))} "
            "(a message has exactly src, dest, body and an optional integer id)"
        )
    if "id" in data and type(data["id"]) is not int:
        return "bad-id", "'id' is not an integer"
    if not isinstance(data["src"], str) or not isinstance(data["dest"], str):
        return "bad-src-dest", "src and dest must be strings"
    body = data["body"]
    if not isinstance(body, dict):
        return "body-not-object", f"body is a JSON {type(body).__name__}, not an object"
    return None


# ---------------------------------------------------------------------------- endpoint names
def is_client(endpoint: str) -> bool:
    """Clients are ``c1``, ``c2`` ... (Maelstrom's test: the id starts with ``c``); nodes
    ``n*`` and services (``lin-kv``) are not."""
    return endpoint.startswith("c")
