"""Transports: line splitting, the stdio transport over real pipes, pollability checks."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from glome.errors import ProtocolError
from glome.protocol import Message, encode
from glome.runtime import transport as tr


def run_restoring_stdout(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main``; whatever it does to ``sys.stdout``, the test session gets its own back."""
    saved = sys.stdout
    try:
        asyncio.run(main())
    finally:
        sys.stdout = saved


def read_to_end(out_r: int, out_w: int) -> bytes:
    """Close the pipe's write end and read everything that was written to it."""
    os.close(out_w)
    with os.fdopen(out_r, "rb") as f:
        return f.read()


def split(chunks: list[bytes], *, eof: bool = True) -> tuple[list[bytes], bool]:
    lines: list[bytes] = []
    ended: list[bool] = []
    reader = tr._LineReader(lines.append, lambda: ended.append(True))
    for chunk in chunks:
        reader.data_received(chunk)
    if eof:
        reader.eof_received()
    return lines, bool(ended)


def test_line_reader_splits_across_chunks_and_flushes_the_last_line_at_eof() -> None:
    lines, ended = split([b"ab", b"c\nde", b"f\n\ng", b"h"])
    assert lines == [b"abc", b"def", b"", b"gh"] and ended
    assert split([b"x\n"], eof=False) == ([b"x"], False)


def test_line_reader_drops_an_overlong_line_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr, "MAX_LINE_BYTES", 10)
    lines, _ = split([b"short\n", b"x" * 8, b"x" * 8, b"x" * 8, b"tail\nnext\n", b"y" * 30])
    assert lines == [b"short", b"next"]  # the long line and the unterminated one are gone


@pytest.mark.parametrize(("path", "pollable"), [("/dev/null", False), ("file", False)])
def test_pollable(path: str, pollable: bool, tmp_path: Path) -> None:
    target = tmp_path / "f" if path == "file" else Path(path)
    if path == "file":
        target.write_text("x")
    fd = os.open(target, os.O_RDONLY)
    try:
        assert tr._pollable(fd) is pollable
    finally:
        os.close(fd)
    r, w = os.pipe()
    try:
        assert tr._pollable(r) and tr._pollable(w)
    finally:
        os.close(r)
        os.close(w)


def note(text: str) -> tuple[str, str, dict[str, Any]]:
    """(src, dest, body) of a message whose type is ``text``."""
    return "n1", "c1", {"type": text}


def line(text: str) -> bytes:
    return encode(*note(text))


class Inbox:
    """What a node's runtime is to a transport, for tests: a callback per message."""

    def __init__(
        self, on_message: Callable[[Message], None], on_end: Callable[[], None] = lambda: None
    ) -> None:
        self.on_message, self.on_end = on_message, on_end
        self.bad: list[bytes] = []

    def receive(self, message: Message, size: int) -> None:
        self.on_message(message)

    def malformed(self, line: bytes, error: ProtocolError) -> None:
        self.bad.append(line)

    def end(self) -> None:
        self.on_end()


def test_stdio_transport_over_pipes_batches_replies_and_flushes_on_close() -> None:
    """Lines in, replies out; output sent before stdout connects is not lost at close; the
    fds get their blocking mode back."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    async def main() -> None:
        transport = tr.StdioTransport(in_r, out_w)
        ended = asyncio.Event()

        def on_message(message: Message) -> None:
            transport.send(*note("got " + message.body["type"]))

        transport.start(Inbox(on_message, ended.set))
        transport.send(*note("hello"))  # before the writer is connected
        os.write(in_w, line("a") + b"\n" + line("b") + b"\n" + line("c") + b"\n")
        os.close(in_w)
        await asyncio.wait_for(ended.wait(), 5)
        await transport.close()

    run_restoring_stdout(main)
    expected = [line("hello"), line("got a"), line("got b"), line("got c")]
    assert read_to_end(out_r, out_w) == b"".join(x + b"\n" for x in expected)
    assert os.get_blocking(in_r)
    os.close(in_r)


def test_stdio_transport_close_right_after_start_still_delivers_output() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    async def main() -> None:
        transport = tr.StdioTransport(in_r, out_w)
        transport.start(Inbox(lambda message: None))
        transport.send(*note("said before stdout was connected"))
        await transport.close()

    run_restoring_stdout(main)
    assert read_to_end(out_r, out_w) == line("said before stdout was connected") + b"\n"
    os.close(in_r)
    os.close(in_w)


def test_stdio_transport_coalesces_writes_without_reordering() -> None:
    """A chunk's replies leave in one write; outside a chunk the first line goes at once and
    the rest of that loop pass is gathered into one more write."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    writes: list[bytes] = []

    async def main() -> None:
        transport = tr.StdioTransport(in_r, out_w)
        transport._emit = writes.append  # type: ignore[method-assign]

        def on_message(message: Message) -> None:
            for i in range(3):
                transport.send(*note(message.body["type"] + str(i)))

        def lines(*texts: str) -> bytes:
            return b"".join(line(text) + b"\n" for text in texts)

        transport.start(Inbox(on_message))
        transport._feed(lines("a", "b"))
        assert writes == [lines("a0", "a1", "a2", "b0", "b1", "b2")]
        for i in range(3):
            transport.send(*note(f"late{i}"))
        assert writes[1:] == [lines("late0")]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert writes[1:] == [lines("late0"), lines("late1", "late2")]
        transport.send(*note("next pass"))
        assert writes[-1] == lines("next pass")
        await transport.close()

    run_restoring_stdout(main)
    for fd in (in_r, in_w, out_r, out_w):
        os.close(fd)
