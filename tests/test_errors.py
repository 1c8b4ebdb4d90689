"""ErrorCode and the exception hierarchy agree with the spec's error table (section 1.6)."""

from __future__ import annotations

import pytest

from glome import errors
from glome.errors import ErrorCode, RPCError, is_definite

SPEC_TABLE = {  # code: (keyword, definite?)
    0: ("timeout", False),
    1: ("node-not-found", True),
    10: ("not-supported", True),
    11: ("temporarily-unavailable", True),
    12: ("malformed-request", True),
    13: ("crash", False),
    14: ("abort", True),
    20: ("key-does-not-exist", True),
    21: ("key-already-exists", True),
    22: ("precondition-failed", True),
    30: ("txn-conflict", True),
}


def test_error_codes_match_the_spec_table() -> None:
    assert {int(c) for c in ErrorCode} == set(SPEC_TABLE)
    for code, (keyword, definite) in SPEC_TABLE.items():
        assert ErrorCode(code).keyword == keyword
        assert ErrorCode(code).definite is definite
        assert is_definite(code) is definite


@pytest.mark.parametrize("code", [2, 999, 1000, 12345, -1])
def test_unknown_and_user_defined_codes_are_indefinite(code: int) -> None:
    assert is_definite(code) is False
    err = RPCError.from_body({"type": "error", "code": code})
    assert type(err) is RPCError
    assert err.code_name == "unknown" and not err.definite


@pytest.mark.parametrize("code", sorted(SPEC_TABLE))
def test_from_body_picks_the_subclass_and_round_trips(code: int) -> None:
    err = RPCError.from_body({"type": "error", "code": code, "text": "why"})
    assert type(err) is not RPCError
    assert err.code == code and err.text == "why"
    assert err.definite is SPEC_TABLE[code][1]
    assert err.to_body() == {"type": "error", "code": code, "text": "why"}
    # raising the class with no text uses its default text and its own code
    bare = type(err)()
    assert bare.code == code and bare.text == bare.default_text


@pytest.mark.parametrize(
    "body",
    [
        {"type": "error"},
        {"type": "error", "code": "11"},
        {"type": "error", "code": True},
        {"type": "error", "code": 1.5},
    ],
)
def test_error_reply_without_an_integer_code_is_indefinite(body: dict[str, object]) -> None:
    err = RPCError.from_body(body)
    assert isinstance(err, errors.Crash)
    assert not err.definite


def test_exception_hierarchy() -> None:
    assert issubclass(errors.RPCTimeout, errors.RPCError)
    assert issubclass(errors.RPCError, errors.GlomeError)
    assert issubclass(errors.ProtocolError, errors.GlomeError)
    assert issubclass(errors.NodeStartError, errors.RunnerError)
    assert issubclass(errors.NodeCrashed, errors.RunnerError)
    assert "txn-conflict (30): key 3" in str(errors.TxnConflict("key 3"))
    assert errors.TxnConflict("x").code_name == "txn-conflict"
