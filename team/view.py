"""The team's read side: a team job as any machine sees it, from Redis alone. Reading never writes.

A team job's state is put together from the keys the other modules write:
- `queued`: its record (team.registry) and no claim yet, or a claim whose owner has not
  started it yet;
- `running`: a claim naming the owner's local job (host, local job id, start time);
- its recorded end (team.lease): done, error, cancelled, interrupted or lost, with codex's
  exit code, who recorded it and when;
- `lost` as read: claimed, no end, and its machine's lease gone. Like a local store's read, this
  is only reported; the workers record it (once).

Its output is the owner's copy in Redis (team.streams), rendered through jobstore's own readers
(`output_lines`, `render_line`, `Summary`): the same lines, cut and made readable, as the
owner's `codex-async show` prints. Waiting blocks on the team's state stream (`tail_states`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from jobstore import (
    JobNotFound,
    JobStatus,
    RenderedLine,
    Summary,
    echoed,
    output_lines,
    render_line,
)
from team.cancel import is_cancel_requested, request_cancel
from team.claim import Claim
from team.keys import RedisClient, TeamKeys, text
from team.registry import Enqueued, newest_ids, read_enqueued
from team.settings import check_name
from team.streams import newest_entries, read_output_tail, tail_states

# How much of a job's output a view reads from its stream's end (a local tail scans as far).
TAIL_BYTES = 4 * 1024 * 1024
# How many index entries a filtered listing looks at before it stops looking.
MAX_LISTED_SCAN = 5_000
LIST_PAGE = 100
# A wait reads the job again at least this often (a lapsed lease writes nothing to wake it).
RECHECK_SECONDS = 1.0

ProgressCallback = Callable[["TeamJob", float], Awaitable[None]]


@dataclass(frozen=True)
class TeamJob:
    """A team job now, as read from Redis."""

    team_job_id: str
    asked: Enqueued
    status: JobStatus
    host: str | None = None  # the machine that took it
    local_job_id: str | None = None  # its id in that machine's store
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    ended_by: str | None = None  # the machine that recorded its end
    cancel_requested: bool = False

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def prompt(self) -> str:
        return str(self.asked.options.get("prompt") or "")

    @property
    def cwd(self) -> str:
        return str(self.asked.options.get("cwd") or "")

    def option(self, name: str) -> str | None:
        value = self.asked.options.get(name)
        return None if value is None else str(value)

    def to_dict(self) -> dict[str, object]:
        """The job as `codex-async --json` prints it (times as Unix times, options by name)."""
        return {
            "team_job_id": self.team_job_id,
            "status": self.status.value,
            "host": self.host,
            "local_job_id": self.local_job_id,
            "requested_host": self.asked.host,
            "enqueued_at": self.asked.enqueued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "ended_by": self.ended_by,
            "cancel_requested": self.cancel_requested,
            "options": self.asked.options,
        }

    def describe_end(self) -> str | None:
        """Why a job that did not end `done` ended so, in a line (None for done or not ended)."""
        if not self.is_terminal or self.status is JobStatus.DONE:
            return None
        where = f" on {self.host}" if self.host else ""
        if self.status is JobStatus.LOST:
            if self.finished_at is None:
                return f"lost: its machine {self.host} stopped renewing its lease (not recorded yet)"
            return f"lost{where}: recorded by {self.ended_by}"
        code = "" if self.exit_code is None else f" (exit code {self.exit_code})"
        local = (
            f"; `codex-async show {self.local_job_id}` on {self.host} tells more"
            if self.local_job_id and self.host
            else ""
        )
        return f"{self.status}{where}{code}{local}"


@dataclass(frozen=True)
class TeamOutput:
    """The end of a team job's output, as lines of its file (decoded, cut; not rendered)."""

    lines: list[str]
    from_offset: int  # where the first line starts in the owner's file
    complete_until: int  # where the last complete line ends (a follower goes on from there)
    partial_last: bool = False  # the last line has no newline yet (codex is writing it)
    starts: list[int] = field(default_factory=list)  # where each line starts in the owner's file

    @property
    def whole_lines(self) -> list[str]:
        return self.lines[:-1] if self.partial_last else self.lines

    def rendered(self, count: int) -> list[RenderedLine]:
        """The last `count` rendered lines (as a local job's `rendered_tail`)."""
        rendered = [each for line in self.lines for each in render_line(line)]
        return rendered[-count:] if count > 0 else []

    def summary(self) -> Summary:
        """What codex did, read from these lines (as the store rebuilds a summary it lacks)."""
        summary = Summary()
        for line in self.lines:
            summary.feed_line(line)
        return summary


