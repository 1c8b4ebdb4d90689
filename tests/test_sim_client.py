"""RPC outcomes become history ops as docs/protocol.md#from-rpc-outcome-to-history-op says; reply
schema checks."""

from __future__ import annotations

import pytest

from glome.edn import Keyword, dumps
from glome.errors import Crash, KeyDoesNotExist, RPCError, TemporarilyUnavailable
from glome.sim.workloads.client import ClientTimeout, MalformedReply, error_completion, require

NONE: frozenset[str] = frozenset()
READ = frozenset({"read"})


def test_timeout_with_errors_fail_if_idempotent_else_info() -> None:
    t = ClientTimeout("no reply")
    assert error_completion("read", t, with_errors=True, idempotent=READ) == {
        "type": "fail",
        "error": Keyword("net-timeout"),
    }
    assert error_completion("broadcast", t, with_errors=True, idempotent=READ) == {
        "type": "info",
        "error": Keyword("net-timeout"),
    }


def test_error_reply_definite_fails_indefinite_is_info() -> None:
    body = {"type": "error", "code": 11, "text": "temporarily-unavailable", "in_reply_to": 1}
    definite = TemporarilyUnavailable("temporarily-unavailable", body=body)
    out = error_completion("echo", definite, with_errors=True, idempotent=NONE)
    assert out == {
        "type": "fail",
        "error": [Keyword("temporarily-unavailable"), "temporarily-unavailable"],
    }
    assert dumps(out["error"]) == '[:temporarily-unavailable "temporarily-unavailable"]'
    crash = Crash("boom", body={"type": "error", "code": 13, "text": "boom"})
    assert error_completion("echo", crash, with_errors=True, idempotent=NONE)["type"] == "info"
    assert error_completion("read", crash, with_errors=True, idempotent=READ)["type"] == "fail"
    unknown = RPCError("custom", code=1234, body={"type": "error", "code": 1234, "text": "custom"})
    out = error_completion("echo", unknown, with_errors=True, idempotent=NONE)
    assert out == {"type": "info", "error": [Keyword("unknown"), "custom"]}


def test_without_with_errors_everything_is_info_with_exception() -> None:
    body = {"type": "error", "code": 20, "text": "key does not exist", "in_reply_to": 2}
    out = error_completion(
        "add", KeyDoesNotExist("key does not exist", body=body), with_errors=False, idempotent=NONE
    )
    assert out["type"] == "info"
    assert out["error"].startswith("indeterminate: throw+: {:type :rpc-error, :code 20")
    via = out["exception"]["via"][0]
    assert via["type"] == "clojure.lang.ExceptionInfo"
    assert via["data"]["name"] == Keyword("key-does-not-exist")
    timeout = error_completion("add", ClientTimeout("x"), with_errors=False, idempotent=NONE)
    assert timeout["error"] == "indeterminate: Client read timeout"


def test_malformed_reply_is_info_with_exception_even_with_errors() -> None:
    with pytest.raises(MalformedReply):
        require({"type": "read_ok", "in_reply_to": 1}, "read_ok", messages=list)
    with pytest.raises(MalformedReply):
        require({"type": "read_ok", "messages": []}, "read_ok", messages=list)
    with pytest.raises(MalformedReply):
        require({"type": "read_ok", "in_reply_to": 1, "value": True}, "read_ok", value=int)
    with pytest.raises(MalformedReply):
        require({"type": "echo", "in_reply_to": 1}, "echo_ok")
    ok = require(
        {"type": "read_ok", "in_reply_to": 1, "value": 3, "extra": 1}, "read_ok", value=int
    )
    assert ok["value"] == 3
    out = error_completion("read", MalformedReply("bad", {}), with_errors=True, idempotent=READ)
    assert out["type"] == "info" and "exception" in out
