"""The team's client side, for the adapters (the MCP server, the CLI, codex-tui): one connection
to the team's Redis, opened on first use, and every call's failure said plainly.

What a call changes, it changes only once Redis answered: an unreachable Redis is an error
(`TeamUnavailable`, naming the address without its password) and nothing was written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TypeVar

from docket import Docket
from redis.exceptions import RedisError

from jobstore import InvalidInput, JobStore, RunOptions
from team.change import TeamApplied, TeamChange, apply_change, read_change
from team.keys import REDIS_AWAY, RedisClient, TeamKeys
from team.queue import enqueue
from team.settings import TeamRedisError, check_name, redis_place
from team.streams import StateChange, read_output, tail_states
from team.view import (
    TAIL_BYTES,
    ProgressCallback,
    TeamJob,
    TeamOutput,
    cancel_team_job,
    latest_state_id,
    list_team_jobs,
    read_team_job,
    read_team_output,
    wait_for_team_job,
)

T = TypeVar("T")
# What a call to Redis raises when it did not happen: Redis away, or refusing (an ACL, a full
# memory), also as the one line `redis_errors_explained` makes of it.
_FAILED_CALL: tuple[type[BaseException], ...] = (*REDIS_AWAY, RedisError, TeamRedisError)


class TeamUnavailable(TeamRedisError):
    """The team's Redis did not answer (or refused the call): nothing was changed. `cause`:
    what the connection said (no address, no password), for a line of its own."""

    def __init__(self, message: str, *, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


class TeamClient:
    """The team's queue and jobs as one machine's adapter sees them."""

    def __init__(self, url: str, keys: TeamKeys | None = None, *, read_seconds: float | None = None) -> None:
        self.url = url
        self.keys = keys or TeamKeys()
        # A read not answered within this (beyond a blocking read's own wait) is TeamUnavailable:
        # a Redis that hangs (stopped, a dropped route) is said like one that refuses. Writes
        # (enqueue, cancel) wait for their answer: one given up on may have landed.
        self.read_seconds = read_seconds
        self._stack: AsyncExitStack | None = None
        self._docket: Docket | None = None
        self._redis: RedisClient | None = None
        self._opening = asyncio.Lock()

    @property
    def address(self) -> str:
        return self.url if self.url.startswith("memory://") else redis_place(self.url)

    async def __aenter__(self) -> TeamClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        stack, self._stack, self._docket, self._redis = self._stack, None, None, None
        if stack is not None:
            await stack.aclose()

    async def _connection(self) -> tuple[Docket, RedisClient]:
        async with self._opening:
            if self._docket is None or self._redis is None:
                stack = AsyncExitStack()
                try:
                    docket = await stack.enter_async_context(Docket(name=self.keys.docket_name, url=self.url))
                    redis = await stack.enter_async_context(docket.redis())
                except BaseException:
                    await stack.aclose()
                    raise
                self._stack, self._docket, self._redis = stack, docket, redis
            return self._docket, self._redis

    async def _call(self, what: str, call: Callable[[Docket, RedisClient], Awaitable[T]]) -> T:
        try:
            docket, redis = await self._connection()
            return await call(docket, redis)
        except _FAILED_CALL as exc:
            raise TeamUnavailable(
                f"{what}: the team's Redis at {self.address} did not answer ({exc}); nothing was changed",
                cause=str(exc),
            ) from None

    async def _read(
        self, what: str, call: Callable[[Docket, RedisClient], Awaitable[T]], blocks: float = 0.0
    ) -> T:
        """A call that only reads: given up on after `read_seconds` (plus `blocks`, the time it
        waits on purpose) when the client has a limit."""
        if self.read_seconds is None:
            return await self._call(what, call)
        limit = self.read_seconds + blocks
        try:
            async with asyncio.timeout(limit):
                return await self._call(what, call)
        except TimeoutError:
            cause = f"no answer within {limit:g}s"
            raise TeamUnavailable(
                f"{what}: the team's Redis at {self.address} did not answer ({cause}); nothing was changed",
                cause=cause,
            ) from None

    async def enqueue(self, options: RunOptions, host: str | None = None) -> TeamJob:
        """Put a checked run on the team's queue (for the machine `host` when given); the job."""
        if host is not None:
            check_name("host", host)

        async def put(docket: Docket, redis: RedisClient) -> TeamJob:
            return await read_team_job(
                redis, self.keys, await enqueue(docket, options, host=host, keys=self.keys)
            )

        return await self._call("not queued", put)

    async def job(self, team_job_id: str) -> TeamJob:
        return await self._read(
            f"team job {team_job_id}", lambda _, redis: read_team_job(redis, self.keys, team_job_id)
        )

    async def jobs(self, limit: int, status: str | None = None, cwd: str | None = None) -> list[TeamJob]:
        return await self._read(
            "team jobs", lambda _, redis: list_team_jobs(redis, self.keys, limit, status, cwd)
        )

    async def output(self, team_job_id: str, max_bytes: int = TAIL_BYTES) -> TeamOutput:
        """The end of the job's output (read from its owner's copy in Redis, about `max_bytes`)."""
        return await self._read(
            f"team job {team_job_id}",
            lambda _, redis: read_team_output(redis, self.keys, team_job_id, max_bytes),
        )

    async def output_from(self, team_job_id: str, offset: int) -> list[tuple[int, bytes]]:
        """The job's output from byte `offset` on, as (offset, bytes) pieces (team.streams)."""
        return await self._read(
            f"team job {team_job_id}",
            lambda _, redis: read_output(redis, team_job_id, offset, keys=self.keys),
        )

    async def latest_change_id(self) -> str:
        """The id of the team's newest state change ("0-0" for none): read `changes` after it."""
        return await self._read("team changes", lambda _, redis: latest_state_id(redis, self.keys))

    async def changes(self, after_id: str, block_seconds: float) -> list[StateChange]:
        """The team's state changes (a job started or ended, on which machine) after `after_id`,
        oldest first; waits up to `block_seconds` for one when there is none yet ([] then)."""
        return await self._read(
            "team changes",
            lambda _, redis: tail_states(redis, after_id, keys=self.keys, block_seconds=block_seconds),
            blocks=block_seconds,
        )

    async def wait(
        self, team_job_id: str, timeout: float, on_progress: ProgressCallback | None = None
    ) -> tuple[TeamJob, float]:
        """The job once it ends or `timeout` seconds pass, and the seconds waited."""
        return await self._call(
            f"team job {team_job_id}",
            lambda _, redis: wait_for_team_job(
                redis, self.keys, team_job_id, timeout, on_progress=on_progress
            ),
        )

    async def cancel(self, team_job_id: str) -> tuple[TeamJob, bool, str]:
        """Ask for the job's cancel: (the job, whether this call asked, what happens)."""
        return await self._call(
            f"team job {team_job_id}", lambda _, redis: cancel_team_job(redis, self.keys, team_job_id)
        )

    async def change(self, team_job_id: str) -> TeamChange | None:
        """The job's change as its machine published it as it ended (None: none published)."""
        return await self._call(
            f"team job {team_job_id}", lambda _, redis: read_change(redis, self.keys, team_job_id)
        )

    async def apply(self, store: JobStore, team_job_id: str) -> TeamApplied:
        """Apply the ended worktree job's published change to this machine's working tree of its
        folder, through `store`'s private git folders (nothing is read from the job's machine)."""
        job = await self.job(team_job_id)
        if not job.is_terminal:
            raise InvalidInput(f"team job {team_job_id} is {job.status}: apply it once it has ended")
        change = await self.change(team_job_id)
        if change is None:
            raise InvalidInput(
                f"team job {team_job_id} published no change: it did not run in a worktree "
                "(or its machine ended before publishing it)"
            )
        return await asyncio.to_thread(apply_change, store, change, job.cwd)
