"""glome.protocol: envelope parsing and its errors, exact JSON, sizes, endpoint names."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from glome.errors import ProtocolError
from glome.protocol import (
    BadEnvelope,
    Message,
    dumps_body,
    dumps_exact,
    encode,
    envelope_line,
    envelope_size,
    is_client,
    loads_exact,
    parse,
)

BIG = 123456789012345678901234


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"not json", "not-json"),
        (b"NaN", "not-json"),
        (b"[1, 2]", "not-an-object"),
        (b'{"src": "n0", "body": {}}', "missing-keys"),
        (b'{"src": "n0", "dest": "c1", "body": {}, "extra": 1}', "extra-keys"),
        (b'{"id": "7", "src": "n0", "dest": "c1", "body": {}}', "bad-id"),
        (b'{"id": true, "src": "n0", "dest": "c1", "body": {}}', "bad-id"),
        (b'{"src": 1, "dest": "c1", "body": {}}', "bad-src-dest"),
        (b'{"src": "n0", "dest": "c1", "body": [1]}', "body-not-object"),
    ],
)
def test_parse_names_the_problem(line: bytes, kind: str) -> None:
    with pytest.raises(BadEnvelope) as info:
        parse(line)
    assert info.value.kind == kind
    assert isinstance(info.value, ProtocolError) and str(info.value)


def test_parse_accepts_envelopes_with_and_without_id() -> None:
    msg = parse(b'{"id": 4, "src": "c1", "dest": "n0", "body": {"type": "echo", "msg_id": 1}}')
    assert (msg.id, msg.src, msg.dest, msg.type, msg.msg_id) == (4, "c1", "n0", "echo", 1)
    assert parse(b'{"src": "c1", "dest": "n0", "body": {}}').id is None


def test_big_integers_stay_exact() -> None:
    msg = parse(b'{"src": "c1", "dest": "n0", "body": {"v": %d}}' % BIG)
    assert msg.body["v"] == BIG and type(msg.body["v"]) is int
    assert loads_exact(dumps_exact({"v": -BIG})) == {"v": -BIG}
    with pytest.raises(TypeError):
        dumps_body({"v": BIG})  # what a node cannot send over orjson


def test_msg_id_is_an_int_never_a_bool() -> None:
    assert Message("c1", "n0", {"msg_id": True}).msg_id is None
    assert Message("c1", "n0", {"in_reply_to": 3}).in_reply_to == 3


@pytest.mark.parametrize(
    "body",
    [{"type": "x"}, {"type": "x", "s": 'h\u00e9 "q"', "n": [1, 2.5, None]}, {}],
)
@pytest.mark.parametrize("msg_id", [None, 0, 17, 123456])
def test_lines_and_sizes_are_what_orjson_writes(body: dict[str, Any], msg_id: int | None) -> None:
    envelope: dict[str, Any] = {} if msg_id is None else {"id": msg_id}
    envelope.update(src="n\u00e90", dest="c12", body=body)
    expected = orjson.dumps(envelope)
    line = envelope_line("n\u00e90", "c12", orjson.dumps(body), msg_id)
    assert line == expected
    assert envelope_size("n\u00e90", "c12", orjson.dumps(body), msg_id) == len(expected)
    assert encode("n\u00e90", "c12", body, msg_id) == expected


def test_a_body_is_sent_as_the_receiver_reads_it() -> None:
    assert dumps_body({1: "a", "b": 2}) == b'{"1":"a","b":2}'
    assert dumps_body({1: "x", "1": "y"}) == b'{"1":"y"}'  # one key, the last, as JSON reads it
    with pytest.raises(TypeError):
        dumps_body({"s": {1, 2}})


def test_client_names() -> None:
    assert is_client("c1") and not is_client("n1") and not is_client("lin-kv")
