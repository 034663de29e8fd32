"""The store's watcher on its own (no app): where there is inotify, the store's folders are
watched with it like the job folders, so a change is posted as it happens, and a folder of
the store replaced is watched again and everything compared; no folder is watched through a
symlink but the root; without inotify, watchfiles watches it all. Nothing here is timed."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from jobstore import JobStore
from jobstore.ids import new_job_id
from tui.watcher import StoreChanges, StoreWatcher


async def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Let the watcher run until `condition()` (a bound, not a measure)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def watching(watcher: StoreWatcher) -> AsyncIterator[StoreWatcher]:
    """The watcher running (its first watch in place) for the block, then stopped."""
    task = asyncio.create_task(watcher.run())
    try:
        await until(watcher.running.is_set, "the watch")
        yield watcher
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def add_job_folder(store: JobStore) -> str:
    """A job folder renamed into jobs/, as the store adds one (made aside, then moved in)."""
    job_id = new_job_id()
    staging = store.layout.staging_dir(job_id)
    staging.mkdir()
    staging.rename(store.layout.job_dir(job_id))
    return job_id


async def test_the_store_folders_are_watched_with_inotify_and_watched_again_when_replaced(
    tmp_path: Path,
) -> None:
    store = JobStore(tmp_path / "store")
    store.ensure()
    posted: list[StoreChanges] = []
    watcher = StoreWatcher(store, posted.append, step_ms=20)
    async with watching(watcher):
        assert watcher.watching == store.layout.folders
        assert posted[0].rescan and posted[0].listing  # the first watch compares everything

        job_id = add_job_folder(store)
        await until(lambda: any(job_id in changes.job_ids for changes in posted), "the new job")
        assert not any(changes.rescan for changes in posted[1:])

        # jobs/ replaced (a restore, another tool): its new folder is the one watched.
        posted.clear()
        shutil.rmtree(store.layout.jobs_dir)
        store.layout.jobs_dir.mkdir(mode=0o700)
        await until(lambda: any(changes.rescan and changes.listing for changes in posted), "a resync")
        await until(watcher.running.is_set, "the watch again")
        posted.clear()
        job_id = add_job_folder(store)
        await until(lambda: any(job_id in changes.job_ids for changes in posted), "a job in the new jobs/")


async def test_no_folder_is_watched_through_a_symlink_but_the_root(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    JobStore(elsewhere).ensure()
    (tmp_path / "store").symlink_to(elsewhere)  # a store kept elsewhere: allowed
    store = JobStore(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(store.layout.queue_dir)
    store.layout.queue_dir.symlink_to(outside)  # planted: never watched
    job_id = new_job_id()
    store.layout.job_dir(job_id).symlink_to(outside)
    watcher = StoreWatcher(store, lambda changes: None, step_ms=20)
    async with watching(watcher):
        watcher.set_jobs([job_id])
        assert store.root in watcher.watching and store.layout.jobs_dir in watcher.watching
        assert store.layout.queue_dir not in watcher.watching
        assert job_id not in watcher.watched_jobs


async def test_without_inotify_everything_is_watched_with_watchfiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobstore.inotify._libc_with_inotify", lambda: None)
    store = JobStore(tmp_path / "store")
    store.ensure()
    posted: list[StoreChanges] = []
    watcher = StoreWatcher(store, posted.append, step_ms=20)
    async with watching(watcher):
        assert watcher.watching == store.layout.folders
        job_id = add_job_folder(store)
        await until(lambda: any(job_id in changes.job_ids for changes in posted), "the new job")
        watcher.set_jobs([job_id])  # its folder joins the watch (which restarts)
        await until(lambda: job_id in watcher.watched_jobs, "the job's folder watched")
