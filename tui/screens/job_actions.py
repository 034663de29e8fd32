"""What the jobs screen does to jobs: cancel one (after asking), start one, continue a session
(the store's or codex's own), announce the ones that end (a toast, and a bell or a desktop
notification when configured), switch between output and diff, rescan on request. The writes
run in workers; their answers come back as messages.

The dialogs are imported when first opened, not with the app: together they cost its start
~25 ms (benchmarks/: first paint), and most runs open none of them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import ContentSwitcher, TabbedContent

from jobstore import JobNotFound, JobStatus, JobStore, JobStoreError, terminal_safe
from tui import format as fmt
from tui.config import TuiConfig
from tui.jobs import JobRow
from tui.messages import (
    CancelFinished,
    CancelJob,
    ContinueSession,
    OpenJob,
    Rescanned,
    SessionFetched,
    StoreChanged,
)
from tui.model import JobsModel
from tui.watcher import StoreChanges
from tui.widgets.diff_view import DiffView
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.jobs_table import JobsTable
from tui.widgets.output_view import OutputView
from tui.widgets.status_bar import StatusBar
from tui.workers import Task

if TYPE_CHECKING:
    from jobstore import CodexSessions, RolloutHead
    from tui.widgets.sessions import SessionsView

_TOASTS: dict[str, tuple[str, SeverityLevel]] = {
    JobStatus.DONE: ("Job done", "information"),
    JobStatus.CANCELLED: ("Job cancelled", "warning"),
    JobStatus.LOST: ("Job lost", "error"),
}


@dataclass
class CodexSessionFetched(Message):
    """One of codex's own sessions, found for the continue form."""

    session_id: str
    head: RolloutHead


