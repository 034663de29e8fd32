"""A job's output file: the one reader of it, opened only with the store's rules.

Everyone who reads codex's output reads it here: the runner and `codex-async follow`
(`OutputFollower`, what was appended), the MCP tools and the CLI (`OutputFile.tail`, the
last lines), the TUI (`OutputFile.forward` / `backward`, lines by byte offset, and the
pager). The file is opened like every file of the store (`fsio.open_file`): no symlink
followed, a plain file of ours that group and others cannot write, else `StoreRefused`.

Reading is bounded by design, whatever the file's size: the view never holds the file,
only a window of lines and their offsets (toolong's idea: index by offset, read what is
shown). The file is read in 1 MiB blocks, each line held is cut to its first `LINE_BYTES`
bytes and its last `CUT_END_BYTES` (a line of hundreds of MB costs what a short one does:
the rest is skipped by looking for its newline, never kept), and a search skips blocks with no candidate using
one regular expression over the whole block, so it runs at the speed of `re` rather than
line by line. `tail` scans backwards until it has the lines it needs, at most
`DEFAULT_MAX_SCAN_BYTES`. No Textual here: worker threads call these methods.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jobstore import fsio
from jobstore.cut_lines import CUT_END_BYTES, cut_line

BLOCK = 1024 * 1024
FIRST_BLOCK = 64 * 1024  # backwards, the nearest lines first: a follow read of a flood reads ~this
DEFAULT_MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 20_000
LINE_BYTES = MAX_LINE_CHARS * 4  # UTF-8: at most 4 bytes a character
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
    if len(raw) <= LINE_BYTES:
        return clip_line(clean_text(raw))
    return head_and_end(raw[:LINE_BYTES], len(raw), raw[-CUT_END_BYTES:])


def output_lines(data: bytes, *, from_line_start: bool = True) -> list[str]:
    """The lines of a piece of a job's output read from elsewhere (the team's copy in Redis),
    each decoded and cut as `tail` cuts the file's; without `from_line_start`, the piece's
    first line (a part of one) is left out. A last line without its newline counts: codex
    may still be writing it, as in `tail`."""
    if data.endswith(b"\n"):
        data = data[:-1]
    parts = data.split(b"\n") if data else []
    if not from_line_start:
        parts = parts[1:]
    return [clip_raw_line(part) for part in parts]


def head_and_end(head: bytes, length: int, end: bytes, max_chars: int = MAX_LINE_CHARS) -> str:
    """A line of `length` bytes too long to keep, as its `head` and its `end` with the cut
    marked between (`jobstore.cut_lines`; a cut command event renders from the two)."""
    # The end may begin inside a character: its continuation bytes are dropped.
    start = 0
    while start < min(len(end), 3) and 0x80 <= end[start] < 0xC0:
        start += 1
    return cut_line(clean_text(head)[:max_chars], length, clean_text(end[start:]))


def line_text(head: bytes, length: int, end: bytes = b"") -> str:
    """A line's text from its first bytes (`head`), its whole length in bytes, and, for a
    line longer than is kept, its last bytes (`end`)."""
    text = clean_text(head[:LINE_BYTES])
    if len(text) > MAX_LINE_CHARS or length > LINE_BYTES:
        return head_and_end(head[:LINE_BYTES], length, end)
    return text


@dataclass(frozen=True)
class Tail:
    lines: list[str]
    size: int  # the file's size when read: where a follower can carry on from
    truncated: bool  # the scan limit was reached before `lines` lines were found


@dataclass(frozen=True)
class RawLine:
    """One line of the file: where it starts, where the next one starts, its (cut) text;
    `complete` unless it is the last line and its newline is not written yet."""

    start: int
    end: int
    text: str
    complete: bool = True


class OutputFile:
    """One output file, open while read (see `open`). Offsets handed out are line starts; a
    last line without its newline (codex still writing it) counts as a line up to the size read."""

    def __init__(self, fd: int, path: Path) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def open(cls, path: Path) -> OutputFile:
        """Open `path` with the store's rules: FileNotFoundError when there is none yet,
        StoreRefused for a symlink or a file that is not a private plain file of ours."""
        return cls(fsio.open_file(path, os.O_RDONLY), path)

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        return self._fd

    def size(self) -> int:
        return os.fstat(self._descriptor()).st_size

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end of the file)."""
        return os.pread(self._descriptor(), length, offset)

    def tail(self, lines: int, *, max_scan_bytes: int = DEFAULT_MAX_SCAN_BYTES) -> Tail:
        """The last `lines` lines (fewer if the file is shorter or the scan limit is hit),
        scanning backwards in blocks (toolong's approach) and at most `max_scan_bytes`,
        and no more than a shown line's worth of one line: a 1 GB file or a single 200 MB
        line costs no more than a small one."""
        size = self.size()
        if lines <= 0:
            return Tail([], size, False)
        end = size
        chunks: list[bytes] = []
        newlines = 0
        scanned = 0
        line_start = size  # where the earliest line found so far starts (or may start)
        long_line = False  # the scan stopped inside a line longer than any reader shows
        while end > 0 and newlines <= lines and scanned < max_scan_bytes:
            start = max(0, end - FIRST_BLOCK)
            block = self.read(start, end - start)
            # A final newline ends the last line rather than starting an empty one.
            newlines += block.count(b"\n") - (1 if end == size and block.endswith(b"\n") else 0)
            chunks.append(block)
            scanned += len(block)
            end = start
            found = block.rfind(b"\n", 0, len(block) - 1 if line_start == size else len(block))
            if found >= 0:
                line_start = start + found + 1
            elif line_start - start > LINE_BYTES:
                long_line = True  # its end is read; its head is read below, the rest skipped
                break
        data = b"".join(reversed(chunks))
        if data.endswith(b"\n"):
            data = data[:-1]
        parts = data.split(b"\n") if data else []
        truncated = end > 0 and len(parts) <= lines
        # With more parts than asked for, the first (maybe a partial line) is not among them.
        shown = [clip_raw_line(p) for p in parts[-lines:]]
        # Only an event (a JSON object) has a head worth finding: 200 MB of text or a hole of
        # NULs, even if an event ends it, is shown by its end alone, without reading up to
        # MAX_LINE_START_SCAN back.
        if long_line and parts and len(parts) <= lines and may_be_one_event(parts[0][-CUT_END_BYTES:]):
            head_at = self._line_start(end, limit=MAX_LINE_START_SCAN)
            head = self.read(head_at, LINE_BYTES)
            shown[0] = head_and_end(head, end - head_at + len(parts[0]), parts[0][-CUT_END_BYTES:])
        return Tail(shown, size, truncated)

    # ------------------------------------------------------------------ lines

    def forward(self, offset: int, *, pattern: re.Pattern[bytes] | None = None) -> Iterator[RawLine]:
        """Lines from `offset` (a line start) to the size seen now, in order; with `pattern`,
        only lines in which it matches (within their first `LINE_BYTES` bytes)."""
        size = self.size()
        pos = offset
        while pos < size:
            data = self.read(pos, min(BLOCK, size - pos))
            if not data:
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0 and pos + len(data) < size:  # one line longer than a block
                newline = self._newline_at_or_after(pos + len(data), size)
                head = data[:LINE_BYTES]
                if pattern is None or pattern.search(head):
                    from_ = max(pos, newline - CUT_END_BYTES)
                    text = line_text(head, newline - pos, self.read(from_, newline - from_))
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
            data = self.read(low, pos - low)
            # Bytes before the block's first newline end a line that starts before the block.
            first = 0 if low == 0 else data.find(b"\n", 0, len(data) - 1) + 1
            if first == 0 and low > 0:  # the line ending at `pos` is longer than a block
                start = self._line_start(low)
                head = self.read(start, min(LINE_BYTES, pos - start))
                if pattern is None or pattern.search(head):
                    length = pos - start - (1 if data.endswith(b"\n") else 0)
                    from_ = max(start, start + length - CUT_END_BYTES)
                    last = self.read(from_, start + length - from_)
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
            data = self.read(pos, min(BLOCK, size - pos))
            if not data:
                return pos
            found = data.find(b"\n")
            if found >= 0:
                return pos + found
            pos += len(data)
        return size

    def _line_start(self, pos: int, *, limit: int | None = None) -> int:
        """Where the line holding the byte before `pos` starts (looking back at most `limit`
        bytes, if given: further back, that far back is taken as its start)."""
        lowest = 0 if limit is None else max(0, pos - limit)
        while pos > lowest:
            low = max(lowest, pos - BLOCK)
            found = self.read(low, pos - low).rfind(b"\n")
            if found >= 0:
                return low + found + 1
            pos = low
        return lowest


