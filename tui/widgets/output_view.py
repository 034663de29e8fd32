"""The selected job's output, live: rendered from the codex event stream, or raw; searchable.

`OutputView` owns the reading: an `OutputSource` read by thread workers, one at a time,
that post their chunks back as messages tagged with a generation (a chunk for a job no
longer shown is dropped). The file shown is watched for writes (inotify, read at most
`FOLLOW_SECONDS` apart: a single line shows at once, a flood wakes the app a few times a
second); a change reported while a read runs is read once that read ends: a flood is
followed by coalescing, never line by line. The lines shown
live in `OutputLog` (tui/widgets/output_log.py); `/` searches them and, beyond the
window, the file; `n`/`N` go to the next/previous hit, `x`/`e`/`a` (shift: backwards) to
the next command, error or agent message.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input
from textual.worker import Worker

from jobstore import JobNotFound, JobStore, JobStoreError, RenderedLine
from jobstore.inotify import IN_MODIFY
from tui.file_events import FileEvent, PathWatch
from tui.output_search import Query, Target
from tui.output_source import OutputChunk, OutputSource
from tui.widgets.output_log import KINDS, OutputLog, wrap
from tui.workers import Task, failed_worker

__all__ = ["KINDS", "OutputLog", "OutputView", "wrap"]

Read = Callable[[OutputSource], OutputChunk | None]
# The shown file's writes are read at most this often (a flood's reads coalesce to this).
FOLLOW_SECONDS = 0.2
# A read of what was appended takes at most this many lines, or two screens if more: a
# flood is shown by its last lines, the rest is read from the file if scrolled to.
FOLLOW_LINES = 200
# A newly shown job's lines usually come within a frame or two; the last job's stay until
# then (a placeholder drawn meanwhile cost a whole repaint: benchmarks/, 1 GB output). A
# read slower than this says so.
READING_NOTE_SECONDS = 0.15


class SearchInput(Input):
    """The search line under the output: Enter searches, Esc closes it."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def action_close(self) -> None:
        self.display = False
        self.screen.query_one(OutputLog).focus()


