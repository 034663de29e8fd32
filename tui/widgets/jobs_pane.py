"""The jobs pane: the filter line over the jobs table. It turns what is typed into a
`JobFilter` (with a short pause between keys on big stores) and says when it changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from tui.jobs import JobFilter
from tui.widgets.jobs_table import JobsTable

# On a big store (the screen sets `debounce`), filtering waits for a short pause between keys.
DEBOUNCE_ABOVE_JOBS = 2_000
_DEBOUNCE_SECONDS = 0.15


class JobsPane(Vertical):
    """Filter line and jobs table."""

    @dataclass
    class FilterChanged(Message):
        job_filter: JobFilter

    def __init__(self, clock: Callable[[], datetime], *, animations: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.animations = animations
        self.job_filter = JobFilter()
        self.debounce = False
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: words · a status (running, error…) · project:NAME — "
            "enter keeps it, esc clears",
            id="filter",
            compact=True,
        )
        yield JobsTable(self.clock, id="jobs")

    def on_mount(self) -> None:
        self.border_title = "Jobs"
        field = self.filter_input
        field.display = False
        if not self.animations:
            field.cursor_blink = False

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    def open_filter(self) -> None:
        field = self.filter_input
        field.display = True
        field.focus()

    def clear_filter(self) -> None:
        field = self.filter_input
        field.value = ""
        field.display = False
        self._set(JobFilter())
        self.table.focus()

    @on(JobsTable.NewAbove)
    def _new_above(self, message: JobsTable.NewAbove) -> None:
        """Jobs that arrived above the rows shown are said on the border until the top is seen."""
        message.stop()
        count = message.count
        self.border_subtitle = f"↑ {count} new job{'s' if count != 1 else ''} above" if count else ""

    @on(Input.Changed, "#filter")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        job_filter = JobFilter.parse(event.value)
        if self.debounce:
            self._timer = self.set_timer(_DEBOUNCE_SECONDS, lambda: self._set(job_filter))
        else:
            self._set(job_filter)

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._set(JobFilter.parse(event.value))
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def _set(self, job_filter: JobFilter) -> None:
        if job_filter == self.job_filter:
            return
        self.job_filter = job_filter
        self.post_message(self.FilterChanged(job_filter))