_JSON_MARKS = re.compile(rb'["{}\[\]]')


def may_be_one_event(end: bytes) -> bool:
    """Whether a line too long to read whole, whose last bytes are `end`, may be one event: a
    JSON object from its first byte to its last. It cannot be when it does not end as an
    object, nor when the object it ends with starts inside `end` after other text (200 MB of
    text without a newline, then an event). Read backwards from the end, where no string is
    open: a quote opens or closes a string unless an odd run of backslashes escapes it, and
    brackets count only outside strings. What `end` cannot tell (the object starts before
    it, a run of backslashes reaches its start) may be an event."""
    text = end.rstrip()
    if not text.endswith(b"}"):
        return False
    backwards = text[::-1]  # searched lazily: the end of an event is near
    depth = 0
    in_string = False
    for match in _JSON_MARKS.finditer(backwards):
        mark = match.start()
        char = backwards[mark]
        if char == ord('"'):
            before = mark + 1
            while before < len(backwards) and backwards[before] == ord("\\"):
                before += 1
            if before == len(backwards):
                return True
            if (before - mark - 1) % 2 == 0:  # not escaped
                in_string = not in_string
        elif in_string:
            continue
        elif char in b"}]":
            depth += 1
        else:
            depth -= 1
            if depth == 0:  # where the object that ends the line starts
                return not backwards[mark + 1 :].strip()
    return True


