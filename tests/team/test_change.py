"""A worktree team job's change on memory://: published once, read back, refused above the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStore
from team.change import apply_change, publish_change, read_change
from team.keys import RedisClient, TeamKeys
from tests.jobstore.test_job_worktree import run_worktree_job

KEYS = TeamKeys()


async def test_a_published_change_reads_back_and_applies_elsewhere(
    store: JobStore, person_repo: Path, memory_redis: RedisClient, tmp_path: Path
) -> None:
    job_id = run_worktree_job(store, person_repo, "write=made.py")
    assert await publish_change(store, memory_redis, KEYS, "t-1", job_id, "machine-a")
    ttl = await memory_redis.ttl(KEYS.change("t-1"))
    assert ttl > 6 * 24 * 3600  # kept as long as the job's end
    store.discard(job_id)
    assert await publish_change(store, memory_redis, KEYS, "t-1", job_id, "machine-a")  # once: kept

    change = await read_change(memory_redis, KEYS, "t-1")
    assert change is not None and not change.too_big and change.patch
    assert change.recorded.files == [("A", "made.py")] and "written by the job" in change.recorded.diff
    applied = apply_change(JobStore(tmp_path / "elsewhere"), change, str(person_repo))
    assert applied.clean and applied.changed == ["made.py"]


async def test_a_change_over_the_cap_names_the_command_to_run_on_its_machine(
    store: JobStore, person_repo: Path, memory_redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("team.change.MAX_PUBLISHED_BYTES", 64)
    job_id = run_worktree_job(store, person_repo, "write=made.py")
    await publish_change(store, memory_redis, KEYS, "t-2", job_id, "machine-a")
    change = await read_change(memory_redis, KEYS, "t-2")
    assert change is not None and change.too_big and change.patch is None and change.recorded.diff == ""
    assert change.recorded.error is not None
    assert f"codex-async diff {job_id}` on machine-a" in change.recorded.error
    with pytest.raises(InvalidInput, match=f"codex-async apply {job_id}` on machine-a"):
        apply_change(store, change, str(person_repo))


async def test_a_job_without_a_worktree_publishes_nothing(
    store: JobStore, person_repo: Path, memory_redis: RedisClient
) -> None:
    from jobstore import RunOptions

    record = store.start(RunOptions(prompt="write=made.py", cwd=str(person_repo), worktree=False))
    store.wait(record.job_id, timeout=60)
    assert not await publish_change(store, memory_redis, KEYS, "t-3", record.job_id, "machine-a")
    assert await read_change(memory_redis, KEYS, "t-3") is None