class OutputFollow:
    """Following a team job's output by offset (`TeamClient.output_from`): what came is held
    until its line is whole (codex may be writing it), then handed out once, in file order.
    Start it where a tail's whole lines end (`TeamOutput.complete_until`)."""

    def __init__(self, offset: int) -> None:
        self.offset = offset  # where the next line handed out starts
        self._pending = b""

    @property
    def read_from(self) -> int:
        """The offset to read on from (what is held is not read again)."""
        return self.offset + len(self._pending)

    def take(self, pieces: Sequence[tuple[int, bytes]], *, ended: bool) -> tuple[int, bytes]:
        """Add what was read; (the offset it starts at, the whole lines now complete). `ended`:
        the job has ended, its last line will get no newline: hand it out too."""
        for _, data in pieces:
            self._pending += data
        cut = len(self._pending) if ended else self._pending.rfind(b"\n") + 1
        start, whole = self.offset, self._pending[:cut]
        self.offset, self._pending = start + cut, self._pending[cut:]
        return start, whole


def _end_fields(value: str | None) -> dict[str, object] | None:
    if value is None:
        return None
    try:
        fields = json.loads(value)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _claim(value: str | None) -> Claim | None:
    if value is None:
        return None
    try:
        return Claim.from_json(value)
    except (ValueError, TypeError, KeyError):
        return None


def _status(value: object) -> JobStatus:
    try:
        return JobStatus(str(value))
    except ValueError:  # an end this version does not know: ended, how is not told
        return JobStatus.ERROR


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def read_team_jobs(
    redis: RedisClient, keys: TeamKeys, team_job_ids: Sequence[str]
) -> list[TeamJob | None]:
    """These jobs now, in order (None for one Redis has no record of); a few MGETs in all."""
    if not team_job_ids:
        return []
    records = await read_enqueued(redis, keys, team_job_ids)
    claims = [_claim(text(v)) for v in await redis.mget(*[keys.claim(each) for each in team_job_ids])]
    ends = [_end_fields(text(v)) for v in await redis.mget(*[keys.end(each) for each in team_job_ids])]
    cancels = await redis.mget(*[keys.cancel(each) for each in team_job_ids])
    owners = sorted({claim.host_id for claim, end in zip(claims, ends, strict=True) if claim and not end})
    leases = (
        {}
        if not owners
        else dict(
            zip(owners, [text(v) for v in await redis.mget(*[keys.lease(o) for o in owners])], strict=True)
        )
    )
    jobs: list[TeamJob | None] = []
    for team_job_id, record, claim, end, cancel in zip(
        team_job_ids, records, claims, ends, cancels, strict=True
    ):
        if record is None:
            jobs.append(None)
            continue
        job = TeamJob(team_job_id, record, JobStatus.QUEUED, cancel_requested=cancel is not None)
        if claim is not None:
            job = replace(job, host=claim.host_id, local_job_id=claim.job_id, started_at=claim.started_at)
            if claim.job_id is not None:
                job = replace(job, status=JobStatus.RUNNING)
        if end is not None:
            code = end.get("exit_code")
            job = replace(
                job,
                status=_status(end.get("status")),
                exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                ended_by=str(end.get("by") or "") or None,
                finished_at=_number(end.get("at")),
            )
        elif claim is not None and leases.get(claim.host_id) != claim.boot_id:
            job = replace(job, status=JobStatus.LOST)  # reported as read; the workers record it
        jobs.append(job)
    return jobs


def unknown_job(team_job_id: str) -> JobNotFound:
    return JobNotFound(
        f"no team job {echoed(team_job_id)} in the team's Redis (never enqueued, or it ended "
        "more than 7 days ago)"
    )


