"""The stdio front: answers the client's opening request while FastMCP is still being imported.

Importing FastMCP and the MCP SDK takes longer than a whole node MCP server's start, and
a client waits for the answer to its opening request before anything else. So `codex-async-mcp`
starts this front first (it imports nothing heavy): a thread reads the client's first
line, and when it is an `initialize` or `server/discover` request `mcp_server.handshake` can
answer exactly as FastMCP would, sends that answer at once.

Then FastMCP serves the stream as it always did, from the very first line: its stdio
transport reads `sys.stdin.buffer` and writes `sys.stdout.buffer`, which `install` points
at a `ReplayReader` (the bytes the front read, the opening request included, then the live
stdin) and a `WireWriter` (the real stdout, minus FastMCP's own answer to the request
the front answered, which is checked to be the same and logged when not). So FastMCP's
session is opened by the client's own request, every later message is FastMCP's to
answer, in order, and anything the front does not answer reaches FastMCP untouched.

Like the SDK's transport, the front keeps the wire to itself: from its start, file
descriptor 0 reads the null device and 1 writes to stderr, so child processes and stray
output never touch the protocol.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from mcp_server.handshake import opening_answer

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

# A first line longer than this is no request the front answers: it is left to FastMCP.
FIRST_LINE_LIMIT = 1 << 20
READ_SIZE = 1 << 16


class WireWriter(io.RawIOBase):
    """The protocol's stdout, which can drop FastMCP's answer to the request the front answered."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._lock = threading.Lock()
        self._answered_id: int | str | None = None
        self._answer_sent = b""
        self._pending = b""

    def writable(self) -> bool:
        return True

    def send_front_answer(self, request_id: int | str, answer: bytes) -> None:
        """Write the front's answer; FastMCP's answer to the same request will be dropped."""
        with self._lock:
            self._write_all(answer)
            self._answered_id = request_id
            self._answer_sent = answer

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        size = len(chunk)
        with self._lock:
            if self._answer_sent:
                chunk = self._without_duplicate_answer(chunk)
            self._write_all(chunk)
        return size

    def _without_duplicate_answer(self, chunk: bytes) -> bytes:
        """`chunk` less FastMCP's answer to the front's request (held back until whole lines)."""
        self._pending += chunk
        passed: list[bytes] = []
        while self._answer_sent and b"\n" in self._pending:
            line, _, self._pending = self._pending.partition(b"\n")
            if self._is_answer_to_front_request(line):
                self._check_same_answer(line)
                self._answer_sent = b""
            else:
                passed.append(line + b"\n")
        if not self._answer_sent:  # done dropping: the rest passes as it comes
            passed.append(self._pending)
            self._pending = b""
        return b"".join(passed)

    def _is_answer_to_front_request(self, line: bytes) -> bool:
        import json

        try:
            message = json.loads(line)
        except ValueError:
            return False
        return (
            isinstance(message, dict)
            and "method" not in message
            and message.get("id") == self._answered_id
            and type(message.get("id")) is type(self._answered_id)
        )

    def _check_same_answer(self, line: bytes) -> None:
        import json
        import logging

        if json.loads(line) != json.loads(self._answer_sent):
            logging.getLogger("codex_async_mcp").error(
                "the front's answer differs from FastMCP's (mcp_server/handshake.py is out of "
                "date): sent %s, FastMCP's %s",
                self._answer_sent.decode("utf-8", "replace").rstrip(),
                line.decode("utf-8", "replace"),
            )

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]


class BorrowedTextWrapper(io.TextIOWrapper):
    """A text layer that never closes the stream under it (FastMCP's transport reads it on)."""

    def close(self) -> None:
        with contextlib.suppress(ValueError):  # already detached
            self.detach()


class ReplayReader(io.RawIOBase):
    """The protocol's stdin for FastMCP: what the front read, then the live stream."""

    def __init__(self, front: Front) -> None:
        super().__init__()
        self._front = front
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._front.first_line_read.wait()
        self._front.restore_sys_streams()  # FastMCP's transport holds its streams by now
        view = memoryview(buffer).cast("B")
        replay = self._front.read_ahead
        if self._offset < len(replay):
            taken = replay[self._offset : self._offset + len(view)]
            view[: len(taken)] = taken
            self._offset += len(taken)
            return len(taken)
        return os.readv(self._front.wire_in, [view])


class Front:
    """Reads the client's first line in a thread and answers it when it is a plain opening request."""

    def __init__(self, wire_in: int, wire_out: int, server_version: str) -> None:
        self.wire_in = wire_in
        self.writer = WireWriter(wire_out)
        self.server_version = server_version
        self.first_line_read = threading.Event()
        self.read_ahead = b""
        self.answered_id: int | str | None = None
        self._saved_sys_streams: tuple[Any, Any] | None = None
        self._thread = threading.Thread(target=self._answer_first_line, name="stdio-front", daemon=True)

    @classmethod
    def start(cls, server_version: str) -> Front | None:
        """Take over the process's stdin and stdout and start reading; None where the front
        cannot run (no POSIX descriptors to move), and the server is started as before."""
        try:
            import fcntl

            # Private copies of the wire above the standard range, closed on exec.
            wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
            wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
            null = os.open(os.devnull, os.O_RDONLY)
        except (ImportError, OSError):
            return None
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        front = cls(wire_in, wire_out, server_version)
        front._thread.start()
        return front

    def _answer_first_line(self) -> None:
        try:
            self.read_ahead = self._read_first_line()
            first_line, newline, _ = self.read_ahead.partition(b"\n")
            answer = opening_answer(first_line, self.server_version) if newline else None
            if answer is not None:
                self.answered_id, wire_answer = answer
                self.writer.send_front_answer(self.answered_id, wire_answer)
        except Exception:  # FastMCP reads the same bytes next and answers them as it always did
            self.answered_id = None
        finally:
            self.first_line_read.set()

    def _read_first_line(self) -> bytes:
        data = b""
        while b"\n" not in data and len(data) <= FIRST_LINE_LIMIT:
            try:
                chunk = os.read(self.wire_in, READ_SIZE)
            except OSError:
                chunk = b""  # FastMCP reads the same stream next and meets the same trouble
            if not chunk:
                break
            data += chunk
        return data

    def install(self) -> None:
        """Point sys.stdin and sys.stdout at the front's streams, for FastMCP's stdio transport
        to take; they are given back once it reads (so a stray print goes to stderr again)."""
        self._saved_sys_streams = (sys.stdin, sys.stdout)
        sys.stdin = BorrowedTextWrapper(io.BufferedReader(ReplayReader(self)), encoding="utf-8")
        sys.stdout = BorrowedTextWrapper(io.BufferedWriter(self.writer), encoding="utf-8")

    def restore_sys_streams(self) -> None:
        saved, self._saved_sys_streams = self._saved_sys_streams, None
        if saved is not None:
            sys.stdin, sys.stdout = saved

    def summary(self) -> str:
        if self.answered_id is not None:
            return f"the front answered the opening request (id {self.answered_id!r}) while FastMCP loaded"
        if self.first_line_read.is_set():
            return "the front left the client's first message to FastMCP"
        return "no message from the client yet"


def wants_to_serve(argv: list[str]) -> bool:
    """Whether these arguments run the server (not --help or --version, which print to stdout)."""
    for argument in argv:
        name = argument.split("=", 1)[0]
        if name == "-h" or (len(name) > 2 and ("--help".startswith(name) or "--version".startswith(name))):
            return False
    return True
