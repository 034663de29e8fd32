"""The team's read side on Docket's `memory://`: what enqueue records, a team job's view from
queued to its end, its output rendered as the owner's store renders it, waiting, cancelling,
bad input refused with nothing written, and reading that never writes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from docket import Docket

from jobstore import InvalidInput, JobNotFound, JobStatus, JobStore, RunOptions
from team import streams
from team.client import TeamClient, TeamUnavailable
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease
from team.queue import enqueue
from team.registry import read_enqueued
from team.routing import Serving, advertise, host_docket
from team.streams import OutputCopier
from team.view import (
    OutputFollow,
    TeamJob,
    cancel_team_job,
    line_starts,
    list_team_jobs,
    read_team_job,
    read_team_output,
)
from team.worker import TeamWorker
from tests.team.conftest import started_claim

KEYS = TeamKeys()


@pytest.fixture
async def team(memory_docket: Docket) -> AsyncIterator[TeamClient]:
    async with TeamClient(memory_docket.url) as client:
        yield client


@pytest.fixture
async def own_docket(memory_docket: Docket) -> AsyncIterator[Docket]:
    """machine-a's own queue, where the jobs routed to it wait (team.routing)."""
    async with host_docket(memory_docket, KEYS, "machine-a") as own:
        yield own


@pytest.fixture
async def worker(argv_log: Path, store: JobStore, memory_redis: RedisClient, workdir: Path) -> TeamWorker:
    lease = HostLease("machine-a", "boot-a", 5.0)
    machine = TeamWorker(store, memory_redis, lease, recheck_seconds=0.2, roots=(str(workdir),))
    await machine.lease.renew(memory_redis, KEYS)
    await advertise(memory_redis, KEYS, machine.serving(), lease.seconds)  # jobs in workdir go to it
    return machine


def run(workdir: Path, prompt: str) -> RunOptions:
    return RunOptions.checked(prompt=prompt, cwd=str(workdir), model="gpt-test")


