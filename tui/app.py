"""codex-tui: the App, its bindings, and the wiring between the store and the widgets.

Data flows one way: worker threads read the store (`tui.jobs`, `OutputSource`) and
post messages; the watcher posts `StoreChanged`; handlers here apply what arrived
to the widgets. Writes (start, cancel) go through `JobStore` in thread workers too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Footer, Input
from textual.worker import get_current_worker

from jobstore import JobStore
from jobstore.errors import JobStoreError
from tui import format as fmt
from tui.config import TuiConfig
from tui.jobs import JobFilter, JobRow, Stamp, count_statuses, read_rows, rescan
from tui.messages import (
    CancelFinished,
    CancelJob,
    ContinueSession,
    JobsRead,
    OpenJob,
    SessionFetched,
    SessionsRead,
    StoreChanged,
)
from tui.screens.confirm import ConfirmScreen
from tui.screens.continue_session import ContinueSessionScreen
from tui.screens.help import HelpScreen
from tui.screens.new_job import NewJobScreen
from tui.watcher import StoreChanges, StoreWatcher
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_table import JobsTable
from tui.widgets.output_view import OutputLog, OutputView
from tui.widgets.sessions import SessionsView, SessionTree
from tui.widgets.status_bar import StatusBar

SESSIONS_LIMIT = 500
# Actions of the main screen, not offered while a dialog is open.
_APP_ACTIONS = frozenset(
    {
        "filter",
        "new_job",
        "cancel_job",
        "toggle_raw",
        "follow",
        "toggle_view",
        "continue_session",
        "back",
        "rescan",
        "help",
    }
)
_UNREADABLE_RETRIES = 5


class CodexTuiApp(App[None]):
    """Watch, follow, start and cancel codex jobs of a job store."""

    CSS_PATH = "codex_tui.tcss"
    TITLE = "codex-tui"

    BINDINGS: list[BindingType] = [
        Binding("q", "quit", "Quit", tooltip="Quit (jobs keep running)"),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="This list of keys"),
        Binding(
            "slash", "filter", "Filter", key_display="/", tooltip="Filter jobs by text, status or project"
        ),
        Binding("n", "new_job", "New", tooltip="Start a new codex job"),
        Binding("c", "cancel_job", "Cancel", tooltip="Cancel the selected job (asks first)"),
        Binding("r", "toggle_raw", "Raw", show=False, tooltip="Raw or rendered output"),
        Binding("f", "follow", "Follow output", show=False, tooltip="Follow the output's end again"),
        Binding("s", "toggle_view", "Sessions", tooltip="Switch between jobs and sessions"),
        Binding("t", "continue_session", "Continue", tooltip="Continue the selected session"),
        Binding(
            "escape",
            "back",
            "Back",
            show=False,
            tooltip="Back: clear the filter, leave the output or sessions",
        ),
        Binding("ctrl+r", "rescan", "Rescan", show=False, tooltip="Compare everything shown with the store"),
    ]

    def __init__(self, config: TuiConfig, *, store: JobStore | None = None) -> None:
        super().__init__()
        self.config = config
        self.store = store or JobStore(config.store_path, codex_bin=config.codex_bin)
        self.rows: dict[str, JobRow] = {}
        self.loaded = False
        self.selected_job_id: str | None = None
        self.job_filter = JobFilter()
        self._dirty: set[str] = set()
        self._refreshing = False
        self._rescanning = False
        self._rescan_again = False
        self._sessions_dirty = True
        self._sessions_loading = False
        self._pending_select: str | None = None
        self._unreadable_tries: dict[str, int] = {}
        self._filter_timer: Timer | None = None
        self._live_timer: Timer | None = None
        self._frame = 0
        self._active_ids: set[str] = set()
        self._rescans = 0
        self.watcher: StoreWatcher | None = None
        self.first_rows_at: float | None = None  # perf_counter() when the first rows were shown
        if config.theme:
            self.theme = config.theme

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        config = self.config
        yield StatusBar(id="status-bar")
        with ContentSwitcher(initial="jobs-view", id="views"):
            with Vertical(id="jobs-view"):
                with Vertical(id="jobs-pane"):
                    yield Input(
                        placeholder="filter: words · a status (running, error…) · project:NAME — "
                        "enter keeps it, esc clears",
                        id="filter",
                        compact=True,
                    )
                    yield JobsTable(config.clock, id="jobs")
                yield JobDetail(config.clock, self.store.root, id="job-detail")
                yield OutputView(
                    tail_lines=config.output_tail_lines,
                    max_lines=config.output_max_lines,
                    max_jump_bytes=config.output_max_jump_bytes,
                    id="output",
                )
            yield SessionsView(self.store, config.clock, id="sessions-view")
        yield Footer(compact=True)

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    @property
    def output(self) -> OutputView:
        return self.query_one(OutputView)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def sessions_view(self) -> SessionsView:
        return self.query_one(SessionsView)

    @property
    def view(self) -> str:
        return "sessions" if self.query_one(ContentSwitcher).current == "sessions-view" else "jobs"

    def on_mount(self) -> None:
        config = self.config
        self.query_one("#jobs-pane").border_title = "Jobs"
        filter_input = self.query_one("#filter", Input)
        filter_input.display = False
        if not config.animations:
            filter_input.cursor_blink = False
        self.table.focus()
        self.status_bar.set_state(store_missing=not self.store.root.is_dir(), loading=(0, 0))
        self._load_all()
        if config.reconcile_on_start:
            self._reconcile()
        if config.watch:
            self.watcher = StoreWatcher(
                self.store.root,
                lambda changes: self.post_message(StoreChanged(changes)),
                debounce_ms=config.watch_debounce_ms,
                step_ms=config.watch_step_ms,
            )
            self.run_worker(self.watcher.run(), group="watcher", name="store watcher")
        if config.rescan_seconds > 0:
            self.set_interval(config.rescan_seconds, self._safety_rescan, name="safety rescan")
        if config.clock_tick_seconds > 0:
            self.set_interval(config.clock_tick_seconds, self._clock_tick, name="clock")
        if config.spinner or config.clock_tick_seconds > 0:
            # While jobs run: the spinner in the status bar, the selected job's time each second.
            interval = config.spinner_seconds if config.spinner else 1.0
            self._live_timer = self.set_interval(interval, self._live, name="live", pause=True)

    # ------------------------------------------------------------ reading jobs

    @work(thread=True, group="load", exit_on_error=False)
    def _load_all(self) -> None:
        """The newest page first (a first paint in well under a second), then the rest."""
        worker = get_current_worker()
        try:
            ids = self.store.job_ids()
            total = len(ids)
            first = self.config.first_page
            rows, gone = read_rows(self.store, ids[:first])
            self.post_message(JobsRead(rows, gone, source="load", total=total, complete=total <= first))
            for start in range(first, total, self.config.page_size):
                if worker.is_cancelled:
                    return
                chunk = ids[start : start + self.config.page_size]
                rows, gone = read_rows(self.store, chunk)
                complete = start + len(chunk) >= total
                self.post_message(JobsRead(rows, gone, source="load", total=total, complete=complete))
        except Exception as exc:
            self.post_message(JobsRead([], [], source="load", complete=True, error=repr(exc)))

    @work(thread=True, group="reconcile", exit_on_error=False)
    def _reconcile(self) -> None:
        try:
            self.store.reconcile()
        except (JobStoreError, OSError):
            return  # a read-only store or one that does not exist yet: nothing to settle
        self.post_message(StoreChanged(StoreChanges(rescan=True)))

    def request_refresh(self, job_ids: Iterable[str]) -> None:
        """Read these jobs again (collapsing floods: one reader at a time)."""
        self._dirty.update(job_ids)
        if self._dirty and not self._refreshing:
            ids, self._dirty = self._dirty, set()
            self._refreshing = True
            self._refresh_rows(sorted(ids, reverse=True))

    @work(thread=True, group="refresh", exit_on_error=False)
    def _refresh_rows(self, job_ids: list[str]) -> None:
        try:
            rows, gone = read_rows(self.store, job_ids)
            self.post_message(JobsRead(rows, gone, source="refresh"))
        except Exception as exc:
            self.post_message(JobsRead([], [], source="refresh", error=repr(exc)))

    def action_rescan(self, *, full: bool = True) -> None:
        """Compare the store with what is shown: a listing, re-reading active jobs, and
        (full) a stat per job. The watcher makes this a safety net for dropped events."""
        if not self.loaded:
            return
        if self._rescanning:
            self._rescan_again = True
            return
        self._rescanning = True
        recheck = set(self._active_ids) | {j for j, r in self.rows.items() if r.status == "unreadable"}
        stamps = {job_id: row.stamp for job_id, row in self.rows.items()} if full else None
        self._rescan(set(self.rows), recheck, stamps)

    def _safety_rescan(self) -> None:
        self._rescans += 1
        self.action_rescan(full=self._rescans % 10 == 0)

    @work(thread=True, group="rescan", exit_on_error=False)
    def _rescan(self, known: set[str], recheck: set[str], stamps: dict[str, Stamp | None] | None) -> None:
        started = time.monotonic()
        try:
            to_read, gone_ids = rescan(self.store, known, recheck, stamps)
            rows, gone = read_rows(self.store, to_read)
            gone += [(job_id, started) for job_id in gone_ids]
            self.post_message(JobsRead(rows, gone, source="rescan"))
        except Exception as exc:
            self.post_message(JobsRead([], [], source="rescan", error=repr(exc)))

    @on(JobsRead)
    def _jobs_read(self, message: JobsRead) -> None:
        if message.error:
            self.notify(f"Could not read the store: {message.error}", severity="error", timeout=8)
        self._apply(message.rows, message.gone, notify=self.loaded and message.source != "load")
        if message.source == "load":
            if message.complete:
                self.loaded = True
                self.status_bar.set_state(loading=None)
                if self._rescan_again:  # the watcher started meanwhile: catch what it missed
                    self._rescan_again = False
                    self.action_rescan()
            else:
                self.status_bar.set_state(loading=(len(self.rows), message.total or len(self.rows)))
            if self.first_rows_at is None and message.rows:
                self.first_rows_at = time.perf_counter()
        elif message.source == "refresh":
            self._refreshing = False
            self.request_refresh(())
        elif message.source == "rescan":
            self._rescanning = False
            if self._rescan_again:
                self._rescan_again = False
                self.action_rescan()
        self._show_store_state()

    def _show_store_state(self) -> None:
        self.status_bar.set_state(store_missing=not self.store.root.is_dir())
        if self.selected_job_id is None:
            self.query_one(JobDetail).show(None)

    def _apply(self, rows: list[JobRow], gone: list[tuple[str, float]], *, notify: bool) -> None:
        changed: list[JobRow] = []
        sessions_touched = False
        for row in rows:
            old = self.rows.get(row.job_id)
            if old is not None and old.read_at > row.read_at:
                continue  # an older read arriving late
            self.rows[row.job_id] = row
            if old is not None and old == _same_read(row, old):
                continue
            changed.append(row)
            if (row.session_id or (old is not None and old.session_id)) and (
                old is None
                or (old.status, old.session_id, old.finished_at)
                != (row.status, row.session_id, row.finished_at)
            ):
                sessions_touched = True
            if notify and row.is_terminal and (old is None or not old.is_terminal):
                self._toast_finished(row)
            if row.status == "unreadable":
                self._retry_unreadable(row)
            else:
                self._unreadable_tries.pop(row.job_id, None)
            if row.is_active:
                self._active_ids.add(row.job_id)
            else:
                self._active_ids.discard(row.job_id)
        removed = []
        for job_id, read_at in gone:
            old = self.rows.get(job_id)
            if old is not None and old.read_at <= read_at:
                del self.rows[job_id]
                self._active_ids.discard(job_id)
                removed.append(job_id)
        table = self.table
        if changed:
            table.upsert(changed)
        if removed:
            table.remove(removed)
        if changed or removed:
            self._update_counts()
            self._update_live()
            self._watch_jobs()
            if sessions_touched:
                self._sessions_changed()
        if self.selected_job_id is not None and any(r.job_id == self.selected_job_id for r in changed):
            self.query_one(JobDetail).show(self.rows.get(self.selected_job_id))
        if (
            self.selected_job_id is None
            and table.selected_job_id is not None
            or self.selected_job_id in removed
        ):
            self._select(table.selected_job_id)
        if self._pending_select is not None and self._pending_select in self.rows:
            job_id, self._pending_select = self._pending_select, None
            self.open_job(job_id)

    def _retry_unreadable(self, row: JobRow) -> None:
        # A job folder is created before its meta.json is written: a young unreadable
        # job is most likely one being created. Look again shortly.
        created = row.created_at
        if created is None or datetime.now(UTC) - created > timedelta(seconds=30):
            return
        tries = self._unreadable_tries.get(row.job_id, 0)
        if tries >= _UNREADABLE_RETRIES:
            return
        self._unreadable_tries[row.job_id] = tries + 1
        self.set_timer(0.3 * (tries + 1), lambda: self.request_refresh([row.job_id]))

    def _toast_finished(self, row: JobRow) -> None:
        severity = {"done": "information", "cancelled": "warning"}.get(row.status, "error")
        title = {"done": "Job done", "cancelled": "Job cancelled", "lost": "Job lost"}.get(
            row.status, "Job failed"
        )
        detail = fmt.one_line(row.first_line, 60)
        if row.status != "done" and row.error:
            detail += f"\n{fmt.one_line(row.error, 120)}"
        self.notify(f"{row.job_id} · {row.project}\n{detail}", title=title, severity=severity)  # type: ignore[arg-type]

    def _update_counts(self) -> None:
        self.status_bar.set_state(
            counts=count_statuses(self.rows.values()),
            shown=self.table.shown,
            filter_text=self.job_filter.text if self.job_filter.active else "",
        )

    def _watch_jobs(self) -> None:
        if self.watcher is not None:
            ids = set(self._active_ids)
            if self.selected_job_id is not None:
                ids.add(self.selected_job_id)
            self.watcher.set_jobs(ids)

    # ------------------------------------------------------------ the watcher

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        changes = message.changes
        if changes.job_ids:
            self.request_refresh(changes.job_ids)
        if self.selected_job_id is not None and self.selected_job_id in changes.output_ids:
            self.output.poke()
        if changes.sessions:
            self._sessions_changed()
        if changes.rescan or changes.listing:
            if self.loaded:
                self.action_rescan(full=changes.rescan)
            else:
                self._rescan_again = True  # once the first load is done
            self._show_store_state()

    # ------------------------------------------------------------ time passing

    def _update_live(self) -> None:
        if self._live_timer is None:
            return
        running = any(self.rows[j].status == "running" for j in self._active_ids)
        if running:
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
        row = self.rows.get(self.selected_job_id) if self.selected_job_id else None
        if row is not None and row.status == "running":
            self.query_one(JobDetail).show(row)

    def _clock_tick(self) -> None:
        self.table.tick()
        if self.selected_job_id is not None:
            self.query_one(JobDetail).show(self.rows.get(self.selected_job_id))
        if self.view == "sessions":
            self.sessions_view.refresh_ages()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a dialog is open, the app's own keys wait (no second dialog on top)."""
        return not (action in _APP_ACTIONS and self.screen is not self.screen_stack[0])

    # ------------------------------------------------------------ selection

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
        row = self.rows.get(job_id) if job_id else None
        self.query_one(JobDetail).show(row)
        path = self.store.layout.output(job_id) if job_id else None
        self.output.show_job(job_id, path)
        self._watch_jobs()

    def open_job(self, job_id: str) -> None:
        """Show this job in the jobs view: clear a filter that hides it, wait for it if unseen."""
        self._show_view("jobs")
        if job_id not in self.rows:
            self._pending_select = job_id
            self.request_refresh([job_id])
            return
        if not self.table.select_job(job_id):
            self._set_filter("")
            self.query_one("#filter", Input).value = ""
            self.query_one("#filter", Input).display = False
            self.table.select_job(job_id)
        self.table.focus()

    @on(OpenJob)
    def _open_job(self, message: OpenJob) -> None:
        self.open_job(message.job_id)

    # ------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self._show_view("jobs")
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value
        # A short pause between keys before filtering 10,000 rows again.
        delay = 0.15 if len(self.rows) > 2_000 else 0.0
        if delay:
            self._filter_timer = self.set_timer(delay, lambda: self._set_filter(value))
        else:
            self._set_filter(value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._set_filter(event.value)
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def _set_filter(self, text: str) -> None:
        job_filter = JobFilter.parse(text)
        if job_filter == self.job_filter:
            return
        self.job_filter = job_filter
        self.table.set_filter(job_filter, self.rows.values())
        self._update_counts()
        self._update_live()
        self._select(self.table.selected_job_id)

    def _clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self._set_filter("")
        self.table.focus()

    # ------------------------------------------------------------ views

    def action_toggle_view(self) -> None:
        self._show_view("jobs" if self.view == "sessions" else "sessions")

    def _show_view(self, view: str) -> None:
        if view == self.view:
            return
        self.query_one(ContentSwitcher).current = f"{view}-view"
        self.status_bar.set_state(view=view)
        if view == "sessions":
            self.query_one(SessionTree).focus()
            if self._sessions_dirty:
                self._load_sessions()
        else:
            self.table.focus()

    def _sessions_changed(self) -> None:
        self._sessions_dirty = True
        if self.view == "sessions":
            self._load_sessions()

    def _load_sessions(self) -> None:
        if self._sessions_loading:
            return
        self._sessions_dirty = False
        self._sessions_loading = True
        self._read_sessions()

    @work(thread=True, group="sessions", exit_on_error=False)
    def _read_sessions(self) -> None:
        try:
            sessions = self.store.sessions(limit=SESSIONS_LIMIT)
        except (JobStoreError, OSError) as exc:
            self.post_message(SessionsRead([], error=str(exc)))
        else:
            self.post_message(SessionsRead(sessions))

    @on(SessionsRead)
    def _sessions_read(self, message: SessionsRead) -> None:
        self._sessions_loading = False
        if message.error:
            self.notify(f"Could not read sessions: {message.error}", severity="error")
        self.sessions_view.update_sessions(message.sessions)
        if self._sessions_dirty and self.view == "sessions":
            self._load_sessions()

    # ------------------------------------------------------------ output

    def action_toggle_raw(self) -> None:
        self._show_view("jobs")
        self.output.toggle_raw()

    def action_follow(self) -> None:
        self._show_view("jobs")
        self.output.follow()

    # ------------------------------------------------------------ cancel

    def action_cancel_job(self) -> None:
        if self.view == "sessions":
            data = self.sessions_view.selected()
            job_id = data.job_id if data is not None else None
        else:
            job_id = self.selected_job_id
        if job_id is None:
            self.notify("Select a job to cancel.", severity="warning")
            return
        self._ask_cancel(job_id)

    @on(CancelJob)
    def _cancel_pressed(self, message: CancelJob) -> None:
        self._ask_cancel(message.job_id)

    def _ask_cancel(self, job_id: str) -> None:
        row = self.rows.get(job_id)
        if row is None or not row.is_active:
            state = row.status if row is not None else "unknown"
            self.notify(f"Job {job_id} is {state}: only queued or running jobs can be cancelled.")
            return
        if row.cancel_requested:
            self.notify(f"Job {job_id} is already being cancelled.")
            return
        message = Text()
        message.append("Cancel job ")
        message.append(job_id, style="bold")
        message.append(f" ({row.status})?\n\n")
        message.append(fmt.one_line(row.first_line, 160), style="italic")
        message.append(f"\n{row.cwd}", style="dim")
        message.append(
            "\n\ncodex and every process it started get SIGTERM, then SIGKILL after the grace period.",
            style="dim",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"Cancelling {job_id}…")
                self._cancel(job_id)

        self.push_screen(ConfirmScreen("Cancel job", message, yes="Cancel job", no="Keep it"), answered)

    @work(thread=True, group="cancel", exit_on_error=False)
    def _cancel(self, job_id: str) -> None:
        # Blocks up to the grace period while the runner stops codex's process tree.
        try:
            outcome = self.store.cancel(job_id)
        except (JobStoreError, OSError) as exc:
            self.post_message(
                CancelFinished(job_id, f"Could not cancel {job_id}: {exc}", ok=False, ended=False)
            )
        else:
            self.post_message(
                CancelFinished(job_id, outcome.message, ok=outcome.changed, ended=outcome.record.is_terminal)
            )

    @on(CancelFinished)
    def _cancel_finished(self, message: CancelFinished) -> None:
        # A cancel that took is announced by the row turning `cancelled` (its own toast).
        if not (message.ok and message.ended):
            self.notify(message.message, severity="information" if message.ok else "warning")
        self.request_refresh([message.job_id])

    # ------------------------------------------------------------ start

    def action_new_job(self) -> None:
        screen = NewJobScreen(self.store, cwd=str(self.config.launch_cwd), animations=self.config.animations)
        self.push_screen(screen, self._job_started)

    def _job_started(self, job_id: str | None) -> None:
        if job_id:
            self.notify(f"Started job {job_id}.")
            self.open_job(job_id)

    def action_continue_session(self) -> None:
        session_id: str | None = None
        if self.view == "sessions":
            data = self.sessions_view.selected()
            session_id = data.session_id if data is not None else None
        elif self.selected_job_id is not None:
            row = self.rows.get(self.selected_job_id)
            session_id = row.session_id if row is not None else None
            if row is not None and session_id is None:
                self.notify(
                    "This job has no codex session yet (it starts when codex does).", severity="warning"
                )
                return
        if session_id is None:
            self.notify("Select a session (or a job of one) to continue.", severity="warning")
            return
        self._open_continue(session_id)

    @on(ContinueSession)
    def _continue_requested(self, message: ContinueSession) -> None:
        self._open_continue(message.session_id)

    @work(thread=True, group="session", exit_on_error=False)
    def _open_continue(self, session_id: str) -> None:
        try:
            session = self.store.session(session_id)
        except (JobStoreError, OSError) as exc:
            self.post_message(SessionFetched(None, f"Cannot continue session {session_id}: {exc}"))
        else:
            self.post_message(SessionFetched(session, None))

    @on(SessionFetched)
    def _push_continue(self, message: SessionFetched) -> None:
        if message.session is None:
            self.notify(message.error or "Cannot continue this session.", severity="error")
            return
        screen = ContinueSessionScreen(self.store, message.session, animations=self.config.animations)
        self.push_screen(screen, self._job_started)

    # ------------------------------------------------------------ misc

    def action_back(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "filter":
            self._clear_filter()
        elif isinstance(focused, OutputLog):
            self.table.focus()
        elif self.view == "sessions":
            self._show_view("jobs")
        elif self.job_filter.active:
            self._clear_filter()

    def action_help(self) -> None:
        table_keys = [
            Binding("up,k / down,j", "", "Move"),
            Binding("enter", "", "Focus the output (esc: back)"),
            Binding("g / G", "", "First / last job"),
        ]
        sections: list[tuple[str, list[BindingType]]] = [
            ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "command_palette", "Command palette")]),
            ("Jobs table", table_keys),
            (
                "Output",
                [
                    Binding("up,k / down,j", "", "Scroll (pauses following)"),
                    Binding("pageup / pagedown", "", "Scroll a page"),
                    Binding("end, f", "", "Follow the end again"),
                ],
            ),
            (
                "Sessions",
                [Binding("enter", "", "Open the turn's job"), Binding("t", "", "Continue the session")],
            ),
            ("Dialogs", [Binding("y / n, esc", "", "Confirm / decline"), Binding("ctrl+s", "", "Start")]),
        ]
        self.push_screen(HelpScreen(sections))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New job", "Start a codex job in the store (n)", self.action_new_job)
        yield SystemCommand(
            "Cancel the selected job",
            "Stop a queued or running job, after asking (c)",
            self.action_cancel_job,
        )
        yield SystemCommand("Filter jobs", "By text, status or project (/)", self.action_filter)
        yield SystemCommand("Clear the filter", "Show every job", self._clear_filter)
        yield SystemCommand(
            "Raw / rendered output", "Switch how the output is shown (r)", self.action_toggle_raw
        )
        yield SystemCommand("Follow the output", "Scroll with new output again (f)", self.action_follow)
        yield SystemCommand("Jobs / sessions", "Switch between the two views (s)", self.action_toggle_view)
        yield SystemCommand(
            "Continue the session", "A new turn in the selected session (t)", self.action_continue_session
        )
        yield SystemCommand(
            "Rescan the store", "Compare everything shown with the store (ctrl+r)", self.action_rescan
        )
        yield SystemCommand("Keys", "Every key binding (?)", self.action_help)

    # ------------------------------------------------------------ tests

    @property
    def settled(self) -> bool:
        """Nothing being read or waiting to be read (tests wait for this)."""
        busy = any(not worker.is_finished for worker in self.workers if worker.group not in ("watcher",))
        return (
            self.loaded
            and not busy
            and not self._refreshing
            and not self._dirty
            and not self._rescanning
            and not self._sessions_loading
            and not self.output.reading
        )


def _same_read(row: JobRow, old: JobRow) -> JobRow:
    """`row` with the bookkeeping fields of `old`, to compare what is shown."""
    return replace(row, read_at=old.read_at, stamp=old.stamp)
