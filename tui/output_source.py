"""Reading one job's output for the live view: its end first, then what is appended.

The cost never depends on the file's size: the end is read with
`jobstore.tail.read_tail` (a bounded backwards scan), appended bytes with an
`OutputFollower` from the size seen, and an append too large to be worth reading
(the view was away while gigabytes arrived) is skipped by reading the end again.
No Textual here: a worker thread calls these methods.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jobstore import RenderedLine, render_line
from jobstore.tail import OutputFollower, read_tail
from tui.format import byte_size


@dataclass(frozen=True)
class OutputChunk:
    lines: list[RenderedLine]
    # Replace what is shown (a fresh read from the end) rather than append.
    reset: bool
    size: int


def render(lines: list[str], *, raw: bool) -> list[RenderedLine]:
    if raw:
        return [RenderedLine("raw", line) for line in lines]
    return [r for line in lines for r in render_line(line)]


class OutputSource:
    """One job's output file as a stream of rendered lines. One reader at a time: the
    output view reads it under its lock."""

    def __init__(self, path: Path, *, raw: bool, tail_lines: int, max_jump_bytes: int) -> None:
        self.path = path
        self.raw = raw
        self.tail_lines = tail_lines
        self.max_jump_bytes = max_jump_bytes
        self._follower: OutputFollower | None = None

    def load(self, *, note: str | None = None) -> OutputChunk:
        """The end of the output, and a follower positioned after it."""
        tail = read_tail(self.path, self.tail_lines)
        self._follower = OutputFollower(self.path, tail.size)
        lines = render(tail.lines, raw=self.raw)
        shown = sum(len(line.encode("utf-8", "replace")) + 1 for line in tail.lines)
        head: list[RenderedLine] = []
        if note:
            head.append(RenderedLine("info", note))
        if tail.size > shown + 1:
            head.append(
                RenderedLine(
                    "info",
                    f"… the output is {byte_size(tail.size)}; showing its last {len(tail.lines):,} lines",
                )
            )
        return OutputChunk(head + lines, True, tail.size)

    def read_new(self) -> OutputChunk | None:
        """What was appended since the last read, or a fresh end if the file was replaced
        or grew by more than `max_jump_bytes`; None when nothing changed."""
        follower = self._follower
        if follower is None:
            return self.load()
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return None
        if size < follower.offset:
            return self.load(note="the output was truncated or replaced; reading it again")
        if size - follower.offset > self.max_jump_bytes:
            return self.load(note=f"… skipped {byte_size(size - follower.offset)} of output")
        if size == follower.offset:
            return None
        lines = follower.read_new()
        if not lines:
            return None
        return OutputChunk(render(lines, raw=self.raw), False, follower.offset)
