"""Where a team job goes, on memory://: to the machine named, else to a live machine that serves
its folder, least busy first; none is an error at enqueue with nothing queued; a job whose
machine stopped serving before taking it is routed again or recorded lost with a reason, once;
the claim honours the route and the team-wide limit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from docket import Docket

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions
from team.cancel import request_cancel
from team.claim import Claim, Outcome, claim_job
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease, read_end, read_end_fields, record_end
from team.queue import enqueue
from team.routing import (
    NoMachine,
    Serving,
    advertise,
    check_repo_roots,
    choose_host,
    reroute_orphans,
    serving_hosts,
)
from team.worker import TeamWorker, codex_team_job
from tests.team.conftest import codex_runs

KEYS = TeamKeys()


def serving(host: str, *roots: str, concurrency: int = 2, running: int = 0) -> Serving:
    return Serving(host, f"boot-{host}", tuple(roots), concurrency, running)


def test_a_folder_goes_to_a_machine_that_serves_it_least_busy_first() -> None:
    live = {
        "a": serving("a", "/src/app", running=1),
        "b": serving("b", "/src/app", "/src/lib", concurrency=4, running=1),
        "c": serving("c", "/src/lib"),
    }
    assert choose_host(live, {}, "/src/app", None) == "b"  # 1/4 busy beats 1/2
    assert choose_host(live, {"b": 3}, "/src/app/pkg/../sub", None) == "a"  # routed, not taken, count
    assert choose_host(live, {}, "/src/lib/x", None) == "c"
    # Only the path's own parents count: /src/application is not inside /src/app.
    with pytest.raises(NoMachine, match="no live machine serves '/src/application'") as refused:
        choose_host(live, {}, "/src/application", None)
    assert "--repo DIR" in str(refused.value) and "host=NAME" in str(refused.value)


def test_a_named_machine_must_be_serving() -> None:
    live = {"a": serving("a", "/src/app")}
    assert choose_host(live, {}, "/anywhere/else", "a") == "a"  # named: its folder is the caller's word
    with pytest.raises(NoMachine, match="no worker of host 'b' is serving now"):
        choose_host(live, {}, "/src/app", "b")
    assert issubclass(NoMachine, InvalidInput)


def test_repo_roots_must_exist_and_are_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert check_repo_roots([str(tmp_path / "link"), str(real)]) == (str(real),)
    with pytest.raises(InvalidInput, match="is not a folder on this machine"):
        check_repo_roots([str(tmp_path / "missing")])


async def test_no_machine_for_the_folder_queues_nothing(
    memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, serving("a", "/elsewhere"), 5.0)
    with pytest.raises(NoMachine, match=str(workdir)):
        await enqueue(memory_docket, RunOptions.checked(prompt="nowhere-1", cwd=str(workdir)))
    with pytest.raises(NoMachine, match="host 'ghost'"):
        await enqueue(memory_docket, RunOptions.checked(prompt="nowhere-2", cwd=str(workdir)), host="ghost")
    assert await memory_redis.hgetall(KEYS.routed) == {}
    assert await memory_redis.exists(f"{KEYS.host_docket_name('a')}:stream") == 0


async def test_enqueue_routes_and_records_the_route(
    memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, serving("a", str(workdir)), 5.0)
    await advertise(memory_redis, KEYS, serving("b", str(workdir)), 5.0)
    (workdir / "sub").mkdir()
    run = RunOptions.checked(prompt="routed-1", cwd=str(workdir / "sub"))
    first, second = await enqueue(memory_docket, run), await enqueue(memory_docket, run)
    routed = await memory_redis.hgetall(KEYS.routed)
    # The first went to the least busy (a, by name), the second counted it and went to b.
    assert {k.decode(): v.decode() for k, v in routed.items()} == {first: "a", second: "b"}
    pinned = await enqueue(memory_docket, run, host="a")
    route = json.loads(await memory_redis.get(KEYS.route(pinned)))
    assert route["pinned"] is True and route["host"] == "a" and route["values"]["prompt"] == "routed-1"
    for host, count in (("a", 2), ("b", 1)):
        assert await memory_redis.xlen(f"{KEYS.host_docket_name(host)}:stream") == count


async def test_a_claim_honours_the_route_and_the_end(memory_redis: RedisClient) -> None:
    await memory_redis.hset(KEYS.routed, "t-r", "b")
    taken = await claim_job(memory_redis, KEYS, "t-r", Claim("a", "boot-a"))
    assert (taken.outcome, taken.detail) == (Outcome.ELSEWHERE, "b")
    won = await claim_job(memory_redis, KEYS, "t-r", Claim("b", "boot-b"))
    assert won.outcome is Outcome.WON and await memory_redis.hgetall(KEYS.routed) == {}
    again = await claim_job(memory_redis, KEYS, "t-r", Claim("a", "boot-a"))
    assert again.outcome is Outcome.OWNED and again.owner == Claim("b", "boot-b")
    await record_end(memory_redis, KEYS, "t-e", JobStatus.LOST, by="w", reason="gone")
    ended = await claim_job(memory_redis, KEYS, "t-e", Claim("a", "boot-a"))
    assert ended.outcome is Outcome.ENDED and json.loads(ended.detail)["reason"] == "gone"


async def test_the_team_limit_counts_claimed_jobs_without_an_end(memory_redis: RedisClient) -> None:
    await memory_redis.set(KEYS.team_limit, "2")
    assert (await claim_job(memory_redis, KEYS, "t-1", Claim("a", "boot-a"))).outcome is Outcome.WON
    assert (await claim_job(memory_redis, KEYS, "t-2", Claim("b", "boot-b"))).outcome is Outcome.WON
    full = await claim_job(memory_redis, KEYS, "t-3", Claim("a", "boot-a"))
    assert (full.outcome, full.detail) == (Outcome.FULL, "2")
    # A redelivery of a running job is not a new job: it still learns its owner.
    assert (await claim_job(memory_redis, KEYS, "t-1", Claim("b", "boot-b"))).outcome is Outcome.OWNED
    await record_end(memory_redis, KEYS, "t-1", JobStatus.LOST, by="w")  # a lost job frees its place
    assert (await claim_job(memory_redis, KEYS, "t-3", Claim("a", "boot-a"))).outcome is Outcome.WON


async def test_a_job_waits_for_the_team_limit_then_starts(
    store: JobStore, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    worker = TeamWorker(store, memory_redis, HostLease("a", "boot-a", 5.0), recheck_seconds=0.2)
    await memory_redis.set(KEYS.team_limit, "1")
    await claim_job(memory_redis, KEYS, "t-other", Claim("b", "boot-b", "local-9"))
    waiting = asyncio.ensure_future(worker.run_job("t-wait", {"prompt": "waits-1", "cwd": str(workdir)}))
    await asyncio.sleep(1.0)
    assert not waiting.done() and codex_runs(argv_log, "waits-1") == []
    await record_end(memory_redis, KEYS, "t-other", JobStatus.DONE, by="b")
    assert await asyncio.wait_for(waiting, 20) == "done"
    assert len(codex_runs(argv_log, "waits-1")) == 1
    # A cancel asked while a job waits ends it unstarted.
    await claim_job(memory_redis, KEYS, "t-other-2", Claim("b", "boot-b", "local-8"))
    doomed = asyncio.ensure_future(worker.run_job("t-wait-2", {"prompt": "waits-2", "cwd": str(workdir)}))
    await asyncio.sleep(0.5)
    await request_cancel(memory_redis, KEYS, "t-wait-2")
    assert await asyncio.wait_for(doomed, 10) == "cancelled"
    assert codex_runs(argv_log, "waits-2") == []


async def test_a_job_of_a_machine_that_stopped_serving_is_routed_again_once(
    memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, serving("a", str(workdir)), 5.0)
    moved = await enqueue(memory_docket, RunOptions.checked(prompt="moved-1", cwd=str(workdir)))
    pinned = await enqueue(memory_docket, RunOptions.checked(prompt="pinned-1", cwd=str(workdir)), host="a")
    (workdir / "sub").mkdir()
    nested = await enqueue(memory_docket, RunOptions.checked(prompt="nested-1", cwd=str(workdir / "sub")))
    # a stops serving (its advertisement expired); b serves another folder, c the workdir.
    await memory_redis.delete(KEYS.serves("a"))
    await advertise(memory_redis, KEYS, serving("b", str(workdir / "x")), 5.0)  # not the workdir
    await advertise(memory_redis, KEYS, serving("c", str(workdir)), 5.0)
    assert set(await serving_hosts(memory_redis, KEYS)) == {"b", "c"}
    results = await asyncio.gather(
        *(reroute_orphans(memory_docket, memory_redis, KEYS, codex_team_job, f"w{n}") for n in range(6))
    )
    merged: dict[str, list[str]] = {}
    for result in results:
        for team_job_id, where in result.items():
            merged.setdefault(team_job_id, []).append(where)
    # Each job handled exactly once, by one of the racing watchers.
    assert merged == {moved: ["c"], nested: ["c"], pinned: ["lost"]}
    end = await read_end_fields(memory_redis, KEYS, pinned)
    assert end is not None and end["status"] == "lost"
    assert "machine a stopped serving before it took the job" in str(end["reason"])
    assert "host=" in str(end["reason"])
    routed = {k.decode(): v.decode() for k, v in (await memory_redis.hgetall(KEYS.routed)).items()}
    assert routed == {moved: "c", nested: "c"}
    assert await memory_redis.xlen(f"{KEYS.host_docket_name('c')}:stream") == 2
    # c stops too and nothing else serves the folder: lost, with the reason.
    await memory_redis.delete(KEYS.serves("c"))
    assert await reroute_orphans(memory_docket, memory_redis, KEYS, codex_team_job, "w") == {
        moved: "lost",
        nested: "lost",
    }
    end = await read_end_fields(memory_redis, KEYS, moved)
    assert end is not None and f"no other live machine serves {workdir}" in str(end["reason"])
    assert await memory_redis.hgetall(KEYS.routed) == {}
    assert await reroute_orphans(memory_docket, memory_redis, KEYS, codex_team_job, "w") == {}


async def test_a_taken_job_is_never_routed_again_nor_lost(
    memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, serving("a", str(workdir)), 5.0)
    team_job_id = await enqueue(memory_docket, RunOptions.checked(prompt="taken-1", cwd=str(workdir)))
    assert (await claim_job(memory_redis, KEYS, team_job_id, Claim("a", "boot-a"))).outcome is Outcome.WON
    await memory_redis.delete(KEYS.serves("a"))
    assert await reroute_orphans(memory_docket, memory_redis, KEYS, codex_team_job, "w") == {}
    assert await read_end(memory_redis, KEYS, team_job_id) is None


async def test_a_delivery_for_a_job_being_routed_again_waits_for_the_switch(
    store: JobStore, memory_redis: RedisClient, workdir: Path, argv_log: Path
) -> None:
    # A watcher adds the job to this machine's queue before it switches the route from the machine
    # that stopped serving: the delivery must wait for the switch, not drop the job.
    worker = TeamWorker(store, memory_redis, HostLease("a", "boot-a", 5.0), recheck_seconds=0.2)
    await advertise(memory_redis, KEYS, serving("b", str(workdir)), 5.0)
    await memory_redis.hset(KEYS.routed, "t-moving", "gone")
    moving = asyncio.ensure_future(worker.run_job("t-moving", {"prompt": "moving-1", "cwd": str(workdir)}))
    await asyncio.sleep(0.6)
    assert not moving.done()
    await memory_redis.hset(KEYS.routed, "t-moving", "a")  # the switch
    assert await asyncio.wait_for(moving, 20) == "done"
    assert len(codex_runs(argv_log, "moving-1")) == 1
    # Routed to a machine that serves: this delivery is stale and leaves the job to it.
    await memory_redis.hset(KEYS.routed, "t-there", "b")
    assert await worker.run_job("t-there", {"prompt": "there-1", "cwd": str(workdir)}) == "routed to b"
    assert codex_runs(argv_log, "there-1") == []
