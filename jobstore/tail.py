"""Reading a job's output from its end, at a cost that does not depend on the file's size.

`read_tail` scans backwards in blocks until it has the lines it needs (toolong's
approach), and bounds the bytes it will scan, so a 1 GB file or a single 10 MB
line costs no more than a small one. `OutputFollower` reads what was appended
since the last call, for the runner and for live views.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 64 * 1024
DEFAULT_MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 20_000


def clean_text(raw: bytes) -> str:
    """Decode whatever codex wrote: invalid UTF-8 and NUL bytes become visible, never fatal."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def clip_line(line: str) -> str:
    if len(line) > MAX_LINE_CHARS:
        return line[:MAX_LINE_CHARS] + f" … [{len(line) - MAX_LINE_CHARS:,} more characters]"
    return line


@dataclass(frozen=True)
class Tail:
    lines: list[str]
    size: int  # the file's size when read: where a follower can carry on from
    truncated: bool  # the scan limit was reached before `lines` lines were found


def read_tail(path: Path, lines: int, *, max_scan_bytes: int = DEFAULT_MAX_SCAN_BYTES) -> Tail:
    """The last `lines` lines of `path` (fewer if the file is shorter or the scan limit hit)."""
    if lines <= 0:
        return Tail([], _size(path), False)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return Tail([], 0, False)
    try:
        size = os.fstat(fd).st_size
        end = size
        chunks: list[bytes] = []
        newlines = 0
        scanned = 0
        while end > 0 and newlines <= lines and scanned < max_scan_bytes:
            start = max(0, end - _BLOCK)
            block = os.pread(fd, end - start, start)
            # A final newline ends the last line rather than starting an empty one.
            newlines += block.count(b"\n") - (1 if end == size and block.endswith(b"\n") else 0)
            chunks.append(block)
            scanned += len(block)
            end = start
    finally:
        os.close(fd)
    data = b"".join(reversed(chunks))
    if data.endswith(b"\n"):
        data = data[:-1]
    parts = data.split(b"\n") if data else []
    truncated = end > 0 and len(parts) <= lines
    if end > 0 and parts:
        parts = parts[1:] if len(parts) > lines else parts  # the first may be a partial line
    selected = parts[-lines:]
    return Tail([clip_line(clean_text(p)) for p in selected], size, truncated)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class OutputFollower:
    """Hands out complete lines appended to a file since the previous call.

    The file stays open once found, so the follower keeps reading what the writer
    appends even if someone deletes the file's name meanwhile.
    """

    def __init__(self, path: Path, offset: int = 0, *, max_line_bytes: int = 16 * 1024 * 1024):
        self.path = path
        self.offset = offset
        self._partial = b""
        self._max_line_bytes = max_line_bytes
        self._skipping = False
        self._fd: int | None = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def _read_appended(self, limit: int = 64 * 1024 * 1024) -> bytes:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return b""
        chunks = []
        while limit > 0:
            chunk = os.pread(self._fd, min(1024 * 1024, limit), self.offset)
            if not chunk:
                break
            chunks.append(chunk)
            self.offset += len(chunk)
            limit -= len(chunk)
        return b"".join(chunks)

    def read_new(self, *, final: bool = False) -> list[str]:
        data = self._read_appended()
        if not data and not (final and self._partial):
            return []
        buf = self._partial + data
        pieces = buf.split(b"\n")
        self._partial = pieces.pop()
        if final and self._partial:
            pieces.append(self._partial)
            self._partial = b""
        out: list[str] = []
        for piece in pieces:
            if self._skipping:
                # The rest of a line too long to keep: drop it, as a marker says.
                self._skipping = False
                continue
            out.append(clip_line(clean_text(piece)))
        if len(self._partial) > self._max_line_bytes:
            out.append(clip_line(clean_text(self._partial[: MAX_LINE_CHARS * 4])))
            self._partial = b""
            self._skipping = True
        return out
