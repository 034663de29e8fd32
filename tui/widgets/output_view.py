"""The selected job's output, live: rendered from the codex event stream, or raw.

`OutputLog` is a line-virtualized widget (like Textual's `Log`: only the visible rows
are rendered) that wraps lines to its width, colours them by kind, keeps at most
`max_lines` lines, and follows the end: scrolling up pauses (counting the lines
that arrive meanwhile), reaching the end again resumes.

`OutputView` owns the reading: an `OutputSource` read by thread workers that post
their chunks back as messages, tagged with a generation so that a chunk for a job
no longer shown is dropped. The worker also finds the job's output file (the store
says which file of the job's folder it is).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobstore import JobStore, RenderedLine
from tui.jobs import output_path
from tui.output_source import OutputChunk, OutputSource
from tui.workers import Task

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

KINDS = ("agent", "reasoning", "command", "output", "file_change", "todo", "error", "usage", "info", "raw")


def clean(text: str) -> str:
    return _CONTROL.sub("�", text.expandtabs(4))


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
    """Wrapped, coloured, bounded lines; follows the end unless scrolled up."""

    COMPONENT_CLASSES = {f"output--{kind}" for kind in KINDS} | {"output--placeholder"}

    DEFAULT_CSS = """
    OutputLog {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    BINDINGS = [
        Binding("end,f", "follow", "Follow", show=False),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    @dataclass
    class FollowChanged(Message):
        log: OutputLog
        following: bool
        pending: int

    def __init__(self, *, max_lines: int = 10_000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._entries: list[RenderedLine] = []
        self._counts: list[int] = []  # rows per entry
        self._rows: list[tuple[str, str]] = []  # (kind, text) after wrapping
        self._width = 0
        self.following = True
        self.pending = 0
        self.placeholder = ""

    # ---------------------------------------------------------------- content

    @property
    def line_count(self) -> int:
        return len(self._entries)

    @property
    def lines(self) -> list[RenderedLine]:
        return list(self._entries)

    def clear(self, placeholder: str = "") -> None:
        self._entries.clear()
        self._counts.clear()
        self._rows.clear()
        self.placeholder = placeholder
        self.pending = 0
        self.virtual_size = Size(self._width, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._set_following(True)
        self.refresh()

    def write(self, lines: list[RenderedLine]) -> None:
        if not lines:
            return
        width = self._wrap_width()
        for line in lines:
            rows = wrap(clean(line.text), width)
            self._entries.append(line)
            self._counts.append(len(rows))
            self._rows.extend((line.kind, r) for r in rows)
        trimmed_rows = self._trim()
        self.virtual_size = Size(self._width, len(self._rows))
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.pending += len(lines)
            if trimmed_rows:
                self.scroll_to(y=max(0, self.scroll_y - trimmed_rows), animate=False, immediate=True)
            self._post_follow()
        self.refresh()

    def _trim(self) -> int:
        excess = len(self._entries) - self.max_lines
        if excess <= max(100, self.max_lines // 10):
            return 0
        rows = sum(self._counts[:excess])
        del self._entries[:excess]
        del self._counts[:excess]
        del self._rows[:rows]
        return rows

    def _wrap_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _rewrap(self) -> None:
        width = self._wrap_width()
        at_end = self.following
        self._rows = []
        self._counts = []
        for line in self._entries:
            rows = wrap(clean(line.text), width)
            self._counts.append(len(rows))
            self._rows.extend((line.kind, r) for r in rows)
        self.virtual_size = Size(self._width, len(self._rows))
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def on_resize(self, event: Resize) -> None:
        width = self._wrap_width()
        if width != self._width:
            self._width = width
            self._rewrap()

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
        self._set_following(round(new_value) >= self.max_scroll_y)

    def action_follow(self) -> None:
        self._set_following(True)
        self.scroll_end(animate=False, immediate=True, x_axis=False)

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
        kind, text = self._rows[index]
        strip = Strip([Segment(text, self._style(kind))], cell_len(text))
        return strip.crop_extend(0, width, base).apply_offsets(0, index)


class OutputView(Vertical):
    """The output pane: a title with the job and mode, the log, and the follow state."""

    @dataclass
    class Loaded(Message):
        generation: int
        chunk: OutputChunk

    def __init__(
        self, store: JobStore, *, tail_lines: int, max_lines: int, max_jump_bytes: int, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.tail_lines = tail_lines
        self.max_lines = max_lines
        self.max_jump_bytes = max_jump_bytes
        self.job_id: str | None = None
        self.raw = False
        self.generation = 0
        self.reading = False
        # The job's source, and the generation it was opened for (set by the worker).
        self._source: tuple[int, OutputSource] | None = None
        self._lock = threading.Lock()  # one reader at a time; chunks are posted in the order read

    def compose(self) -> ComposeResult:
        yield OutputLog(max_lines=self.max_lines, id="output-log")

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one(OutputLog)

    def on_mount(self) -> None:
        self.border_title = "Output"
        self.log_widget.clear("Select a job to see its output.")
        self._update_subtitle()

    # ---------------------------------------------------------------- control

    def show_job(self, job_id: str | None, *, force: bool = False) -> None:
        """Show this job's output (None: nothing). Reading happens in a thread."""
        if job_id == self.job_id and not force:
            return
        self.job_id = job_id
        self.generation += 1
        log = self.log_widget
        if job_id is None:
            self.reading = False
            log.clear("Select a job to see its output.")
            self._update_title()
            return
        log.clear("Reading the output…")
        self.reading = True
        self._update_title()
        self._read(job_id)

    def poke(self) -> None:
        """The output file changed: read what was appended (or the output, if not found yet)."""
        if self.job_id is not None:
            self._read(self.job_id)

    def toggle_raw(self) -> None:
        self.raw = not self.raw
        if self.job_id is not None:
            self.show_job(self.job_id, force=True)
        self._update_title()

    def follow(self) -> None:
        self.log_widget.action_follow()

    def _read(self, job_id: str) -> None:
        generation = self.generation

        def work() -> None:
            with self._lock:
                if generation != self.generation:
                    return
                chunk = self._next_chunk(job_id, generation)
                if chunk is not None:
                    self.post_message(self.Loaded(generation, chunk))

        self.run_worker(work, thread=True, group=Task.OUTPUT, name="read the output", exit_on_error=False)

    def _next_chunk(self, job_id: str, generation: int) -> OutputChunk | None:
        """In the worker: the first chunk (finding the file), or what was appended since."""
        try:
            if self._source is not None and self._source[0] == generation:
                return self._source[1].read_new()
            path = output_path(self.store, job_id)
            if path is None:
                return OutputChunk([], True, 0)  # not written yet: "No output yet"
            source = OutputSource(
                path, raw=self.raw, tail_lines=self.tail_lines, max_jump_bytes=self.max_jump_bytes
            )
            chunk = source.load()
            self._source = (generation, source)
            return chunk
        except OSError as exc:  # shown where the output would be
            return OutputChunk([RenderedLine("error", f"cannot read the output: {exc}")], True, 0)

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        log = self.log_widget
        if message.chunk.reset:
            self.reading = False
            log.clear("No output yet." if not message.chunk.lines else "")
        log.write(message.chunk.lines)

    # ---------------------------------------------------------------- titles

    @on(OutputLog.FollowChanged)
    def _on_follow_changed(self, message: OutputLog.FollowChanged) -> None:
        message.stop()
        self._update_subtitle()

    def _update_title(self) -> None:
        mode = "raw" if self.raw else "rendered"
        self.border_title = f"Output · {self.job_id} · {mode}" if self.job_id else "Output"

    def _update_subtitle(self) -> None:
        log = self.log_widget
        if log.following:
            self.border_subtitle = "following · r raw/rendered"
        else:
            pending = f"{log.pending:,} new lines · " if log.pending else ""
            self.border_subtitle = f"paused · {pending}End to follow"
