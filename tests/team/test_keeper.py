"""The keeper in-process on a real redis-server: it extends only a lease this boot holds, records
an ended job's end once (its output copied first), and leaves when nothing of its machine is
unended (a claim naming a job it cannot read does not hold it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from jobstore import JobStatus, JobStore, RunOptions
from team.claim import Claim, claim_job, record_started
from team.keeper import Keeper, hold_name, is_running
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease, read_end
from team.streams import read_output
from tests.conftest import stop_everything

KEYS = TeamKeys("keeper-test")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    async with Redis.from_url(redis_url) as client:
        yield client


async def test_extend_never_takes_a_lease(redis: RedisClient) -> None:
    lease = HostLease("machine-k", "boot-1", 5)
    assert not await lease.extend(redis, KEYS)  # none held: not taken
    assert await redis.get(KEYS.lease("machine-k")) is None
    await redis.set(KEYS.lease("machine-k"), "boot-other", px=5000)
    assert not await lease.extend(redis, KEYS)  # another boot's: left alone
    await redis.set(KEYS.lease("machine-k"), "boot-1", px=100)
    assert await lease.extend(redis, KEYS)
    assert int(await redis.pttl(KEYS.lease("machine-k"))) > 1000


async def test_records_the_end_and_leaves(
    redis: RedisClient, tmp_path: Path, fake_codex: Path, workdir: Path
) -> None:
    store = JobStore(tmp_path / "store", max_jobs=5, codex_bin=str(fake_codex), cancel_grace=2.0)
    lease = HostLease("machine-k", "boot-1", 3)
    mine = Claim("machine-k", "boot-1")
    try:
        record = store.start(RunOptions.checked(prompt="sleep=1 kept-1", cwd=str(workdir)))
        await claim_job(redis, KEYS, "t-kept", mine)
        await record_started(redis, KEYS, "t-kept", Claim("machine-k", "boot-1", record.job_id))
        # A claim of this machine naming no job of this store: skipped, never holds the keeper.
        await claim_job(redis, KEYS, "t-bogus", Claim("machine-k", "boot-1", "../../etc"))
        await lease.renew(redis, KEYS)
        held = hold_name(KEYS, "machine-k", store.root)
        assert held is not None and hold_name(KEYS, "machine-k", store.root) is None  # one per host id
        other = hold_name(KEYS, "machine-k", store.root.parent / "another-store")  # another store's
        assert other is not None
        other.close()
        await asyncio.wait_for(Keeper(store, redis, lease, KEYS).run(held), timeout=30)
        assert not is_running(KEYS, "machine-k", store.root)  # its name let go as it left
        assert await read_end(redis, KEYS, "t-kept") == "done"
        assert store.get(record.job_id).status is JobStatus.DONE
        # The job's output copied whole to its stream before its end was recorded.
        output = store.open_output(record.job_id)
        assert output is not None
        with output:
            content = output.read(0, output.size())
        assert b"".join(data for _, data in await read_output(redis, "t-kept", keys=KEYS)) == content
    finally:
        stop_everything(store)
