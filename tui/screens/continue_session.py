"""Continue a codex session: a new turn with a new prompt, in the session's folder."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from jobstore import JobStore, SessionInfo
from tui import format as fmt
from tui.screens.new_job import StartJobScreen
from tui.theme import palette_of


class ContinueSessionScreen(StartJobScreen):
    TITLE_TEXT = "Continue session"

    def __init__(self, store: JobStore, session: SessionInfo, *, animations: bool = True) -> None:
        last = session.turns[-1]
        # The next turn is offered the options the last one ran with.
        super().__init__(
            store,
            cwd=session.cwd,
            approval_policy=last.approval_policy,
            sandbox=last.sandbox,
            model=last.model,
            reasoning_effort=last.reasoning_effort,
            animations=animations,
            worktree=last.worktree,  # a worktree job's session goes on in its worktree
        )
        self.session = session

    def compose_intro(self) -> ComposeResult:
        palette = palette_of(self.app)
        text = Text()
        text.append("session ", style="dim")
        text.append(self.session.session_id, style=palette.style("session", "bold"))
        text.append(f"\n{fmt.safe(self.session.cwd)}", style="dim")
        turns = self.session.turns
        shown = list(enumerate(turns, 1))[-3:]
        text.append(
            "\nTurns so far:" if len(shown) == len(turns) else f"\nThe last 3 of {len(turns)} turns:",
            style="dim",
        )
        for number, turn in shown:
            mark, style = palette.status(turn.status)
            text.append(f"\n{mark} {number}. ", style=style)
            text.append(fmt.one_line(turn.prompt, 90))
        busy = next((t for t in turns if not t.is_terminal), None)
        if busy is not None:
            text.append(
                f"\nTurn {turns.index(busy) + 1} (job {busy.job_id}) is still {busy.status}: codex takes one "
                "turn at a time, so wait for it to end before starting the next.",
                style=palette.style("notice"),
            )
        yield Static(text, id="session-intro")

    def compose_cwd(self) -> ComposeResult:
        yield from ()

    def cwd_value(self) -> str:
        return self.session.cwd

    def session_id(self) -> str | None:
        return self.session.session_id
