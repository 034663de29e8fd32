"""Continue one of codex's own sessions (not started here) as a new job of the store:
`codex exec resume <id>` in the session's folder, with a new prompt."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from jobstore import JobStore, RolloutHead, terminal_safe
from tui import format as fmt
from tui.screens.new_job import StartJobScreen
from tui.theme import palette_of


class ContinueCodexSessionScreen(StartJobScreen):
    TITLE_TEXT = "Continue codex's session"

    def __init__(
        self, store: JobStore, session_id: str, head: RolloutHead, *, cwd: str, animations: bool = True
    ) -> None:
        super().__init__(store, cwd=head.cwd or cwd, animations=animations)
        self.codex_session_id = session_id
        self.head = head

    def compose_intro(self) -> ComposeResult:
        palette = palette_of(self.app)
        text = Text()
        text.append("session ", style="dim")
        text.append(terminal_safe(self.codex_session_id), style=palette.style("session", "bold"))
        text.append("  codex's own, not started here", style=palette.style("notice"))
        if self.head.first_prompt:
            text.append("\nIt began with: ", style="dim")
            text.append(fmt.one_line(terminal_safe(self.head.first_prompt), 160))
        text.append(
            "\nThe new turn runs as a job of the store (codex exec resume), in the folder below.",
            style="dim",
        )
        yield Static(text, id="session-intro")

    def session_id(self) -> str | None:
        return self.codex_session_id
