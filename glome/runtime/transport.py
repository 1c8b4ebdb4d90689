"""Transports: how a node's messages get in and out. Node code never sees stdin or stdout.

A transport carries ``Message`` objects. ``start(inbox)`` makes it deliver each incoming
message to ``inbox.receive(message, size)`` (``size``: the length of its line), a line that is
not a valid envelope to ``inbox.malformed(line, error)`` and end of input to ``inbox.end()``.
``send(src, dest, body)`` sends one message and returns the bytes it took on the wire (its line
and newline); it raises ``TypeError`` for a body JSON cannot hold. Two exist:

- ``StdioTransport``: a real Maelstrom binary, JSON lines over asyncio pipes on fd 0 and 1.
- ``MemoryTransport``: the simulator's and the tests' (``glome.testing``); messages are handed
  over as objects, with their body's JSON, and never turned into lines and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import stat
import sys
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from glome.errors import ProtocolError
from glome.protocol import BadEnvelope, Message, dumps_body, dumps_exact, envelope_size, parse
from glome.protocol import encode as encode_line

log = logging.getLogger("glome.transport")

LineHandler = Callable[[bytes], None]
EofHandler = Callable[[], None]

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A longer line is dropped (logged) rather than buffered without bound."""


class Inbox(Protocol):
    """Where a transport delivers: the node's runtime (``glome.runtime._dispatch``)."""

    def receive(self, message: Message, size: int) -> None: ...
    def malformed(self, line: bytes, error: ProtocolError) -> None: ...
    def end(self) -> None: ...


class Transport(Protocol):
    def start(self, inbox: Inbox) -> None: ...
    def send(self, src: str, dest: str, body: dict[str, Any]) -> int: ...
    async def close(self) -> None: ...


def read_line(inbox: Inbox, line: bytes) -> None:
    """Parse one incoming line and hand the result to ``inbox``."""
    try:
        message = parse(line)
    except BadEnvelope as e:
        inbox.malformed(line, e)
        return
    inbox.receive(message, len(line))


Outbox = Callable[[str, str, dict[str, Any], bytes], None]
"""``outbox(src, dest, body, body_json)``: a message a node sent, and its body as JSON bytes."""


class MemoryTransport:
    """Messages in and out as objects: ``deliver(message)`` feeds the node, and every message
    it sends goes to ``outbox(src, dest, body, body_json)``.

    The body is serialised once, when it is sent (so what the sender does with its dict later
    changes nothing, and a body JSON cannot hold fails at the sender, as over stdio). The
    receiving side parses ``body_json`` into its own copy. No line is ever built: the sizes the
    node counts are those of the lines the messages stand for.
    """

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._inbox: Inbox | None = None
        self.closed = False

    def start(self, inbox: Inbox) -> None:
        self._inbox = inbox

    @property
    def accepting(self) -> bool:
        """Would ``deliver`` reach the node (started and not closed)?"""
        return self._inbox is not None and not self.closed

    def deliver(self, message: Message, size: int | None = None) -> None:
        """Hand the node one message (the node takes its body over). ``size`` is the length
        of the line it stands for; by default that of ``message`` with its own ``id``."""
        inbox = self._inbox
        if inbox is not None and not self.closed:
            if size is None:
                body_json = dumps_exact(message.body)
                size = envelope_size(message.src, message.dest, body_json, message.id)
            inbox.receive(message, size)

    def deliver_line(self, line: bytes) -> None:
        """Hand the node one line, parsed as a stdio transport would (malformed ones too)."""
        if self._inbox is not None and not self.closed:
            read_line(self._inbox, line)

    def end(self) -> None:
        """End of input, as EOF on stdin."""
        if self._inbox is not None and not self.closed:
            self._inbox.end()

    def send(self, src: str, dest: str, body: dict[str, Any]) -> int:
        body_json = dumps_body(body)
        if not self.closed:
            self._outbox(src, dest, body, body_json)
        return envelope_size(src, dest, body_json) + 1

    async def close(self) -> None:
        self.closed = True


