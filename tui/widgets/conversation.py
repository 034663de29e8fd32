"""A session shown as the conversation it was: per turn its prompt, codex's answer (Markdown),
its commands and file changes (folded), status, time and tokens, and buttons to open the
turn's job or continue the session. Every stored string is made terminal-safe first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Collapsible, Static

from jobstore import Conversation, JobStatus, Turn, terminal_safe
from tui import format as fmt
from tui.theme import palette_of

_OUTPUT_LINES_SHOWN = 6
_ENDED = frozenset(str(status) for status in JobStatus if status.is_terminal)


def _block(text: str | None) -> str:
    return terminal_safe(text or "", multiline=True)


def _line(text: str | None) -> str:
    return terminal_safe(" ".join((text or "").split()))


def turn_header(number: int, turn: Turn, now: datetime) -> tuple[str, str]:
    """(status, "Turn 2 · 3m ago · ran 42s · 1.2k tokens · job …") for a turn."""
    parts = [f"Turn {number}"]
    if turn.started_at is not None:
        parts.append(f"{fmt.age(turn.started_at, now)} ago")
    if turn.seconds is not None:
        parts.append(f"ran {fmt.span(turn.seconds)}")
    if turn.tokens is not None:
        parts.append(f"{fmt.tokens(turn.tokens)} tokens")
    if turn.job_id:
        parts.append(f"job {turn.job_id}")
    return turn.status, " · ".join(parts)


class TurnView(Vertical):
    """One turn of a conversation."""

    def __init__(self, number: int, turn: Turn, *, now: datetime, last: bool, continuable: bool) -> None:
        super().__init__(classes="turn")
        self.number = number
        self.turn = turn
        self.now = now
        self.last = last
        self.continuable = continuable

    def compose(self) -> ComposeResult:
        turn = self.turn
        palette = palette_of(self.app)
        status, header = turn_header(self.number, turn, self.now)
        mark, style = palette.status(status)
        yield Static(
            Text.assemble((f"{mark} {status}", style), ("  " + header, "dim")), classes="turn-header"
        )
        yield Static(Text(_block(turn.prompt.strip()) or "(no prompt recorded)"), classes="turn-prompt")
        for after, message in turn.steered:  # a person's messages sent into the running turn
            where = f"after {after} command{'s' if after != 1 else ''}" if after else "before any command"
            yield Static(
                Text.assemble((f"» steered {where}: ", "dim"), _block(message.strip())), classes="turn-steer"
            )
        if turn.error:
            yield Static(Text(_block(turn.error), style=palette.style("error-text")), classes="turn-error")
        if turn.answer:
            # Imported when a conversation is first shown: Markdown (markdown_it) costs the
            # start-up ~15-25 ms otherwise.
            from textual.widgets import Markdown

            yield Markdown(_block(turn.answer.strip()), classes="turn-answer", open_links=False)
        else:
            still = turn.status in ("running", "queued", "unfinished")
            yield Static(
                Text("(no answer yet)" if still else "(no answer)", style="dim italic"), classes="turn-answer"
            )
        if turn.commands:
            count = len(turn.commands)
            with Collapsible(title=f"{count} command{'s' if count != 1 else ''}", classes="turn-commands"):
                yield Static(self._commands_text())
        if turn.file_changes:
            count = len(turn.file_changes)
            with Collapsible(title=f"{count} file change{'s' if count != 1 else ''}", classes="turn-files"):
                yield Static(
                    Text(
                        "\n".join(
                            f"{_line(kind) or 'change'}: {_line(path)}" for kind, path in turn.file_changes
                        )
                    )
                )
        if turn.other:
            unknown = ", ".join(f"{_line(name)} ×{count}" for name, count in turn.other)
            yield Static(
                Text(f"records this reader does not know: {unknown}", style="dim"), classes="turn-other"
            )
        buttons = []
        if turn.job_id:
            buttons.append(Button("Open job", classes="open-turn", compact=True))
        if self.last and self.continuable and turn.status in _ENDED | {"unfinished"}:
            buttons.append(Button("Continue (t)", classes="continue-turn", variant="primary", compact=True))
        if buttons:
            yield Horizontal(*buttons, classes="turn-buttons")

    def _commands_text(self) -> Text:
        palette = palette_of(self.app)
        text = Text()
        for index, run in enumerate(self.turn.commands):
            if index:
                text.append("\n")
            failed = run.exit_code not in (0, None)
            text.append(f"$ {_line(run.command)}", style=palette.style("error-text" if failed else "running"))
            if run.exit_code is not None:
                text.append(f"  [exit {run.exit_code}]", style="dim")
            lines = _block(run.output).rstrip("\n").splitlines()
            if len(lines) > _OUTPUT_LINES_SHOWN:
                text.append(f"\n  … {len(lines) - _OUTPUT_LINES_SHOWN} more lines", style="dim")
            for line in lines[-_OUTPUT_LINES_SHOWN:]:
                text.append(f"\n  {line}", style="dim")
        return text


class ConversationView(VerticalScroll):
    """The conversation of the session selected in the sessions view."""

    @dataclass
    class OpenTurnJob(Message):
        job_id: str

    @dataclass
    class ContinueConversation(Message):
        session_id: str

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.conversation: Conversation | None = None
        self.can_focus = True

    def compose(self) -> ComposeResult:
        yield Static("", id="conversation-intro")

    async def show(self, conversation: Conversation | None, note: str | Text = "") -> None:
        """Draw `conversation` (None: only `note`)."""
        self.conversation = conversation
        await self.query(TurnView).remove()
        intro = self.query_one("#conversation-intro", Static)
        if conversation is None:
            intro.update(note if isinstance(note, Text) else Text(note, style="dim"))
            return
        intro.update(self._intro(conversation))
        now = self.clock()
        count = len(conversation.turns)
        continuable = bool(conversation.cwd)
        await self.mount_all(
            TurnView(n, turn, now=now, last=n == count, continuable=continuable)
            for n, turn in enumerate(conversation.turns, 1)
        )

    def _intro(self, conversation: Conversation) -> Text:
        palette = palette_of(self.app)
        text = Text()
        text.append("session ", style="dim")
        text.append(_line(conversation.session_id), style=palette.style("session", "bold"))
        if not conversation.started_here:
            text.append("  codex's own session, not started here", style=palette.style("notice"))
        text.append(f"\n{_line(conversation.cwd) or '(folder not recorded)'}", style="dim")
        details = " · ".join(f"{_line(k)} {_line(v)}" for k, v in conversation.details.items())
        if details:
            text.append(f"\n{details}", style="dim")
        count = len(conversation.turns)
        text.append(f"\n{count} turn{'s' if count != 1 else ''}, oldest first", style="dim")
        return text

    def scroll_to_turn(self, number: int) -> None:
        """Bring turn `number` (1-based) to the top."""
        turns = list(self.query(TurnView))
        if 1 <= number <= len(turns):
            self.scroll_to_widget(turns[number - 1], top=True, animate=False)

    @on(Button.Pressed, ".open-turn")
    def _open(self, event: Button.Pressed) -> None:
        event.stop()
        turn_view = next(a for a in event.button.ancestors if isinstance(a, TurnView))
        if turn_view.turn.job_id:
            self.post_message(self.OpenTurnJob(turn_view.turn.job_id))

    @on(Button.Pressed, ".continue-turn")
    def _continue(self, event: Button.Pressed) -> None:
        event.stop()
        if self.conversation is not None:
            self.post_message(self.ContinueConversation(self.conversation.session_id))