async def snapshot(redis: RedisClient) -> dict[bytes, object]:
    """Every key of the team's own (Docket's queues aside) and its value: what a read must leave as it was."""
    found: dict[bytes, object] = {}
    for key in sorted(await redis.keys(f"{KEYS.namespace}:*")):
        name = key.decode()
        if name.startswith((KEYS.docket_name, KEYS.host_docket_name(""))):  # Docket's own queues
            continue
        if name.startswith(KEYS.output("")) or name == KEYS.states:
            found[key] = await redis.xrange(key)
        elif name == KEYS.jobs:
            found[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif name in (KEYS.claimed, KEYS.hosts):
            found[key] = sorted(await redis.smembers(key))
        elif name == KEYS.routed:
            found[key] = await redis.hgetall(key)
        else:
            found[key] = await redis.get(key)
    return found


async def test_enqueue_records_the_job_and_it_reads_queued(
    team: TeamClient, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, Serving("machine-b", "boot-b", (), 2), 5.0)
    job = await team.enqueue(run(workdir, "hello team"), host="machine-b")
    assert job.status is JobStatus.QUEUED and not job.is_terminal
    assert job.team_job_id.startswith("t") and job.host is None and job.local_job_id is None
    assert (job.prompt, job.cwd, job.option("model")) == ("hello team", str(workdir), "gpt-test")
    assert job.asked.host == "machine-b" and job.asked.enqueued_at > 0
    (record,) = await read_enqueued(memory_redis, KEYS, [job.team_job_id])
    assert record is not None and record.options["approval_policy"] == "auto-edit"
    assert [each.team_job_id for each in await team.jobs(10)] == [job.team_job_id]


async def test_bad_input_is_refused_and_nothing_is_written(
    team: TeamClient, memory_redis: RedisClient, workdir: Path
) -> None:
    before = await snapshot(memory_redis)
    with pytest.raises(InvalidInput, match="host must be"):
        await team.enqueue(run(workdir, "nowhere"), host="no such/host")
    with pytest.raises(InvalidInput, match="a team job id must be"):
        await team.job("../etc")
    with pytest.raises(JobNotFound, match="no team job 'tnothere'"):
        await team.job("tnothere")
    with pytest.raises(JobNotFound):
        await team.cancel("tnothere")
    assert await snapshot(memory_redis) == before


async def test_an_unreachable_redis_is_said_plainly_and_changes_nothing(workdir: Path) -> None:
    async with TeamClient("redis://user:secret@127.0.0.1:1/0") as unreachable:
        with pytest.raises(TeamUnavailable, match=r"redis://127\.0\.0\.1:1 did not answer") as refused:
            await unreachable.enqueue(run(workdir, "lost in space"))
        assert "secret" not in str(refused.value)
        with pytest.raises(TeamUnavailable, match="nothing was changed"):
            await unreachable.jobs(5)


async def test_a_job_read_from_queued_to_done_with_its_owners_output(
    team: TeamClient,
    worker: TeamWorker,
    own_docket: Docket,
    memory_redis: RedisClient,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "CHUNK_BYTES", 1024)  # many entries: the tail reads pages
    monkeypatch.setattr(streams, "READ_PAGE", 5)
    queued = await team.enqueue(run(workdir, "lines=300 the answer"))
    await worker.serve(own_docket, until_finished=True)
    done = await team.job(queued.team_job_id)
    assert done.status is JobStatus.DONE and done.exit_code == 0
    assert done.host == "machine-a" and done.ended_by == "machine-a" and done.local_job_id is not None
    assert done.started_at is not None and done.finished_at is not None
    assert queued.asked.enqueued_at <= done.started_at <= done.finished_at
    local = worker.store
    output = await team.output(done.team_job_id)
    assert output.from_offset == 0
    for count in (1, 20, 400):
        assert output.rendered(count) == local.rendered_tail(done.local_job_id, count)
    summary = output.summary()
    assert summary.last_agent_message == local.summary(done.local_job_id).last_agent_message
    assert summary.session_id == local.get(done.local_job_id).session_id is not None
    # Only the end is read when asked for little: whole lines from a line start.
    tail = await read_team_output(memory_redis, KEYS, done.team_job_id, max_bytes=3000)
    assert tail.from_offset > 0 and 3000 <= len("\n".join(tail.lines)) < 3000 + 2 * 1024
    assert tail.rendered(10) == local.rendered_tail(done.local_job_id, 10)


async def test_reading_never_writes(
    team: TeamClient,
    worker: TeamWorker,
    own_docket: Docket,
    memory_redis: RedisClient,
    workdir: Path,
) -> None:
    ended = await team.enqueue(run(workdir, "ended"))
    await worker.serve(own_docket, until_finished=True)
    queued = await team.enqueue(run(workdir, "queued"))
    before = await snapshot(memory_redis)
    for job in (ended, queued):
        await team.job(job.team_job_id)
        await team.output(job.team_job_id)
        await team.output_from(job.team_job_id, 0)
    await team.wait(ended.team_job_id, 1)
    await team.wait(queued.team_job_id, 0.2)
    assert [each.team_job_id for each in await team.jobs(5)] == [queued.team_job_id, ended.team_job_id]
    assert await snapshot(memory_redis) == before


async def test_a_running_job_whose_machine_is_gone_reads_lost_unrecorded(
    worker: TeamWorker, own_docket: Docket, memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    team_job_id = await enqueue(memory_docket, run(workdir, "sleep=30"))
    serving = asyncio.ensure_future(worker.serve(own_docket))
    try:
        await started_claim(memory_redis, team_job_id)
        running = await read_team_job(memory_redis, KEYS, team_job_id)
        assert running.status is JobStatus.RUNNING and running.host == "machine-a"
        await memory_redis.delete(KEYS.lease("machine-a"))  # as if its lease lapsed
        lost = await read_team_job(memory_redis, KEYS, team_job_id)
        assert lost.status is JobStatus.LOST and lost.finished_at is None
        assert "not recorded yet" in (lost.describe_end() or "")
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


async def test_wait_reports_progress_and_returns_at_the_end(
    team: TeamClient, worker: TeamWorker, own_docket: Docket, workdir: Path
) -> None:
    job = await team.enqueue(run(workdir, "sleep=1.5"))
    seen: list[tuple[JobStatus, float]] = []

    async def progress(now: TeamJob, elapsed: float) -> None:
        seen.append((now.status, elapsed))

    serving = asyncio.ensure_future(worker.serve(own_docket))
    try:
        ended, waited = await team.wait(job.team_job_id, 30, progress)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    assert ended.status is JobStatus.DONE and 1.0 < waited < 30
    assert len(seen) >= 2 and {status for status, _ in seen} <= {JobStatus.QUEUED, JobStatus.RUNNING}
    still, waited = await team.wait((await team.enqueue(run(workdir, "never taken"))).team_job_id, 0.3)
    assert still.status is JobStatus.QUEUED and 0.3 <= waited < 2


async def test_a_cancel_lands_once_and_a_queued_job_never_starts(
    team: TeamClient,
    worker: TeamWorker,
    own_docket: Docket,
    memory_redis: RedisClient,
    workdir: Path,
    argv_log: Path,
) -> None:
    queued = await team.enqueue(run(workdir, "cancelled-before-start"))
    _, changed, message = await team.cancel(queued.team_job_id)
    assert changed and "never starts" in message
    _, again, message = await team.cancel(queued.team_job_id)
    assert not again and "asked already" in message
    await worker.serve(own_docket, until_finished=True)
    ended = await team.job(queued.team_job_id)
    assert ended.status is JobStatus.CANCELLED and ended.local_job_id is None
    assert "cancelled-before-start" not in argv_log.read_text() if argv_log.exists() else True
    after, changed, message = await cancel_team_job(memory_redis, KEYS, queued.team_job_id)
    assert not changed and "already ended (cancelled)" in message


async def test_the_list_filters_by_status_and_folder_newest_first(
    team: TeamClient, memory_redis: RedisClient, workdir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    await advertise(memory_redis, KEYS, Serving("machine-a", "boot-a", (str(tmp_path),), 2), 5.0)
    first = await team.enqueue(run(workdir, "one"))
    second = await team.enqueue(RunOptions.checked(prompt="two", cwd=str(other)))
    await cancel_team_job(memory_redis, KEYS, first.team_job_id)  # asked only: still queued
    ids = [job.team_job_id for job in await list_team_jobs(memory_redis, KEYS, 10)]
    assert ids == [second.team_job_id, first.team_job_id]
    under = await list_team_jobs(memory_redis, KEYS, 10, cwd=str(workdir))
    assert [job.team_job_id for job in under] == [first.team_job_id]
    assert await list_team_jobs(memory_redis, KEYS, 10, status="done") == []
    assert len(await list_team_jobs(memory_redis, KEYS, 1, status="queued")) == 1
    # A record that went (expired) is skipped, not shown half.
    await memory_redis.delete(KEYS.job(first.team_job_id))
    assert [job.team_job_id for job in await list_team_jobs(memory_redis, KEYS, 10)] == [second.team_job_id]


async def test_the_tail_reads_the_run_that_ends_the_stream(memory_redis: RedisClient) -> None:
    key = KEYS.output("t-tail")
    # Trimmed at the front, an older overlapping copy in the middle (a rebuilt stream).
    for offset, data in [(10, b"old\nline"), (18, b" one\ntwo\n"), (18, b" one\n"), (27, b"three\n")]:
        await memory_redis.xadd(key, {"offset": str(offset), "data": data})
    tail = await read_team_output(memory_redis, KEYS, "t-tail", max_bytes=1 << 20)
    assert tail.from_offset == 10 and tail.lines == ["line one", "two", "three"]
    assert tail.starts == [14, 23, 27]  # where each line starts in the owner's file


async def test_output_copier_pages_match_the_tail(
    store: JobStore, memory_redis: RedisClient, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CHUNK_BYTES", 512)
    monkeypatch.setattr(streams, "READ_PAGE", 3)
    record = store.start(RunOptions.checked(prompt="lines=200", cwd=str(workdir)))
    assert store.wait(record.job_id, 30).status is JobStatus.DONE
    await OutputCopier(store, memory_redis, KEYS, "t-pages", record.job_id).copy_new()
    output = store.open_output(record.job_id)
    assert output is not None
    with output:
        content = output.read(0, output.size())
    offset, data = await streams.read_output_tail(memory_redis, "t-pages", 2000, keys=KEYS)
    assert content.endswith(data) and offset == len(content) - len(data) and len(data) >= 2000


async def test_changes_wait_for_the_next_start_or_end_and_read_nothing_else(
    team: TeamClient, worker: TeamWorker, own_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    first = await team.enqueue(run(workdir, "first"))
    await worker.serve(own_docket, until_finished=True)
    after = await team.latest_change_id()
    assert [(c.team_job_id, c.status) for c in await team.changes("0-0", 0.1)] == [
        (first.team_job_id, "started"),
        (first.team_job_id, "done"),
    ]
    before = await snapshot(memory_redis)
    started = time.monotonic()
    assert await team.changes(after, 0.3) == []  # nothing new: it waited, then said so
    assert 0.25 <= time.monotonic() - started < 3
    assert await snapshot(memory_redis) == before
    second = await team.enqueue(run(workdir, "second"))
    waiting = asyncio.ensure_future(team.changes(after, 10))
    await worker.serve(own_docket, until_finished=True)
    changes = await waiting
    assert (changes[0].team_job_id, changes[0].status, changes[0].host) == (
        second.team_job_id,
        "started",
        "machine-a",
    )
    assert await team.latest_change_id() != after


async def test_an_unreachable_redis_has_no_changes_to_tell() -> None:
    async with TeamClient("redis://127.0.0.1:1/0") as unreachable:
        with pytest.raises(TeamUnavailable, match="team changes: the team's Redis"):
            await unreachable.changes("0-0", 0.1)
        with pytest.raises(TeamUnavailable):
            await unreachable.latest_change_id()


def test_output_follow_hands_out_whole_lines_once_in_order_and_says_where_each_starts() -> None:
    assert line_starts(7, b"a\n\nbc\nd") == [7, 9, 10, 13]
    assert line_starts(7, b"a\n\nbc\nd", from_line_start=False) == [9, 10, 13]
    assert line_starts(7, b"a\n") == [7] and line_starts(7, b"\n") == line_starts(7, b"") == []
    following = OutputFollow(100)
    assert following.take([(100, b"one\ntw")], ended=False) == (100, b"one\n")
    assert following.read_from == 106  # what is held is not read again
    assert following.take([], ended=False) == (104, b"")
    assert following.take([(106, b"o\nthr"), (110, b"ee")], ended=False) == (104, b"two\n")
    assert following.take([], ended=True) == (108, b"three")  # the end: the last line, unfinished
    assert following.read_from == following.offset == 113


async def test_a_redis_that_never_answers_is_unavailable_after_the_read_limit() -> None:
    # A port that takes connections and never answers: a stopped Redis, a dropped route.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        async with TeamClient(url, read_seconds=0.3) as team:
            for read in (team.jobs(5), team.changes("0-0", 0.2), team.output_from("t1", 0)):
                started = time.monotonic()
                with pytest.raises(TeamUnavailable, match=r"did not answer \(no answer within") as said:
                    await read
                assert 0.25 < time.monotonic() - started < 3
                assert said.value.cause.startswith("no answer within")
