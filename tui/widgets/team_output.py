"""The selected team job's output, followed live from the team's copy in Redis.

`TeamOutputView` owns the reading: one worker per job shown (a new job shown cancels the
last one's), on the app's loop, that reads the end of the job's output stream, then, while
the job runs, what its owner copied since (`TeamClient.output_from`, by offset). Reading never
writes to Redis. The lines are rendered by jobstore's renderer off the loop (a thread) and
posted as `TeamOutputRead`, tagged with the showing's generation (a chunk for a job no longer
shown is dropped). Floods coalesce: the worker reads at most every `team_output_seconds` and
reads again only once the pane has taken its last chunk, so all that came meanwhile is one
chunk. The lines live in the same `OutputLog` as a local job's (controls made visible).
"""

from __future__ import annotations

import asyncio

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape

from jobstore import JobStoreError
from team import TeamClient, TeamJob, TeamUnavailable
from tui import format as fmt
from tui.config import TuiConfig
from tui.messages import TeamOutputRead
from tui.team_output import TeamOutputWindow
from tui.widgets.output_log import OutputLog
from tui.workers import Task

# The end of a job's output read when it is shown (its last `output_tail_lines` lines are shown).
TAIL_BYTES = 1024 * 1024


class TeamOutputView(Vertical):
    """The output pane of the team view: a title with the job, and the log."""

    def __init__(self, team: TeamClient, config: TuiConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.team = team
        self.config = config
        self.job: TeamJob | None = None
        self.generation = 0
        self.reading = False  # the shown job's first read is on its way
        self.problem: str | None = None  # why the last read failed (it is tried again)
        self._taken = asyncio.Event()  # the pane took the last chunk: read on

    def compose(self) -> ComposeResult:
        yield OutputLog(max_lines=self.config.output_max_lines, id="team-output-log")

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one(OutputLog)

    def on_mount(self) -> None:
        self.log_widget.clear("Select a team job to see its output.")
        self._update_title()

    def show_job(self, job: TeamJob | None) -> None:
        """Follow this job's output (None: nothing); the same job read anew updates the title."""
        if (job and job.team_job_id) == (self.job and self.job.team_job_id):
            self.job = job
            self._update_title()
            return
        self.job = job
        self.generation += 1
        self.problem = None
        self._update_title()
        if job is None:
            self.workers.cancel_group(self, Task.TEAM_OUTPUT)
            self.reading = False
            self.log_widget.clear("Select a team job to see its output.")
            return
        self.reading = True
        self.log_widget.clear("Reading the output from Redis…")
        self.run_worker(
            self._follow(job, self.generation),
            group=Task.TEAM_OUTPUT,
            name="follow the team job's output",
            exclusive=True,  # the last job's reader stops
            exit_on_error=False,
        )

    async def _follow(self, job: TeamJob, generation: int) -> None:
        """Read the end, then what is copied after it, until the job has ended and all of its
        output is read. An unreachable Redis is said and tried again; nothing read is lost."""
        config = self.config
        window: TeamOutputWindow | None = None
        while True:
            try:
                if window is None:
                    tail = await self.team.output(job.team_job_id, TAIL_BYTES)
                    window = TeamOutputWindow(tail_lines=config.output_tail_lines)
                    chunk = await asyncio.to_thread(window.open, tail, earlier=_where_earlier(job))
                    await self._post(TeamOutputRead(generation, chunk, job))
                else:
                    # The job before its output: all of an ended job's output was copied before its end.
                    now = await self.team.job(job.team_job_id)
                    pieces = await self.team.output_from(job.team_job_id, window.read_from)
                    read = await asyncio.to_thread(window.take, pieces, ended=now.is_terminal)
                    if read is not None or now != job:
                        await self._post(TeamOutputRead(generation, read, now))
                    job = now
                    if job.is_terminal:
                        return
            except TeamUnavailable as exc:
                await self._post(
                    TeamOutputRead(generation, None, problem=f"Redis did not answer ({exc.cause})")
                )
                await asyncio.sleep(config.team_retry_seconds)
                continue
            except JobStoreError as exc:  # the job gone from Redis (its record expired)
                await self._post(TeamOutputRead(generation, None, problem=str(exc)))
                await asyncio.sleep(config.team_retry_seconds)
                continue
            await asyncio.sleep(config.team_output_seconds)

    async def _post(self, message: TeamOutputRead) -> None:
        """Post, then wait until the pane has taken it (one chunk in flight)."""
        self._taken.clear()
        self.post_message(message)
        await self._taken.wait()

    @on(TeamOutputRead)
    def _read(self, message: TeamOutputRead) -> None:
        message.stop()
        self._taken.set()
        if message.generation != self.generation:
            return
        log = self.log_widget
        self.problem = message.problem
        if message.problem is not None and self.reading:  # nothing read yet: said in the pane
            log.clear(f"Cannot read the output: {message.problem}")
        if message.job is not None:
            self.reading = False
            self.job = message.job
        self._update_title()
        chunk = message.chunk
        if chunk is None:
            return
        if chunk.reset and not chunk.lines:
            log.clear("No output yet.")
        else:
            log.placeholder = ""
            log.apply(chunk)

    @on(OutputLog.FollowChanged)
    def _follow_changed(self, message: OutputLog.FollowChanged) -> None:
        message.stop()
        self._update_title()

    @on(OutputLog.NeedLines)
    def _need_lines(self, message: OutputLog.NeedLines) -> None:
        """Only the window read from Redis is shown (its first line says where the rest is)."""
        message.stop()

    def follow(self) -> None:
        self.log_widget.action_follow()

    def _update_title(self) -> None:
        job = self.job
        if job is None:
            self.border_title = "Output"
            self.border_subtitle = ""
            return
        where = f" · {job.host}" if job.host else ""
        # Read from Redis: made safe, and not markup (a border title is).
        self.border_title = escape(fmt.safe(f"Output · {job.team_job_id}{where}"))
        if self.problem is not None:
            self.border_subtitle = "not read: trying again"
        elif job.is_terminal:
            self.border_subtitle = f"{job.status} · all of it read"
        else:
            self.border_subtitle = "following" if self.log_widget.following else "paused · End to follow"


def _where_earlier(job: TeamJob) -> str:
    if job.host and job.local_job_id:
        return f"`codex-async show {job.local_job_id}` on {job.host}"
    return "on the machine that ran it"
