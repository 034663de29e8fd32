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
_LOCAL_VIEWS = (("jobs", "Jobs"), ("sessions", "Sessions"))


class StatusBar(Static):
    """Always visible: the counts of jobs in each status."""

    def __init__(self, *, views: tuple[tuple[str, str], ...] = _LOCAL_VIEWS, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views = views  # (name, label) of each view the screen switches between
        self.view = views[0][0]
        self.counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        self.total = 0
        self.shown = 0
        self.filter_text = ""
        self.progress: tuple[int, int] | None = None  # (loaded, total) while loading
        self.store_missing = False
        self.frame: int | None = None  # spinner frame while jobs run
        self.notice: tuple[str, str] | None = None  # (text, its role in tui.theme) said last

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
        notice: tuple[str, str] | None | _Keep = KEEP,
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
        if notice is not KEEP:
            self.notice = notice
        self.update(self._render_text(), layout=False)

    def _render_text(self) -> Text:
        """The widest form that fits: counts named, then bare, then without the app's name
        and the statuses with none; else cut between two parts, never inside one."""
        width = self.size.width or 120
        forms = (
            dict(wide=True, brand=True, zeros=True),
            dict(wide=False, brand=True, zeros=True),
            dict(wide=False, brand=False, zeros=True),
            dict(wide=False, brand=False, zeros=False),
        )
        parts: list[Text] = []
        for form in forms:
            parts = self._parts(**form)
            text = Text("", no_wrap=True).join(parts)
            if text.cell_len <= width:
                return text
        text = Text(no_wrap=True)
        for part in parts:
            if text.cell_len + part.cell_len + 2 > width:
                text.append(" …", style="dim")
                break
            text.append_text(part)
        return text

    def _parts(self, *, wide: bool, brand: bool, zeros: bool) -> list[Text]:
        """The line in parts that are shown whole or not at all."""
        palette = palette_of(self.app)
        head = Text()
        if brand:
            head.append(" codex-tui ", style="bold reverse")
        head.append(" ")
        for name, label in self.views:
            head.append(label, style="bold underline" if self.view == name else "dim")
            head.append(" ")
        head.append("│", style="dim")
        parts = [head]
        for status in STATUSES:
            count = self.counts.get(status, 0)
            if not count and (not zeros or status in SHOWN_WHEN_ANY):
                continue
            mark, style = palette.status(status, frame=self.frame if status == JobStatus.RUNNING else None)
            if not count:
                style = Style(dim=True)
            parts.append(Text.assemble("  ", (f"{mark} {count:,}" + (f" {status}" if wide else ""), style)))
        tail = Text()
        if self.store_missing:
            tail.append("  │ ", style="dim")
            tail.append("no store yet: waiting for jobs", style=palette.style("notice", "italic"))
        elif self.progress is not None:
            loaded, total = self.progress
            tail.append("  │ ", style="dim")
            tail.append(f"loading {loaded:,}/{total:,}", style="italic")
        elif self.notice is not None:
            text, role = self.notice
            tail.append("  │ ", style="dim")
            tail.append(fmt.safe(text), style=palette.style(role))
        elif self.filter_text:
            tail.append("  │ ", style="dim")
            tail.append(
                f"{self.shown:,} of {self.total:,} · /{fmt.safe(self.filter_text)}",
                style=palette.style("notice"),
            )
        if tail:
            parts.append(tail)
        return parts

    def on_resize(self) -> None:
        self.update(self._render_text(), layout=False)
