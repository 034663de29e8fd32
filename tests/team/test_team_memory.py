"""The team's rules on Docket's in-process `memory://` backend: a job is started at most once
however often it is delivered, a cancel lands without its nudge, a gone machine's job ends
`lost` exactly once and a recorded end is never replaced, options are checked (never argv)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest
from docket import Docket

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions
from team.cancel import is_cancel_requested, request_cancel
from team.claim import Claim, claim_job, read_claim
from team.keys import RedisClient, TeamKeys
from team.lease import (
    ENDED_KEEP_SECONDS,
    HostLease,
    read_boot_id,
    read_end,
    record_end,
    settle_if_owner_gone,
    settle_lost_jobs,
)
from team.queue import enqueue
from team.routing import advertise, host_docket
from team.worker import TeamWorker
from tests.conftest import stop_everything
from tests.team.conftest import codex_runs, started_claim

KEYS = TeamKeys()


def options(workdir: Path, prompt: str) -> dict[str, object]:
    return {"prompt": prompt, "cwd": str(workdir)}


@pytest.fixture
async def machine_a(argv_log: Path, store: JobStore, memory_redis: RedisClient) -> AsyncIterator[TeamWorker]:
    yield TeamWorker(store, memory_redis, HostLease("machine-a", "boot-a", 5.0), recheck_seconds=0.2)


@pytest.fixture
def store_b(tmp_path: Path, fake_codex: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "store-b", max_jobs=5, codex_bin=str(fake_codex), cancel_grace=2.0)
    yield store
    stop_everything(store)


async def test_a_second_delivery_never_starts_codex_again(
    machine_a: TeamWorker, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    await machine_a.lease.renew(memory_redis, KEYS)
    first = await machine_a.run_job("t-twice", options(workdir, "twice-1"))
    again = await machine_a.run_job("t-twice", options(workdir, "twice-1"))
    assert (first, again) == ("done", "done")
    # Two deliveries at once (Docket hands a task to a worker while another still runs it).
    both = await asyncio.gather(
        machine_a.run_job("t-both", options(workdir, "both-1")),
        machine_a.run_job("t-both", options(workdir, "both-1")),
    )
    assert both == ["done", "done"]
    assert len(codex_runs(argv_log, "twice-1")) == 1
    assert len(codex_runs(argv_log, "both-1")) == 1
    claim = await read_claim(memory_redis, KEYS, "t-twice")
    assert claim is not None and claim.host_id == "machine-a" and claim.job_id is not None
    assert machine_a.store.get(claim.job_id).status is JobStatus.DONE
    assert machine_a.store.get(claim.job_id).client == "team:t-twice"


async def test_redelivery_through_docket_reattaches(
    machine_a: TeamWorker, memory_docket: Docket, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    deliveries: list[str] = []
    admit = machine_a.admit  # what Docket's task calls

    async def counted(team_job_id: str, values: Mapping[str, object]) -> str:
        deliveries.append(team_job_id)
        return await admit(team_job_id, values)

    machine_a.admit = counted  # type: ignore[method-assign]
    run = RunOptions.checked(prompt="queued-1", cwd=str(workdir))
    await advertise(memory_redis, KEYS, machine_a.serving(), 5.0)
    team_job_id = await enqueue(memory_docket, run, host="machine-a")
    async with host_docket(memory_docket, KEYS, "machine-a") as own:
        await machine_a.serve(own, until_finished=True)
        assert await read_end(memory_redis, KEYS, team_job_id) == "done"
        # The same task added again after it ran (what a redelivery looks like to the worker).
        await enqueue(memory_docket, run, host="machine-a", team_job_id=team_job_id)
        await machine_a.serve(own, until_finished=True)
    assert deliveries == [team_job_id, team_job_id]
    assert len(codex_runs(argv_log, "queued-1")) == 1
    assert len(machine_a.store.job_ids()) == 1


async def test_another_machine_reads_the_owners_end(
    machine_a: TeamWorker, store_b: JobStore, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    machine_b = TeamWorker(store_b, memory_redis, HostLease("machine-b", "boot-b", 5.0), recheck_seconds=0.1)
    await machine_a.lease.renew(memory_redis, KEYS)
    owner = asyncio.ensure_future(machine_a.run_job("t-owned", options(workdir, "sleep=1 owned-1")))
    while (await read_claim(memory_redis, KEYS, "t-owned")) is None:
        await asyncio.sleep(0.02)
    # Delivered to B while A runs it: B waits for A's end and starts nothing.
    assert await machine_b.run_job("t-owned", options(workdir, "sleep=1 owned-1")) == "done"
    assert await owner == "done"
    assert len(codex_runs(argv_log, "owned-1")) == 1
    assert store_b.job_ids() == []


async def test_options_are_checked_again_by_the_worker(
    machine_a: TeamWorker, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    # Whatever a queue message carries, only known options, each checked, reach codex.
    bad = {"prompt": "argv-1", "cwd": str(workdir), "argv": ["sh", "-c", "touch /tmp/pwned"]}
    assert await machine_a.run_job("t-argv", bad) == "error"
    assert await machine_a.run_job("t-relative", {"prompt": "argv-1", "cwd": "relative/dir"}) == "error"
    assert codex_runs(argv_log, "argv-1") == []
    assert machine_a.store.job_ids() == []


async def test_the_machines_policy_cap_holds(
    argv_log: Path, store: JobStore, memory_redis: RedisClient, workdir: Path
) -> None:
    capped = TeamWorker(store, memory_redis, HostLease("careful", "boot-c", 5.0), max_policy="auto-edit")
    no_sandbox = {**options(workdir, "capped-1"), "approval_policy": "full-auto"}
    sandbox_around = {
        **options(workdir, "capped-2"),
        "approval_policy": "suggest",
        "sandbox": "danger-full-access",
    }
    assert await capped.run_job("t-capped-1", no_sandbox) == "error"
    assert await capped.run_job("t-capped-2", sandbox_around) == "error"
    assert codex_runs(argv_log, "capped-") == []
    assert (
        await capped.run_job("t-capped-3", {**options(workdir, "capped-3"), "approval_policy": "auto-edit"})
        == "done"
    )


async def test_a_start_that_fails_unexpectedly_ends_error(
    machine_a: TeamWorker, memory_redis: RedisClient, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_start(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(machine_a.store, "start", broken_start)
    assert await machine_a.run_job("t-broken", options(workdir, "broken-1")) == "error"
    assert not await memory_redis.sismember(KEYS.claimed, "t-broken")


async def test_a_cancel_asked_before_the_start_means_no_start(
    machine_a: TeamWorker, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    await request_cancel(memory_redis, KEYS, "t-early")
    assert await machine_a.run_job("t-early", options(workdir, "early-1")) == "cancelled"
    assert codex_runs(argv_log, "early-1") == []


async def test_a_cancel_without_its_nudge_lands_at_the_owners_check(
    machine_a: TeamWorker, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    # No one listens for nudges: only the key is set (the nudge lost with a dropped connection).
    run = asyncio.ensure_future(machine_a.run_job("t-durable", options(workdir, "sleep=60 durable-1")))
    claim = await _started(memory_redis, "t-durable")
    await memory_redis.set(KEYS.cancel("t-durable"), "1")
    began = time.monotonic()
    assert await asyncio.wait_for(run, 20) == "cancelled"
    assert time.monotonic() - began < 10
    assert machine_a.store.get(claim).status is JobStatus.CANCELLED
    # At most once: the cancel may land before the runner has started codex at all.
    assert len(codex_runs(argv_log, "durable-1")) <= 1


async def test_a_nudge_cancels_at_once(
    argv_log: Path, store: JobStore, memory_redis: RedisClient, workdir: Path
) -> None:
    # The periodic check is far away (60 s): only the nudge can end it in time.
    machine = TeamWorker(store, memory_redis, HostLease("machine-a", "boot-a", 5.0), recheck_seconds=60)
    listener = asyncio.ensure_future(machine.listen_for_cancels())
    try:
        run = asyncio.ensure_future(machine.run_job("t-nudged", options(workdir, "sleep=60 nudged-1")))
        await _started(memory_redis, "t-nudged")
        while "t-nudged" not in machine._local_ids:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # subscribed by now
        await request_cancel(memory_redis, KEYS, "t-nudged")
        assert await asyncio.wait_for(run, 15) == "cancelled"
        assert await is_cancel_requested(memory_redis, KEYS, "t-nudged")
    finally:
        listener.cancel()


async def _started(redis: RedisClient, team_job_id: str) -> str:
    """The local job id once the owner has named it."""
    job_id = (await started_claim(redis, team_job_id, timeout=20)).job_id
    assert job_id is not None
    return job_id


async def test_lost_is_recorded_exactly_once_when_the_lease_expires(memory_redis: RedisClient) -> None:
    lease = HostLease("machine-gone", "boot-g", seconds=2.0)  # room for a loaded machine
    await lease.renew(memory_redis, KEYS)
    await claim_job(memory_redis, KEYS, "t-gone", Claim("machine-gone", "boot-g", "local-1"))
    # Alive: nobody may record it lost.
    assert not await settle_if_owner_gone(memory_redis, KEYS, "t-gone", by="watcher-1")
    await asyncio.sleep(2.3)  # the lease lapses
    outcomes = await asyncio.gather(
        *(settle_if_owner_gone(memory_redis, KEYS, "t-gone", by=f"watcher-{n}") for n in range(8))
    )
    assert outcomes.count(True) == 1
    assert await read_end(memory_redis, KEYS, "t-gone") == "lost"
    assert not await settle_if_owner_gone(memory_redis, KEYS, "t-gone", by="watcher-9")
    assert await settle_lost_jobs(memory_redis, KEYS, by="watcher-9") == []


async def test_a_recorded_end_is_never_made_lost(memory_redis: RedisClient) -> None:
    await claim_job(memory_redis, KEYS, "t-ended", Claim("machine-gone", "boot-g", "local-2"))
    assert await record_end(memory_redis, KEYS, "t-ended", JobStatus.DONE, by="machine-gone") == (
        True,
        "done",
    )
    # No lease at all (the machine is gone), yet the end stays the truthful one.
    assert not await settle_if_owner_gone(memory_redis, KEYS, "t-ended", by="watcher")
    assert await record_end(memory_redis, KEYS, "t-ended", JobStatus.LOST, by="watcher") == (False, "done")
    assert await read_end(memory_redis, KEYS, "t-ended") == "done"
    # Kept a week for late redeliveries, then gone: Redis does not grow with every job ever run.
    for key in (KEYS.end("t-ended"), KEYS.claim("t-ended")):
        assert 0 < await memory_redis.ttl(key) <= ENDED_KEEP_SECONDS
    assert not await memory_redis.sismember(KEYS.claimed, "t-ended")


async def test_a_restarted_machine_has_lost_its_jobs(memory_redis: RedisClient) -> None:
    # Same host id, new boot id: the old boot's processes are gone.
    await claim_job(memory_redis, KEYS, "t-rebooted", Claim("machine-r", "boot-old", "local-3"))
    await HostLease("machine-r", "boot-new", 5.0).renew(memory_redis, KEYS)
    assert await settle_lost_jobs(memory_redis, KEYS, by="machine-r") == ["t-rebooted"]
    assert await read_end(memory_redis, KEYS, "t-rebooted") == "lost"


async def test_two_live_machines_cannot_share_a_host_id(memory_redis: RedisClient) -> None:
    await HostLease("twin", "boot-1", 5.0).renew(memory_redis, KEYS)
    await HostLease("twin", "boot-1", 5.0).renew(memory_redis, KEYS)  # the same machine renews
    with pytest.raises(InvalidInput, match="in use by another live machine"):
        await HostLease("twin", "boot-2", 5.0).renew(memory_redis, KEYS)


def test_boot_id_is_this_boots() -> None:
    assert read_boot_id() == read_boot_id() and len(read_boot_id()) >= 32


async def test_a_worker_refuses_to_serve_under_a_taken_host_id(
    store: JobStore, memory_docket: Docket, memory_redis: RedisClient
) -> None:
    await HostLease("twin", "boot-1", 5.0).renew(memory_redis, KEYS)
    impostor = TeamWorker(store, memory_redis, HostLease("twin", "boot-2", 5.0))
    with pytest.raises(InvalidInput, match="in use by another live machine"):
        await impostor.serve(memory_docket, until_finished=True)


async def test_a_restarted_worker_reattaches_to_its_running_jobs(
    machine_a: TeamWorker, store: JobStore, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    await machine_a.lease.renew(memory_redis, KEYS)
    first = asyncio.ensure_future(machine_a.run_job("t-again", options(workdir, "sleep=1 again-1")))
    job_id = await _started(memory_redis, "t-again")
    # The worker process is gone (its run and its watch with it); its detached runner goes on.
    machine_a._watches["t-again"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # The same machine's next worker process (same host id and boot id), a store of the same folder.
    successor = TeamWorker(JobStore(store.root), memory_redis, machine_a.lease, recheck_seconds=0.2)
    assert await successor.reattach_own_jobs() == ["t-again"]
    deadline = time.monotonic() + 20
    while (end := await read_end(memory_redis, KEYS, "t-again")) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert end == "done"
    assert store.get(job_id).status is JobStatus.DONE
    assert len(codex_runs(argv_log, "again-1")) == 1
