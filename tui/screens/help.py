"""`?`: every key, from the bindings themselves, and the filter syntax."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.theme import palette_of
from tui.widgets.output_view import OutputView

FILTER_HELP = (
    "Filter (/): words that must all match. A status name (running, error…) or status:NAME keeps "
    "jobs in that status; project:NAME keeps jobs whose folder contains NAME; any other word is "
    "looked for in the job id, prompt, folder, session and error. Enter keeps the filter, Esc clears it."
)


_OUTPUT_SCROLL_KEYS: list[BindingType] = [
    Binding("up,k / down,j", "", "Scroll (pauses following)"),
    Binding("pageup / pagedown", "", "Scroll a page (earlier lines are read as you go)"),
    Binding("home, g", "", "The output's first line"),
    Binding("end, f, G", "", "Follow the end again"),
]
_TABLE_KEYS: list[BindingType] = [
    Binding("up,k / down,j", "", "Move"),
    Binding("enter", "", "Focus the output (esc: back)"),
    Binding("g / G", "", "First / last job"),
]
_EVERYWHERE = Binding("ctrl+p", "command_palette", "Command palette")


TEAM_HELP = (
    "The team view reads the team's Redis and never writes to it (a cancel, asked first, is the one "
    "write): the newest team jobs of every machine, updated as jobs start and end, and the selected "
    "job's output as its machine copies it. Earlier output than the end read here is on that machine: "
    "codex-async show LOCAL_ID there."
)


def _key_display(key: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "ctrl+p": "ctrl+p"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def binding_rows(sections: Iterable[tuple[str, Iterable[BindingType]]], key_style: Style) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style=key_style, no_wrap=True)
    table.add_column()
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), "")
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            table.add_row(
                _key_display(binding.key_display or binding.key), binding.tooltip or binding.description
            )
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[BindingType]]], note: str = FILTER_HELP) -> None:
        super().__init__()
        self.sections = sections
        self.note = note

    @classmethod
    def for_bindings(cls, bindings: Iterable[BindingType]) -> HelpScreen:
        """The keys of the jobs screen (`bindings`), of its widgets and of the dialogs."""
        return cls(
            [
                ("Everywhere", [*bindings, _EVERYWHERE]),
                ("Jobs table", _TABLE_KEYS),
                ("Output", [*_OUTPUT_SCROLL_KEYS, *OutputView.BINDINGS]),
                (
                    "Sessions",
                    [Binding("enter", "", "Open the turn's job"), Binding("t", "", "Continue the session")],
                ),
                ("Message line (m)", [Binding("enter / esc", "", "Send the message / close the line")]),
                ("Dialogs", [Binding("y / n, esc", "", "Confirm / decline"), Binding("ctrl+s", "", "Start")]),
            ]
        )

    @classmethod
    def for_team(cls, bindings: Iterable[BindingType]) -> HelpScreen:
        """The keys of the team screen (`bindings`), of its widgets and of the dialogs."""
        return cls(
            [
                ("Everywhere", [*bindings, _EVERYWHERE]),
                ("Team jobs table", _TABLE_KEYS),
                ("Output (the team's copy in Redis, its end)", _OUTPUT_SCROLL_KEYS),
                ("Dialogs", [Binding("y / n, esc", "", "Confirm / decline")]),
            ],
            TEAM_HELP,
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"), VerticalScroll():
            yield Static(binding_rows(self.sections, palette_of(self.app).style("key")))
            yield Static(Text(self.note, style="dim"))

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "Keys"
        dialog.border_subtitle = "esc to close"

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
