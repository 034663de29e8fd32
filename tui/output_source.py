"""Reading one job's output for the output pane: a window of lines, moved on demand.

The pane holds a window of the output, never the whole of it: its end when a job is
opened, then what is appended (while it follows), the lines before or after it as the
person scrolls, the file's first lines (Home), the lines around a search hit. Each
read costs what the lines it returns cost, whatever the file's size: the end is read
backwards from the size, and a flood appended while following is read from its end
(a screenful or so at most, the caller's `limit`: what scrolled past unseen is not
read, let alone rendered; scrolling up reads it from the file).
No Textual here: a worker thread calls these methods, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from itertools import islice

from jobstore import OutputFile, RawLine, RenderedLine, render_line
from tui.output_search import Query


class Place(Enum):
    REPLACE = "replace"  # a new window
    APPEND = "append"  # after the window (dropping a line the window held unfinished)
    PREPEND = "prepend"  # before the window


@dataclass(frozen=True)
class OutputChunk:
    lines: list[RenderedLine]
    # Where in the file the raw line each shown line comes from starts.
    offsets: list[int] = field(default_factory=list)
    place: Place = Place.REPLACE
    start: int = 0  # the window's first offset after this chunk
    end: int = 0  # where the next read after the window starts (after its last complete line)
    at_end: bool = True  # the window reaches the end of the file as read
    size: int = 0
    # A line to show: (offset of its raw line, index among that raw line's shown lines).
    focus: tuple[int, int] | None = None
    live: bool = False  # read from the end while following

    @property
    def reset(self) -> bool:
        return self.place == Place.REPLACE


def render(lines: list[str], *, raw: bool) -> list[RenderedLine]:
    if raw:
        return [RenderedLine("raw", line) for line in lines]
    return [r for line in lines for r in render_line(line)]


class OutputSource:
    """One job's output file (opened by the store: `JobStore.open_output`) as windows of
    rendered lines; closing the source closes the file. One reader at a time: the output
    view calls it from one worker at a time."""

    def __init__(self, file: OutputFile, *, raw: bool, tail_lines: int, page_lines: int = 500) -> None:
        self.file = file
        self.path = file.path
        self.raw = raw
        self.tail_lines = tail_lines
        self.page_lines = page_lines
        self.end = 0  # where reading what is appended starts (the window's end, once at the end)
        self._size = 0

    def close(self) -> None:
        self.file.close()

    def _chunk(
        self,
        raw_lines: Iterable[RawLine],
        place: Place,
        *,
        start: int,
        end: int,
        size: int,
        head: list[RenderedLine] | None = None,
        focus: tuple[int, int] | None = None,
        live: bool = False,
    ) -> OutputChunk:
        lines: list[RenderedLine] = list(head or [])
        offsets = [start] * len(lines)
        reaches = end  # where the last line read ends: an unfinished last line is the file's end too
        for raw_line in raw_lines:
            shown = [RenderedLine("raw", raw_line.text)] if self.raw else render_line(raw_line.text)
            lines += shown
            offsets += [raw_line.start] * len(shown)
            reaches = max(reaches, raw_line.end)
        return OutputChunk(lines, offsets, place, start, end, reaches >= size, size, focus, live)

    # ------------------------------------------------------------------ windows

    def load(self, *, note: str | None = None) -> OutputChunk:
        """The end of the output; what is appended is read after it."""
        size = self.file.size()
        lines = _oldest_first(self.file.backward(size), self.tail_lines)
        self.end = _next_read(lines, size)
        self._size = size
        head = [RenderedLine("info", note)] if note else []
        return self._chunk(
            lines, Place.REPLACE, start=_first(lines, size), end=self.end, size=size, head=head
        )

    def head(self) -> OutputChunk:
        """The output's first lines (a window away from the end: appends are not read)."""
        size = self.file.size()
        lines = list(islice(self.file.forward(0), self.tail_lines))
        end = _next_read(lines, 0)
        if end >= size:
            self.end = end
        return self._chunk(lines, Place.REPLACE, start=0, end=end, size=size)

    def before(self, start: int) -> OutputChunk:
        """The page of lines before `start` (the window's first line)."""
        size = self.file.size()
        lines = _oldest_first(self.file.backward(start), self.page_lines)
        return self._chunk(lines, Place.PREPEND, start=_first(lines, start), end=start, size=size)

    def after(self, end: int) -> OutputChunk:
        """The page of lines from `end` (after the window's last complete line)."""
        size = self.file.size()
        lines = list(islice(self.file.forward(end), self.page_lines))
        next_read = _next_read(lines, end)
        if next_read >= size:
            self.end = next_read
        return self._chunk(lines, Place.APPEND, start=end, end=next_read, size=size)

    def around(self, offset: int, focus: tuple[int, int]) -> OutputChunk:
        """A window with the line at `offset` in its middle, that line to be shown."""
        size = self.file.size()
        half = max(1, self.page_lines // 2)
        earlier = _oldest_first(self.file.backward(offset), half)
        later = list(islice(self.file.forward(offset), half))
        lines = earlier + later
        end = _next_read(lines, offset)
        if end >= size:
            self.end = end
        return self._chunk(lines, Place.REPLACE, start=_first(lines, offset), end=end, size=size, focus=focus)

    def read_new(self, limit: int | None = None) -> OutputChunk | None:
        """What was appended since the last read at the end, None when nothing was: at
        most `limit` lines (default `tail_lines`), read backwards from the size (a flood
        costs no more)."""
        limit = limit or self.tail_lines
        try:
            size = self.file.size()
        except FileNotFoundError:
            return None
        if size < self._size or size < self.end:
            return self.load(note="the output was truncated or replaced; reading it again")
        self._size = size
        if size == self.end:
            return None
        lines: list[RawLine] = []
        for line in self.file.backward(size):
            if line.start < self.end or len(lines) == limit:
                break
            lines.append(line)
        lines.reverse()
        if not lines:
            return None
        start = lines[0].start
        # More appended than `limit` lines: the window starts again at what is read.
        place = Place.APPEND if start == self.end else Place.REPLACE
        self.end = _next_read(lines, self.end)
        return self._chunk(lines, place, start=start, end=self.end, size=size, live=True)

    # ------------------------------------------------------------------ search

    def find(
        self, query: Query, offset: int, *, forward: bool, stop: Callable[[], bool]
    ) -> tuple[int, int] | None:
        """The first hit of `query` in the lines from `offset` (forward) or before it:
        (offset of its raw line, index among its shown lines); None when there is none."""
        pattern = query.block_pattern(raw_view=self.raw)
        lines: Iterator[RawLine] = (
            self.file.forward(offset, pattern=pattern)
            if forward
            else self.file.backward(offset, pattern=pattern)
        )
        for line in lines:
            if stop():
                return None
            index = query.hit_in_event(line.text, raw_view=self.raw)
            if index is not None:
                return line.start, index
        return None


def _oldest_first(lines: Iterator[RawLine], count: int) -> list[RawLine]:
    found = list(islice(lines, count))
    found.reverse()
    return found


def _first(lines: list[RawLine], default: int) -> int:
    return lines[0].start if lines else default


def _next_read(lines: list[RawLine], default: int) -> int:
    """Where reading on after `lines` starts: after the last complete one (an unfinished
    last line is read again once its newline is written)."""
    if not lines:
        return default
    last = lines[-1]
    return last.end if last.complete else last.start
