"""A job's output stream and the team's state stream: on memory:// the copier's rules (append only
where the stream ends, refill what Redis lost, never twice) and the reader's (in order, deduped by
offset); on a real redis-server two worker processes whose jobs' streams equal their output files
byte for byte, after Redis was killed or flushed mid-job too, and each start and end on the state
stream exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from docket import Docket
from redis.asyncio import Redis

from jobstore import JobStatus, JobStore, RunOptions
from team import streams
from team.claim import Claim, claim_job, record_started
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease, record_end
from team.queue import enqueue
from team.streams import OutputCopier, read_output, stream_end, tail_states
from team.worker import TeamWorker
from tests.team import test_team_redis
from tests.team.conftest import RedisServer, started_claim
from tests.team.test_team_redis import Ends, Machine

KEYS = TeamKeys()


def file_bytes(store: JobStore, job_id: str) -> bytes:
    output = store.open_output(job_id)
    assert output is not None
    with output:
        return output.read(0, output.size())


def joined(pieces: list[tuple[int, bytes]], start: int = 0) -> bytes:
    """The pieces as one text, checking they follow each other from `start`, no gap, no overlap."""
    expected = start
    for offset, data in pieces:
        assert offset == expected, (offset, expected)
        expected += len(data)
    return b"".join(data for _, data in pieces)


async def entry_offsets(redis: RedisClient, team_job_id: str) -> list[int]:
    entries = await redis.xrange(KEYS.output(team_job_id), min="-", count=100_000)
    return [int(fields[b"offset"]) for _, fields in entries]


async def ended_job(store: JobStore, workdir: Path, prompt: str) -> str:
    record = store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))
    assert store.wait(record.job_id, 30).status is JobStatus.DONE
    return record.job_id


# ------------------------------------------------------------ memory://


async def test_the_copy_equals_the_file_and_is_never_made_twice(
    store: JobStore, memory_redis: RedisClient, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CHUNK_BYTES", 4096)  # many entries from one file
    job_id = await ended_job(store, workdir, "lines=2000 garbage")
    copier = OutputCopier(store, memory_redis, KEYS, "t-copy", job_id)
    content = file_bytes(store, job_id)
    assert await copier.copy_new() == len(content)
    offsets = await entry_offsets(memory_redis, "t-copy")
    assert len(offsets) > 10
    assert await copier.copy_new() == len(content)  # nothing new: nothing added
    assert await entry_offsets(memory_redis, "t-copy") == offsets
    assert joined(await read_output(memory_redis, "t-copy")) == content  # invalid UTF-8, NULs as written
    monkeypatch.setattr(streams, "READ_PAGE", 7)  # read in many pages: none skipped, none twice
    assert joined(await read_output(memory_redis, "t-copy")) == content
    assert joined(await read_output(memory_redis, "t-copy", 5000), 5000) == content[5000:]


async def test_a_stream_that_lost_its_end_or_all_is_refilled_from_the_file(
    store: JobStore, memory_redis: RedisClient, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CHUNK_BYTES", 4096)
    job_id = await ended_job(store, workdir, "lines=1000")
    content = file_bytes(store, job_id)
    copier = OutputCopier(store, memory_redis, KEYS, "t-lost", job_id)
    # Redis came back without the last writes: only the first two chunks are left.
    assert await copier._append(0, content[:4096]) == 4096
    assert await copier._append(4096, content[4096:8192]) == 8192
    assert await copier.copy_new() == len(content)
    offsets = await entry_offsets(memory_redis, "t-lost")
    assert offsets == sorted(set(offsets))  # no offset twice
    assert joined(await read_output(memory_redis, "t-lost")) == content
    # Flushed: all of it again, from the file.
    await memory_redis.delete(KEYS.output("t-lost"))
    assert await stream_end(memory_redis, KEYS, "t-lost") == 0
    assert await copier.copy_new() == len(content)
    assert joined(await read_output(memory_redis, "t-lost")) == content


async def test_an_append_lands_only_where_the_stream_ends(store: JobStore, memory_redis: RedisClient) -> None:
    copier = OutputCopier(store, memory_redis, KEYS, "t-append", "no-job")
    assert await copier._append(5, b"late") == 0  # a gap refused: the stream's end is 0
    assert await copier._append(0, b"hello ") == 6
    assert await copier._append(0, b"hello ") == 6  # a second copier's same chunk: not added
    assert await copier._append(6, b"world\n") == 12
    assert await read_output(memory_redis, "t-append") == [(0, b"hello "), (6, b"world\n")]


async def test_the_reader_starts_at_its_offset_and_skips_what_it_has(memory_redis: RedisClient) -> None:
    key = KEYS.output("t-read")
    # An older copy overlapping a newer one (as a rebuilt stream may hold): deduped by offset.
    for offset, data in [(0, b"abc"), (3, b"def"), (0, b"abcdef"), (6, b"gh")]:
        await memory_redis.xadd(key, {"offset": str(offset), "data": data})
    assert await read_output(memory_redis, "t-read", 2) == [(2, b"c"), (3, b"def"), (6, b"gh")]
    assert await read_output(memory_redis, "t-read", 8) == []
    assert joined(await read_output(memory_redis, "t-read")) == b"abcdefgh"


async def test_each_start_and_end_is_on_the_state_stream_once(
    store: JobStore, memory_redis: RedisClient, workdir: Path
) -> None:
    worker = TeamWorker(store, memory_redis, HostLease("machine-a", "boot-a", 5.0), recheck_seconds=0.2)
    await worker.lease.renew(memory_redis, KEYS)
    assert await worker.run_job("t-s1", {"prompt": "lines=50 s1", "cwd": str(workdir)}) == "done"
    assert await worker.run_job("t-s1", {"prompt": "lines=50 s1", "cwd": str(workdir)}) == "done"
    # Called again (a retry after a lost reply): neither adds a change.
    mine = Claim("machine-b", "boot-b")
    await claim_job(memory_redis, KEYS, "t-s2", mine)
    for _ in range(2):
        await record_started(memory_redis, KEYS, "t-s2", Claim("machine-b", "boot-b", "job-b"))
        await record_end(memory_redis, KEYS, "t-s2", JobStatus.CANCELLED, by="machine-b")
    changes = await tail_states(memory_redis)
    seen = [(each.team_job_id, each.status, each.host) for each in changes]
    assert seen == [
        ("t-s1", "started", "machine-a"),
        ("t-s1", "done", "machine-a"),
        ("t-s2", "started", "machine-b"),
        ("t-s2", "cancelled", "machine-b"),
    ]
    assert await tail_states(memory_redis, changes[1].entry_id) == changes[2:]
    # The ended job's output was copied before its end was recorded.
    job_id = store.job_ids()[0]
    assert joined(await read_output(memory_redis, "t-s1")) == file_bytes(store, job_id)


# ------------------------------------------------------------ a real redis-server


# The two worker processes of tests/team/test_team_redis.py, each with its own store.
two_machines = test_team_redis.machines


def owner_of(machines: list[Machine], claim: Claim) -> Machine:
    return next(machine for machine in machines if machine.host_id == claim.host_id)


async def assert_streams_equal_files(
    redis: RedisClient, machines: list[Machine], claims: dict[str, Claim]
) -> None:
    for team_job_id, claim in claims.items():
        assert claim.job_id is not None
        content = file_bytes(owner_of(machines, claim).store, claim.job_id)
        assert joined(await read_output(redis, team_job_id)) == content, team_job_id
        offsets = await entry_offsets(redis, team_job_id)
        assert offsets == sorted(set(offsets)), team_job_id


async def test_two_workers_stream_their_jobs_output_and_states(
    two_machines: list[Machine], redis_url: str, workdir: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, Redis.from_url(redis_url) as redis:
        prompts = ["lines=20000 many-0.", "garbage lines=10 odd-1.", "sleep=1 quiet-2.", "lines=300 few-3."]
        ids = [await enqueue(docket, RunOptions.checked(prompt=p, cwd=str(workdir))) for p in prompts]
        claims = {each: await started_claim(redis, each) for each in ids}
        ends = await Ends().wait(redis_url, ids, timeout=90)
        assert set(ends.values()) == {"done"}, ends
        await assert_streams_equal_files(redis, two_machines, claims)
        changes = await tail_states(redis, count=1000)
    assert {claim.host_id for claim in claims.values()} <= {"machine-a", "machine-b"}
    for team_job_id, claim in claims.items():
        mine = [(each.status, each.host) for each in changes if each.team_job_id == team_job_id]
        assert mine == [("started", claim.host_id), ("done", claim.host_id)], (team_job_id, changes)


async def wait_until(what: str, check: Callable[[], Awaitable[object]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_stream_flushed_mid_job_is_rebuilt_from_the_file(
    two_machines: list[Machine], redis_url: str, workdir: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, Redis.from_url(redis_url) as redis:
        prompt = "lines=3000 untilfile sleep=60 flushed-1."
        team_job_id = await enqueue(docket, RunOptions.checked(prompt=prompt, cwd=str(workdir)))
        claim = await started_claim(redis, team_job_id)
        assert claim.job_id is not None
        store = owner_of(two_machines, claim).store

        async def copied_all() -> bool:  # all 3000 lines written, and copied
            size = len(file_bytes(store, claim.job_id))
            return size > 100_000 and await stream_end(redis, KEYS, team_job_id) == size

        await wait_until("the output copied", copied_all)
        await redis.flushall()
        await wait_until("the output copied again after FLUSHALL", copied_all)
        (workdir / "release").touch()  # codex finishes its turn: more output, then the end
        await wait_until("the end", lambda: redis.exists(KEYS.end(team_job_id)))
        await assert_streams_equal_files(redis, two_machines, {team_job_id: claim})


async def test_a_redis_restarted_without_its_last_writes_gets_the_output_again(
    two_machines: list[Machine], redis_server: RedisServer, workdir: Path
) -> None:
    url = redis_server.url
    async with Docket(name=KEYS.docket_name, url=url) as docket, Redis.from_url(url) as redis:
        # 40 MiB on one line: copied 16 KiB an entry, long enough to stop Redis in the middle.
        prompt = "bigline=40 untilfile sleep=60 restarted-1."
        team_job_id = await enqueue(docket, RunOptions.checked(prompt=prompt, cwd=str(workdir)))
        claim = await started_claim(redis, team_job_id)
        assert claim.job_id is not None
        await wait_until("a copy begun", lambda: stream_end(redis, KEYS, team_job_id), timeout=30)
        # What Redis writes from now on is never on disk (the claim is: AOF is written at every
        # command, only its fsync waits, and a SIGKILL of Redis keeps what was written): the
        # restart comes back with the claim and without the copy's last writes.
        await redis.config_set("appendonly", "no")
        on_disk = await stream_end(redis, KEYS, team_job_id)

        async def copied_more() -> bool:
            return await stream_end(redis, KEYS, team_job_id) > on_disk

        await wait_until("more copied", copied_more, timeout=30)
        before_kill = await stream_end(redis, KEYS, team_job_id)
        # Redis's own clock (entry ids are its milliseconds): whatever it appends from here on
        # lies at before_kill or past it, unless the stream lost its end and was refilled.
        seconds, micros = await redis.time()
        killed_at_ms = seconds * 1000 + micros // 1000
    redis_server.kill()
    redis_server.start()
    store = owner_of(two_machines, claim).store
    async with Redis.from_url(url) as redis:
        # The last writes were lost: the copier, back at once, may already be refilling, so the
        # loss shows as entries written after the restart at offsets below the end before it.
        async def refilled_below_the_old_end() -> bool:
            entries = await redis.xrange(KEYS.output(team_job_id), min=f"{killed_at_ms}-0", max="+")
            return any(int(fields[b"offset"]) < before_kill for _id, fields in entries)

        await wait_until("the lost end written again", refilled_below_the_old_end, timeout=30)

        async def copied_all() -> bool:
            size = len(file_bytes(store, claim.job_id))
            return size >= 40 * 1024 * 1024 and await stream_end(redis, KEYS, team_job_id) == size

        await wait_until("the output copied again after the restart", copied_all, timeout=60)
        (workdir / "release").touch()
        await wait_until("the end", lambda: redis.exists(KEYS.end(team_job_id)), timeout=60)
        await assert_streams_equal_files(redis, two_machines, {team_job_id: claim})
