"""What is done to jobs from the jobs screen: cancel one (after asking), apply or discard a
worktree job's change (after asking), talk to a running one (steer it with a message, interrupt
it after asking, answer its question), start one, continue
a session (the store's or codex's own), copy a job's id or final answer, page its output,
and announce the jobs that end or start waiting for an answer (a toast, and a bell or a
desktop notification when configured).

A controller, not a widget: the screen says which job or session (what is selected is
the screen's to know) and routes the answers of these actions' workers back here. The
writes run in workers on the screen, so a failure is reported the screen's one way
(`tui.workers`). Copies go through Textual's `copy_to_clipboard` (OSC 52).

The dialogs are imported when first opened, not with the app: together they cost its start
~25 ms (benchmarks/: first paint), and most runs open none of them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import SuspendNotSupported
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from jobstore import JobNotFound, JobStatus, JobStore, JobStoreError, terminal_safe
from tui import format as fmt
from tui.config import TuiConfig
from tui.jobs import JobRow
from tui.messages import CancelFinished, OpenJob, SessionFetched, TalkFinished, WorktreeDone
from tui.pager import page_file
from tui.workers import Task

if TYPE_CHECKING:
    from jobstore import CodexSessions, RolloutHead, TalkOutcome

_TOASTS: dict[str, tuple[str, SeverityLevel]] = {
    JobStatus.DONE: ("Job done", "information"),
    JobStatus.CANCELLED: ("Job cancelled", "warning"),
    JobStatus.INTERRUPTED: ("Job interrupted", "warning"),
    JobStatus.LOST: ("Job lost", "error"),
}


@dataclass
class CodexSessionFetched(Message):
    """One of codex's own sessions, found for the continue form."""

    session_id: str
    head: RolloutHead


@dataclass
class AnswerRead(Message):
    """A job's final answer, read to be copied (None: it has none yet)."""

    job_id: str
    answer: str | None