class _LineReader(asyncio.Protocol):
    """Splits a byte stream into lines and hands each to ``on_line`` as it arrives."""

    def __init__(self, on_line: LineHandler, on_eof: EofHandler) -> None:
        self.on_line, self.on_eof = on_line, on_eof
        self.buffer = bytearray()
        self.discarding = False

    def data_received(self, data: bytes) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self.discarding:
                self.discarding = False
            elif self.buffer:
                self.buffer += data[start:end]
                line = bytes(self.buffer)
                self.buffer.clear()
                self.on_line(line)
            else:
                self.on_line(data[start:end])
            start = end + 1
        if start < len(data) and not self.discarding:
            self.buffer += data[start:]
            if len(self.buffer) > MAX_LINE_BYTES:
                log.error("dropping an input line longer than %d bytes", MAX_LINE_BYTES)
                self.buffer.clear()
                self.discarding = True

    def eof_received(self) -> bool:
        if self.buffer and not self.discarding:
            line = bytes(self.buffer)
            self.buffer.clear()
            self.on_line(line)
        self.on_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class _PipeReader:
    """Reads a pollable fd with ``loop.add_reader`` and feeds a ``_LineReader``.

    Not asyncio's read-pipe transport: that one reads 256 KiB per call, and on glibc such a
    buffer is mmapped, shrunk and unmapped again for every short read (three syscalls per
    message). 64 KiB stays below the mmap threshold, on the heap.
    """

    CHUNK = 64 * 1024

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        feed: Callable[[bytes], None],
        protocol: _LineReader,
    ) -> None:
        self.loop, self.fd, self.feed, self.protocol = loop, fd, feed, protocol
        self.reading = False
        self.closed = False

    def resume_reading(self) -> None:
        if not self.reading and not self.closed:
            self.loop.add_reader(self.fd, self._ready)
            self.reading = True

    def pause_reading(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.fd)
            self.reading = False

    def close(self) -> None:
        self.pause_reading()
        self.closed = True

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, self.CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # stdin went away: treat it as end of input
            log.error("reading stdin failed: %s", e)
            data = b""
        if data:
            self.feed(data)
        else:
            self.close()
            self.protocol.eof_received()


class _Writer(asyncio.Protocol):
    """Write side: pauses reading while the pipe to Maelstrom is full (bounded memory)."""

    def __init__(self, owner: StdioTransport) -> None:
        self.owner = owner  # looked up at pause time: the reader may connect after the writer

    def pause_writing(self) -> None:
        if self.owner._reader is not None:
            self.owner._reader.pause_reading()

    def resume_writing(self) -> None:
        if self.owner._reader is not None:
            self.owner._reader.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # Maelstrom closed our stdout: nothing more can be said
            log.error("stdout closed: %s", exc)


