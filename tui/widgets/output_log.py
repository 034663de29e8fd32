"""The output pane's lines: a window of the job's output, wrapped, coloured, with search hits marked.

`OutputLog` is line-virtualized (only the visible rows are drawn) and holds at most
`max_lines` shown lines: a window of the output with the file offsets its lines come
from. Scrolling near the window's top or bottom asks for the lines beyond it
(`NeedLines`); what scrolls out of the window is dropped. At the file's end it follows
what is appended: scrolling up pauses (counting what arrives), reaching the end resumes.
Stored text is untrusted: it is shown through `shown_text` (controls made visible) in
plain segments, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobstore import LineKind, RenderedLine
from tui.output_search import Query, Target, shown_text
from tui.output_source import OutputChunk, Place

KINDS: tuple[str, ...] = get_args(LineKind)
EDGE_ROWS = 3  # this close to the window's top or bottom, the lines beyond it are asked for


def wrap(text: str, width: int) -> list[str]:
    """Split a line into rows of at most `width` cells, at spaces where possible."""
    if width <= 0:
        return [text]
    if text.isascii():
        if len(text) <= width:
            return [text]
        rows: list[str] = []
        while len(text) > width:
            cut = text.rfind(" ", 0, width + 1)
            if cut <= width // 3:
                cut = width
            rows.append(text[:cut])
            text = text[cut:].lstrip(" ") if cut < width or text[cut : cut + 1] == " " else text[cut:]
        if text or not rows:
            rows.append(text)
        return rows
    if cell_len(text) <= width:
        return [text]
    return chop_cells(text, width) or [""]


class OutputLog(ScrollView, can_focus=True):
    """A window of wrapped, coloured lines; follows the end unless scrolled up."""

    COMPONENT_CLASSES = {f"output--{kind}" for kind in KINDS} | {
        "output--placeholder",
        "output--match",
        "output--current",
    }

    DEFAULT_CSS = """
    OutputLog {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    OutputLog > .output--match {
        background: $warning 60%;
        color: $text;
    }
    OutputLog > .output--current {
        background: $accent 35%;
    }
    OutputLog > .output--notice {
        color: $foreground 40%;
        text-style: italic;
    }
    """

    BINDINGS = [
        Binding("end,f,G", "follow", "Follow", show=False),
        Binding("home,g", "first", "First line", show=False),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    @dataclass
    class FollowChanged(Message):
        log: OutputLog
        following: bool
        pending: int

    @dataclass
    class NeedLines(Message):
        """Lines beyond the window are wanted: `before` or `after` it (scrolled near an
        edge), the output's `head` (Home) or its `end` (to follow it again)."""

        log: OutputLog
        where: str

    def __init__(self, *, max_lines: int = 10_000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._entries: list[RenderedLine] = []
        self._offsets: list[int] = []  # where each entry's raw line starts in the file
        self._counts: list[int] = []  # rows per entry
        self._rows: list[tuple[int, str, str]] = []  # (entry id, kind, shown text) after wrapping
        self._first_id = 0  # the id of _entries[0]; ids stay put as the window moves
        self._width = 0
        self.following = True
        self.pending = 0
        self.placeholder = ""
        # The window: the file offsets it covers, whether it reaches the end, the size seen.
        self.start = 0
        self.end = 0
        self.at_end = True
        self.file_size = 0
        self.asked = 0  # the direction of lines asked for and not yet arrived (0: none)
        self.search_query: Query | None = None  # what is highlighted
        self.cursor: int | None = None  # the id of the entry found last

    # ---------------------------------------------------------------- content

    @property
    def line_count(self) -> int:
        return len(self._entries)

    @property
    def lines(self) -> list[RenderedLine]:
        return list(self._entries)

    @property
    def offsets(self) -> list[int]:
        return list(self._offsets)

    def entry(self, entry_id: int) -> tuple[RenderedLine, int] | None:
        index = entry_id - self._first_id
        if 0 <= index < len(self._entries):
            return self._entries[index], self._offsets[index]
        return None

    def clear(self, placeholder: str = "") -> None:
        self._entries, self._offsets, self._counts, self._rows = [], [], [], []
        self.placeholder = placeholder
        self.pending = 0
        self.start = self.end = self.file_size = 0
        self.at_end = True
        self.asked = 0
        self.cursor = None
        self.virtual_size = Size(self._width, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._set_following(True)
        self.refresh()

    def apply(self, chunk: OutputChunk) -> None:
        """Take in lines read for this window (see `Place`)."""
        self.asked = 0
        self.file_size = max(self.file_size, chunk.size)
        if chunk.place == Place.REPLACE:
            self._replace(chunk)
        elif chunk.place == Place.APPEND:
            self._append(chunk)
        else:
            self._prepend(chunk)
        self.refresh()

    def _replace(self, chunk: OutputChunk) -> None:
        if chunk.live and not self.following and self._entries:
            # A flood while paused: the window stays; its end is no longer the file's.
            self.at_end = False
            self.pending += len(chunk.lines)
            self._post_follow()
            return
        self._entries, self._offsets, self._counts, self._rows = [], [], [], []
        self._first_id += 1_000_000_000  # ids of the old window never name a new line
        self.cursor = None
        self.start, self.end, self.at_end = chunk.start, chunk.end, chunk.at_end
        self._add(chunk.lines, chunk.offsets)
        self._trim_top()
        self.pending = 0
        self._update_size()
        if chunk.focus is not None:
            self.cursor = self._find_focus(chunk.focus)
            self._set_following(False)
            if self.cursor is not None:
                self.show_entry(self.cursor)
        elif chunk.at_end and self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self._set_following(False)
            self.scroll_to(y=0, animate=False, immediate=True)
        self._post_follow()

    def _append(self, chunk: OutputChunk) -> None:
        # A last line read unfinished is read again whole: drop it first.
        cut = len(self._offsets)
        while cut and self._offsets[cut - 1] >= chunk.start:
            cut -= 1
        if cut < len(self._offsets):
            rows = sum(self._counts[cut:])
            del (
                self._entries[cut:],
                self._offsets[cut:],
                self._counts[cut:],
                self._rows[len(self._rows) - rows :],
            )
        self._add(chunk.lines, chunk.offsets)
        self.end, self.at_end = chunk.end, chunk.at_end
        trimmed = self._trim_top()
        self._update_size()
        if self.following and self.at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.pending += len(chunk.lines)
            if trimmed:
                self.scroll_to(y=max(0, self.scroll_y - trimmed), animate=False, immediate=True)
            self._post_follow()

    def _prepend(self, chunk: OutputChunk) -> None:
        if not chunk.lines:
            self.start = chunk.start
            return
        old_entries, old_offsets, old_counts, old_rows = (
            self._entries,
            self._offsets,
            self._counts,
            self._rows,
        )
        self._entries, self._offsets, self._counts, self._rows = [], [], [], []
        self._first_id -= len(chunk.lines)
        self._add(chunk.lines, chunk.offsets)
        added = len(self._rows)
        self._entries += old_entries
        self._offsets += old_offsets
        self._counts += old_counts
        self._rows += old_rows
        self.start = chunk.start
        self._trim_bottom()
        self._update_size()
        self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)

    def _add(self, lines: list[RenderedLine], offsets: list[int]) -> None:
        width = self._wrap_width()
        next_id = self._first_id + len(self._entries)
        for entry_id, (line, offset) in enumerate(zip(lines, offsets, strict=True), next_id):
            rows = wrap(shown_text(line.text), width)
            self._entries.append(line)
            self._offsets.append(offset)
            self._counts.append(len(rows))
            self._rows.extend((entry_id, line.kind, row) for row in rows)

    def _trim_top(self) -> int:
        """Drop the oldest lines beyond `max_lines` (whole raw lines); the rows dropped."""
        excess = len(self._entries) - self.max_lines
        if excess <= 0:
            return 0
        while excess < len(self._offsets) and self._offsets[excess] == self._offsets[excess - 1]:
            excess += 1
        rows = sum(self._counts[:excess])
        del self._entries[:excess], self._offsets[:excess], self._counts[:excess], self._rows[:rows]
        self._first_id += excess
        self.start = self._offsets[0] if self._offsets else self.end
        return rows

    def _trim_bottom(self) -> None:
        keep = self.max_lines
        if len(self._entries) <= keep:
            return
        while keep > 0 and self._offsets[keep] == self._offsets[keep - 1]:
            keep -= 1
        rows = sum(self._counts[keep:])
        self.end = self._offsets[keep]
        self.at_end = False
        del (
            self._entries[keep:],
            self._offsets[keep:],
            self._counts[keep:],
            self._rows[len(self._rows) - rows :],
        )
        self._set_following(False)

    def _find_focus(self, focus: tuple[int, int]) -> int | None:
        offset, index = focus
        for position, line_offset in enumerate(self._offsets):
            if line_offset == offset:
                position += index
                return self._first_id + position if position < len(self._entries) else None
        return None

    def _update_size(self) -> None:
        self.virtual_size = Size(self._width, len(self._rows))

    def _wrap_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def on_resize(self, event: Resize) -> None:
        width = self._wrap_width()
        if width == self._width:  # only the height changed (the message line opened, say)
            if self.following:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            return
        self._width = width
        top = self.top_entry()
        entries, offsets = self._entries, self._offsets
        self._entries, self._offsets, self._counts, self._rows = [], [], [], []
        self._add(entries, offsets)
        self._update_size()
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif top is not None:
            self.show_entry(top, middle=False)
        self.refresh()

    # ---------------------------------------------------------------- positions

    def row_of(self, entry_id: int) -> int:
        return sum(self._counts[: entry_id - self._first_id])

    def top_entry(self) -> int | None:
        row = int(self.scroll_y)
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def show_entry(self, entry_id: int, *, middle: bool = True) -> None:
        """Scroll so this entry is in view (in the middle, or at the top)."""
        row = self.row_of(entry_id)
        y = row - self.scrollable_content_region.height // 3 if middle else row
        self.scroll_to(y=max(0, y), animate=False, immediate=True)

    def find(self, query: Query, *, forward: bool, raw_view: bool, from_edge: bool = False) -> int | None:
        """The id of the next (previous) entry in the window that is a hit, from the cursor
        (else from the top row shown); `from_edge`: from the window's first (last) entry."""
        first = self._first_id
        anchor = self.cursor if self.cursor is not None and self.entry(self.cursor) else None
        if from_edge:
            indexes = range(len(self._entries)) if forward else range(len(self._entries) - 1, -1, -1)
        elif anchor is None:
            top = self.top_entry()
            top = first if top is None else top
            indexes = range(top - first, len(self._entries)) if forward else range(top - first - 1, -1, -1)
        else:
            at = anchor - first
            indexes = range(at + 1, len(self._entries)) if forward else range(at - 1, -1, -1)
        for index in indexes:
            if self._is_hit(query, index, raw_view):
                return first + index
        return None

    def _is_hit(self, query: Query, index: int, raw_view: bool) -> bool:
        line = self._entries[index]
        if raw_view and query.target != Target.TEXT:
            return query.hit_in_event(line.text, raw_view=True) is not None
        if not query.line_matches(line):
            return False
        if query.target == Target.AGENT and index > 0:  # a message's first line only
            previous = self._entries[index - 1]
            return previous.kind != "agent" or self._offsets[index - 1] != self._offsets[index]
        return True

    def select(self, entry_id: int) -> None:
        self.cursor = entry_id
        self._set_following(False)
        self.show_entry(entry_id)
        self.refresh()

    # ---------------------------------------------------------------- follow

    def _set_following(self, following: bool) -> None:
        changed = following != self.following
        self.following = following
        if following:
            changed = changed or self.pending != 0
            self.pending = 0
        if changed:
            self._post_follow()

    def _post_follow(self) -> None:
        self.post_message(self.FollowChanged(self, self.following, self.pending))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        at_bottom = round(new_value) >= self.max_scroll_y
        self._set_following(at_bottom and self.at_end)
        if self.asked or not self._rows:
            return
        if new_value <= EDGE_ROWS and self.start > 0:
            self.asked = -1
            self.post_message(self.NeedLines(self, "before"))
        elif round(new_value) >= self.max_scroll_y - EDGE_ROWS and not self.at_end:
            self.asked = 1
            self.post_message(self.NeedLines(self, "after"))

    def action_follow(self) -> None:
        self.cursor = None
        if self.at_end:
            self._set_following(True)
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.following = True  # the window is read again from the end, followed
            self.post_message(self.NeedLines(self, "end"))

    def action_first(self) -> None:
        self.cursor = None
        if self.start == 0:
            self._set_following(False)
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self.following = False
            self.post_message(self.NeedLines(self, "head"))

    # ---------------------------------------------------------------- render

    def _style(self, kind: str) -> Style:
        name = f"output--{kind}" if kind in KINDS or kind == "placeholder" else "output--raw"
        return self.get_component_rich_style(name)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        index = int(self.scroll_y) + y
        if not self._rows:
            if y == 0 and self.placeholder:
                text = self.placeholder[:width]
                strip = Strip([Segment(text, self._style("placeholder"))], cell_len(text))
                return strip.extend_cell_length(width, base)
            return Strip.blank(width, base)
        if index >= len(self._rows):
            return Strip.blank(width, base)
        entry_id, kind, text = self._rows[index]
        style = self._style(kind)
        if entry_id == self.cursor:
            style += self.get_component_rich_style("output--current")
        segments = self._segments(text, style)
        strip = Strip(segments, cell_len(text))
        return strip.crop_extend(0, width, base).apply_offsets(0, index)

    def _segments(self, text: str, style: Style) -> list[Segment]:
        spans = self.search_query.spans(text) if self.search_query is not None else []
        if not spans:
            return [Segment(text, style)]
        match = style + self.get_component_rich_style("output--match")
        segments: list[Segment] = []
        at = 0
        for start, end in spans:
            if start > at:
                segments.append(Segment(text[at:start], style))
            segments.append(Segment(text[start:end], match))
            at = end
        if at < len(text):
            segments.append(Segment(text[at:], style))
        return segments
