"""The team view: the team's newest jobs on every machine, live, and the selected one's output.

The screen owns its flow. One connection to the team's Redis (`team.TeamClient`, opened on
first use, closed with the screen); one reader (`_watch`, a worker on the app's loop) that
blocks on the team's state stream (`TeamClient.changes`, a timeout each time) and lists the
newest jobs again when a job started or ended, and every `team_relist_seconds` (an enqueue or
a cancel asked writes no state change); the output pane (`tui.widgets.team_output`) follows
the selected job's output. Workers talk to the screen through messages only (`TeamJobsRead`,
`TeamUnreachable`, `TeamCancelFinished`); a flood of changes is one listing (changes that
come while one is read or drawn are read together by the next read of the stream). Reading
never writes to Redis; the one write is a cancel, asked first. An unreachable Redis is said
in the status line, plainly, and tried again; what was shown stays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker

from jobstore import JobStatus, JobStoreError
from team import TeamClient, TeamJob, TeamUnavailable
from tui import format as fmt
from tui.config import TuiConfig
from tui.jobs import STATUSES
from tui.messages import TeamCancelFinished, TeamJobsRead, TeamUnreachable
from tui.screens.keys import TEAM_SCREEN_KEYS
from tui.theme import palette_of
from tui.widgets.footer import FittedFooter
from tui.widgets.output_log import OutputLog
from tui.widgets.status_bar import StatusBar
from tui.widgets.team_output import TeamOutputView
from tui.widgets.team_table import TeamJobsTable, enqueued_at, status_label
from tui.workers import Task, failed_worker

# Listings at most this often, however fast jobs start and end: a flood is read in a few.
_LIST_GAP_SECONDS = 0.25


class TeamScreen(Screen[None]):
    """The team's jobs, from its Redis."""

    BINDINGS: ClassVar[list[BindingType]] = TEAM_SCREEN_KEYS

    def __init__(self, config: TuiConfig) -> None:
        super().__init__()
        assert config.redis_url is not None, "the team view needs the team's Redis"
        self.config = config
        self.team = TeamClient(config.redis_url, read_seconds=config.team_read_seconds)
        self.listed = False  # a listing was drawn
        self.reachable: bool | None = None  # None: not known yet
        self._listing_drawn = asyncio.Event()  # the last listing is drawn: the next may come
        self._list_now = asyncio.Event()  # a listing is wanted now (ctrl+r, a cancel)

    def compose(self) -> ComposeResult:
        yield StatusBar(views=(("team", "Team jobs"),), id="status-bar")
        yield Static(id="team-problem")  # shown while Redis does not answer
        with Vertical(id="team-view"):
            with Vertical(id="team-pane"):
                yield TeamJobsTable(self.config.clock, id="team-jobs")
            yield Static(id="team-detail")
            yield TeamOutputView(self.team, self.config, id="team-output")
        yield FittedFooter(compact=True)

    @property
    def table(self) -> TeamJobsTable:
        return self.query_one(TeamJobsTable)

    @property
    def output(self) -> TeamOutputView:
        return self.query_one(TeamOutputView)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def selected_job(self) -> TeamJob | None:
        return self.table.selected_job

    def on_mount(self) -> None:
        self.query_one("#team-pane").border_title = "Team jobs · every machine"
        self.table.focus()
        self._say_where(f"reading {self.team.address}…", "muted")
        self._listing_drawn.set()
        self.run_worker(self._watch(), group=Task.TEAM, name="read the team's jobs", exit_on_error=False)
        if self.config.clock_tick_seconds > 0:
            self.set_interval(self.config.clock_tick_seconds, self._clock_tick, name="clock")

    async def on_unmount(self) -> None:
        await self.team.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Under a dialog this screen's keys are not offered (its footer stops showing them)."""
        return self.app.screen is self

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        failed_worker(self, event)

    # ------------------------------------------------------------ the reader

    async def _watch(self) -> None:
        """List the newest jobs, then again at each start or end on the state stream (and
        every `team_relist_seconds`), until the screen goes. Redis away: said, tried again."""
        config = self.config
        after: str | None = None  # the last state change seen (None: list, then read after the newest)
        listed_at = 0.0
        while True:
            try:
                if after is None:
                    after = await self.team.latest_change_id()
                    due = True
                else:
                    changes = await self.team.changes(after, self._block_seconds(listed_at))
                    if changes:
                        after = changes[-1].entry_id
                    relist = config.team_relist_seconds
                    due = bool(changes) or self._list_now.is_set()
                    due = due or (relist > 0 and time.monotonic() - listed_at >= relist)
                if due:
                    await asyncio.sleep(max(0.0, listed_at + _LIST_GAP_SECONDS - time.monotonic()))
                    await self._listing_drawn.wait()
                    self._list_now.clear()
                    jobs = await self.team.jobs(config.team_limit)
                    listed_at = time.monotonic()
                    self._listing_drawn.clear()
                    self.post_message(TeamJobsRead(jobs))
            except TeamUnavailable as exc:
                self.post_message(TeamUnreachable(exc.cause, config.team_retry_seconds))
                after = None  # what changed meanwhile is in the next listing
                await asyncio.sleep(config.team_retry_seconds)

    def _block_seconds(self, listed_at: float) -> float:
        """How long a read of the state stream waits: until the next listing is due, at most
        `team_block_seconds`; briefly while a listing is wanted now."""
        if self._list_now.is_set():
            return 0.001
        block = self.config.team_block_seconds
        relist = self.config.team_relist_seconds
        if relist > 0:
            block = min(block, max(0.001, listed_at + relist - time.monotonic()))
        return block

    def list_now(self) -> None:
        """Read the listing again at once (the reader's stream read ends within a moment)."""
        self._list_now.set()

    @on(TeamJobsRead)
    def _jobs_read(self, message: TeamJobsRead) -> None:
        self._listing_drawn.set()
        self.listed = True
        self.reachable = True
        self.query_one("#team-problem", Static).display = False
        self.table.show(message.jobs)
        self._show_counts(message.jobs)
        self._say_where(f"live from {self.team.address} · the newest {self.config.team_limit}", "muted")
        self._selection_changed()

    @on(TeamUnreachable)
    def _unreachable(self, message: TeamUnreachable) -> None:
        self.reachable = False
        self._say_where(f"Redis at {self.team.address} did not answer", "error-text")
        problem = self.query_one("#team-problem", Static)
        cause = fmt.one_line(message.cause, 300)
        shown = "the jobs shown are as last read" if self.listed else "nothing read yet"
        said = f"The team's Redis at {self.team.address} did not answer ({cause}). "
        said += f"Trying again every {message.retry_seconds:g}s; {shown}."
        problem.update(Text(said, style=palette_of(self.app).style("error-text")))
        problem.display = True

    def _show_counts(self, jobs: Iterable[TeamJob]) -> None:
        counts = dict.fromkeys(STATUSES, 0)
        for job in jobs:
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        self.status_bar.set_state(counts=counts)

    def _say_where(self, text: str, role: str) -> None:
        self.status_bar.set_state(notice=(text, role))

    def _clock_tick(self) -> None:
        self.table.tick()
        self._show_detail(self.selected_job)

    # ------------------------------------------------------------ selection

    @on(DataTable.RowHighlighted, "#team-jobs")
    def _row_highlighted(self) -> None:
        self._selection_changed()

    def _selection_changed(self) -> None:
        job = self.selected_job
        self._show_detail(job)
        self.output.show_job(job)

    def _show_detail(self, job: TeamJob | None) -> None:
        self.query_one("#team-detail", Static).update(detail_text(job, self.config))

    @on(DataTable.RowSelected, "#team-jobs")
    def _row_selected(self) -> None:
        self.query_one(OutputLog).focus()

    # ------------------------------------------------------------ actions

    def action_local(self) -> None:
        """Back to this machine's jobs."""
        self.app.pop_screen()

    def action_follow(self) -> None:
        self.output.follow()

    def action_back(self) -> None:
        if isinstance(self.focused, OutputLog):
            self.table.focus()

    def action_relist(self) -> None:
        self.list_now()
        self.notify("Reading the team's jobs again…", timeout=2)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen  # a dialog: loaded when first opened

        self.app.push_screen(HelpScreen.for_team(self.BINDINGS))

    def action_cancel_job(self) -> None:
        job = self.selected_job
        if job is None:
            self.notify("Select a team job to cancel.", severity="warning")
            return
        if job.is_terminal:
            self.notify(
                f"Team job {job.team_job_id} is {job.status}: only queued or running jobs can be cancelled."
            )
            return
        if job.cancel_requested:
            self.notify(f"Team job {job.team_job_id} is already being cancelled.")
            return
        from tui.screens.confirm import ConfirmScreen, job_question  # a dialog: loaded when first asked

        message = job_question(
            "Cancel team",
            job.team_job_id,
            job.status,
            job.prompt,
            job.cwd,
            f"{job.host} stops codex and every process it started, and records it cancelled."
            if job.host
            else "It never starts: the worker that takes it records it cancelled.",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"Asking for the cancel of team job {job.team_job_id}…", timeout=3)
                self.run_worker(
                    self._cancel(job.team_job_id),
                    group=Task.TEAM_CANCEL,
                    name=f"cancel team job {job.team_job_id}",
                    exit_on_error=False,
                )

        self.app.push_screen(
            ConfirmScreen("Cancel team job", message, yes="Cancel job", no="Keep it"), answered
        )

    async def _cancel(self, team_job_id: str) -> None:
        try:
            job, asked, said = await self.team.cancel(team_job_id)
        except JobStoreError as exc:  # Redis away, or the job gone from it: nothing was changed
            self.post_message(TeamCancelFinished(team_job_id, None, f"Could not cancel: {exc}", ok=False))
        else:
            self.post_message(TeamCancelFinished(team_job_id, job, said, ok=asked))

    @on(TeamCancelFinished)
    def _cancel_finished(self, message: TeamCancelFinished) -> None:
        self.notify(message.message, severity="information" if message.ok else "warning", timeout=6)
        if message.job is not None:
            self.table.update_job(message.job)
            self._selection_changed()
        self.list_now()

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries on this screen."""
        yield SystemCommand("This machine's jobs", "Back to the local store's jobs (T)", self.action_local)
        yield SystemCommand(
            "Cancel the selected team job",
            "Stop a queued or running team job, after asking (c)",
            self.action_cancel_job,
        )
        yield SystemCommand(
            "Read the team's jobs again", "List them from Redis now (ctrl+r)", self.action_relist
        )
        yield SystemCommand("Follow the output", "Scroll with new output again (f)", self.action_follow)
        yield SystemCommand("Keys", "Every key binding (?)", self.action_help)


def detail_text(job: TeamJob | None, config: TuiConfig) -> Text:
    """The selected team job in full, on two lines: where and when it runs, and its prompt."""
    if job is None:
        return Text("No team job selected.", style="dim")
    now = config.clock()
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(fmt.safe(job.team_job_id), style="bold")
    text.append(f"  {status_label(job)}")
    if job.host:
        text.append(f" on {fmt.safe(job.host)}")
        if job.local_job_id:
            text.append(f" (its job {fmt.safe(job.local_job_id)})", style="dim")
    elif job.asked.host:
        text.append(f" · for {fmt.safe(job.asked.host)}", style="dim")
    text.append(f" · queued {fmt.age(enqueued_at(job), now)} ago")
    if job.started_at is not None:
        end = (
            job.finished_at if job.finished_at is not None else (None if job.is_terminal else now.timestamp())
        )
        if end is not None:
            text.append(f" · ran {fmt.span(max(0.0, end - job.started_at))}")
    if job.exit_code is not None and job.status is not JobStatus.DONE:
        text.append(f" · exit {job.exit_code}")
    text.append(f" · {fmt.safe(job.cwd)}", style="dim")
    text.append("\n")
    reason = job.describe_end()
    if reason is not None and job.status is not JobStatus.CANCELLED:
        text.append(fmt.one_line(reason), style="italic")
    else:
        text.append(fmt.one_line(job.prompt), style="italic")
    return text
