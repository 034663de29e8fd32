"""The main screen: the jobs pane, the selected job's detail and output, and the sessions view.

The screen composes parts that each own their state and routes what they say:
- the jobs pane (`tui.widgets.jobs_pane`) owns the model of the store's jobs and the reads
  that keep it true, and says `Changed` and `JobSelected`;
- the output pane (`tui.widgets.output_view`) owns reading, following and searching one
  job's output;
- the job actions (`tui.screens.job_actions`) cancel, talk to a running job, start,
  continue, copy, page and announce ends and questions; their workers answer here and are
  routed back to them;
- the watcher (`tui.watcher`) posts `StoreChanged`, sent on to the parts it concerns.
The screen itself owns what spans the parts: the selection drawn in one frame, the view
(jobs or sessions), the status line, the message line to a running job, and the clock. A
worker that fails is reported by the one policy in `tui.workers`, by whoever ran it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Input, TabbedContent, TabPane
from textual.worker import Worker

from jobstore import JobStore
from tui.config import TuiConfig
from tui.frame_hold import FrameHold
from tui.messages import (
    CancelFinished,
    CancelJob,
    ContinueSession,
    OpenJob,
    SessionFetched,
    StoreChanged,
    TalkFinished,
    TalkToJob,
    WorktreeAsked,
    WorktreeDone,
)
from tui.model import JobsModel, ReadQueue
from tui.screens.job_actions import AnswerRead, CodexSessionFetched, JobActions
from tui.screens.keys import JOBS_SCREEN_KEYS, TEAM_KEY
from tui.watcher import StoreWatcher
from tui.widgets.diff_view import DiffView
from tui.widgets.footer import FittedFooter
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.jobs_table import JobsTable
from tui.widgets.output_view import OutputLog, OutputView
from tui.widgets.status_bar import StatusBar
from tui.workers import Task, failed_worker

if TYPE_CHECKING:
    from jobstore import CodexSessions
    from tui.widgets.sessions import SessionsView

# A new selection is drawn in one frame (tui.frame_hold): the cursor, the detail and the
# output's end, the frame held at most this long for the output.
_SELECTION_HOLD_SECONDS = 0.05
_NARROW_COLUMNS = 100
# Keys shown (and taken) only while the selected job can take them.
_TALK_ACTIONS = frozenset({"message", "interrupt", "answer"})


class JobsScreen(Screen[None]):
    """Watch, follow, start and cancel the jobs of a store."""

    BINDINGS: ClassVar[list[BindingType]] = JOBS_SCREEN_KEYS

    def __init__(self, store: JobStore, config: TuiConfig) -> None:
        super().__init__()
        self.store = store
        self.config = config
        self.actions = JobActions(self, store, config, self.codex_sessions)
        self.watcher: StoreWatcher | None = None
        self.sessions_view: SessionsView | None = None  # made when first shown (_show_view)
        self._codex_sessions: CodexSessions | None = None
        self._live_timer: Timer | None = None
        self._frame = 0
        self._rescan_asked = False  # ctrl+r: say when the rescan is done
        self._selection_frame: FrameHold | None = None  # made on mount (it needs the app)
        self._message_to: str | None = None  # the job the open message line writes to
        self._message_line: Input | None = None  # made when first opened (action_message)
        self._talk_shown: frozenset[str] = frozenset()  # the talk keys the footer was last drawn with

    # ------------------------------------------------------------------ the parts

    def compose(self) -> ComposeResult:
        config = self.config
        yield StatusBar(id="status-bar")
        # The sessions view joins the switcher when first shown (_show_view).
        with ContentSwitcher(initial="jobs-view", id="views"), Vertical(id="jobs-view"):
            yield JobsPane(self.store, config, id="jobs-pane")
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
            # Then the message line to a running job, made when first opened (action_message).
        yield FittedFooter(compact=True)

    @property
    def jobs_pane(self) -> JobsPane:
        return self.query_one(JobsPane)

    @property
    def model(self) -> JobsModel:
        return self.jobs_pane.model

    @property
    def reads(self) -> ReadQueue:
        return self.jobs_pane.reads

    @property
    def selected_job_id(self) -> str | None:
        return self.jobs_pane.selected_job_id

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    @property
    def detail(self) -> JobDetail:
        return self.query_one(JobDetail)

    @property
    def output(self) -> OutputView:
        return self.query_one(OutputView)

    @property
    def diff_view(self) -> DiffView:
        return self.query_one(DiffView)

    @property
    def message_line(self) -> Input | None:
        """The message line under the output (None: never opened yet)."""
        return self._message_line

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def view(self) -> str:
        return "sessions" if self.query_one(ContentSwitcher).current == "sessions-view" else "jobs"

    def codex_sessions(self) -> CodexSessions:
        """codex's own sessions (in CODEX_HOME), one reader (and its cache) for the sessions
        view and the continue form."""
        if self._codex_sessions is None:
            from jobstore import CodexSessions

            self._codex_sessions = CodexSessions(self.config.settings.codex_home)
        return self._codex_sessions

    def on_resize(self, event: Resize) -> None:
        """Below 100 columns the footer's keys overflow it: the palette key (ctrl+p, also in the
        help) gives its room to them, rather than being drawn over their last letters. (Not
        Textual's breakpoints: they also set a class when wide, which restyles every widget
        once more at start, ~15 ms of the first paint.)"""
        self.set_class(event.size.width < _NARROW_COLUMNS, "-narrow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Under a dialog this screen's keys are not offered: its footer stops showing them.
        Talking to a job is offered while the selected job can take it."""
        if self.app.screen is not self:
            return False
        if action == TEAM_KEY:
            return self.config.redis_url is not None
        return action not in _TALK_ACTIONS or self._job_takes(action)

    def _job_takes(self, action: str) -> bool:
        """Whether the job acted on can take this talk now: a message or an interrupt while
        it runs through codex's app-server, an answer while it asks."""
        row = self.model.get(self._job_to_act_on()) if self.is_mounted else None
        if row is None or not row.can_talk or row.cancel_requested:
            return False
        return (row.question is not None) == (action == "answer")

    def _talk_keys(self) -> frozenset[str]:
        """The talk actions the job acted on can take now."""
        return frozenset(action for action in _TALK_ACTIONS if self._job_takes(action))

    def refresh_bindings(self) -> None:
        """Every refresh of the keys (ours, a focus change, a dialog closing) redraws the
        footer with the talk keys of now: remembered, so that a new selection redraws it only
        when they differ."""
        self._talk_shown = self._talk_keys()
        super().refresh_bindings()

    def on_mount(self) -> None:
        config = self.config
        self.table.focus()
        self._selection_frame = FrameHold(self.app, _SELECTION_HOLD_SECONDS)
        # Called as the cursor moves, before the frame that draws it (its highlight message,
        # which selects the job, comes after that frame).
        self.watch(self.table, "cursor_coordinate", self._cursor_moved, init=False)
        self._show_status()
        if config.watch:
            self.watcher = StoreWatcher(
                self.store,
                lambda changes: self.post_message(StoreChanged(changes)),
                debounce_ms=config.watch_debounce_ms,
                step_ms=config.watch_step_ms,
            )
            self.run_worker(self.watcher.run(), group=Task.WATCH, name="watch the store", exit_on_error=False)
        if config.clock_tick_seconds > 0:
            self.set_interval(config.clock_tick_seconds, self._clock_tick, name="clock")
        if config.spinner or config.clock_tick_seconds > 0:
            # While jobs run: the spinner in the status bar, the selected job's time each second.
            interval = config.spinner_seconds if config.spinner else 1.0
            self._live_timer = self.set_interval(interval, self._live, name="live", pause=True)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The screen's own workers (the watcher, the actions'): a failure reported the one way."""
        failed_worker(self, event)

    # ------------------------------------------------------------ what the jobs pane says

    @on(JobsPane.Changed)
    def _jobs_changed(self, message: JobsPane.Changed) -> None:
        change = message.change
        if change is not None:
            for row in change.ended:
                self.actions.toast_finished(row)
            if change.sessions_changed and self.sessions_view is not None:
                self.sessions_view.invalidate()
            for row in change.asking:
                self.actions.toast_waiting(row)
            selected = self.selected_job_id
            if selected is not None and any(row.job_id == selected for row in change.changed):
                self.detail.show(self.model.get(selected))
                self.diff_view.show_job(selected, self.model.rows[selected].status)
                self._selected_job_changed()
        if change is None or not change.empty:
            self._update_live()
            self._watch_jobs()
        self._show_status()
        if self.selected_job_id is None:
            self.detail.show(None)

    def _show_status(self) -> None:
        pane = self.jobs_pane
        self.status_bar.set_state(
            counts=pane.model.counts(),
            shown=self.table.shown,
            filter_text=pane.job_filter.text if pane.job_filter.active else "",
            loading=pane.load_progress,
            store_missing=not self.store.root.is_dir(),
        )

    def _watch_jobs(self) -> None:
        if self.watcher is not None:
            self.watcher.set_jobs(self.model.watched_ids(self.selected_job_id))

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        changes = message.changes
        if changes.job_ids:
            self.jobs_pane.request_refresh(changes.job_ids)
        if self.selected_job_id is not None and self.selected_job_id in changes.output_ids:
            self.output.poke()
        if changes.sessions and self.sessions_view is not None:
            self.sessions_view.invalidate()
        if changes.rescan or changes.listing:
            self.jobs_pane.rescan(full=changes.rescan)
            self._show_status()

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
        self.jobs_pane.redraw()
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

    @on(JobsPane.JobSelected)
    def _job_selected(self, message: JobsPane.JobSelected) -> None:
        job_id = message.job_id
        if job_id != self.selected_job_id:
            return  # another selection came since: that one is drawn
        row = self.model.get(job_id)
        self.detail.show(row)
        if job_id is None:
            self._output_opened()  # nothing to read
        self.output.show_job(job_id)
        self.diff_view.show_job(job_id, row.status if row is not None else "")
        self._watch_jobs()
        self._selected_job_changed()

    def _selected_job_changed(self) -> None:
        """The keys that apply follow the selected job; its message line closes once it
        cannot take a message (another job selected, or its turn over). The footer is
        rebuilt only when the talk keys change: rebuilding it on every cursor move cost a
        selection ~35 ms (benchmarks/: 1 GB output)."""
        if self._talk_keys() != self._talk_shown:
            self.refresh_bindings()
        if self._message_to is not None and (
            self._message_to != self.selected_job_id or not self._job_takes("message")
        ):
            self._close_message_line()

    @on(DataTable.RowSelected, "#jobs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.query_one(OutputLog).focus()

    def open_job(self, job_id: str) -> None:
        """Show this job in the jobs view: clear a filter that hides it, wait for it if unseen."""
        self._show_view("jobs")
        self.jobs_pane.open_job(job_id)

    @on(OpenJob)
    def _open_job(self, message: OpenJob) -> None:
        self.open_job(message.job_id)

    @on(TabbedContent.TabActivated, "#job-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.diff_view.activate(event.pane.id == "diff-tab")

    # ------------------------------------------------------------ filter, views, rescans

    def action_filter(self) -> None:
        self._show_view("jobs")
        self.jobs_pane.open_filter()

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

    def action_toggle_diff(self) -> None:
        """Between the selected job's output and what it changed (the Diff tab)."""
        self._show_view("jobs")
        tabs = self.query_one("#job-tabs", TabbedContent)
        tabs.active = "output-tab" if tabs.active == "diff-tab" else "diff-tab"

    def action_back(self) -> None:
        focused = self.focused
        line = self.message_line
        if line is not None and line.display:
            self._close_message_line()
        elif isinstance(focused, Input) and focused.id == "filter":
            self.jobs_pane.clear_filter()
        elif isinstance(focused, OutputLog):
            self.table.focus()
        elif self.view == "sessions":
            self._show_view("jobs")
        elif self.jobs_pane.job_filter.active:
            self.jobs_pane.clear_filter()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen  # a dialog: see tui.screens.job_actions

        self.app.push_screen(HelpScreen.for_bindings(self.offered_bindings()))

    def offered_bindings(self) -> list[BindingType]:
        """The screen's keys, the team's only with the team's Redis configured."""
        return [
            each
            for each in self.BINDINGS
            if self.config.redis_url is not None
            or not (isinstance(each, Binding) and each.action == TEAM_KEY)
        ]

    def action_team(self) -> None:
        """The team's jobs (a screen over this one: T there comes back)."""
        if self.config.redis_url is not None:
            from tui.screens.team import TeamScreen  # loads redis and Docket: only when opened

            self.app.push_screen(TeamScreen(self.config))

    def action_rescan(self, *, full: bool = True) -> None:
        self.jobs_pane.rescan(full=full)

    def action_rescan_now(self) -> None:
        """ctrl+r: a full rescan, said when it starts and when it is done."""
        self._rescan_asked = True
        self.notify("Comparing everything shown with the store…", timeout=2)
        self.jobs_pane.rescan(full=True)

    @on(JobsPane.RescanAnswered)
    def _rescan_answered(self, message: JobsPane.RescanAnswered) -> None:
        if self._rescan_asked:
            self._rescan_asked = False
            self.notify(
                f"Store rescanned: {len(self.model.rows):,} jobs, {message.read:,} read again or gone.",
                timeout=3,
            )

    # ------------------------------------------------------------ actions on jobs

    def _job_to_act_on(self) -> str | None:
        """The job selected in the view shown (in the sessions view, the turn's job)."""
        if self.view == "sessions" and self.sessions_view is not None:
            data = self.sessions_view.selected()
            return data.job_id if data is not None else None
        return self.selected_job_id

    def action_cancel_job(self) -> None:
        job_id = self._job_to_act_on()
        if job_id is None:
            self.notify("Select a job to cancel.", severity="warning")
            return
        self.actions.cancel(job_id, self.model.get(job_id))

    @on(CancelJob)
    def _cancel_pressed(self, message: CancelJob) -> None:
        self.actions.cancel(message.job_id, self.model.get(message.job_id))

    @on(CancelFinished)
    def _cancel_finished(self, message: CancelFinished) -> None:
        self.actions.cancel_finished(message)
        self.jobs_pane.request_refresh([message.job_id])

    def action_apply_job(self) -> None:
        self._worktree("apply")

    def action_discard_job(self) -> None:
        self._worktree("discard")

    def _worktree(self, verb: str) -> None:
        job_id = self._job_to_act_on()
        if job_id is None:
            self.notify(f"Select a worktree job to {verb}.", severity="warning")
            return
        self.actions.worktree(verb, job_id, self.model.get(job_id))

    @on(WorktreeAsked)
    def _worktree_pressed(self, message: WorktreeAsked) -> None:
        self.actions.worktree(message.verb, message.job_id, self.model.get(message.job_id))

    @on(WorktreeDone)
    def _worktree_done(self, message: WorktreeDone) -> None:
        self.actions.worktree_done(message)
        self.jobs_pane.request_refresh([message.job_id])
        self.diff_view.reload(message.job_id)

    # ------------------------------------------------------------ talking to a running job

    def action_message(self) -> None:
        """Open the message line under the output, for the selected running job."""
        job_id = self._job_to_act_on()
        if job_id is None:
            return
        self._show_view("jobs")
        self._message_to = job_id
        line = self.message_line
        if line is None:
            # Made when first opened, like the talk buttons (tui.widgets.job_detail): composed
            # hidden at start, they cost the first paint (benchmarks/: first paint).
            line = self._message_line = Input(
                id="message-line", placeholder="What codex should know or do now"
            )
            self.query_one("#jobs-view").mount(line)
        line.border_title = f"Message to job {job_id}: enter sends, esc closes"
        line.display = True
        line.focus()

    def _close_message_line(self) -> None:
        self._message_to = None
        line = self.message_line
        if line is None or not line.display:
            return
        had_focus = line.has_focus
        line.display = False
        if had_focus:
            self.table.focus()

    @on(Input.Submitted, "#message-line")
    def _message_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        job_id, text = self._message_to, event.value
        if job_id is None:
            return
        if not text.strip():
            self.notify("Type a message first (esc closes the line).", severity="warning", timeout=3)
            return
        event.input.clear()
        self._close_message_line()
        self.actions.steer(job_id, text)

    def action_interrupt(self) -> None:
        job_id = self._job_to_act_on()
        if job_id is not None:
            self.actions.interrupt(job_id, self.model.get(job_id))

    def action_answer(self, decision: str) -> None:
        job_id = self._job_to_act_on()
        if job_id is not None:
            self.actions.answer(job_id, self.model.get(job_id), decision)

    @on(TalkToJob)
    def _talk_pressed(self, message: TalkToJob) -> None:
        job_id, what = message.job_id, message.what
        if what == "message":
            self.action_message()
        elif what == "interrupt":
            self.actions.interrupt(job_id, self.model.get(job_id))
        else:
            self.actions.answer(job_id, self.model.get(job_id), what)

    @on(TalkFinished)
    def _talk_finished(self, message: TalkFinished) -> None:
        self.actions.talk_finished(message)
        self.jobs_pane.request_refresh([message.job_id])

    def action_new_job(self) -> None:
        self.actions.new_job()

    def action_continue_session(self) -> None:
        session_id: str | None = None
        if self.view == "sessions" and self.sessions_view is not None:
            data = self.sessions_view.selected()
            session_id = data.session_id if data is not None else None
        elif self.selected_job_id is not None:
            row = self.model.get(self.selected_job_id)
            session_id = row.session_id if row is not None else None
            if row is not None and session_id is None:
                self.notify(
                    "This job has no codex session yet (it starts when codex does).", severity="warning"
                )
                return
        if session_id is None:
            self.notify("Select a session (or a job of one) to continue.", severity="warning")
            return
        self.actions.continue_session(session_id)

    @on(ContinueSession)
    def _continue_requested(self, message: ContinueSession) -> None:
        self.actions.continue_session(message.session_id)

    @on(SessionFetched)
    def _session_fetched(self, message: SessionFetched) -> None:
        self.actions.show_continue(message)

    @on(CodexSessionFetched)
    def _codex_session_fetched(self, message: CodexSessionFetched) -> None:
        self.actions.show_continue_codex(message)

    def action_copy_job_id(self) -> None:
        self.actions.copy_job_id(self.selected_job_id)

    def action_copy_answer(self) -> None:
        self.actions.copy_answer(self.selected_job_id)

    @on(AnswerRead)
    def _answer_read(self, message: AnswerRead) -> None:
        self.actions.answer_read(message)

    def action_open_pager(self) -> None:
        self.actions.open_pager(self.selected_job_id)
