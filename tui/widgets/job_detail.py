"""The line under the jobs table: the selected job in full, and its Cancel button."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from tui import format as fmt
from tui.jobs import JobRow
from tui.messages import CancelJob
from tui.theme import palette_of


class JobDetail(Horizontal):
    """What the table has no room for: folder, session, policy, error; Cancel for active jobs."""

    def __init__(self, clock: Callable[[], datetime], store_root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.store_root = store_root
        self.row: JobRow | None = None
        self._shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="detail-text")
        yield Button("Cancel job", id="cancel-job", variant="error", compact=True)

    def on_mount(self) -> None:
        self.show(None)

    def show(self, row: JobRow | None) -> None:
        self.row = row
        text = self._render_text(row)
        if text != self._shown:  # the clock ticks often; repaint only what changed
            self._shown = text
            self.query_one("#detail-text", Static).update(text, layout=False)  # fixed size
        button = self.query_one("#cancel-job", Button)
        button.display = row is not None and row.is_active and not row.cancel_requested

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
            text.append(row.error or "", style=palette.style("error-text"))
            return text
        parts = [f"{fmt.age(row.created_at, now)} ago"]
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
        text.append("  " + " · ".join(parts), style="dim")
        text.append("\n")
        if row.error and row.status != "done":
            text.append(fmt.one_line(row.error, 400), style=palette.style("error-text"))
        else:
            text.append(fmt.one_line(row.prompt, 400))
        return text

    @on(Button.Pressed, "#cancel-job")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        if self.row is not None:
            self.post_message(CancelJob(self.row.job_id))
