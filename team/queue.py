"""Putting a job on the team's queue: its options, validated here and again by the worker.

What travels is the options by name (never argv): the worker that takes the job rebuilds
codex's command from them through its own store, as a local start does.
"""

from __future__ import annotations

import contextlib
import uuid

from docket import Docket

from jobstore import RunOptions
from team.keys import TeamKeys
from team.registry import forget_enqueued, record_enqueued
from team.settings import check_name
from team.worker import codex_team_job


def new_team_job_id() -> str:
    return "t" + uuid.uuid4().hex


async def enqueue(
    docket: Docket,
    options: RunOptions,
    team_job_id: str | None = None,
    *,
    host: str | None = None,
    keys: TeamKeys | None = None,
) -> str:
    """Queue a codex run for any worker of the team (`host`: the machine asked for); the team
    job id (Docket's task key). The job is recorded for the team's readers first (team.registry)."""
    team_job_id = check_name("a team job id", team_job_id or new_team_job_id())
    host = None if host is None else check_name("host", host)
    values = {name: getattr(options, name) for name in RunOptions.names()}
    keys = keys or TeamKeys()
    async with docket.redis() as redis:
        await record_enqueued(redis, keys, team_job_id, values, host)
        try:
            await docket.add(codex_team_job, key=team_job_id)(team_job_id, values)
        except BaseException:
            with contextlib.suppress(Exception):  # never queued: never listed
                await forget_enqueued(redis, keys, team_job_id)
            raise
    return team_job_id