class JobActions:
    """The jobs screen's actions on jobs; `screen` runs their workers and dialogs."""

    def __init__(
        self,
        screen: Screen[None],
        store: JobStore,
        config: TuiConfig,
        codex_sessions: Callable[[], CodexSessions],
    ) -> None:
        self.screen = screen
        self.store = store
        self.config = config
        self.codex_sessions = codex_sessions

    def _notify(
        self, message: str, *, severity: SeverityLevel = "information", timeout: float | None = None
    ) -> None:
        self.screen.notify(message, severity=severity, timeout=timeout)

    def _run(self, work: Callable[[], None], *, group: Task, name: str) -> None:
        self.screen.run_worker(work, thread=True, group=group, name=name, exit_on_error=False)

    # ------------------------------------------------------------ announcing ends

    def toast_finished(self, row: JobRow) -> None:
        title, severity = _TOASTS.get(row.status, ("Job failed", "error"))
        detail = fmt.one_line(row.first_line, 60)
        if row.status != JobStatus.DONE and row.error:
            detail += f"\n{fmt.one_line(row.error, 120)}"
        self._announce(title, severity, row, detail)

    def toast_waiting(self, row: JobRow) -> None:
        """A job started waiting for a person's answer: said the way an end is (toast, bell
        or desktop notification per --notify)."""
        question = row.question.describe() if row.question is not None else ""
        self._announce("Job asks", "warning", row, fmt.one_line(question, 160))

    def _announce(self, title: str, severity: SeverityLevel, row: JobRow, detail: str) -> None:
        self.screen.notify(
            f"{row.job_id} · {terminal_safe(row.project)}\n{detail}", title=title, severity=severity
        )
        how = self.config.notify_end
        if how == "bell" or (how == "desktop" and not self._desktop_notify(title, row)):
            self.screen.app.bell()

    def _desktop_notify(self, title: str, row: JobRow) -> bool:
        """A desktop notification through notify-send; False where there is none."""
        program = shutil.which("notify-send")
        if program is None:
            return False
        # The notification spec lets a daemon render markup in the body (<a href>, <img>):
        # codex's text, made visible first, is escaped so that it shows as typed.
        import html  # only here: not a cost of the app's start

        body = html.escape(
            f"{row.job_id} · {terminal_safe(row.project)}: {fmt.one_line(row.first_line, 100)}"
        )
        try:
            # argv, never a shell. Not waited for.
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

    # ------------------------------------------------------------ cancel

    def cancel(self, job_id: str, row: JobRow | None) -> None:
        """Ask, then cancel this job (its row as the screen knows it)."""
        if row is None or not row.is_active:
            state = row.status if row is not None else "unknown"
            self._notify(f"Job {job_id} is {state}: only queued or running jobs can be cancelled.")
            return
        if row.cancel_requested:
            self._notify(f"Job {job_id} is already being cancelled.")
            return
        message = _confirmation(
            "Cancel",
            job_id,
            row,
            "codex and every process it started get SIGTERM, then SIGKILL after the grace period.",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._notify(f"Cancelling {job_id}…")
                self._run(partial(self._cancel, job_id), group=Task.CANCEL, name=f"cancel job {job_id}")

        from tui.screens.confirm import ConfirmScreen

        self.screen.app.push_screen(
            ConfirmScreen("Cancel job", message, yes="Cancel job", no="Keep it"), answered
        )

    def _cancel(self, job_id: str) -> None:
        # Blocks up to the grace period while the runner stops codex's process tree.
        try:
            outcome = self.store.cancel(job_id)
        except (JobStoreError, OSError) as exc:  # the store's answer, shown as one
            finished = CancelFinished(job_id, f"Could not cancel {job_id}: {exc}", ok=False, ended=False)
        else:
            finished = CancelFinished(
                job_id, outcome.message, ok=outcome.changed, ended=outcome.record.is_terminal
            )
        self.screen.post_message(finished)

    def cancel_finished(self, message: CancelFinished) -> None:
        # A cancel that took is announced by the row turning `cancelled` (its own toast).
        if not (message.ok and message.ended):
            self._notify(message.message, severity="information" if message.ok else "warning")

    # ------------------------------------------------------------ a worktree job's change

    def worktree(self, verb: str, job_id: str, row: JobRow | None) -> None:
        """Ask, then apply ("apply") or discard ("discard") this worktree job's change."""
        if row is None or not row.worktree:
            self._notify(f"Job {job_id} did not run in a worktree: there is nothing to {verb}.")
            return
        if not row.is_terminal:
            self._notify(f"Job {job_id} is {row.status}: {verb} it once it has ended.")
            return
        message = Text()
        message.append(f"{verb.capitalize()} job ")
        message.append(job_id, style="bold")
        message.append("?\n\n")
        message.append(fmt.one_line(row.first_line, 160), style="italic")
        message.append(f"\n{terminal_safe(row.cwd)}", style="dim")
        if verb == "apply":
            explained = (
                "\n\nIts change goes into this working tree as uncommitted changes (yours are kept);"
                " on a conflict nothing changes."
            )
        else:
            explained = f"\n\nIts worktree and its branch codex/{job_id} are removed."
        message.append(explained, style="dim")

        def answered(yes: bool | None) -> None:
            if yes:
                work = partial(self._worktree, verb, job_id)
                self._run(work, group=Task.WORKTREE, name=f"{verb} job {job_id}")

        from tui.screens.confirm import ConfirmScreen

        title = f"{verb.capitalize()} job"
        self.screen.app.push_screen(ConfirmScreen(title, message, yes=title, no="Not now"), answered)

    def _worktree(self, verb: str, job_id: str) -> None:
        try:
            if verb == "apply":
                applied = self.store.apply(job_id)
                if applied.clean:
                    done = WorktreeDone(
                        job_id, f"Applied {job_id}: {len(applied.changed)} file(s) changed.", True
                    )
                else:
                    conflicts = ", ".join(applied.conflicts)
                    done = WorktreeDone(
                        job_id,
                        f"Not applied: {job_id} conflicts in {conflicts}; nothing changed. "
                        f"Merge branch {applied.branch} by hand.",
                        False,
                    )
            else:
                removed = self.store.discard(job_id)
                done = WorktreeDone(
                    job_id, f"Discarded {job_id}: {', '.join(removed) or 'nothing left'}.", True
                )
        except (JobStoreError, OSError) as exc:  # the store's answer, shown as one
            done = WorktreeDone(job_id, f"Could not {verb} {job_id}: {exc}", False)
        self.screen.post_message(done)

    def worktree_done(self, message: WorktreeDone) -> None:
        self._notify(terminal_safe(message.message), severity="information" if message.ok else "warning")

    # ------------------------------------------------------------ talk to a running job

    def steer(self, job_id: str, text: str) -> None:
        """Send the person's message into the job's running turn."""
        self._notify(f"Sending the message to {job_id}…", timeout=2)
        self._run(
            partial(self._talk, job_id, lambda: self.store.steer(job_id, text)),
            group=Task.TALK,
            name=f"message job {job_id}",
        )

    def interrupt(self, job_id: str, row: JobRow | None) -> None:
        """Ask, then end the job's running turn (its session continues, as after `done`)."""
        if row is None or not row.can_talk:
            self._notify(_cannot_talk(job_id, row, "interrupted"), severity="warning")
            return
        message = _confirmation(
            "Interrupt",
            job_id,
            row,
            "Its turn ends and the commands it started are stopped; the job ends interrupted "
            "and its session can be continued (t).",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._notify(f"Interrupting {job_id}…", timeout=2)
                self._run(
                    partial(self._talk, job_id, lambda: self.store.interrupt(job_id)),
                    group=Task.TALK,
                    name=f"interrupt job {job_id}",
                )

        from tui.screens.confirm import ConfirmScreen

        self.screen.app.push_screen(
            ConfirmScreen("Interrupt job", message, yes="Interrupt", no="Keep it running"), answered
        )

    def answer(self, job_id: str, row: JobRow | None, decision: str) -> None:
        """Approve or deny what a waiting job's codex asks."""
        if row is None or row.question is None:
            self._notify(f"Job {job_id} asks nothing (already answered?).", severity="warning")
            return
        self._run(
            partial(self._talk, job_id, lambda: self.store.answer(job_id, decision)),
            group=Task.TALK,
            name=f"{decision} for job {job_id}",
        )

    def _talk(self, job_id: str, send: Callable[[], TalkOutcome]) -> None:
        # Blocks until the job's runner handles it (bounded by the store's reply timeout).
        try:
            outcome = send()
        except (JobStoreError, OSError) as exc:  # the store's clear refusal, shown as one
            finished = TalkFinished(job_id, str(exc), ok=False)
        else:
            finished = TalkFinished(job_id, outcome.message, ok=True)
        self.screen.post_message(finished)

    def talk_finished(self, message: TalkFinished) -> None:
        self._notify(terminal_safe(message.message), severity="information" if message.ok else "warning")

    # ------------------------------------------------------------ start

    def new_job(self) -> None:
        from tui.screens.new_job import NewJobScreen

        config = self.config
        try:
            worktree = self.store.store_settings().worktree
        except JobStoreError:  # damaged settings: starting says so
            worktree = False
        screen = NewJobScreen(
            self.store, cwd=str(config.launch_cwd), animations=config.animations, worktree=worktree
        )
        self.screen.app.push_screen(screen, self._job_started)

    def _job_started(self, job_id: str | None) -> None:
        if job_id:
            self._notify(f"Started job {job_id}.")
            self.screen.post_message(OpenJob(job_id))

    def continue_session(self, session_id: str) -> None:
        """The continue form for this session (the store's, else codex's own), once found."""
        codex = self.codex_sessions()
        self._run(
            partial(self._fetch_session, session_id, codex),
            group=Task.SESSION,
            name=f"continue session {session_id}",
        )

    def _fetch_session(self, session_id: str, codex: CodexSessions) -> None:
        session = self.store.session(session_id, missing_ok=True)
        if session is not None:
            self.screen.post_message(SessionFetched(session))
            return
        rollout = codex.find(session_id)
        if rollout is None:
            raise JobNotFound(f"no session {session_id} in the store or in codex's own sessions")
        self.screen.post_message(CodexSessionFetched(session_id, codex.head(rollout)))

    def show_continue_codex(self, message: CodexSessionFetched) -> None:
        from tui.screens.continue_codex import ContinueCodexSessionScreen

        screen = ContinueCodexSessionScreen(
            self.store,
            message.session_id,
            message.head,
            cwd=str(self.config.launch_cwd),
            animations=self.config.animations,
        )
        self.screen.app.push_screen(screen, self._job_started)

    def show_continue(self, message: SessionFetched) -> None:
        from tui.screens.continue_session import ContinueSessionScreen

        screen = ContinueSessionScreen(self.store, message.session, animations=self.config.animations)
        self.screen.app.push_screen(screen, self._job_started)

    # ------------------------------------------------------------ copy and page

    def copy_job_id(self, job_id: str | None) -> None:
        if job_id is None:
            self._notify("No job selected.", severity="warning", timeout=3)
            return
        self.screen.app.copy_to_clipboard(job_id)
        self._notify(f"Copied the job id {job_id}.", timeout=3)

    def copy_answer(self, job_id: str | None) -> None:
        if job_id is None:
            self._notify("No job selected.", severity="warning", timeout=3)
            return
        self._run(partial(self._read_answer, job_id), group=Task.FINAL, name="read the final answer")

    def _read_answer(self, job_id: str) -> None:
        try:
            answer = self.store.final_message(job_id)
        except (JobStoreError, OSError) as exc:
            self.screen.app.call_from_thread(self._notify, f"Cannot read the answer: {exc}", severity="error")
            return
        self.screen.post_message(AnswerRead(job_id, answer))

    def answer_read(self, message: AnswerRead) -> None:
        job_id, answer = message.job_id, message.answer
        if not answer:
            self._notify(f"{job_id} has no answer yet.", severity="warning", timeout=3)
            return
        # Pasted into a terminal later: controls made visible here too.
        self.screen.app.copy_to_clipboard(terminal_safe(answer, multiline=True))
        self._notify(f"Copied the answer of {job_id} ({len(answer):,} characters).", timeout=3)

    def open_pager(self, job_id: str | None) -> None:
        try:
            output = self.store.open_output(job_id) if job_id is not None else None
        except JobStoreError as exc:  # refused (a symlink...), or the job is gone
            self._notify(f"Cannot read the output: {exc}", severity="error")
            return
        if output is None:
            self._notify("No output to show.", severity="warning", timeout=3)
            return
        app = self.screen.app
        try:
            with output, app.suspend():
                code = page_file(output)
        except SuspendNotSupported:
            self._notify("This terminal cannot hand the screen to a pager.", severity="error")
            return
        except OSError as exc:
            self._notify(f"Cannot open the pager: {exc}", severity="error")
            return
        if code > 0:
            self._notify(f"The pager ($PAGER, else less) ended with exit code {code}.", severity="warning")


def _cannot_talk(job_id: str, row: JobRow | None, done: str) -> str:
    """Why this job cannot be talked to now, in words."""
    if row is None:
        return f"Job {job_id} is unknown."
    if row.codex_path != "app-server" and row.is_active:
        return f"Job {job_id} runs as `codex exec`: it cannot be {done} (cancel it instead)."
    return f"Job {job_id} is {row.status}: only a running job can be {done}."


def _confirmation(verb: str, job_id: str, row: JobRow, consequence: str) -> Text:
    """What a confirmation dialog asks: the job (its prompt's first line, its folder) and
    what the action does to it."""
    from tui.screens.confirm import job_question  # a dialog: loaded when first asked

    return job_question(verb, job_id, row.status, row.first_line, row.cwd, consequence)
