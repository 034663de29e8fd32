"""The jobs table: every job, newest first, updated in place by key.

Rows are never rebuilt for a change: a changed job gets `update_cell` for the cells
whose text changed, a new job `add_row` with its id as key, and the cursor is put
back on the job it was on (and the scroll position kept) when rows arrive above it.
Only a change of filter, which may hide or show thousands of rows at once,
rebuilds the table, and then the cursor goes back to the same job.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from jobstore import terminal_safe
from tui import format as fmt
from tui.jobs import JobFilter, JobRow
from tui.theme import palette_of

Cells = tuple[Text, ...]

# key, label, width (None: the prompt column takes what is left)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "Status", 13),  # the mark and the longest status, "interrupted"
    ("id", "Job", 14),
    ("age", "Age", 4),
    ("duration", "Time", 6),
    ("project", "Project", 12),
    ("prompt", "Prompt", None),
    ("session", "Session", 8),
    ("tokens", "Tokens", 6),
)
_MIN_PROMPT = 10
_NARROW = 100  # below this width the status column shows only its mark, and others shrink
_NARROW_WIDTHS = {"status": 1, "project": 7, "session": 8, "tokens": 6}
# The prompt keeps priority: as the table narrows, these columns go, in this order (the detail
# line under the table still shows all of them for the selected job).
_DROPPED_BELOW: tuple[tuple[int, frozenset[str]], ...] = (
    (90, frozenset({"session", "tokens"})),
    (76, frozenset({"session", "tokens", "duration"})),
    (66, frozenset({"session", "tokens", "duration", "project", "id"})),
)


class JobRowsTable(DataTable[Text]):
    """A table with a job a row (its id the row's key), moved through with j/k/g/G."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "First job", show=False),
        Binding("G", "scroll_bottom", "Last job", show=False),
    ]

    def action_scroll_top(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class JobsTable(JobRowsTable):
    """All jobs (that pass the filter), newest first."""

    @dataclass
    class NewAbove(Message):
        """How many jobs arrived above the rows shown since the top was last seen."""

        count: int

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(
            cursor_type="row", zebra_stripes=False, id=id, cursor_foreground_priority="renderable"
        )
        self.clock = clock
        self.filter = JobFilter()
        self._rows: dict[str, JobRow] = {}  # the rows shown
        self._cells: dict[str, Cells] = {}
        self._running_ids: set[str] = set()
        self._active_ids: set[str] = set()
        self._age_due: list[tuple[float, str]] = []  # heap of (when the age text changes, job)
        self._age_due_at: dict[str, float] = {}
        self._column_keys = [ColumnKey(key) for key, _, _ in COLUMNS]
        self._hidden: frozenset[str] = frozenset()
        self.new_above = 0  # jobs added above the view, unseen: shown by the pane

    def on_mount(self) -> None:
        self._add_columns()
        self._fit_columns()

    def _add_columns(self) -> None:
        for key, label, width in COLUMNS:
            if key not in self._hidden:
                self.add_column(label, width=width or _MIN_PROMPT, key=key)

    def _shown(self, cells: Cells) -> Cells:
        """The cells of the columns shown."""
        return tuple(
            cell for (key, _, _), cell in zip(COLUMNS, cells, strict=True) if key not in self._hidden
        )

    # ----------------------------------------------------------------- queries

    @property
    def shown(self) -> int:
        return len(self._rows)

    @property
    def selected_job_id(self) -> str | None:
        if not self._rows or self.row_count == 0:
            return None
        try:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return key.value

    # ----------------------------------------------------------------- cells

    def _render_cells(self, row: JobRow, now: datetime) -> Cells:
        palette = palette_of(self.app)
        mark, style = palette.status(row.status)
        if row.is_unreadable:
            prompt = Text(
                fmt.one_line(_without_job_prefix(row.error or "", row.job_id)),
                style=palette.style("error-text", "italic"),
            )
        else:
            prompt = Text(fmt.one_line(row.first_line))
        return (
            Text.assemble((mark, style), " ", (fmt.status_label(row), style)),
            Text(row.job_id, style="dim" if row.is_terminal else ""),
            _age_cell(row, now),
            _duration_cell(row, now),
            Text(terminal_safe(row.project)),
            prompt,
            Text(fmt.short_session(row.session_id), style=palette.style("session")),
            Text(fmt.tokens(row.tokens), justify="right"),
        )

    def _refresh_row(self, job_id: str, now: datetime) -> None:
        """The row's job changed: update the cells whose content changed."""
        row = self._rows[job_id]
        cells = self._render_cells(row, now)
        old = self._cells.get(job_id)
        if old is None:
            return
        for index, (new, before) in enumerate(zip(cells, old, strict=True)):
            if COLUMNS[index][0] not in self._hidden and not same_cell(new, before):
                self.update_cell(job_id, self._column_keys[index], new)
        self._cells[job_id] = cells
        self._track(row, now)

    def _set_cell(self, job_id: str, index: int, cell: Text) -> None:
        cells = self._cells[job_id]
        if not same_cell(cell, cells[index]):
            if COLUMNS[index][0] not in self._hidden:
                self.update_cell(job_id, self._column_keys[index], cell)
            self._cells[job_id] = (*cells[:index], cell, *cells[index + 1 :])

    def _track(self, row: JobRow, now: datetime) -> None:
        """Remember when this row's age text will change, and whether it runs."""
        if row.is_running:
            self._running_ids.add(row.job_id)
        else:
            self._running_ids.discard(row.job_id)
        if row.is_active:
            self._active_ids.add(row.job_id)
        else:
            self._active_ids.discard(row.job_id)
        if row.created_at is not None:
            due = now.timestamp() + fmt.age_changes_in(row.created_at, now)
            self._age_due_at[row.job_id] = due
            heapq.heappush(self._age_due, (due, row.job_id))

    def _forget(self, job_id: str) -> None:
        self._running_ids.discard(job_id)
        self._active_ids.discard(job_id)
        self._age_due_at.pop(job_id, None)  # its heap entry is skipped when it comes up

    # ---------------------------------------------------------------- updates

    def upsert(self, rows: Iterable[JobRow]) -> None:
        """Show changed and new jobs (those that pass the filter); drop those that no longer pass."""
        now = self.clock()
        new: list[JobRow] = []
        gone: list[str] = []
        for row in rows:
            shown = row.job_id in self._rows
            if not self.filter.matches(row):
                if shown:
                    gone.append(row.job_id)
                continue
            if shown:
                self._rows[row.job_id] = row
                self._refresh_row(row.job_id, now)
            else:
                new.append(row)
        if gone:
            self.remove_jobs(gone)
        if new:
            self._add(new, now)

    def _add(self, rows: list[JobRow], now: datetime) -> None:
        rows.sort(key=lambda r: r.job_id, reverse=True)
        selected = self.selected_job_id
        oldest = min(self._rows) if self._rows else None
        top = int(self.scroll_y)
        top_job = self._job_at(top) if top > 0 else None
        for row in rows:
            self._rows[row.job_id] = row
            cells = self._render_cells(row, now)
            self._cells[row.job_id] = cells
            self._track(row, now)
            self.add_row(*self._shown(cells), key=row.job_id)
        if oldest is None or rows[0].job_id < oldest:
            return  # appended below everything: nothing moved
        self.sort("id", key=lambda cell: cell.plain, reverse=True)
        if top_job is not None:
            # Rows arrived above the view: keep showing the same jobs.
            above_view = sum(1 for r in rows if r.job_id > top_job)
            if above_view:
                self.call_after_refresh(self._set_scroll_y, top + above_view)
                self._set_new_above(self.new_above + above_view)
        if selected is not None and any(r.job_id > selected for r in rows):
            # Keep the cursor on its job.
            self.move_cursor(row=self.get_row_index(selected), scroll=False)

    def _job_at(self, index: int) -> str | None:
        try:
            key, _ = self.coordinate_to_cell_key(Coordinate(index, 0))
        except CellDoesNotExist:
            return None
        return key.value

    def _set_scroll_y(self, y: int) -> None:
        self.scroll_to(y=y, animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < 1:  # the top is seen: nothing new above any more
            self._set_new_above(0)

    def _set_new_above(self, count: int) -> None:
        if count != self.new_above:
            self.new_above = count
            self.post_message(self.NewAbove(count))

    def remove_jobs(self, job_ids: Iterable[str]) -> None:
        ids = [j for j in job_ids if j in self._rows]
        if not ids:
            return
        if len(ids) > 50:
            remaining = [r for j, r in self._rows.items() if j not in set(ids)]
            self._rebuild(remaining)
            return
        selected = self.selected_job_id
        top = int(self.scroll_y)
        removed_above_view = 0
        for job_id in ids:
            try:
                if self.get_row_index(job_id) < top:
                    removed_above_view += 1
                self.remove_row(job_id)
            except RowDoesNotExist:
                pass
            self._rows.pop(job_id, None)
            self._cells.pop(job_id, None)
            self._forget(job_id)
        if selected is not None and selected in self._rows:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)
        if removed_above_view:
            self.call_after_refresh(self._set_scroll_y, max(0, top - removed_above_view))

    def set_filter(self, job_filter: JobFilter, all_rows: Iterable[JobRow]) -> None:
        self.filter = job_filter
        self._rebuild([r for r in all_rows if job_filter.matches(r)])

    def _rebuild(self, rows: list[JobRow]) -> None:
        selected = self.selected_job_id
        now = self.clock()
        rows.sort(key=lambda r: r.job_id, reverse=True)
        self.clear()
        self._set_new_above(0)  # a new view of the jobs, from its top
        self._rows = {}
        self._cells = {}
        self._running_ids.clear()
        self._active_ids.clear()
        self._age_due.clear()
        self._age_due_at.clear()
        for row in rows:
            cells = self._render_cells(row, now)
            self._rows[row.job_id] = row
            self._cells[row.job_id] = cells
            self._track(row, now)
            self.add_row(*self._shown(cells), key=row.job_id)
        if selected is not None and selected in self._rows:
            self.move_cursor(row=self.get_row_index(selected))

    def select_job(self, job_id: str) -> bool:
        if job_id not in self._rows:
            return False
        self.move_cursor(row=self.get_row_index(job_id))
        return True

    def tick(self) -> None:
        """Redraw what time changes, and only that: durations of active jobs, and the ages
        that are due to change (a heap, not a pass over every row). A cell update repaints
        the whole table, so nothing here animates."""
        now = self.clock()
        for job_id in self._active_ids:
            self._set_cell(job_id, 3, _duration_cell(self._rows[job_id], now))
        stamp = now.timestamp()
        heap = self._age_due
        while heap and heap[0][0] <= stamp:
            due, job_id = heapq.heappop(heap)
            if self._age_due_at.get(job_id) != due:
                continue  # stale: the row changed or went since
            row = self._rows[job_id]
            self._set_cell(job_id, 2, _age_cell(row, now))
            self._track(row, now)

    # ---------------------------------------------------------------- layout

    def on_resize(self, event: Resize) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Fixed widths that fit the table's width; the prompt column takes what is left."""
        if not self.columns:
            return
        # Leave room for the vertical scrollbar whether or not it shows yet.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0:
            return
        narrow = width < _NARROW
        hidden = next((keys for below, keys in reversed(_DROPPED_BELOW) if width < below), frozenset())
        if hidden != self._hidden:
            selected = self.selected_job_id
            self._hidden = hidden
            self.clear(columns=True)
            self._add_columns()
            self._rebuild(list(self._rows.values()))
            if selected is not None:
                self.select_job(selected)
        widths = {key: w for key, _, w in COLUMNS if w is not None and key not in hidden}
        if narrow:
            widths.update({k: v for k, v in _NARROW_WIDTHS.items() if k not in hidden})
        padding = 2 * self.cell_padding * (len(COLUMNS) - len(hidden))
        widths["prompt"] = max(_MIN_PROMPT, width - sum(widths.values()) - padding)
        changed = False
        for key, value in widths.items():
            column = self.columns[ColumnKey(key)]
            if column.width != value:
                column.width = value
                changed = True
        if changed:
            self._clear_caches()  # column widths are cached with the rendered rows
            self.refresh(layout=True)


def _without_job_prefix(reason: str, job_id: str) -> str:
    prefix = f"job {job_id}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def same_cell(a: Text, b: Text) -> bool:
    """Whether two cells look the same (Text's == compares no style)."""
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


def _age_cell(row: JobRow, now: datetime) -> Text:
    return Text(fmt.age(row.created_at, now), justify="right")


def _duration_cell(row: JobRow, now: datetime) -> Text:
    return Text(fmt.duration(row, now), justify="right")
