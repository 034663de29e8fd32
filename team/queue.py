"""Putting a job on the team's queue: its options, validated here and again by the worker.

What travels is the options by name (never argv): the worker that takes the job rebuilds
codex's command from them through its own store, as a local start does. The job is recorded for
the team's readers first (`team.registry`), then goes to one machine's queue (`team.routing`):
the one named, else a live one that has its folder; if it cannot be queued, it is not listed.
"""

from __future__ import annotations

import contextlib
import uuid

from docket import Docket

from jobstore import RunOptions
from team.keys import TeamKeys
from team.registry import forget_enqueued, record_enqueued
from team.routing import route_job
from team.settings import check_name, check_redis_url, redis_errors_explained
from team.worker import codex_team_job


def new_team_job_id() -> str:
    return "t" + uuid.uuid4().hex


async def enqueue(
    docket: Docket,
    options: RunOptions,
    *,
    host: str | None = None,
    team_job_id: str | None = None,
    keys: TeamKeys | None = None,
) -> str:
    """Queue a codex run on machine `host`, or (None) on a live machine that serves its cwd; the
    team job id (Docket's task key). `team.routing.NoMachine` (nothing queued, nothing listed)
    when none can."""
    team_job_id = check_name("a team job id", team_job_id or new_team_job_id())
    host = None if host is None else check_name("host", host)
    if not docket.url.startswith("memory://"):  # the unit tests' in-process Redis
        check_redis_url(docket.url)
    values = {name: getattr(options, name) for name in RunOptions.names()}
    keys = keys or TeamKeys()
    with redis_errors_explained(docket.url):
        async with docket.redis() as redis:
            await record_enqueued(redis, keys, team_job_id, values, host)
            try:
                await route_job(docket, keys, codex_team_job, team_job_id, values, host)
            except BaseException:
                with contextlib.suppress(Exception):  # never queued: never listed
                    await forget_enqueued(redis, keys, team_job_id)
                raise
    return team_job_id
