"""Waiting for a job without blocking the event loop, and never for longer than the time given.

A wait that sees its job read `lost` (its processes gone, no end recorded) records it:
the waiter is one of the owners of that write (see mcp_server.lifespan).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
from fastmcp import Context

from jobstore import JobRecord, JobStatus, JobStore
from mcp_server.errors import in_thread

# Check often at first (short jobs answer at once), then settle to a cheap pace.
FIRST_POLL_SECONDS = 0.01
POLL_INTERVAL_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 1.0


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


async def wait_for_job(
    store: JobStore,
    job_id: str,
    timeout: float,
    ctx: Context | None = None,
    *,
    interval: float = POLL_INTERVAL_SECONDS,
) -> WaitOutcome:
    """Poll the job's record (in a worker thread) until it ends or `timeout` seconds pass.

    While waiting, sends MCP progress notifications about once a second; FastMCP sends them
    only when the client asked for progress (gave a progress token). A job that reads lost
    is settled (recorded lost, queued work started) before the outcome is returned.
    """
    start = time.monotonic()
    deadline = start + timeout
    next_progress = start
    pause = FIRST_POLL_SECONDS
    while True:
        record = await in_thread(store.get, job_id)
        if record.status == JobStatus.LOST:
            record = await in_thread(store.settle, job_id)
        now = time.monotonic()
        if record.is_terminal or now >= deadline:
            return WaitOutcome(record, round(now - start, 2))
        if ctx is not None and now >= next_progress:
            next_progress = now + PROGRESS_EVERY_SECONDS
            line = await in_thread(_last_line, store, job_id)
            elapsed = now - start
            message = f"job {job_id} {record.status} · {elapsed:.0f}s" + (f" · {line}" if line else "")
            await ctx.report_progress(progress=round(elapsed, 1), total=timeout, message=message)
        await anyio.sleep(max(min(pause, deadline - time.monotonic()), 0))
        pause = min(pause * 2, interval)
