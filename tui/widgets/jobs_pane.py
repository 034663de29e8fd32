"""The jobs pane: the filter line over the jobs table, the model of every job it shows, and
the reads that keep that model true.

It owns its state: the jobs read (`tui.model.JobsModel`), the reads owed (`ReadQueue`), the
filter, the selected job. Its reads run in worker threads and answer with one message per
kind of result (`tui.messages`): the newest page before the first paint and the rest in
pages behind it, the jobs the watcher says changed (floods collapse: one reader at a time),
the periodic check (settle lost jobs, compare the store with the screen). What they change
it draws in the table and says to the screen: `Changed` (what to redraw around it) and
`JobSelected`. A failed read is reported the one way (`tui.workers`) and released.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input
from textual.worker import Worker, get_current_worker

from jobstore import JobStore, JobStoreError
from tui.config import TuiConfig
from tui.jobs import JobFilter, Stamp, read_rows, rescan
from tui.messages import PageLoaded, Reconciled, Rescanned, RowsRead, RowsRefreshed
from tui.model import JobsChange, JobsModel, ReadQueue
from tui.widgets.jobs_table import JobsTable
from tui.workers import Task, failed_worker

# On a big store, filtering waits for a short pause between keys.
DEBOUNCE_ABOVE_JOBS = 2_000
_DEBOUNCE_SECONDS = 0.15
# A full rescan (a stat per job) every this many periodic checks; the others compare listings.
_FULL_RESCAN_EVERY = 10


class JobsPane(Vertical):
    """Filter line and jobs table, over the model of the store's jobs."""

    @dataclass
    class Changed(Message):
        """The jobs, the filter or the loading progress changed: what is drawn from them
        outside the pane (counts, the detail, the toasts) is due. `change`: what a read
        changed (None: only the filter or the progress)."""

        change: JobsChange | None = None

    @dataclass
    class JobSelected(Message):
        """Another job (or none) is selected."""

        job_id: str | None

    @dataclass
    class RescanAnswered(Message):
        """A rescan answered: `read` jobs read again or gone."""

        read: int

    def __init__(self, store: JobStore, config: TuiConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.config = config
        self.model = JobsModel()
        self.reads = ReadQueue()
        self.job_filter = JobFilter()
        self.selected_job_id: str | None = None
        self.load_progress: tuple[int, int] | None = (0, 0)  # (loaded, total) until the first load ends
        self._pending_select: str | None = None  # asked to show, not read yet
        self._checks = 0
        self._typed_filter = JobFilter()  # what the filter line says, maybe not applied yet
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: words · a status (running, error…) · project:NAME — "
            "enter keeps it, esc clears",
            id="filter",
            compact=True,
        )
        yield JobsTable(self.config.clock, id="jobs")

    def on_mount(self) -> None:
        self.border_title = "Jobs"
        field = self.filter_input
        field.display = False
        if not self.config.animations:
            field.cursor_blink = False
        self._load_first_page()
        if self.config.reconcile:
            self._reconcile(full=True)
        if self.config.rescan_seconds > 0:
            self.set_interval(self.config.rescan_seconds, self._periodic_check, name="periodic check")

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    # ---------------------------------------------------------------- selection

    @on(DataTable.RowHighlighted, "#jobs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(event.row_key.value if event.row_key is not None else None)

    def _select(self, job_id: str | None) -> None:
        if job_id == self.selected_job_id:
            return
        self.selected_job_id = job_id
        self.post_message(self.JobSelected(job_id))

    def open_job(self, job_id: str) -> None:
        """Select this job: clear a filter that hides it, wait for it if not read yet."""
        if job_id not in self.model.rows:
            self._pending_select = job_id
            self.request_refresh([job_id])
            return
        table = self.table
        if not table.select_job(job_id):
            self.clear_filter()
            self._apply_filter(JobFilter())
            table.select_job(job_id)
        table.focus()

    @on(JobsTable.NewAbove)
    def _new_above(self, message: JobsTable.NewAbove) -> None:
        """Jobs that arrived above the rows shown are said on the border until the top is seen."""
        message.stop()
        count = message.count
        self.border_subtitle = f"↑ {count} new job{'s' if count != 1 else ''} above" if count else ""

    # ---------------------------------------------------------------- filter

    def open_filter(self) -> None:
        field = self.filter_input
        field.display = True
        field.focus()

    def clear_filter(self) -> None:
        field = self.filter_input
        field.value = ""
        field.display = False
        self._filter_typed(JobFilter())
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        job_filter = JobFilter.parse(event.value)
        if len(self.model.rows) > DEBOUNCE_ABOVE_JOBS:
            self._timer = self.set_timer(_DEBOUNCE_SECONDS, lambda: self._filter_typed(job_filter))
        else:
            self._filter_typed(job_filter)

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._filter_typed(JobFilter.parse(event.value))
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def _filter_typed(self, job_filter: JobFilter) -> None:
        if job_filter == self._typed_filter:
            return
        self._typed_filter = job_filter
        self._apply_filter(job_filter)

    def _apply_filter(self, job_filter: JobFilter) -> None:
        if job_filter == self.job_filter:
            return
        self.job_filter = job_filter
        self.table.set_filter(job_filter, self.model.rows.values())
        self.post_message(self.Changed())
        self._select(self.table.selected_job_id)

    def redraw(self) -> None:
        """Draw every row again (the theme changed)."""
        self.table.set_filter(self.job_filter, self.model.rows.values())

    # ---------------------------------------------------------------- what was read

    def _take(self, message: RowsRead) -> JobsChange:
        """What was read, to the model and the table."""
        # Not during the first load (every old job would toast); a later load, e.g. of a store
        # created after the app started, brings jobs nobody has seen end yet.
        change = self.model.apply(
            message.rows, message.gone, announce=self.reads.loaded, now=datetime.now(UTC)
        )
        for job_id, delay in change.retry:
            self.set_timer(delay, partial(self.request_refresh, [job_id]))
        table = self.table
        if change.changed:
            table.upsert(change.changed)
        if change.removed:
            table.remove_jobs(change.removed)
        return change

    def _taken(self, change: JobsChange) -> None:
        """Said to the screen; the selection follows the table's cursor."""
        self.post_message(self.Changed(change))
        table = self.table
        selected = self.selected_job_id
        if (selected is None and table.selected_job_id is not None) or selected in change.removed:
            self._select(table.selected_job_id)
        if self._pending_select is not None and self._pending_select in self.model.rows:
            job_id, self._pending_select = self._pending_select, None
            self.open_job(job_id)

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        change = self._take(message)
        loaded = len(self.model.rows)
        self.load_progress = None if message.complete else (loaded, message.total or loaded)
        self._taken(change)
        if message.complete and self.reads.load_done():  # the watcher started meanwhile
            self._start_rescan(full=True)

    @on(RowsRefreshed)
    def _rows_refreshed(self, message: RowsRefreshed) -> None:
        self._taken(self._take(message))
        ids = self.reads.refresh_done()
        if ids:
            self._refresh_rows(ids)

    @on(Rescanned)
    def _rescanned(self, message: Rescanned) -> None:
        self._taken(self._take(message))
        self.post_message(self.RescanAnswered(len(message.rows) + len(message.gone)))
        if self.reads.rescan_done():
            self._start_rescan(full=True)

    @on(Reconciled)
    def _reconciled(self, message: Reconciled) -> None:
        self.rescan(full=message.full)
        self.post_message(self.Changed())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A read that failed is reported and released: the next change reads again."""
        worker = failed_worker(self, event)
        if worker is None:
            return
        if worker.group == Task.LOAD:
            self.load_progress = None
            self.post_message(self.Changed())
            if self.reads.load_done():
                self._start_rescan(full=True)
        elif worker.group == Task.REFRESH:
            ids = self.reads.refresh_done()
            if ids:
                self._refresh_rows(ids)
        elif worker.group == Task.RESCAN and self.reads.rescan_done():
            self._start_rescan(full=True)

    # ---------------------------------------------------------------- reads

    def _load_first_page(self) -> None:
        """The newest page, read here before the first paint; the rest in a worker. In a
        worker this page competed for the GIL with the first layout and took ~100 ms instead
        of ~15 (benchmarks/: first paint). Its ids come from the end of the store's job index,
        not from listing every job (~1 µs a job); the worker lists them all. A store that
        cannot be read is left to the worker, which meets the same failure and reports it the
        one way (on_worker_state_changed)."""
        size = self.config.first_page
        try:
            newest = self.store.newest_job_ids(size)
            rows, gone = read_rows(self.store, newest)
        except Exception:  # whatever it is, the worker raises it again
            self._load_pages(None)
            return
        complete = len(newest) < size  # else the count is the worker's to find
        self._page_loaded(PageLoaded(rows, gone, total=len(newest), complete=complete))
        if not complete:  # after the first paint, which it would slow down the same way
            self.call_after_refresh(self._load_pages, None, len(newest))

    @work(thread=True, group=Task.LOAD, name="read the store", exit_on_error=False)
    def _load_pages(self, ids: list[str] | None, start: int = 0) -> None:
        """The jobs `ids` (all the store's when None) from `start` on, a page at a time,
        newest first: the first page small, for a first paint in well under a second."""
        worker = get_current_worker()
        if ids is None:
            ids = self.store.job_ids()
        total, begin = len(ids), start
        while True:
            size = self.config.first_page if begin == 0 else self.config.page_size
            chunk = ids[begin : begin + size]
            rows, gone = read_rows(self.store, chunk)
            begin += len(chunk)
            self.post_message(PageLoaded(rows, gone, total=total, complete=begin >= total))
            if begin >= total or worker.is_cancelled:
                return

    @work(thread=True, group=Task.RECONCILE, name="settle lost jobs", exit_on_error=False)
    def _reconcile(self, *, full: bool) -> None:
        """The periodic check: record lost jobs, fix markers, start queued work (reads never do)."""
        if self.store.root.is_dir():  # looking at a store that does not exist never creates it
            # A store this user may only read, or one removed meanwhile: nothing to settle from here.
            with contextlib.suppress(JobStoreError, OSError):
                self.store.reconcile()
        self.post_message(Reconciled(full=full))

    def request_refresh(self, job_ids: Iterable[str]) -> None:
        """Read these jobs again (floods collapse: one reader at a time)."""
        ids = self.reads.refresh(job_ids)
        if ids:
            self._refresh_rows(ids)

    @work(thread=True, group=Task.REFRESH, name="read changed jobs", exit_on_error=False)
    def _refresh_rows(self, job_ids: list[str]) -> None:
        self.post_message(RowsRefreshed(*read_rows(self.store, job_ids)))

    def rescan(self, *, full: bool = True) -> None:
        """Compare the store with what is shown: a listing, re-reading active jobs, and
        (full) a stat per job. The watcher makes this a safety net for dropped events."""
        if self.reads.rescan():
            self._start_rescan(full=full)

    def _start_rescan(self, *, full: bool) -> None:
        model = self.model
        self._rescan(set(model.rows), model.recheck_ids(), model.stamps() if full else None)

    @work(thread=True, group=Task.RESCAN, name="compare the store with the screen", exit_on_error=False)
    def _rescan(self, known: set[str], recheck: set[str], stamps: dict[str, Stamp | None] | None) -> None:
        started = time.monotonic()  # rows' read_at clock: a later read wins
        to_read, gone_ids = rescan(self.store, known, recheck, stamps)
        rows, gone = read_rows(self.store, to_read)
        self.post_message(Rescanned(rows, gone + [(job_id, started) for job_id in gone_ids]))

    def _periodic_check(self) -> None:
        self._checks += 1
        full = self._checks % _FULL_RESCAN_EVERY == 0
        if self.config.reconcile:
            self._reconcile(full=full)
        else:
            self.rescan(full=full)