async def read_team_job(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> TeamJob:
    """The job now; JobNotFound when Redis has no record of it, InvalidInput for a malformed id."""
    check_name("a team job id", team_job_id)
    (job,) = await read_team_jobs(redis, keys, [team_job_id])
    if job is None:
        raise unknown_job(team_job_id)
    return job


def _under(cwd: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep) or os.sep
    return cwd == folder or cwd.startswith(folder if folder == os.sep else folder + os.sep)


async def list_team_jobs(
    redis: RedisClient, keys: TeamKeys, limit: int, status: str | None = None, cwd: str | None = None
) -> list[TeamJob]:
    """The newest team jobs first, at most `limit`, optionally only in one status or under one
    folder (looking at no more than the newest `MAX_LISTED_SCAN` jobs)."""
    found: list[TeamJob] = []
    skip = 0
    while len(found) < limit and skip < MAX_LISTED_SCAN:
        ids = await newest_ids(redis, keys, skip, LIST_PAGE)
        skip += len(ids)
        for job in await read_team_jobs(redis, keys, ids):
            if job is None or (status is not None and job.status != status):
                continue
            if cwd is None or _under(job.cwd, cwd):
                found.append(job)
        if len(ids) < LIST_PAGE:
            break
    return found[:limit]


async def read_team_output(
    redis: RedisClient, keys: TeamKeys, team_job_id: str, max_bytes: int = TAIL_BYTES
) -> TeamOutput:
    """The end of the job's output as its owner copied it (whole lines only)."""
    offset, data = await read_output_tail(redis, team_job_id, max_bytes, keys=keys)
    lines = output_lines(data, from_line_start=offset == 0)
    starts = line_starts(offset, data, from_line_start=offset == 0)
    partial = bool(data) and not data.endswith(b"\n")
    complete_until = offset + data.rfind(b"\n") + 1
    return TeamOutput(lines, offset, complete_until, partial and bool(lines), starts)


def line_starts(offset: int, data: bytes, *, from_line_start: bool = True) -> list[int]:
    """Where each of `output_lines(data, from_line_start=...)` starts in the owner's file, for
    `data` read from `offset` (a reader dedupes and places lines by these)."""
    starts = [offset] if data and data != b"\n" else []
    at = data.find(b"\n")
    while 0 <= at < len(data) - 1:
        starts.append(offset + at + 1)
        at = data.find(b"\n", at + 1)
    return starts if from_line_start else starts[1:]


async def latest_state_id(redis: RedisClient, keys: TeamKeys) -> str:
    """The id of the newest entry of the team's state stream ("0-0" for none): wait after it."""
    newest = await newest_entries(redis, keys.states, "+", 1)
    return text(newest[0][0]) or "0-0" if newest else "0-0"


async def wait_for_team_job(
    redis: RedisClient,
    keys: TeamKeys,
    team_job_id: str,
    timeout: float,
    *,
    on_progress: ProgressCallback | None = None,
    progress_every: float = 1.0,
) -> tuple[TeamJob, float]:
    """The job once it ends (or reads lost) or `timeout` seconds pass, and the seconds waited.
    Asleep on the team's state stream in between (woken by any start or end), read again at
    least every `RECHECK_SECONDS`; `on_progress(job, elapsed)` about every `progress_every`."""
    start = time.monotonic()
    deadline = start + timeout
    after = await latest_state_id(redis, keys)
    next_progress = start
    while True:
        job = await read_team_job(redis, keys, team_job_id)
        now = time.monotonic()
        if job.is_terminal or now >= deadline:
            return job, round(now - start, 2)
        nap = min(deadline - now, RECHECK_SECONDS)
        if on_progress is not None:
            if now >= next_progress:
                next_progress = now + progress_every
                await on_progress(job, now - start)
            nap = min(nap, max(next_progress - time.monotonic(), 0.001))
        changes = await tail_states(redis, after, keys=keys, block_seconds=max(nap, 0.001))
        if changes:
            after = changes[-1].entry_id


async def cancel_team_job(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> tuple[TeamJob, bool, str]:
    """Ask for the job's cancel (team.cancel: durable): (the job, whether this call asked, what
    happens). A job that ended, or whose cancel was asked already, is left as it is."""
    job = await read_team_job(redis, keys, team_job_id)
    if job.is_terminal:
        return job, False, f"team job {team_job_id} already ended ({job.status}): nothing to cancel"
    if job.cancel_requested or await is_cancel_requested(redis, keys, team_job_id):
        return job, False, f"team job {team_job_id}: its cancel was asked already; it ends cancelled soon"
    await request_cancel(redis, keys, team_job_id)
    where = (
        f"its machine {job.host} stops it (codex and every process it started) and records it cancelled"
        if job.host
        else "it never starts: the worker that takes it records it cancelled"
    )
    return replace(job, cancel_requested=True), True, f"cancel asked for team job {team_job_id}: {where}"
