"""What the jobs screen does to jobs: cancel one (after asking), start one, continue a session,
and announce the ones that end. The writes run in workers; their answers come back as messages."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from jobstore import JobNotFound, JobStatus, JobStore, JobStoreError
from tui import format as fmt
from tui.config import TuiConfig
from tui.jobs import JobRow
from tui.messages import CancelFinished, CancelJob, ContinueSession, OpenJob, SessionFetched, StoreChanged
from tui.model import JobsModel
from tui.screens.confirm import ConfirmScreen
from tui.screens.continue_session import ContinueSessionScreen
from tui.screens.new_job import NewJobScreen
from tui.watcher import StoreChanges
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.jobs_table import JobsTable
from tui.widgets.output_view import OutputView
from tui.widgets.sessions import SessionsView
from tui.widgets.status_bar import StatusBar
from tui.workers import Task

_TOASTS: dict[str, tuple[str, SeverityLevel]] = {
    JobStatus.DONE: ("Job done", "information"),
    JobStatus.CANCELLED: ("Job cancelled", "warning"),
    JobStatus.LOST: ("Job lost", "error"),
}


class JobActions(Screen[None]):
    """The jobs screen's widgets, and its actions on jobs. JobsScreen sets the state declared
    here; what these actions want of it (show a job, read one again) they ask by message."""

    store: JobStore
    config: TuiConfig
    model: JobsModel
    selected_job_id: str | None

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
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def sessions_view(self) -> SessionsView:
        return self.query_one(SessionsView)

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
        self.notify(f"{row.job_id} · {row.project}\n{detail}", title=title, severity=severity)

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
        message.append(f"\n{row.cwd}", style="dim")
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
        screen = NewJobScreen(self.store, cwd=str(self.config.launch_cwd), animations=self.config.animations)
        self.app.push_screen(screen, self._job_started)

    def _job_started(self, job_id: str | None) -> None:
        if job_id:
            self.notify(f"Started job {job_id}.")
            self.post_message(OpenJob(job_id))

    def action_continue_session(self) -> None:
        session_id: str | None = None
        if self.view == "sessions":
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
        self.run_worker(
            partial(self._fetch_session, session_id),
            thread=True,
            group=Task.SESSION,
            name=f"continue session {session_id}",
            exit_on_error=False,
        )

    def _fetch_session(self, session_id: str) -> None:
        session = self.store.session(session_id)
        if session is None:
            raise JobNotFound(f"no session {session_id} in the store")
        self.post_message(SessionFetched(session))

    @on(SessionFetched)
    def _push_continue(self, message: SessionFetched) -> None:
        screen = ContinueSessionScreen(self.store, message.session, animations=self.config.animations)
        self.app.push_screen(screen, self._job_started)
