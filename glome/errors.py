"""Every error glome raises, in one place.

The protocol's error codes are ``ErrorCode``, an IntEnum whose members know whether they are
*definite* (the request certainly did not happen) or *indefinite* (it may have happened).

Exception hierarchy::

    GlomeError
    ├── RPCError                  an error reply, or no reply, to an RPC; has .code, .text, .definite
    │   ├── RPCTimeout            no reply within the timeout (code 0, indefinite)
    │   ├── NodeNotFound          1
    │   ├── NotSupported          10
    │   ├── TemporarilyUnavailable 11
    │   ├── MalformedRequest      12
    │   ├── Crash                 13 (indefinite)
    │   ├── Abort                 14
    │   ├── KeyDoesNotExist       20
    │   ├── KeyAlreadyExists      21
    │   ├── PreconditionFailed    22
    │   └── TxnConflict           30
    ├── ProtocolError             a line that is not a valid Maelstrom message
    └── RunnerError               the runner could not run the test as asked
        ├── NodeStartError        a node process could not start, or never answered init
        └── NodeCrashed           a node exited before teardown

A handler may raise any ``RPCError`` subclass to answer its request with that error code, for
example ``raise TxnConflict("key 3 changed")`` replies ``{"type": "error", "code": 30, ...}``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ErrorCode(IntEnum):
    """Maelstrom's error codes (docs/protocol.md#errors). Codes >= 1000 are user-defined."""

    TIMEOUT = 0
    NODE_NOT_FOUND = 1
    NOT_SUPPORTED = 10
    TEMPORARILY_UNAVAILABLE = 11
    MALFORMED_REQUEST = 12
    CRASH = 13
    ABORT = 14
    KEY_DOES_NOT_EXIST = 20
    KEY_ALREADY_EXISTS = 21
    PRECONDITION_FAILED = 22
    TXN_CONFLICT = 30

    @property
    def definite(self) -> bool:
        """True when an error with this code means the operation certainly did not happen."""
        return self not in (ErrorCode.TIMEOUT, ErrorCode.CRASH)

    @property
    def keyword(self) -> str:
        """Maelstrom's name for the code, as written in histories: ``temporarily-unavailable``."""
        return self.name.lower().replace("_", "-")


def is_definite(code: int) -> bool:
    """Definiteness of any code: unknown and user-defined codes are indefinite."""
    try:
        return ErrorCode(code).definite
    except ValueError:
        return False


class GlomeError(Exception):
    """Base class of every glome exception."""


class RPCError(GlomeError):
    """An RPC failed: the peer answered with an error body, or never answered."""

    code: int = ErrorCode.CRASH
    default_text: ClassVar[str] = "error"

    def __init__(
        self,
        text: str | None = None,
        *,
        code: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.text = text if text is not None else self.default_text
        self.body = body or {}
        super().__init__(f"{self.code_name} ({self.code}): {self.text}")

    @property
    def definite(self) -> bool:
        return is_definite(self.code)

    @property
    def code_name(self) -> str:
        try:
            return ErrorCode(self.code).keyword
        except ValueError:
            return "unknown"

    def to_body(self) -> dict[str, Any]:
        """The error as a reply body (without in_reply_to)."""
        return {"type": "error", "code": int(self.code), "text": self.text}

    @staticmethod
    def from_body(body: dict[str, Any]) -> RPCError:
        """The exception for an error reply body, as the most specific subclass."""
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            # We cannot tell what the peer meant, so the outcome is unknown: indefinite (13).
            return Crash(f"error reply without an integer code: {body!r}", body=body)
        text = body.get("text")
        text = text if isinstance(text, str) else None
        cls = _BY_CODE.get(code, RPCError)
        return cls(text, code=code, body=body)


class RPCTimeout(RPCError):
    code = ErrorCode.TIMEOUT
    default_text = "timed out waiting for a reply"


class NodeNotFound(RPCError):
    code = ErrorCode.NODE_NOT_FOUND
    default_text = "node not found"


class NotSupported(RPCError):
    code = ErrorCode.NOT_SUPPORTED
    default_text = "not supported"


class TemporarilyUnavailable(RPCError):
    code = ErrorCode.TEMPORARILY_UNAVAILABLE
    default_text = "temporarily unavailable"


class MalformedRequest(RPCError):
    code = ErrorCode.MALFORMED_REQUEST
    default_text = "malformed request"


class Crash(RPCError):
    code = ErrorCode.CRASH
    default_text = "crash"


class Abort(RPCError):
    code = ErrorCode.ABORT
    default_text = "abort"


class KeyDoesNotExist(RPCError):
    code = ErrorCode.KEY_DOES_NOT_EXIST
    default_text = "key does not exist"


class KeyAlreadyExists(RPCError):
    code = ErrorCode.KEY_ALREADY_EXISTS
    default_text = "key already exists"


class PreconditionFailed(RPCError):
    code = ErrorCode.PRECONDITION_FAILED
    default_text = "precondition failed"


class TxnConflict(RPCError):
    code = ErrorCode.TXN_CONFLICT
    default_text = "transaction conflict"


_BY_CODE: dict[int, type[RPCError]] = {
    cls.code: cls
    for cls in (
        RPCTimeout,
        NodeNotFound,
        NotSupported,
        TemporarilyUnavailable,
        MalformedRequest,
        Crash,
        Abort,
        KeyDoesNotExist,
        KeyAlreadyExists,
        PreconditionFailed,
        TxnConflict,
    )
}


class ProtocolError(GlomeError):
    """A line that is not a valid Maelstrom message (not JSON, not an object, missing fields)."""


class RunnerError(GlomeError):
    """The runner could not run the test as asked."""


class NodeStartError(RunnerError):
    """A node process could not start, or did not answer init in time."""


class NodeCrashed(RunnerError):
    """A node exited before teardown."""
