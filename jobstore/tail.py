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

from jobstore.cut_lines import CUT_END_BYTES, cut_line

_BLOCK = 64 * 1024
_PIECE = 1024 * 1024
DEFAULT_MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 20_000
_LINE_CAP_BYTES = MAX_LINE_CHARS * 4  # UTF-8: at most 4 bytes a character
# How far back a tail looks for where its longest line starts (to show that line's head).
MAX_LINE_START_SCAN = 64 * 1024 * 1024


def clean_text(raw: bytes) -> str:
    """Decode whatever codex wrote: invalid UTF-8 and NUL bytes become visible, never fatal."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def clip_line(line: str, max_chars: int = MAX_LINE_CHARS) -> str:
    if len(line) > max_chars:
        return line[:max_chars] + f" … [{len(line) - max_chars:,} more characters]"
    return line


def clip_raw_line(raw: bytes) -> str:
    """A line as read from the file, decoded only as far as it is shown: a line of
    hundreds of MB costs what its head and its end do (see `head_and_end`)."""
    if len(raw) <= _LINE_CAP_BYTES:
        return clip_line(clean_text(raw))
    return head_and_end(raw[:_LINE_CAP_BYTES], len(raw), raw[-CUT_END_BYTES:])


def head_and_end(head: bytes, length: int, end: bytes, max_chars: int = MAX_LINE_CHARS) -> str:
    """A line of `length` bytes too long to keep, as its `head` and its `end` with the cut
    marked between (`jobstore.events.cut_line`; a cut command event renders from the two)."""
    # The end may begin inside a character: its continuation bytes are dropped.
    start = 0
    while start < min(len(end), 3) and 0x80 <= end[start] < 0xC0:
        start += 1
    return cut_line(clean_text(head)[:max_chars], length, clean_text(end[start:]))


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
        long_line = False  # the scan stopped inside a line longer than any reader shows
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
                long_line = True  # its end is read; its head is read below, the rest skipped
                break
        data = b"".join(reversed(chunks))
        if data.endswith(b"\n"):
            data = data[:-1]
        parts = data.split(b"\n") if data else []
        first = None
        if long_line and parts:
            head_at = _line_start(fd, end)
            head = os.pread(fd, _LINE_CAP_BYTES, head_at)
            first = head_and_end(head, end - head_at + len(parts[0]), parts[0][-CUT_END_BYTES:])
    finally:
        os.close(fd)
    truncated = end > 0 and len(parts) <= lines
    # With more parts than asked for, the first (maybe a partial line) is not among them.
    shown = [clip_raw_line(p) for p in parts[-lines:]]
    if first is not None and len(parts) <= lines:
        shown[0] = first
    return Tail(shown, size, truncated)


def _line_start(fd: int, pos: int) -> int:
    """Where the line holding the byte before `pos` starts (looking back at most
    `MAX_LINE_START_SCAN` bytes: further back, that far back is taken as its start)."""
    low_limit = max(0, pos - MAX_LINE_START_SCAN)
    while pos > low_limit:
        low = max(low_limit, pos - _PIECE)
        found = os.pread(fd, pos - low, low).rfind(b"\n")
        if found >= 0:
            return low + found + 1
        pos = low
    return low_limit


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
        self._end = bytearray()  # the last CUT_END_BYTES of those
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
        if end - start > keep:
            self._dropped += end - start - keep
            self._end += piece[max(start + keep, end - CUT_END_BYTES) : end]
            del self._end[:-CUT_END_BYTES]

    def _take_line(self) -> str:
        if self._dropped:
            length = len(self._partial) + self._dropped
            text = head_and_end(bytes(self._partial), length, bytes(self._end), self._max_line_chars)
        else:
            text = clip_line(clean_text(bytes(self._partial)), self._max_line_chars)
        self._partial = bytearray()
        self._dropped = 0
        self._end = bytearray()
        return text
