"""Waiting for a job without blocking the event loop, and never for longer than the time given.

A wait that sees its job read `lost` (its processes gone, no end recorded) records it:
the waiter is one of the owners of that write (see mcp_server.lifespan).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from fastmcp import Context

from jobstore import JobRecord, JobStatus, JobStore, JobWakeup
from mcp_server.errors import in_thread

if TYPE_CHECKING:  # annotations only: `team` is loaded on a team's server alone
    from team import TeamClient, TeamJob

# Used only where the system cannot wake us (no inotify or pidfds).
FALLBACK_POLL_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 1.0
# A team job's progress line is read from this much of its output's end.
PROGRESS_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class WaitOutcome:
    record: JobRecord
    waited_seconds: float

    @property
    def finished(self) -> bool:
        return self.record.is_terminal


def _last_line(store: JobStore, job_id: str) -> str | None:
    lines = store.rendered_tail(job_id, 5)
    return lines[-1].text.strip()[:200] if lines else None


def _wants_progress(ctx: Context | None) -> bool:
    """Whether the client gave a progress token (else a progress report sends nothing)."""
    if ctx is None:
        return False
    try:
        # Where FastMCP's own report_progress looks for it.
        meta = ctx.request_context._srctx.meta if ctx.request_context is not None else None
    except (AttributeError, LookupError, ValueError):
        return True  # cannot tell: report, as before
    return meta is not None and meta.get("progress_token") is not None


async def wait_for_job(
    store: JobStore,
    job_id: str,
    timeout: float,
    ctx: Context | None = None,
    *,
    interval: float = FALLBACK_POLL_SECONDS,
) -> WaitOutcome:
    """Wait until the job ends or `timeout` seconds pass (see `wait_for_record`).

    When the client asked for progress (gave a progress token), sends MCP progress
    notifications about once a second.
    """
    start = time.monotonic()
    record = await wait_for_record(
        store, job_id, timeout, lambda r: r.is_terminal, ctx=ctx, interval=interval
    )
    return WaitOutcome(record, round(time.monotonic() - start, 2))


async def wait_for_record(
    store: JobStore,
    job_id: str,
    timeout: float,
    done: Callable[[JobRecord], bool],
    *,
    ctx: Context | None = None,
    interval: float = FALLBACK_POLL_SECONDS,
) -> JobRecord:
    """The job's record once `done(record)` holds, the job ends, or `timeout` seconds pass;
    asleep in between: the event loop wakes us when the job's folder changes (its record is
    replaced) or one of its processes exits (inotify and pidfds behind one fd), never on a
    timer; the record is read again only when what woke us can have changed it. A job that
    reads lost is settled (recorded lost, queued work started) first.
    """
    start = time.monotonic()
    deadline = start + timeout
    progress = _wants_progress(ctx)
    next_progress = start
    with JobWakeup(store.layout.job_dir(job_id)) as wakeup:
        record = await in_thread(store.get, job_id)
        while True:
            if record.status == JobStatus.LOST:
                record = await in_thread(store.settle, job_id)
            now = time.monotonic()
            if done(record) or record.is_terminal or now >= deadline:
                return record
            limit = deadline - now
            if progress and ctx is not None:
                if now >= next_progress:
                    next_progress = now + PROGRESS_EVERY_SECONDS
                    line = await in_thread(_last_line, store, job_id)
                    elapsed = now - start
                    message = f"job {job_id} {record.status} · {elapsed:.0f}s" + (
                        f" · {line}" if line else ""
                    )
                    await ctx.report_progress(progress=round(elapsed, 1), total=timeout, message=message)
                limit = min(limit, max(next_progress - time.monotonic(), 0))
            watched = all(wakeup.watch_process(pid) for pid in (record.pid, record.codex_pid) if pid)
            if not (wakeup.reliable and watched):
                limit = min(limit, interval)
            woken = False
            with anyio.move_on_after(limit):
                await anyio.wait_readable(wakeup.fileno())
                woken = True
            if woken and not wakeup.clear_changes():
                continue  # the runner's other files: the record and the processes are as read
            if not woken:
                wakeup.clear()
            record = await in_thread(store.get, job_id)


async def wait_for_team_job(
    team: TeamClient, team_job_id: str, timeout: float, ctx: Context | None = None
) -> tuple[TeamJob, float]:
    """A team job once it ends or `timeout` seconds pass (asleep on the team's state stream), and
    the seconds waited; with progress notifications about once a second when the client asked."""

    async def report(job: TeamJob, elapsed: float) -> None:
        assert ctx is not None
        where = f" on {job.host}" if job.host else ""
        output = await team.output(team_job_id, PROGRESS_TAIL_BYTES)
        rendered = output.rendered(1)
        line = rendered[-1].text.strip()[:200] if rendered else None
        message = f"team job {team_job_id} {job.status}{where} · {elapsed:.0f}s" + (
            f" · {line}" if line else ""
        )
        await ctx.report_progress(progress=round(elapsed, 1), total=timeout, message=message)

    on_progress = report if _wants_progress(ctx) else None
    return await team.wait(team_job_id, timeout, on_progress)
