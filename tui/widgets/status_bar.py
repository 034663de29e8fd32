"""The top line: which view, counts per status, what the filter shows, loading progress."""

from __future__ import annotations

from enum import Enum

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from jobstore import JobStatus
from tui import format as fmt
from tui.jobs import SHOWN_WHEN_ANY, STATUSES
from tui.theme import palette_of


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # set_state: leave this part as it is


class StatusBar(Static):
    """Always visible: the counts of jobs in each status."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = "jobs"
        self.counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        self.total = 0
        self.shown = 0
        self.filter_text = ""
        self.progress: tuple[int, int] | None = None  # (loaded, total) while loading
        self.store_missing = False
        self.frame: int | None = None  # spinner frame while jobs run

    def set_state(
        self,
        *,
        view: str | None = None,
        counts: dict[str, int] | None = None,
        shown: int | None = None,
        filter_text: str | None = None,
        loading: tuple[int, int] | None | _Keep = KEEP,
        store_missing: bool | None = None,
        frame: int | None | _Keep = KEEP,
    ) -> None:
        """Change what is given; `loading` and `frame` take None to clear them."""
        if view is not None:
            self.view = view
        if counts is not None:
            self.counts = counts
            self.total = sum(counts.values())
        if shown is not None:
            self.shown = shown
        if filter_text is not None:
            self.filter_text = filter_text
        if loading is not KEEP:
            self.progress = loading
        if store_missing is not None:
            self.store_missing = store_missing
        if frame is not KEEP:
            self.frame = frame
        self.update(self._render_text(), layout=False)

    def _render_text(self) -> Text:
        width = self.size.width or 120
        wide = self._compose_text(wide=True)
        return wide if wide.cell_len <= width else self._compose_text(wide=False)

    def _compose_text(self, *, wide: bool) -> Text:
        palette = palette_of(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" codex-tui ", style="bold reverse")
        text.append(" ")
        for name, label in (("jobs", "Jobs"), ("sessions", "Sessions")):
            text.append(label, style="bold underline" if self.view == name else "dim")
            text.append(" ")
        text.append("│", style="dim")
        for status in STATUSES:
            count = self.counts.get(status, 0)
            if not count and status in SHOWN_WHEN_ANY:
                continue
            mark, style = palette.status(status, frame=self.frame if status == JobStatus.RUNNING else None)
            if not count:
                style = Style(dim=True)
            text.append("  ")
            text.append(f"{mark} {count:,}" + (f" {status}" if wide else ""), style=style)
        if self.store_missing:
            text.append("  │ ", style="dim")
            text.append("no store yet: waiting for jobs", style=palette.style("notice", "italic"))
        elif self.progress is not None:
            loaded, total = self.progress
            text.append("  │ ", style="dim")
            text.append(f"loading {loaded:,}/{total:,}", style="italic")
        elif self.filter_text:
            text.append("  │ ", style="dim")
            text.append(
                f"{self.shown:,} of {self.total:,} · /{fmt.safe(self.filter_text)}",
                style=palette.style("notice"),
            )
        return text

    def on_resize(self) -> None:
        self.update(self._render_text(), layout=False)
