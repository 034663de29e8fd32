"""How the jobs screen reads the store: the newest page before the first paint and the rest in
pages behind it, the jobs the watcher says changed (floods collapse: one reader at a time),
the periodic check (settle lost jobs, compare the store with the screen). Each read runs in
a worker and answers with one message; the handlers give what arrived to `JobsScreen._apply`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable

from textual import on, work
from textual.worker import get_current_worker

from jobstore import JobStoreError
from tui.jobs import Stamp, read_rows, rescan
from tui.messages import PageLoaded, Reconciled, Rescanned, RowsRead, RowsRefreshed
from tui.model import ReadQueue
from tui.screens.job_actions import JobActions
from tui.workers import Task

# A full rescan (a stat per job) every this many safety rescans; the others compare listings.
_FULL_RESCAN_EVERY = 10


class StoreReads(JobActions):
    """The jobs screen's reads. JobsScreen sets the state declared here and draws what is read."""

    reads: ReadQueue
    _checks: int

    def _apply(self, message: RowsRead, *, announce: bool) -> None:
        """What was read, to the model and the screen (JobsScreen's)."""
        raise NotImplementedError

    def _load_first_page(self) -> None:
        """The newest page, read here before the first paint; the rest in a worker. In a
        worker this page competed for the GIL with the first layout and took ~100 ms instead
        of ~15 (benchmarks/: first paint). A store that cannot be read is left to the worker,
        which meets the same failure and reports it the one way (on_worker_state_changed)."""
        try:
            ids = self.store.job_ids()
            newest = ids[: self.config.first_page]
            rows, gone = read_rows(self.store, newest)
        except Exception:  # whatever it is, the worker raises it again
            self._load_pages(None)
            return
        self._page_loaded(PageLoaded(rows, gone, total=len(ids), complete=len(ids) <= len(newest)))
        if len(ids) > len(newest):  # after the first paint, which it would slow down the same way
            self.call_after_refresh(self._load_pages, ids, len(newest))

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

    def action_rescan(self, *, full: bool = True) -> None:
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
            self.action_rescan(full=full)

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        # Not during the first load (every old job would toast); a later load, e.g. of a store
        # created after the app started, brings jobs nobody has seen end yet.
        self._apply(message, announce=self.reads.loaded)
        if message.complete:
            self._load_finished()
        else:
            self.status_bar.set_state(loading=(len(self.model.rows), message.total or len(self.model.rows)))

    def _load_finished(self) -> None:
        self.status_bar.set_state(loading=None)
        if self.reads.load_done():  # the watcher started meanwhile: catch what it missed
            self._start_rescan(full=True)

    @on(RowsRefreshed)
    def _rows_refreshed(self, message: RowsRefreshed) -> None:
        self._apply(message, announce=self.reads.loaded)
        ids = self.reads.refresh_done()
        if ids:
            self._refresh_rows(ids)

    @on(Rescanned)
    def _rescanned(self, message: Rescanned) -> None:
        self._apply(message, announce=self.reads.loaded)
        self.rescan_answered(message)
        if self.reads.rescan_done():
            self._start_rescan(full=True)

    @on(Reconciled)
    def _reconciled(self, message: Reconciled) -> None:
        self.action_rescan(full=message.full)
        self._show_store_state()

    def _show_store_state(self) -> None:
        self.status_bar.set_state(store_missing=not self.store.root.is_dir())
        if self.selected_job_id is None:
            self.detail.show(None)
