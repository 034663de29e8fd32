"""The lines under the jobs table: the selected job in full, with a Cancel button while it is
queued or running, Message and Interrupt buttons while a person can talk to its turn, its
question with Approve and Deny buttons while it waits for an answer, and a Continue button
once its session can take another turn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from jobstore import JobStatus, terminal_safe
from tui import format as fmt
from tui.jobs import JobRow
from tui.messages import CancelJob, ContinueSession, TalkToJob
from tui.theme import palette_of

if TYPE_CHECKING:
    from textual.widgets.button import ButtonVariant


# Shown while a person can talk to the job's turn: (label, id, variant), before Cancel.
_TALK_BUTTONS: tuple[tuple[str, str, ButtonVariant], ...] = (
    ("Approve", "approve-job", "success"),
    ("Deny", "deny-job", "warning"),
    ("Message", "message-job", "primary"),
    ("Interrupt", "interrupt-job", "warning"),
)


class JobDetail(Vertical):
    """What the table has no room for: folder, session, policy, client, error and prompt."""

    def __init__(self, clock: Callable[[], datetime], store_root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.store_root = store_root
        self.row: JobRow | None = None
        self._shown: Text | None = None
        self._talk_made = False  # the talk buttons and the question's line (_make_talk_parts)

    def compose(self) -> ComposeResult:
        with Horizontal(id="detail-row"):
            yield Static(id="detail-text")
            # The talk buttons (Approve, Deny, Message, Interrupt) come here once a job can
            # take them (_make_talk_parts).
            yield Button("Cancel job", id="cancel-job", variant="error", compact=True)
            yield Button("Continue", id="continue-job", variant="primary", compact=True)
        # Then, once a job asks, its question (_make_talk_parts).

    def _make_talk_parts(self) -> None:
        """The talk buttons and the question's line, made the first time a job can take them:
        made hidden at start, they and the message line (`tui.screens.jobs`) cost ~20 ms of
        CPU before the first paint (benchmarks/: first paint), and many runs never talk to a job."""
        if self._talk_made:
            return
        self._talk_made = True
        self.query_one("#detail-row").mount_all(
            [
                Button(label, id=button_id, variant=variant, compact=True)
                for label, button_id, variant in _TALK_BUTTONS
            ],
            before="#cancel-job",
        )
        # A waiting job's question, the whole width and wrapped: a person must read all of it.
        self.mount(Static(id="detail-question"))

    def on_mount(self) -> None:
        self.show(None)

    def show(self, row: JobRow | None) -> None:
        self.row = row
        text = self._render_text(row)
        if text != self._shown:  # the clock ticks often; repaint only what changed
            self._shown = text
            self.query_one("#detail-text", Static).update(text, layout=False)  # fixed size
        active = row is not None and row.is_active and not row.cancel_requested
        self.query_one("#cancel-job", Button).display = active
        talk = active and row is not None and row.can_talk
        asking = talk and row is not None and row.question is not None
        question_text = row.question.describe() if row is not None and row.question is not None else None
        if talk or question_text is not None:
            self._make_talk_parts()
        if self._talk_made:
            self.query_one("#approve-job", Button).display = asking
            self.query_one("#deny-job", Button).display = asking
            self.query_one("#message-job", Button).display = talk and not asking
            self.query_one("#interrupt-job", Button).display = talk and not asking
            question = self.query_one("#detail-question", Static)
            question.display = question_text is not None
            if row is not None and question_text is not None:
                _, style = palette_of(self.app).status(row.status)
                question.update(Text(f"◆ {question_text}", style=style))
        self.query_one("#continue-job", Button).display = (
            row is not None and row.is_terminal and row.session_id is not None
        )

    def _render_text(self, row: JobRow | None) -> Text:
        if row is None:
            if not self.store_root.is_dir():
                return Text(
                    f"No store at {self.store_root} yet: waiting for the first job.\n"
                    "n starts one; jobs started by the MCP server appear here as they start.",
                    style="dim",
                )
            return Text("No job selected.\nn starts a new job.", style="dim")
        now = self.clock()
        palette = palette_of(self.app)
        mark, style = palette.status(row.status)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{mark} {fmt.status_label(row)}", style=style)
        text.append(f"  {row.job_id}", style="bold")
        if row.is_unreadable:
            text.append(f"  {fmt.age(row.created_at, now)} ago", style="dim")
            text.append("\n")
            text.append(fmt.one_line(row.error or "", 400), style=palette.style("error-text"))
            return text
        parts = [f"{fmt.age(row.created_at, now)} ago"]
        if row.question is not None:
            waited = row.question.waiting_seconds(now)
            parts.append(f"waits {fmt.span(waited) if waited is not None else 'for an answer'}")
        if row.started_at is not None:
            parts.append(f"ran {fmt.duration(row, now)}")
        if row.exit_code is not None:
            parts.append(f"exit {row.exit_code}")
        if row.approval_policy:
            parts.append(row.approval_policy)
        if row.tokens is not None:
            parts.append(f"{fmt.tokens(row.tokens)} tokens")
        parts.append(row.cwd)
        if row.session_id:
            parts.append(f"session {row.session_id}")
        if row.client:
            parts.append(f"by {row.client}")
        if row.worktree:
            parts.append(row.worktree)
        text.append(terminal_safe("  " + " · ".join(parts)), style="dim")
        text.append("\n")
        error = _why(row)
        if error:
            # Both: what went wrong, and which job it was (the prompt).
            room = max(20, (self.size.width or 100) * 3 // 5)
            text.append(fmt.one_line(error, room), style=palette.style("error-text"))
            text.append("  ·  ", style="dim")
        text.append(fmt.one_line(row.prompt, 400))
        return text

    @on(Button.Pressed, "#cancel-job")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        if self.row is not None:
            self.post_message(CancelJob(self.row.job_id))

    @on(Button.Pressed, "#message-job, #interrupt-job, #approve-job, #deny-job")
    def _talk(self, event: Button.Pressed) -> None:
        event.stop()
        if self.row is not None and event.button.id is not None:
            self.post_message(TalkToJob(self.row.job_id, event.button.id.removesuffix("-job")))

    @on(Button.Pressed, "#continue-job")
    def _continue(self, event: Button.Pressed) -> None:
        event.stop()
        if self.row is not None and self.row.session_id is not None:
            self.post_message(ContinueSession(self.row.session_id))


def _why(row: JobRow) -> str:
    """Why the job did not end `done`, in words; empty for a job that did or has not ended."""
    if row.status == JobStatus.LOST and row.turn_completed:
        return (
            "lost after codex finished its turn: its runner ended before recording the end "
            "(killed, or the machine restarted); the answer is in the output"
        )
    if row.error and row.status != JobStatus.DONE:
        return row.error
    return ""
