"""A yes/no question: `y` confirms, `n` or `esc` declines."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from jobstore import terminal_safe
from tui import format as fmt


def job_question(verb: str, job_id: str, status: str, prompt: str, cwd: str, consequence: str) -> Text:
    """What a confirmation dialog asks of a job: the job (its prompt's first line, its folder)
    and what the action does to it."""
    message = Text()
    message.append(f"{verb} job ")
    message.append(fmt.safe(job_id), style="bold")
    message.append(f" ({status})?\n\n")
    message.append(fmt.one_line(prompt, 160), style="italic")
    message.append(f"\n{terminal_safe(cwd)}", style="dim")
    message.append(f"\n\n{consequence}", style="dim")
    return message


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, message: str | Text, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="default")

    def on_mount(self) -> None:
        self.query_one("#confirm-dialog").border_title = self.title_text
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
