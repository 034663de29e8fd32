"""A team job's output for the output pane: its end read from Redis, then what its owner copies.

The same windows (`OutputChunk`) the local output pane shows, read from the team's copy of
the output instead of the file: the tail of the stream (`TeamClient.output`, whole lines),
then the lines that become whole as the owner copies more (`team.OutputFollow`), rendered
by jobstore's own renderer (`render_line`, through `tui.output_source.render`). Only the
window is kept: earlier output is on the owner's machine, and the first line says so.
No Textual here, nor any read: the team output view reads and hands the bytes over.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobstore import RenderedLine, output_lines
from team import OutputFollow, TeamOutput, line_starts
from tui.output_source import OutputChunk, Place, render


class TeamOutputWindow:
    """One team job's output as chunks for `OutputLog`: `open` the tail, then `take` the new
    pieces as they are read. One reader at a time (the team output view's loop)."""

    def __init__(self, *, tail_lines: int, raw: bool = False) -> None:
        self.tail_lines = tail_lines
        self.raw = raw
        self.following = OutputFollow(0)

    @property
    def read_from(self) -> int:
        return self.following.read_from

    def open(self, tail: TeamOutput, *, earlier: str) -> OutputChunk:
        """The tail's last `tail_lines` whole lines (an unfinished last one comes once whole);
        `earlier` says where the output before them is, shown when some is left out."""
        whole = len(tail.whole_lines)
        first = max(0, whole - self.tail_lines)
        self.following = OutputFollow(tail.complete_until)
        head: list[RenderedLine] = []
        if first > 0 or tail.from_offset > 0:
            head.append(RenderedLine("info", f"… earlier output is not shown here: {earlier}"))
        lines, offsets = self._rendered(zip(tail.lines[first:whole], tail.starts[first:whole], strict=True))
        end = tail.complete_until
        start = offsets[0] if offsets else end
        return OutputChunk(head + lines, [start] * len(head) + offsets, Place.REPLACE, start, end, size=end)

    def take(self, pieces: list[tuple[int, bytes]], *, ended: bool) -> OutputChunk | None:
        """The lines the pieces make whole (all of it once the job `ended`); None for none."""
        start, whole = self.following.take(pieces, ended=ended)
        if not whole:
            return None
        lines, offsets = self._rendered(zip(output_lines(whole), line_starts(start, whole), strict=True))
        end = start + len(whole)
        return OutputChunk(lines, offsets, Place.APPEND, start, end, size=end, live=True)

    def _rendered(self, lines: Iterable[tuple[str, int]]) -> tuple[list[RenderedLine], list[int]]:
        """Each line rendered, and for each line shown where its raw line starts."""
        shown: list[RenderedLine] = []
        offsets: list[int] = []
        for line, start in lines:
            rendered = render([line], raw=self.raw)
            shown += rendered
            offsets += [start] * len(rendered)
        return shown, offsets