class OutputView(Vertical):
    """The output pane: a title with the job and mode, the log, the search line, the state."""

    BINDINGS = [
        Binding(
            "slash", "search", "Search", key_display="/", tooltip="Search the output (n/N: next/previous)"
        ),
        Binding("n", "find(1)", "Next", tooltip="Next search hit"),
        Binding("N", "find(-1)", "Previous", show=False, tooltip="Previous search hit"),
        Binding("x", "jump('command', 1)", "Cmd", tooltip="Next command (X: previous)"),
        Binding("X", "jump('command', -1)", "Prev cmd", show=False, tooltip="Previous command"),
        Binding("e", "jump('error', 1)", "Error", tooltip="Next error (E: previous)"),
        Binding("E", "jump('error', -1)", "Prev error", show=False, tooltip="Previous error"),
        Binding("a", "jump('agent', 1)", "Agent", tooltip="Next agent message (A: previous)"),
        Binding("A", "jump('agent', -1)", "Prev agent", show=False, tooltip="Previous agent message"),
    ]

    @dataclass
    class Loaded(Message):
        generation: int
        chunk: OutputChunk | None
        # Set when a search found nothing: what to say.
        not_found: str | None = None
        follow: bool = False  # the result of a read of what was appended

    @dataclass
    class SearchWrapped(Message):
        """A search of the file went past its end (start) and on from the other edge."""

        generation: int
        text: str

    class Opened(Message):
        """The shown job's output (or what stands for it) is in: the first read of the job
        shown, its result drawn or failed."""

    def __init__(
        self, store: JobStore, *, tail_lines: int, max_lines: int, watch: bool = True, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.tail_lines = tail_lines
        self.max_lines = max_lines
        self.job_id: str | None = None
        self.raw = False
        self.generation = 0
        self.reading = False  # a read runs or its result is not shown yet
        self.searching = False
        self.search_query: Query | None = None  # the last text search
        self._in_flight = 0
        self._following_read = False  # a read of what was appended runs
        self._follow_owed = False  # the file changed meanwhile: read again after it
        # An opening read (of the file's end) runs; a change reported meanwhile is owed a read
        # after it only if it found no file (it reads the rest itself): no second read of the
        # end when a selection's folder watch reports the job at once.
        self._opening = False
        self._open_owed = False
        # The job's source, and the generation it was opened for (set by the worker).
        self._source: tuple[int, OutputSource] | None = None
        self._lock = threading.Lock()  # one reader at a time; chunks are posted in the order read
        self._watch = watch
        self._file_watch: PathWatch | None = None  # the shown file's writes (set on mount)
        self._output_wd: int | None = None

    def compose(self) -> ComposeResult:
        yield OutputLog(max_lines=self.max_lines, id="output-log")
        search = SearchInput(
            placeholder="search the output (Enter; Esc to close)", compact=True, id="output-search"
        )
        search.display = False
        yield search

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one(OutputLog)

    def on_mount(self) -> None:
        self.border_title = "Output"
        self.log_widget.clear("Select a job to see its output.")
        self._update_subtitle()
        if self._watch:
            file_watch = PathWatch(self._file_written, interval=FOLLOW_SECONDS)
            # Without inotify the store's watcher reports writes to the output instead.
            self._file_watch = file_watch if file_watch.available else None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A read that failed is reported (its `Loaded`, posted all the same, releases it)."""
        failed_worker(self, event)

    def on_unmount(self) -> None:
        if self._file_watch is not None:
            self._file_watch.close()
            self._file_watch = None

    # ---------------------------------------------------------------- control

    def show_job(self, job_id: str | None, *, force: bool = False) -> None:
        """Show this job's output (None: nothing). Reading happens in a thread."""
        if job_id == self.job_id and not force:
            return
        if job_id != self.job_id:  # a search belongs to the job it was made in
            self.search_query = self.log_widget.search_query = None
            self._update_subtitle()
        self.job_id = job_id
        self.generation += 1
        self._following_read = self._follow_owed = False
        self._unwatch_output()
        if job_id is None:
            self.log_widget.clear("Select a job to see its output.")
            self._update_title()
            return
        self._update_title()
        self._start(lambda source: source.load(), opening=True)
        self.set_timer(READING_NOTE_SECONDS, partial(self._note_slow_read, self.generation))

    def _note_slow_read(self, generation: int) -> None:
        if generation == self.generation and self._opening:
            self.log_widget.clear("Reading the output…")

    def poke(self) -> None:
        """The store reports the output file created, closed or written: watch it (again:
        it may be a new file) and read what was appended."""
        self._watch_output()
        self._read_appended()

    def _file_written(self, events: list[FileEvent]) -> None:
        if self._output_wd is not None and any(event.mask & IN_MODIFY for event in events):
            self._read_appended()

    def _watch_output(self) -> None:
        """Watch the shown output file for writes (once it is open)."""
        if self._file_watch is None or self._source is None or self._source[0] != self.generation:
            return
        wd = self._file_watch.add(self._source[1].path, IN_MODIFY)  # never through a symlink
        if self._output_wd is not None and wd != self._output_wd:
            self._file_watch.remove(self._output_wd)
        self._output_wd = wd

    def _unwatch_output(self) -> None:
        if self._file_watch is not None and self._output_wd is not None:
            self._file_watch.remove(self._output_wd)
        self._output_wd = None

    def _read_appended(self) -> None:
        """Read what was appended, once the read running ends."""
        if self.job_id is None:
            return
        log = self.log_widget
        if self._source is None or self._source[0] != self.generation:
            if self._opening:
                self._open_owed = True
            else:
                self._start(lambda source: source.load(), opening=True)
        elif not log.at_end:
            return  # the window shows an earlier part: nothing to read
        elif self._following_read:
            self._follow_owed = True
        else:
            self._following_read = True
            limit = max(FOLLOW_LINES, 2 * log.size.height)
            self._start(lambda source: source.read_new(limit), name="follow the output", follow=True)

    def toggle_raw(self) -> None:
        self.raw = not self.raw
        if self.job_id is not None:
            self.show_job(self.job_id, force=True)
        self._update_title()

    def follow(self) -> None:
        self.log_widget.action_follow()

    # ---------------------------------------------------------------- reading

    def _start(
        self, read: Read, *, opening: bool = False, name: str = "read the output", follow: bool = False
    ) -> None:
        generation = self.generation
        job_id = self.job_id
        if opening:
            self._opening, self._open_owed = True, False
        self._in_flight += 1
        self.reading = True

        def work() -> None:
            message = OutputView.Loaded(generation, None, follow=follow)
            try:
                with self._lock:
                    if generation != self.generation or job_id is None:
                        return
                    message = self._read(job_id, generation, read, opening)
                    message.follow = follow
            finally:
                self.post_message(message)

        self.run_worker(work, thread=True, group=Task.OUTPUT, name=name, exit_on_error=False)

    def _read(self, job_id: str, generation: int, read: Read, opening: bool) -> Loaded:
        """In the worker: open the job's output if needed, then read."""
        try:
            if self._source is None or self._source[0] != generation:
                try:
                    # Opened by the store, with its rules: a symlinked output is refused.
                    file = self.store.open_output(job_id)
                except JobNotFound:
                    file = None  # removed meanwhile: the jobs pane says so
                if file is None:  # not written yet: "No output yet"
                    return self.Loaded(generation, OutputChunk([]))
                if self._source is not None:
                    self._source[1].close()
                source = OutputSource(file, raw=self.raw, tail_lines=self.tail_lines)
                self._source = (generation, source)
                if not opening:
                    read = OutputSource.load
            return self.Loaded(generation, read(self._source[1]))
        except _NotFound as exc:
            return self.Loaded(generation, None, not_found=str(exc))
        except (OSError, JobStoreError) as exc:  # shown where the output would be
            error = RenderedLine("error", f"cannot read the output: {exc}")
            return self.Loaded(generation, OutputChunk([error], [0]))

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        message.stop()
        self._in_flight = max(0, self._in_flight - 1)
        self.reading = self._in_flight > 0
        if message.generation != self.generation:
            return
        opened, self._opening = self._opening, False  # the first result of a generation opens it
        if opened:
            self.post_message(self.Opened())
        log = self.log_widget
        chunk = message.chunk
        if chunk is not None:
            if chunk.reset and not chunk.lines:
                log.clear("No output yet.")
            else:
                log.placeholder = ""
                log.apply(chunk)
        if message.not_found is not None:
            self.notify(message.not_found, severity="warning", timeout=3)
        if message.follow:
            self._following_read = False
            if self._follow_owed:
                self._follow_owed = False
                self._read_appended()
        if self._output_wd is None and self._file_watch is not None and self._source is not None:
            self._watch_output()
            if self._output_wd is not None:
                self._open_owed = False
                self._read_appended()  # what was written between the read and the watch
        if opened and self._open_owed:
            self._open_owed = False
            self._read_appended()
        self.searching = False
        self._update_subtitle()

    @on(OutputLog.NeedLines)
    def _need_lines(self, message: OutputLog.NeedLines) -> None:
        message.stop()
        log = message.log
        if message.where == "before":
            start = log.start
            self._start(lambda source: source.before(start))
        elif message.where == "after":
            end = log.end
            self._start(lambda source: source.after(end))
        elif message.where == "head":
            self._start(lambda source: source.head())
        else:
            self._start(lambda source: source.load())

    # ---------------------------------------------------------------- search and jumps

    def action_search(self) -> None:
        search = self.query_one(SearchInput)
        search.display = True
        search.value = self.search_query.text if self.search_query else ""
        search.focus()

    @on(Input.Submitted, "#output-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        search = self.query_one(SearchInput)
        search.display = False
        self.log_widget.focus()
        if not event.value:
            self.search_query = self.log_widget.search_query = None
            self.log_widget.refresh()
            return
        self.search_query = Query.for_text(event.value)
        self.log_widget.search_query = self.search_query
        self.log_widget.cursor = None
        self.find(self.search_query, forward=True)

    def action_find(self, direction: int) -> None:
        if self.search_query is None:
            self.notify("Nothing searched yet: press / to search the output.", timeout=3)
            return
        self.find(self.search_query, forward=direction > 0)

    def action_jump(self, target: str, direction: int) -> None:
        self.find(Query(Target(target)), forward=direction > 0)

    def find(self, query: Query, *, forward: bool) -> None:
        """Go to the next (previous) hit: in the window if there is one, else in the file;
        past the file's end (start) the search wraps around, as vim's does, and says so."""
        if self.job_id is None:
            return
        log = self.log_widget
        found = log.find(query, forward=forward, raw_view=self.raw)
        if found is not None:
            self._show_hit(found)
            return
        more_below = not log.at_end or log.end < log.file_size
        more_above = log.start > 0
        if more_below if forward else more_above:
            self._find_in_file(query, log.end if forward else log.start, forward=forward, wrap=True)
        elif more_above if forward else more_below:
            # Nothing more that way: on from the other edge of the file, out of the window.
            self._find_in_file(query, _edge(forward), forward=forward, wrap=False, wrapped=True)
        else:  # the window is the whole output: on from its other edge
            found = log.find(query, forward=forward, raw_view=self.raw, from_edge=True)
            if found is None:
                self.notify(_nowhere(query), severity="warning", timeout=3)
            else:
                self.notify(_wrapped(forward), timeout=3)
                self._show_hit(found)

    def _show_hit(self, entry_id: int) -> None:
        self.log_widget.select(entry_id)
        self._update_subtitle()

    def _find_in_file(
        self, query: Query, offset: int, *, forward: bool, wrap: bool, wrapped: bool = False
    ) -> None:
        """Search the file from `offset` in a worker; `wrap`: from the other end if there is
        no hit that way. `wrapped`: this search already wrapped (say so when it finds one)."""
        generation = self.generation

        def stop() -> bool:
            return generation != self.generation

        def read(source: OutputSource) -> OutputChunk | None:
            hit = source.find(query, offset, forward=forward, stop=stop)
            said_wrapped = wrapped
            if hit is None and wrap and not stop():
                hit = source.find(query, _edge(forward), forward=forward, stop=stop)
                said_wrapped = True
            if hit is None:
                raise _NotFound(_nowhere(query))
            if said_wrapped:
                # Posted before the chunk (Loaded, posted when this returns): handled first.
                self.post_message(self.SearchWrapped(generation, _wrapped(forward)))
            return source.around(hit[0], hit)

        self.searching = True
        self._update_subtitle()
        self._start(read, name="search the output")

    @on(SearchWrapped)
    def _search_wrapped(self, message: SearchWrapped) -> None:
        message.stop()
        if message.generation == self.generation:
            self.notify(message.text, timeout=3)

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
        search = f"{self.search_query.description} · n/N · " if self.search_query is not None else ""
        if self.searching:
            self.border_subtitle = f"{search}searching the file…"
        elif log.following:
            self.border_subtitle = f"{search}following · r raw/rendered"
        else:
            pending = f"{log.pending:,} new lines · " if log.pending else ""
            where = ""
            top = log.top_entry()
            entry = log.entry(top) if top is not None else None
            if entry is not None and log.file_size:
                where = f"{100 * entry[1] // log.file_size}% · "
            self.border_subtitle = f"{search}paused · {where}{pending}End to follow"


# Where a search from an edge of the file starts: its start, or (backwards) its end,
# whatever the size by then (a backward read starts at most at the size).
def _edge(forward: bool) -> int:
    return 0 if forward else sys.maxsize


def _wrapped(forward: bool) -> str:
    return "search hit BOTTOM, continuing at TOP" if forward else "search hit TOP, continuing at BOTTOM"


def _nowhere(query: Query) -> str:
    return f"No {query.description} in the output."


class _NotFound(Exception):
    """A search of the file found nothing: said in a toast, not as a failure."""
