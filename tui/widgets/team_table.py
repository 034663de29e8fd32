"""The team's jobs table: the newest team jobs of every machine, updated in place by key.

A listing read from Redis (newest first) is laid over the rows shown: a job whose cells read
differently gets `update_cell` for those cells, a new job a row, a job no longer listed loses
its row, and the cursor stays on its job. Every text shown comes from Redis (prompts, host
names): it goes through `tui.format` (made terminal-safe) into Rich `Text`, never markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual.events import Resize
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from team import TeamJob
from tui import format as fmt
from tui.theme import palette_of
from tui.widgets.jobs_table import JobRowsTable, same_cell

Cells = tuple[Text, ...]

# key, label, width (None: the prompt column takes what is left)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "Status", 12),  # the mark and the longest status, "cancelling"
    ("host", "Host", 14),
    ("id", "Team job", 14),
    ("age", "Age", 4),
    ("prompt", "Prompt", None),
)
SHORT_ID_CHARS = 13  # "t" and 12 of its 32 hex digits: apart in any team's listing; the detail has it whole
_MIN_PROMPT = 10


def status_label(job: TeamJob) -> str:
    return "cancelling" if job.cancel_requested and not job.is_terminal else job.status.value


def short_id(team_job_id: str) -> str:
    return team_job_id if len(team_job_id) <= SHORT_ID_CHARS else team_job_id[: SHORT_ID_CHARS - 1] + "…"


def enqueued_at(job: TeamJob) -> datetime:
    return datetime.fromtimestamp(job.asked.enqueued_at, UTC)


class TeamJobsTable(JobRowsTable):
    """The team's newest jobs, newest first."""

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(
            cursor_type="row", zebra_stripes=False, id=id, cursor_foreground_priority="renderable"
        )
        self.clock = clock
        self.jobs: dict[str, TeamJob] = {}  # the jobs shown, newest first
        self._cells: dict[str, Cells] = {}
        self._column_keys = [ColumnKey(key) for key, _, _ in COLUMNS]

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, width=width or _MIN_PROMPT, key=key)
        self._fit_columns()

    @property
    def selected_job(self) -> TeamJob | None:
        if not self.jobs:
            return None
        try:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return self.jobs.get(key.value or "")

    def _render_cells(self, job: TeamJob, now: datetime) -> Cells:
        palette = palette_of(self.app)
        mark, style = palette.status(job.status)
        host = Text(fmt.safe(job.host)) if job.host else Text(fmt.safe(job.asked.host or "any"), style="dim")
        return (
            Text.assemble((mark, style), " ", (status_label(job), style)),
            host,
            Text(short_id(fmt.safe(job.team_job_id)), style="dim" if job.is_terminal else ""),
            Text(fmt.age(enqueued_at(job), now), justify="right"),
            Text(fmt.one_line(job.prompt)),
        )

    def show(self, jobs: list[TeamJob]) -> None:
        """Lay this listing (newest first) over the rows, the cursor kept on its job: cells
        updated in place; rows laid out again only when the jobs listed or their order changed
        (a job enqueued, or one gone from the listing), as a filter rebuilds the local table."""
        now = self.clock()
        selected = self.selected_job
        cells = {job.team_job_id: self._render_cells(job, now) for job in jobs}
        if list(cells) != list(self.jobs):
            self.clear()
            for team_job_id, row in cells.items():
                self.add_row(*row, key=team_job_id)
        else:
            for team_job_id, row in cells.items():
                for key, new, before in zip(self._column_keys, row, self._cells[team_job_id], strict=True):
                    if not same_cell(new, before):
                        self.update_cell(team_job_id, key, new)
        self.jobs = {job.team_job_id: job for job in jobs}
        self._cells = cells
        if selected is not None and selected.team_job_id in self.jobs:
            self.move_cursor(row=self.get_row_index(selected.team_job_id), scroll=False)

    def update_job(self, job: TeamJob) -> None:
        """One job read anew (a cancel's answer), shown before the next listing."""
        if job.team_job_id in self.jobs:
            self.show([job if each.team_job_id == job.team_job_id else each for each in self.jobs.values()])

    def tick(self) -> None:
        """The ages move with the clock."""
        now = self.clock()
        for team_job_id, job in self.jobs.items():
            cells = self._cells[team_job_id]
            age = Text(fmt.age(enqueued_at(job), now), justify="right")
            if not same_cell(age, cells[3]):
                self.update_cell(team_job_id, self._column_keys[3], age)
                self._cells[team_job_id] = (*cells[:3], age, *cells[4:])

    def on_resize(self, event: Resize) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Fixed widths; the prompt column takes what is left."""
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0 or not self.columns:
            return
        fixed = sum(each for _, _, each in COLUMNS if each is not None)
        prompt = max(_MIN_PROMPT, width - fixed - 2 * self.cell_padding * len(COLUMNS))
        column = self.columns[ColumnKey("prompt")]
        if column.width != prompt:
            column.width = prompt
            self._clear_caches()  # column widths are cached with the rendered rows
            self.refresh(layout=True)
