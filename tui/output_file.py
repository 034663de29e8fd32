"""Random access to a job's output file by byte offsets: lines read on demand, forwards or backwards.

The view never holds the file, only a window of lines and their offsets (toolong's idea:
index by offset, read what is shown). Reading is bounded by design: the file is read in
1 MiB blocks, each line held is cut to its first `LINE_BYTES` bytes (a line of hundreds
of MB costs what a short one does: the rest is skipped by looking for its newline,
never kept), and a search skips blocks with no candidate using one regular expression
over the whole block, so it runs at the speed of `re` rather than line by line.
No Textual here: worker threads call these methods.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jobstore.cut_lines import CUT_END_BYTES
from jobstore.tail import MAX_LINE_CHARS, clean_text, head_and_end

BLOCK = 1024 * 1024
FIRST_BLOCK = 64 * 1024  # backwards, the nearest lines first: a follow read of a flood reads ~this
LINE_BYTES = MAX_LINE_CHARS * 4  # UTF-8: at most 4 bytes a character


@dataclass(frozen=True)
class RawLine:
    """One line of the file: where it starts, where the next one starts, its (cut) text;
    `complete` unless it is the last line and its newline is not written yet."""

    start: int
    end: int
    text: str
    complete: bool = True


def line_text(head: bytes, length: int, end: bytes = b"") -> str:
    """A line's text from its first bytes (`head`), its whole length in bytes, and, for a
    line longer than is kept, its last bytes (`end`)."""
    text = clean_text(head[:LINE_BYTES])
    if len(text) > MAX_LINE_CHARS or length > LINE_BYTES:
        return head_and_end(head[:LINE_BYTES], length, end)
    return text


class OutputFile:
    """One output file, open while read. Offsets handed out are line starts; a last line
    without its newline (codex still writing it) counts as a line up to the size read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def size(self) -> int:
        return os.fstat(self._open()).st_size

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._open(), length, offset)

    # ------------------------------------------------------------------ lines

    def forward(self, offset: int, *, pattern: re.Pattern[bytes] | None = None) -> Iterator[RawLine]:
        """Lines from `offset` (a line start) to the size seen now, in order; with `pattern`,
        only lines in which it matches (within their first `LINE_BYTES` bytes)."""
        size = self.size()
        pos = offset
        while pos < size:
            data = self._read(pos, min(BLOCK, size - pos))
            if not data:
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0 and pos + len(data) < size:  # one line longer than a block
                newline = self._newline_at_or_after(pos + len(data), size)
                head = data[:LINE_BYTES]
                if pattern is None or pattern.search(head):
                    from_ = max(pos, newline - CUT_END_BYTES)
                    last = self._read(from_, newline - from_)
                    text = line_text(head, newline - pos, last)
                    yield RawLine(pos, min(newline + 1, size), text, newline < size)
                pos = min(newline + 1, size)
                continue
            region = data[:cut] if cut else data  # no newline: the last line, being written
            for start, end in _spans(region, pattern):
                yield _line(region, pos, start, end)
            pos += len(region)

    def backward(self, offset: int, *, pattern: re.Pattern[bytes] | None = None) -> Iterator[RawLine]:
        """Lines that start before `offset` (a line start, or the size), the nearest first."""
        pos = min(offset, self.size())
        block = BLOCK if pattern is not None else FIRST_BLOCK  # then doubling up to BLOCK
        while pos > 0:
            low = max(0, pos - block)
            block = min(2 * block, BLOCK)
            data = self._read(low, pos - low)
            # Bytes before the block's first newline end a line that starts before the block.
            first = 0 if low == 0 else data.find(b"\n", 0, len(data) - 1) + 1
            if first == 0 and low > 0:  # the line ending at `pos` is longer than a block
                start = self._line_start(low)
                head = self._read(start, min(LINE_BYTES, pos - start))
                if pattern is None or pattern.search(head):
                    length = pos - start - (1 if data.endswith(b"\n") else 0)
                    from_ = max(start, start + length - CUT_END_BYTES)
                    last = self._read(from_, start + length - from_)
                    yield RawLine(start, pos, line_text(head, length, last), data.endswith(b"\n"))
                pos = start
                continue
            region = data[first:]
            for start, end in reversed(list(_spans(region, pattern))):
                yield _line(region, low + first, start, end)
            pos = low + first

    def _newline_at_or_after(self, pos: int, size: int) -> int:
        """The offset of the first newline from `pos` (or `size`), reading without keeping."""
        while pos < size:
            data = self._read(pos, min(BLOCK, size - pos))
            if not data:
                return pos
            found = data.find(b"\n")
            if found >= 0:
                return pos + found
            pos += len(data)
        return size

    def _line_start(self, pos: int) -> int:
        """Where the line holding the byte before `pos` starts."""
        while pos > 0:
            low = max(0, pos - BLOCK)
            found = self._read(low, pos - low).rfind(b"\n")
            if found >= 0:
                return low + found + 1
            pos = low
        return 0


def _line(region: bytes, base: int, start: int, end: int) -> RawLine:
    complete = region[end - 1 : end] == b"\n"
    stop = end - complete
    # Only a line longer than a shown one needs its end (read only then: this is the hot path).
    last = region[max(start, stop - CUT_END_BYTES) : stop] if stop - start > MAX_LINE_CHARS else b""
    text = line_text(region[start : min(stop, start + LINE_BYTES)], stop - start, last)
    return RawLine(base + start, base + end, text, complete)


def _spans(region: bytes, pattern: re.Pattern[bytes] | None) -> Iterator[tuple[int, int]]:
    """(start, end) of the lines of `region` (whole lines), or of those `pattern` matches in."""
    if pattern is None:
        start = 0
        while start < len(region):
            end = region.find(b"\n", start) + 1 or len(region)
            yield start, end
            start = end
        return
    at = 0
    while (match := pattern.search(region, at)) is not None:
        start = region.rfind(b"\n", 0, match.start()) + 1
        end = region.find(b"\n", match.start()) + 1 or len(region)
        if match.end() - start <= LINE_BYTES:  # only what a line's text holds counts
            yield start, end
        at = end
        if at >= len(region):
            return
