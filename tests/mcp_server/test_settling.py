"""Who records a lost job in the server: codex_wait for the job it waited for, and the periodic
check (JobStore.reconcile in a thread, at start and then every check_interval seconds)."""

from __future__ import annotations

import threading

import anyio
import pytest

from jobstore import InvalidInput, JobStatus, JobStore
from mcp_server import tools
from mcp_server.settings import ServerSettings
from tests.helpers import wait_until

# A store of one slot holding a killed job that still reads `running` on disk, and a queued job.
from tests.jobstore.test_reads_are_pure import LostAndQueued, lost_and_queued  # noqa: F401  (fixture)
from tests.mcp_server.test_mcp_server import connect


async def test_codex_wait_records_the_lost_job_and_starts_queued_work(
    lost_and_queued: LostAndQueued,  # noqa: F811
) -> None:
    store, lost, queued = lost_and_queued.store, lost_and_queued.lost, lost_and_queued.queued
    # The tool called on its own, with no server around it: no periodic check runs.
    waited = await tools.codex_wait(lost.job_id, 5, ctx=None, store=store)
    assert waited.status == "lost" and waited.finished is True
    assert waited.error and "not recorded" not in waited.error
    assert store.read_record(lost.job_id).status == JobStatus.LOST
    assert store.wait(queued.job_id, 20).status == JobStatus.DONE


async def test_the_periodic_check_records_lost_jobs_without_any_call(
    lost_and_queued: LostAndQueued,  # noqa: F811
) -> None:
    store, lost, queued = lost_and_queued.store, lost_and_queued.lost, lost_and_queued.queued
    async with connect(store, ServerSettings(check_interval=0.05)):
        await anyio.to_thread.run_sync(
            lambda: wait_until(lambda: store.read_record(queued.job_id).status == JobStatus.DONE)
        )
    assert store.read_record(lost.job_id).status == JobStatus.LOST


async def test_the_check_repeats_while_the_server_runs_and_stops_with_it(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    checked = threading.Event()

    def counted() -> None:
        nonlocal checks
        checks += 1
        if checks >= 3:
            checked.set()

    monkeypatch.setattr(store, "reconcile", counted)
    async with connect(store, ServerSettings(check_interval=0.01)):
        assert await anyio.to_thread.run_sync(checked.wait, 20)
    stopped_at = checks
    await anyio.sleep(0.1)
    assert checks == stopped_at


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput, match="check_interval"):
        ServerSettings(check_interval=0)
    with pytest.raises(InvalidInput, match="max_policy 'yolo'"):
        ServerSettings(max_policy="yolo")
