"""The main screen: the jobs table, the selected job's detail and output, and the sessions view.

Data flows one way: worker threads read the store (`tui.screens.store_reads`, `tui.jobs`)
and post one message per kind of result (`tui.messages`); the watcher posts `StoreChanged`;
the handlers feed what arrived to the models (`tui.model`, in `_apply` here) and draw what
they say changed. Writes (cancel, start) also go through `JobStore` in workers
(`tui.screens.job_actions`). A worker that fails is handled by the one policy in `tui.workers`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from jobstore import JobStore
from tui.config import TuiConfig
from tui.frame_hold import FrameHold
from tui.jobs import JobFilter
from tui.messages import OpenJob, RowsRead, StoreChanged
from tui.model import JobsModel, ReadQueue
from tui.screens.keys import JOBS_SCREEN_KEYS
from tui.screens.output_actions import OutputActions
from tui.screens.store_reads import StoreReads
from tui.watcher import StoreWatcher
from tui.widgets.diff_view import DiffView
from tui.widgets.footer import FittedFooter
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_pane import DEBOUNCE_ABOVE_JOBS, JobsPane
from tui.widgets.output_view import OutputLog, OutputView
from tui.widgets.status_bar import StatusBar
from tui.workers import Task, failure_text

if TYPE_CHECKING:
    from tui.widgets.sessions import SessionsView

# A new selection is drawn in one frame (tui.frame_hold): the cursor, the detail and the
# output's end, the frame held at most this long for the output.
_SELECTION_HOLD_SECONDS = 0.05
_NARROW_COLUMNS = 100


class JobsScreen(StoreReads, OutputActions):
    """Watch, follow, start and cancel the jobs of a store."""

    BINDINGS: ClassVar[list[BindingType]] = JOBS_SCREEN_KEYS

    def __init__(self, store: JobStore, config: TuiConfig) -> None:
        super().__init__()
        self.store = store
        self.config = config
        self.model = JobsModel()
        self.reads = ReadQueue()
        self.selected_job_id: str | None = None
        self.job_filter = JobFilter()
        self.watcher: StoreWatcher | None = None
        self._pending_select: str | None = None
        self._live_timer: Timer | None = None
        self._frame = 0
        self._checks = 0
        self._selection_frame: FrameHold | None = None  # made on mount (it needs the app)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        config = self.config
        yield StatusBar(id="status-bar")
        # The sessions view joins the switcher when first shown (_show_view).
        with ContentSwitcher(initial="jobs-view", id="views"), Vertical(id="jobs-view"):
            yield JobsPane(config.clock, animations=config.animations, id="jobs-pane")
            yield JobDetail(config.clock, self.store.root, id="job-detail")
            with TabbedContent(id="job-tabs"):
                with TabPane("Output", id="output-tab"):
                    yield OutputView(
                        self.store,
                        tail_lines=config.output_tail_lines,
                        max_lines=config.output_max_lines,
                        watch=config.watch,
                        id="output",
                    )
                with TabPane("Diff (d)", id="diff-tab"):
                    yield DiffView(self.store, id="diff")
        yield FittedFooter(compact=True)

    def on_resize(self, event: Resize) -> None:
        """Below 100 columns the footer's keys overflow it: the palette key (ctrl+p, also in the
        help) gives its room to them, rather than being drawn over their last letters. (Not
        Textual's breakpoints: they also set a class when wide, which restyles every widget
        once more at start, ~15 ms of the first paint.)"""
        self.set_class(event.size.width < _NARROW_COLUMNS, "-narrow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Under a dialog this screen's keys are not offered: its footer stops showing them."""
        return self.app.screen is self

    def on_mount(self) -> None:
        config = self.config
        self.table.focus()
        self._selection_frame = FrameHold(self.app, _SELECTION_HOLD_SECONDS)
        # Called as the cursor moves, before the frame that draws it (its highlight message,
        # which selects the job, comes after that frame).
        self.watch(self.table, "cursor_coordinate", self._cursor_moved, init=False)
        self.status_bar.set_state(store_missing=not self.store.root.is_dir(), loading=(0, 0))
        self._load_first_page()
        if config.reconcile:
            self._reconcile(full=True)
        if config.watch:
            self.watcher = StoreWatcher(
                self.store,
                lambda changes: self.post_message(StoreChanged(changes)),
                debounce_ms=config.watch_debounce_ms,
                step_ms=config.watch_step_ms,
            )
            self.run_worker(self.watcher.run(), group=Task.WATCH, name="watch the store", exit_on_error=False)
        if config.rescan_seconds > 0:
            self.set_interval(config.rescan_seconds, self._periodic_check, name="periodic check")
        if config.clock_tick_seconds > 0:
            self.set_interval(config.clock_tick_seconds, self._clock_tick, name="clock")
        if config.spinner or config.clock_tick_seconds > 0:
            # While jobs run: the spinner in the status bar, the selected job's time each second.
            interval = config.spinner_seconds if config.spinner else 1.0
            self._live_timer = self.set_interval(interval, self._live, name="live", pause=True)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported, and what it held released."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        self.notify(failure_text(worker.name, worker.error), severity="error", timeout=8)
        if worker.group == Task.LOAD:
            self._load_finished()
        elif worker.group == Task.REFRESH:
            ids = self.reads.refresh_done()
            if ids:
                self._refresh_rows(ids)
        elif worker.group == Task.RESCAN and self.reads.rescan_done():
            self._start_rescan(full=True)
        elif worker.group == Task.SESSIONS and self.sessions_view is not None:
            self.sessions_view.read_failed()
        elif worker.group == Task.OUTPUT:
            self.output.reading = False
            self._output_opened()

    def _apply(self, message: RowsRead, *, announce: bool) -> None:
        change = self.model.apply(message.rows, message.gone, announce=announce, now=datetime.now(UTC))
        for row in change.ended:
            self.toast_finished(row)
        for job_id, delay in change.retry:
            self.set_timer(delay, partial(self.request_refresh, [job_id]))
        table = self.table
        if change.changed:
            table.upsert(change.changed)
        if change.removed:
            table.remove_jobs(change.removed)
        if not change.empty:
            self._update_counts()
            self._update_live()
            self._watch_jobs()
            self.jobs_pane.debounce = len(self.model.rows) > DEBOUNCE_ABOVE_JOBS
        if change.sessions_changed and self.sessions_view is not None:
            self.sessions_view.invalidate()
        selected = self.selected_job_id
        if selected is not None and any(row.job_id == selected for row in change.changed):
            self.detail.show(self.model.get(selected))
            self.diff_view.show_job(selected, self.model.rows[selected].status)
        if (selected is None and table.selected_job_id is not None) or selected in change.removed:
            self._select(table.selected_job_id)
        if self._pending_select is not None and self._pending_select in self.model.rows:
            job_id, self._pending_select = self._pending_select, None
            self.open_job(job_id)
        self._show_store_state()

    def _update_counts(self) -> None:
        self.status_bar.set_state(
            counts=self.model.counts(),
            shown=self.table.shown,
            filter_text=self.job_filter.text if self.job_filter.active else "",
        )

    def _watch_jobs(self) -> None:
        if self.watcher is not None:
            self.watcher.set_jobs(self.model.watched_ids(self.selected_job_id))

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        changes = message.changes
        if changes.job_ids:
            self.request_refresh(changes.job_ids)
        if self.selected_job_id is not None and self.selected_job_id in changes.output_ids:
            self.output.poke()
        if changes.sessions and self.sessions_view is not None:
            self.sessions_view.invalidate()
        if changes.rescan or changes.listing:
            self.action_rescan(full=changes.rescan)
            self._show_store_state()

    # ------------------------------------------------------------ time passing

    def _update_live(self) -> None:
        if self._live_timer is None:
            return
        if self.model.any_running:
            self._live_timer.resume()
        else:
            self._live_timer.pause()
            self.status_bar.set_state(frame=None)

    def _live(self) -> None:
        self._frame += 1
        config = self.config
        if config.spinner:
            self.status_bar.set_state(frame=self._frame)
            per_second = max(1, round(1 / config.spinner_seconds))
            if self._frame % per_second:
                return
        # The table's durations move with the clock tick (a cell update repaints the whole
        # table); the selected job's line, cheap to redraw, every second.
        row = self.model.get(self.selected_job_id)
        if row is not None and row.is_running:
            self.detail.show(row)

    def _clock_tick(self) -> None:
        self.table.tick()
        if self.selected_job_id is not None:
            self.detail.show(self.model.get(self.selected_job_id))
        if self.view == "sessions" and self.sessions_view is not None:
            self.sessions_view.refresh_ages()

    def _theme_changed(self, theme: Theme) -> None:
        """Colours come from the theme: draw what holds them again."""
        self.table.set_filter(self.job_filter, self.model.rows.values())
        self.status_bar.set_state()
        self.detail.show(self.model.get(self.selected_job_id))
        if self.sessions_view is not None:
            self.sessions_view.redraw()

    # ------------------------------------------------------------ selection

    def _cursor_moved(self, old: Coordinate, new: Coordinate) -> None:
        """Onto another job: hold the frame until its output is read (or the hold's time).
        (The table sets its cursor again, unchanged, with every row added.)"""
        if old == new:
            return
        job_id = self.table.selected_job_id
        if job_id is not None and job_id != self.selected_job_id and self._selection_frame is not None:
            self._selection_frame.hold()

    @on(OutputView.Opened)
    def _output_opened(self) -> None:
        if self._selection_frame is not None:
            self._selection_frame.release()

    @on(DataTable.RowHighlighted, "#jobs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(event.row_key.value if event.row_key is not None else None)

    @on(DataTable.RowSelected, "#jobs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.query_one(OutputLog).focus()

    def _select(self, job_id: str | None) -> None:
        if job_id == self.selected_job_id:
            return
        self.selected_job_id = job_id
        row = self.model.get(job_id)
        self.detail.show(row)
        if job_id is None:
            self._output_opened()  # nothing to read
        self.output.show_job(job_id)
        self.diff_view.show_job(job_id, row.status if row is not None else "")
        self._watch_jobs()

    def open_job(self, job_id: str) -> None:
        """Show this job in the jobs view: clear a filter that hides it, wait for it if unseen."""
        self._show_view("jobs")
        if job_id not in self.model.rows:
            self._pending_select = job_id
            self.request_refresh([job_id])
            return
        if not self.table.select_job(job_id):
            self.jobs_pane.clear_filter()
            self._apply_filter(JobFilter())
            self.table.select_job(job_id)
        self.table.focus()

    @on(OpenJob)
    def _open_job(self, message: OpenJob) -> None:
        self.open_job(message.job_id)

    @on(TabbedContent.TabActivated, "#job-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.diff_view.activate(event.pane.id == "diff-tab")

    # ------------------------------------------------------------ filter and views

    def action_filter(self) -> None:
        self._show_view("jobs")
        self.jobs_pane.open_filter()

    @on(JobsPane.FilterChanged)
    def _filter_changed(self, message: JobsPane.FilterChanged) -> None:
        self._apply_filter(message.job_filter)

    def _apply_filter(self, job_filter: JobFilter) -> None:
        if job_filter == self.job_filter:
            return
        self.job_filter = job_filter
        self.table.set_filter(job_filter, self.model.rows.values())
        self._update_counts()
        self._update_live()
        self._select(self.table.selected_job_id)

    def action_toggle_view(self) -> None:
        self._show_view("jobs" if self.view == "sessions" else "sessions")

    def _show_view(self, view: str) -> None:
        if view == self.view:
            return
        switcher = self.query_one("#views", ContentSwitcher)
        sessions = self.sessions_view
        if sessions is None and view == "sessions":
            sessions = self.sessions_view = self._make_sessions_view()
            switcher.mount(sessions)
        switcher.current = f"{view}-view"
        self.status_bar.set_state(view=view)
        if sessions is not None:
            sessions.show(view == "sessions")
        if view == "jobs":
            self.table.focus()
        elif sessions is not None and sessions.is_mounted:
            sessions.session_tree.focus()  # (one just made takes the focus once composed)

    def _make_sessions_view(self) -> SessionsView:
        """Made the first time it is shown: it and codex's session reader (imported here)
        would cost the app's start ~25 ms (benchmarks/: first paint), and many runs never open it."""
        from tui.widgets.sessions import SessionsView

        config = self.config
        return SessionsView(self.store, config.clock, codex=self.codex_sessions(), id="sessions-view")

    def action_toggle_raw(self) -> None:
        self._show_view("jobs")
        self.output.toggle_raw()

    def action_follow(self) -> None:
        self._show_view("jobs")
        self.output.follow()

    def action_back(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "filter":
            self.jobs_pane.clear_filter()
        elif isinstance(focused, OutputLog):
            self.table.focus()
        elif self.view == "sessions":
            self._show_view("jobs")
        elif self.job_filter.active:
            self.jobs_pane.clear_filter()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen  # a dialog: see tui.screens.job_actions

        self.app.push_screen(HelpScreen.for_bindings(self.BINDINGS))
