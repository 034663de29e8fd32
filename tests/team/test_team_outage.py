"""A worker process through a Redis outage, on a real redis-server: it takes new jobs again soon
after Redis is back though a long job runs on, and it leaves on SIGINT or SIGTERM while Redis is
away (killed, or stopped with SIGSTOP: connected, but answering nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docket import Docket

from jobstore import JobStatus, RunOptions
from team.claim import Claim
from team.cli import EXIT_INTERRUPTED
from team.queue import enqueue
from tests.team.conftest import RedisServer, codex_runs, started_claim
from tests.team.test_team_redis import KEYS, Ends, Machine


@pytest.fixture
def paused(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The test's redis-server, sent SIGCONT at the end whatever the test did with SIGSTOP."""
    yield redis_server
    if redis_server.process.poll() is None:
        os.kill(redis_server.process.pid, signal.SIGCONT)


def exit_code(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


async def started_job(redis_url: str, prompt: str, workdir: Path) -> tuple[str, Claim]:
    """One job put on the queue; once its worker started it: its team job id and its claim."""
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        team_job_id = await enqueue(docket, RunOptions.checked(prompt=prompt, cwd=str(workdir)))
        claim = await started_claim(redis, team_job_id)
    assert claim.job_id is not None
    return team_job_id, claim


async def test_a_worker_takes_a_new_job_soon_after_redis_is_back_while_a_long_job_runs(
    machine_a: Machine, redis_server: RedisServer, workdir: Path, argv_log: Path
) -> None:
    long_id, long_claim = await started_job(redis_server.url, "sleep=600 long-1.", workdir)
    await asyncio.sleep(1.5)  # AOF `everysec`: the claim is on disk
    redis_server.kill()
    await asyncio.sleep(2)
    redis_server.start()
    machine_a.wait_serving()
    async with Docket(name=KEYS.docket_name, url=redis_server.url) as docket, docket.redis() as redis:
        new_id = await enqueue(docket, RunOptions.checked(prompt="sleep=0.5 after-1.", cwd=str(workdir)))
        ends = await Ends().wait(redis_server.url, [new_id], timeout=30)
        long_end = await redis.get(KEYS.end(long_id))
    assert ends[new_id] == "done", machine_a.log.read_text()
    assert long_end is None  # the long job runs on, watched
    assert machine_a.store.get(long_claim.job_id).status is JobStatus.RUNNING
    assert len(codex_runs(argv_log, "long-1.")) == 1
    assert len(codex_runs(argv_log, "after-1.")) == 1


@pytest.mark.parametrize("outage", ["killed", "stopped"])
async def test_sigint_while_redis_is_away_leaves_at_once_and_the_job_runs_on(
    outage: str, machine_a: Machine, paused: RedisServer, workdir: Path, argv_log: Path
) -> None:
    _, claim = await started_job(paused.url, "sleep=600 int-1.", workdir)
    if outage == "killed":
        paused.kill()
    else:  # connected, answering nothing: every call waits
        os.kill(paused.process.pid, signal.SIGSTOP)
    await asyncio.sleep(0.5)
    machine_a.process.send_signal(signal.SIGINT)
    code = exit_code(machine_a.process, 15)
    if outage == "killed":
        paused.start()  # the fixtures' teardown needs a live server
    else:
        os.kill(paused.process.pid, signal.SIGCONT)
    assert code == EXIT_INTERRUPTED, machine_a.log.read_text()  # left, though Redis is away
    assert claim.job_id is not None  # its runner goes on (detached), to be re-attached or kept
    assert machine_a.store.get(claim.job_id).status is JobStatus.RUNNING


async def test_sigterm_while_redis_is_stopped_exits_once_its_job_ended_and_the_keeper_records_it(
    machine_a: Machine, paused: RedisServer, workdir: Path, argv_log: Path
) -> None:
    team_job_id, claim = await started_job(paused.url, "sleep=4 term-1.", workdir)
    deadline = time.monotonic() + 10
    while not machine_a.keepers():  # started with the job: it records the end once Redis is back
        assert time.monotonic() < deadline, machine_a.log.read_text()
        await asyncio.sleep(0.05)
    os.kill(paused.process.pid, signal.SIGSTOP)
    machine_a.process.send_signal(signal.SIGTERM)
    code = exit_code(machine_a.process, 40)
    ended_locally = machine_a.store.get(claim.job_id).status
    os.kill(paused.process.pid, signal.SIGCONT)
    assert code == 0, machine_a.log.read_text()
    assert ended_locally is JobStatus.DONE  # it waited for the job before leaving
    ends = await Ends().wait(paused.url, [team_job_id], timeout=30)
    assert ends[team_job_id] == "done", (machine_a.store.root / "team-keeper.log").read_text()
    async with Docket(name=KEYS.docket_name, url=paused.url) as docket, docket.redis() as redis:
        end = json.loads(await redis.get(KEYS.end(team_job_id)))
    assert end["by"] == "machine-a" and end["exit_code"] == 0
    assert len(codex_runs(argv_log, "term-1.")) == 1
