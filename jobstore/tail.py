"""Reading a job's output from its end, at a cost that does not depend on the file's size.

`read_tail` scans backwards in blocks until it has the lines it needs (toolong's
approach), and bounds the bytes it will scan (4 MB, and no more than a shown line's
worth of one line), so a 1 GB file or a single 200 MB line costs no more than a
small one. `OutputFollower` reads what was appended
since the last call, for the runner and for live views.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 64 * 1024
_PIECE = 1024 * 1024
DEFAULT_MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 20_000
_LINE_CAP_BYTES = MAX_LINE_CHARS * 4  # UTF-8: at most 4 bytes a character


def clean_text(raw: bytes) -> str:
    """Decode whatever codex wrote: invalid UTF-8 and NUL bytes become visible, never fatal."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def clip_line(line: str, max_chars: int = MAX_LINE_CHARS) -> str:
    if len(line) > max_chars:
        return line[:max_chars] + f" … [{len(line) - max_chars:,} more characters]"
    return line


def clip_raw_line(raw: bytes) -> str:
    """A line as read from the file, decoded only as far as it is shown: a line of
    hundreds of MB costs what its first `MAX_LINE_CHARS` characters do."""
    if len(raw) <= _LINE_CAP_BYTES:
        return clip_line(clean_text(raw))
    return clip_line(clean_text(raw[:_LINE_CAP_BYTES])) + f" … [{len(raw) - _LINE_CAP_BYTES:,} more bytes]"


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
        line_start = size  # where the earliest line found so far starts (or may start)
        while end > 0 and newlines <= lines and scanned < max_scan_bytes:
            start = max(0, end - _BLOCK)
            block = os.pread(fd, end - start, start)
            # A final newline ends the last line rather than starting an empty one.
            newlines += block.count(b"\n") - (1 if end == size and block.endswith(b"\n") else 0)
            chunks.append(block)
            scanned += len(block)
            end = start
            found = block.rfind(b"\n", 0, len(block) - 1 if line_start == size else len(block))
            if found >= 0:
                line_start = start + found + 1
            elif line_start - start > _LINE_CAP_BYTES:
                break  # a line longer than any reader shows: where it starts is not worth finding
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
    return Tail([clip_raw_line(p) for p in selected], size, truncated)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class OutputFollower:
    """Hands out complete lines appended to a file since the previous call.

    Bounded by design: it reads at most `max_read_bytes` a call, in 1 MiB pieces, and
    holds at most `max_line_bytes` of a line: the rest of a longer line is counted, not
    kept, so a 200 MB line without a newline costs what a 1 KB one does. The file stays
    open once found, so the follower keeps reading what the writer appends even if
    someone deletes the file's name meanwhile.
    """

    def __init__(
        self,
        path: Path,
        offset: int = 0,
        *,
        max_line_bytes: int = _LINE_CAP_BYTES,
        max_line_chars: int = MAX_LINE_CHARS,
        max_read_bytes: int = 8 * _PIECE,
    ) -> None:
        self.path = path
        self.offset = offset
        self._partial = bytearray()
        self._dropped = 0  # bytes of the current line beyond `max_line_bytes`, not kept
        self._max_line_bytes = max_line_bytes
        self._max_line_chars = max_line_chars
        self.max_read_bytes = max_read_bytes
        self._fd: int | None = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    @property
    def held_bytes(self) -> int:
        """Bytes of an unfinished line held now (never more than `max_line_bytes`)."""
        return len(self._partial)

    def read_new(self, *, final: bool = False) -> list[str]:
        """Complete lines appended since the last call (at most `max_read_bytes` read);
        with `final`, also the last line though it has no newline."""
        out: list[str] = []
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return out
        budget = self.max_read_bytes
        while budget > 0:
            piece = os.pread(self._fd, min(_PIECE, budget), self.offset)
            if not piece:
                break
            self.offset += len(piece)
            budget -= len(piece)
            self._feed(piece, out)
        if final and (self._partial or self._dropped):
            out.append(self._take_line())
        return out

    def _feed(self, piece: bytes, out: list[str]) -> None:
        start = 0
        while True:
            end = piece.find(b"\n", start)
            if end < 0:
                self._hold(piece, start, len(piece))
                return
            self._hold(piece, start, end)
            out.append(self._take_line())
            start = end + 1

    def _hold(self, piece: bytes, start: int, end: int) -> None:
        room = self._max_line_bytes - len(self._partial)
        keep = min(max(room, 0), end - start)
        if keep:
            self._partial += piece[start : start + keep]
        self._dropped += end - start - keep

    def _take_line(self) -> str:
        text = clip_line(clean_text(bytes(self._partial)), self._max_line_chars)
        if self._dropped:
            text += f" … [{self._dropped:,} more bytes]"
        self._partial = bytearray()
        self._dropped = 0
        return text