def _pollable(fd: int) -> bool:
    """Can the event loop wait on ``fd``? Pipes and sockets yes, regular files never, and
    character devices only some (a terminal yes, ``/dev/null`` no: epoll refuses it)."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return True
    if not stat.S_ISCHR(mode):
        return False
    try:
        with selectors.DefaultSelector() as probe:
            probe.register(fd, selectors.EVENT_READ)
    except (OSError, ValueError):
        return False
    return True


class StdioTransport:
    """Lines on stdin, lines on stdout, over asyncio pipes (no threads).

    Python's own ``sys.stdout`` is pointed at stderr while the node runs, so a stray ``print``
    lands in the node log instead of corrupting the protocol stream. Regular files and devices
    the loop cannot poll (``< input.jsonl``, ``< /dev/null``) are read and written directly.
    The blocking mode of fds 0 and 1 is restored on close (asyncio makes them non-blocking,
    which would otherwise leak into a terminal shared with the shell).
    """

    def __init__(self, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
        self._in_fd, self._out_fd = stdin_fd, stdout_fd
        self._reader: _PipeReader | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._file_reader: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._out_file: BinaryIO | None = None
        self._pending: list[bytes] = []
        self._blocking: dict[int, bool] = {}
        self._batch: list[bytes] | None = None
        self._burst = False
        self._protocol: _LineReader | None = None

    def start(self, inbox: Inbox) -> None:
        loop = asyncio.get_running_loop()
        protocol = self._protocol = _LineReader(lambda line: read_line(inbox, line), inbox.end)
        sys.stdout = sys.stderr
        for fd in sorted({self._in_fd, self._out_fd}):
            with contextlib.suppress(OSError):
                self._blocking[fd] = os.get_blocking(fd)
        if _pollable(self._in_fd):
            os.set_blocking(self._in_fd, False)
            self._reader = _PipeReader(loop, self._in_fd, self._feed, protocol)
            self._reader.resume_reading()
        else:  # a regular file: always readable, so read it in chunks
            self._file_reader = loop.create_task(self._read_file(protocol))
        if _pollable(self._out_fd):
            stdout = os.fdopen(self._out_fd, "wb", buffering=0, closefd=False)
            self._connecting = loop.create_task(self._connect_writer(stdout))
        else:
            self._out_file = os.fdopen(self._out_fd, "wb", closefd=False)

    async def _connect_writer(self, stdout: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_write_pipe(lambda: _Writer(self), stdout)
        self._writer = transport
        for line in self._pending:
            transport.write(line)
        self._pending.clear()

    async def _read_file(self, protocol: _LineReader) -> None:
        while True:
            chunk = os.read(self._in_fd, 1 << 16)
            if not chunk:
                protocol.eof_received()
                return
            self._feed(chunk)
            await asyncio.sleep(0)

    # Output is coalesced without delaying anything. Lines sent while one chunk of input is
    # handled leave in one write when the chunk is done. Outside a chunk (replies from handler
    # tasks, periodic gossip) the first line is written at once and the lines that follow in
    # the same pass of the event loop are gathered into one write at its end. One syscall,
    # and one wake-up of the process at the other end, per batch instead of per line.

    def _feed(self, data: bytes) -> None:
        """Hand one chunk of input to the line reader; write what it made the node send."""
        assert self._protocol is not None
        opened = self._batch is None
        if opened:
            self._batch = []
        try:
            self._protocol.data_received(data)
        finally:
            if opened:
                self._flush()

    def send(self, src: str, dest: str, body: dict[str, Any]) -> int:
        line = encode_line(src, dest, body)
        if self._batch is not None:
            self._batch.append(line + b"\n")
        elif self._burst:  # already wrote in this pass of the loop: gather the rest
            self._batch = [line + b"\n"]
        else:
            self._emit(line + b"\n")
            self._burst = True
            asyncio.get_running_loop().call_soon(self._end_burst)
        return len(line) + 1

    def _end_burst(self) -> None:
        self._burst = False
        self._flush()

    def _flush(self) -> None:
        batch, self._batch = self._batch, None
        if batch:
            self._emit(batch[0] if len(batch) == 1 else b"".join(batch))

    def _emit(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer.write(data)
        elif self._out_file is not None:
            self._out_file.write(data)
            self._out_file.flush()
        else:
            self._pending.append(data)

    async def close(self) -> None:
        self._flush()
        if self._file_reader is not None:
            self._file_reader.cancel()
        if self._connecting is not None and not self._connecting.done():
            # Output sent before stdout was connected waits in _pending: connect, then flush.
            await asyncio.wait([self._connecting], timeout=2.0)
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            # Let buffered output reach the pipe before the process exits (bounded wait).
            for _ in range(200):
                if self._writer.get_write_buffer_size() == 0:
                    break
                await asyncio.sleep(0.005)
            self._writer.close()
        if self._out_file is not None:
            self._out_file.flush()
        for fd, blocking in self._blocking.items():
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