def read_tail(path: Path, lines: int, *, max_scan_bytes: int = DEFAULT_MAX_SCAN_BYTES) -> Tail:
    """The last `lines` lines of the output file `path` (see `OutputFile.tail`); none when
    there is no file yet."""
    try:
        file = OutputFile.open(path)
    except FileNotFoundError:
        return Tail([], 0, False)
    with file:
        return file.tail(lines, max_scan_bytes=max_scan_bytes)


class OutputFollower:
    """Hands out complete lines appended to a file since the previous call.

    Bounded by design: it reads at most `max_read_bytes` a call, in 1 MiB pieces, and
    holds at most `max_line_bytes` of a line: the rest of a longer line is counted, not
    kept, so a 200 MB line without a newline costs what a 1 KB one does. The file is
    opened with the store's rules (`OutputFile.open`) and stays open once found, so the
    follower keeps reading what the writer appends even if someone deletes the file's
    name meanwhile.
    """

    def __init__(
        self,
        path: Path,
        offset: int = 0,
        *,
        max_line_bytes: int = LINE_BYTES,
        max_line_chars: int = MAX_LINE_CHARS,
        max_read_bytes: int = 8 * BLOCK,
    ) -> None:
        self.path = path
        self.offset = offset
        self._partial = bytearray()
        self._dropped = 0  # bytes of the current line beyond `max_line_bytes`, not kept
        self._end = bytearray()  # the last CUT_END_BYTES of those
        self._max_line_bytes = max_line_bytes
        self._max_line_chars = max_line_chars
        self.max_read_bytes = max_read_bytes
        self._file: OutputFile | None = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __del__(self) -> None:
        self.close()

    @property
    def held_bytes(self) -> int:
        """Bytes of an unfinished line held now (never more than `max_line_bytes`)."""
        return len(self._partial)

    def read_new(self, *, final: bool = False) -> list[str]:
        """Complete lines appended since the last call (at most `max_read_bytes` read);
        with `final`, also the last line though it has no newline. Raises StoreRefused
        for a file the store's rules refuse."""
        out: list[str] = []
        if self._file is None:
            try:
                self._file = OutputFile.open(self.path)
            except FileNotFoundError:
                return out
        budget = self.max_read_bytes
        while budget > 0:
            piece = self._file.read(self.offset, min(BLOCK, budget))
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