class JobActions(Screen[None]):
    """The jobs screen's widgets, and its actions on jobs. JobsScreen sets the state declared
    here; what these actions want of it (show a job, read one again) they ask by message."""

    store: JobStore
    config: TuiConfig
    model: JobsModel
    selected_job_id: str | None
    _rescan_asked = False  # ctrl+r: say when the rescan is done

    @property
    def jobs_pane(self) -> JobsPane:
        return self.query_one(JobsPane)

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
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    # The sessions view, made when first shown (JobsScreen._show_view).
    sessions_view: SessionsView | None = None
    _codex_sessions: CodexSessions | None = None

    def codex_sessions(self) -> CodexSessions:
        """codex's own sessions (in CODEX_HOME), one reader (and its cache) for the sessions
        view and the continue form."""
        if self._codex_sessions is None:
            from jobstore import CodexSessions  # loaded on first use

            self._codex_sessions = CodexSessions(self.config.settings.codex_home)
        return self._codex_sessions

    @property
    def view(self) -> str:
        return "sessions" if self.query_one(ContentSwitcher).current == "sessions-view" else "jobs"

    def _read_again(self, job_id: str) -> None:
        self.post_message(StoreChanged(StoreChanges(job_ids=frozenset({job_id}))))

    def toast_finished(self, row: JobRow) -> None:
        title, severity = _TOASTS.get(row.status, ("Job failed", "error"))
        detail = fmt.one_line(row.first_line, 60)
        if row.status != JobStatus.DONE and row.error:
            detail += f"\n{fmt.one_line(row.error, 120)}"
        self.notify(f"{row.job_id} · {terminal_safe(row.project)}\n{detail}", title=title, severity=severity)
        how = self.config.notify_end
        if how == "bell" or (how == "desktop" and not self._desktop_notify(title, row)):
            self.app.bell()

    def _desktop_notify(self, title: str, row: JobRow) -> bool:
        """A desktop notification through notify-send; False where there is none."""
        program = shutil.which("notify-send")
        if program is None:
            return False
        body = f"{row.job_id} · {terminal_safe(row.project)}: {fmt.one_line(row.first_line, 100)}"
        try:
            # argv, never a shell; the text is made safe. Not waited for.
            subprocess.Popen(
                [program, "--app-name=codex-tui", title, body],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return False
        return True

    # ------------------------------------------------------------ views and rescans

    def action_toggle_diff(self) -> None:
        """Between the selected job's output and what it changed (the Diff tab)."""
        if self.view == "sessions":
            self.action_toggle_view()  # type: ignore[attr-defined]  # JobsScreen's (this is its mixin)
        tabs = self.query_one("#job-tabs", TabbedContent)
        tabs.active = "output-tab" if tabs.active == "diff-tab" else "diff-tab"

    def action_rescan_now(self) -> None:
        """ctrl+r: a full rescan, said when it starts and when it is done."""
        self._rescan_asked = True
        self.notify("Comparing everything shown with the store…", timeout=2)
        self.action_rescan(full=True)  # type: ignore[attr-defined]  # JobsScreen's (this is its mixin)

    def rescan_answered(self, message: Rescanned) -> None:
        if self._rescan_asked:
            self._rescan_asked = False
            changed = len(message.rows) + len(message.gone)
            self.notify(
                f"Store rescanned: {len(self.model.rows):,} jobs, {changed:,} read again or gone.", timeout=3
            )

    # ------------------------------------------------------------ cancel

    def action_cancel_job(self) -> None:
        if self.view == "sessions" and self.sessions_view is not None:
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
        row = self.model.get(job_id)
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
        message.append(f"\n{terminal_safe(row.cwd)}", style="dim")
        message.append(
            "\n\ncodex and every process it started get SIGTERM, then SIGKILL after the grace period.",
            style="dim",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"Cancelling {job_id}…")
                self.run_worker(
                    partial(self._cancel, job_id),
                    thread=True,
                    group=Task.CANCEL,
                    name=f"cancel job {job_id}",
                    exit_on_error=False,
                )

        from tui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen("Cancel job", message, yes="Cancel job", no="Keep it"), answered)

    def _cancel(self, job_id: str) -> None:
        # Blocks up to the grace period while the runner stops codex's process tree.
        try:
            outcome = self.store.cancel(job_id)
        except (JobStoreError, OSError) as exc:  # the store's answer, shown as one
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
        self._read_again(message.job_id)

    # ------------------------------------------------------------ start

    def action_new_job(self) -> None:
        from tui.screens.new_job import NewJobScreen

        screen = NewJobScreen(self.store, cwd=str(self.config.launch_cwd), animations=self.config.animations)
        self.app.push_screen(screen, self._job_started)

    def _job_started(self, job_id: str | None) -> None:
        if job_id:
            self.notify(f"Started job {job_id}.")
            self.post_message(OpenJob(job_id))

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
        self._open_continue(session_id)

    @on(ContinueSession)
    def _continue_requested(self, message: ContinueSession) -> None:
        self._open_continue(message.session_id)

    def _open_continue(self, session_id: str) -> None:
        codex = self.codex_sessions()
        self.run_worker(
            partial(self._fetch_session, session_id, codex),
            thread=True,
            group=Task.SESSION,
            name=f"continue session {session_id}",
            exit_on_error=False,
        )

    def _fetch_session(self, session_id: str, codex: CodexSessions) -> None:
        session = self.store.session(session_id, missing_ok=True)
        if session is not None:
            self.post_message(SessionFetched(session))
            return
        rollout = codex.find(session_id)
        if rollout is None:
            raise JobNotFound(f"no session {session_id} in the store or in codex's own sessions")
        self.post_message(CodexSessionFetched(session_id, codex.head(rollout)))

    @on(CodexSessionFetched)
    def _push_continue_codex(self, message: CodexSessionFetched) -> None:
        from tui.screens.continue_codex import ContinueCodexSessionScreen

        screen = ContinueCodexSessionScreen(
            self.store,
            message.session_id,
            message.head,
            cwd=str(self.config.launch_cwd),
            animations=self.config.animations,
        )
        self.app.push_screen(screen, self._job_started)

    @on(SessionFetched)
    def _push_continue(self, message: SessionFetched) -> None:
        from tui.screens.continue_session import ContinueSessionScreen

        screen = ContinueSessionScreen(self.store, message.session, animations=self.config.animations)
        self.app.push_screen(screen, self._job_started)
