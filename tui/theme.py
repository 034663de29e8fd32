"""Colours from the app's theme: status marks, session ids, warnings and errors take theme
variables ($text-success, $text-error, ...), so a Textual theme recolours them too."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from rich.style import Style
from textual.app import App
from textual.color import Color, ColorParseError

from jobstore import UNREADABLE, JobStatus
from tui import format as fmt

# role -> (theme variable, text style). A role is a job status or one of the names below.
ROLES: dict[str, tuple[str, str]] = {
    JobStatus.RUNNING: ("text-primary", "bold"),
    JobStatus.WAITING: ("text-warning", "bold"),  # it needs a person
    JobStatus.QUEUED: ("text-warning", ""),
    JobStatus.DONE: ("text-success", ""),
    JobStatus.ERROR: ("text-error", "bold"),
    JobStatus.CANCELLED: ("text-secondary", ""),
    JobStatus.LOST: ("warning", ""),
    JobStatus.INTERRUPTED: ("text-secondary", ""),
    UNREADABLE: ("text-error", "bold"),
    "session": ("text-accent", ""),  # session ids
    "key": ("text-accent", "bold"),  # keys in the help
    "notice": ("text-warning", ""),  # a state worth noticing: no store yet, a filter on
    "error-text": ("text-error", ""),  # an error message (not a status: "error" is one)
    "muted": ("text-muted", ""),  # what is worth a glance only: where the team's Redis is
}


class Palette:
    """Rich styles for roles, from one set of theme variables."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables

    def style(self, role: str, extra: str = "") -> Style:
        variable, text_style = ROLES.get(role, ("", ""))
        return _style(self.variables.get(variable, ""), f"{text_style} {extra}".strip())

    def status(self, status: str, *, frame: int | None = None) -> tuple[str, Style]:
        """A status's mark (the spinner's frame for a running job) and its style."""
        return fmt.status_glyph(status, frame=frame), self.style(status)


@lru_cache(maxsize=256)
def _style(value: str, text_style: str) -> Style:
    base = Style.parse(text_style) if text_style else Style()
    try:
        color = Color.parse(value)
    except ColorParseError:
        return base  # an unknown variable or value: the text keeps the widget's colour
    return base + Style(color=color.rich_color)


def palette_of(app: App[object]) -> Palette:
    """The palette of the app's current theme."""
    return Palette(app.theme_variables)
