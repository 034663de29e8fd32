"""The top line: which view, counts per status, what the filter shows, loading progress."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.format import status_mark
from tui.jobs import STATUSES


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
        loading: tuple[int, int] | None | bool = False,
        store_missing: bool | None = None,
        frame: int | None | bool = False,
    ) -> None:
        if view is not None:
            self.view = view
        if counts is not None:
            self.counts = counts
            self.total = sum(counts.values())
        if shown is not None:
            self.shown = shown
        if filter_text is not None:
            self.filter_text = filter_text
        if loading is not False:
            self.progress = loading  # type: ignore[assignment]
        if store_missing is not None:
            self.store_missing = store_missing
        if frame is not False:
            self.frame = frame  # type: ignore[assignment]
        self.update(self._render_text(), layout=False)

    def _render_text(self) -> Text:
        width = self.size.width or 120
        wide = self._compose_text(wide=True)
        return wide if wide.cell_len <= width else self._compose_text(wide=False)

    def _compose_text(self, *, wide: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" codex-tui ", style="bold reverse")
        text.append(" ")
        for name, label in (("jobs", "Jobs"), ("sessions", "Sessions")):
            style = "bold underline" if self.view == name else "dim"
            text.append(label, style=style)
            text.append(" ")
        text.append("│", style="dim")
        for status in STATUSES:
            count = self.counts.get(status, 0)
            mark, style = status_mark(status, frame=self.frame if status == "running" else None)
            if not count:
                style = "dim"
            text.append("  ")
            text.append(f"{mark} {count:,}" + (f" {status}" if wide else ""), style=style)
        if self.store_missing:
            text.append("  │ ", style="dim")
            text.append("no store yet: waiting for jobs", style="italic #d7ba7d")
        elif self.progress is not None:
            loaded, total = self.progress
            text.append("  │ ", style="dim")
            text.append(f"loading {loaded:,}/{total:,}", style="italic")
        elif self.filter_text:
            text.append("  │ ", style="dim")
            text.append(f"{self.shown:,} of {self.total:,} · /{self.filter_text}", style="#d7ba7d")
        return text

    def on_resize(self) -> None:
        self.update(self._render_text(), layout=False)
