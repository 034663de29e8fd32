"""Routing and the team's limit on a real redis-server, with worker processes standing in for
machines: jobs go to the machine named or to the one that serves their folder; no machine for
the folder is an error with nothing queued; a job routed to a machine that dies before taking it
runs elsewhere (or ends lost with its reason, when pinned), once; at most N jobs run team-wide,
also when a worker is SIGKILLed mid-job."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from docket import Docket

from jobstore import RunOptions
from team.claim import read_claim
from team.cli import main as cli_main
from team.keys import RedisClient, TeamKeys, text
from team.lease import read_end_fields
from team.queue import enqueue
from team.routing import NoMachine
from tests.team.conftest import codex_runs, started_claim
from tests.team.test_team_redis import Ends, Machine, started_keepers

KEYS = TeamKeys()


def run(prompt: str, cwd: Path) -> RunOptions:
    return RunOptions.checked(prompt=prompt, cwd=str(cwd))


async def routed(redis: RedisClient) -> dict[str, str]:
    return {text(k) or "": text(v) or "" for k, v in (await redis.hgetall(KEYS.routed)).items()}


async def test_jobs_go_to_the_machine_named_or_the_one_with_the_folder(
    tmp_path: Path, redis_url: str, fake_codex: Path, argv_log: Path
) -> None:
    repo_a, repo_b, repo_c = (tmp_path / name for name in ("repo-a", "repo-b", "repo-c"))
    for each in (repo_a, repo_b, repo_c, repo_a / "pkg"):
        each.mkdir()
    a = Machine(tmp_path, "machine-a", redis_url, fake_codex, repos=[repo_a])
    b = Machine(tmp_path, "machine-b", redis_url, fake_codex, repos=[repo_b])
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            in_a = [await enqueue(docket, run(f"sleep=0.3 in-a-{n}.", repo_a)) for n in range(3)]
            in_a.append(await enqueue(docket, run("in-a-pkg.", repo_a / "pkg")))
            in_b = [await enqueue(docket, run(f"sleep=0.3 in-b-{n}.", repo_b)) for n in range(3)]
            # Named: the caller's word, whatever folders the machine advertises.
            pinned = await enqueue(docket, run("pinned-b.", repo_a), host="machine-b")
            streams = [f"{KEYS.host_docket_name(host)}:stream" for host in ("machine-a", "machine-b")]
            # Entries ever added, not the length: the workers take (and delete) entries meanwhile.
            queued = [(await redis.xinfo_stream(each))["entries-added"] for each in streams]
            with pytest.raises(NoMachine) as refused:
                await enqueue(docket, run("nowhere-1.", repo_c))
            assert str(repo_c) in str(refused.value) and "--repo" in str(refused.value)
            added = [(await redis.xinfo_stream(each))["entries-added"] for each in streams]
            assert added == queued  # nothing queued
            assert not any(job not in (*in_a, *in_b, pinned) for job in await routed(redis))
            ends = await Ends().wait(redis_url, [*in_a, *in_b, pinned], timeout=60)
            hosts = {each: (await started_claim(redis, each)).host_id for each in [*in_a, *in_b, pinned]}
            assert await routed(redis) == {}  # each route went with its claim
    finally:
        a.stop()
        b.stop()
    assert set(ends.values()) == {"done"}, ends
    assert {hosts[each] for each in in_a} == {"machine-a"}
    assert {hosts[each] for each in in_b} == {"machine-b"}
    assert hosts[pinned] == "machine-b"
    assert codex_runs(argv_log, "nowhere-1.") == []
    assert len(a.store.job_ids()) == 4 and len(b.store.job_ids()) == 4


async def test_a_job_routed_to_a_machine_that_dies_before_taking_it(
    tmp_path: Path, redis_url: str, fake_codex: Path, workdir: Path, argv_log: Path
) -> None:
    # One job at a time: its second and third jobs wait, routed to it and not taken.
    doomed = Machine(
        tmp_path, "machine-doomed", redis_url, fake_codex, repos=[workdir], own_pids=True, concurrency=1
    )
    witness: Machine | None = None
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            busy = await enqueue(docket, run("sleep=300 busy-1.", workdir))
            assert (await started_claim(redis, busy)).host_id == "machine-doomed"
            moved = await enqueue(docket, run("moved-1.", workdir))
            pinned = await enqueue(docket, run("pinned-1.", workdir), host="machine-doomed")
            await asyncio.sleep(1)  # time for a worker to take them, were it able to
            assert await routed(redis) == {moved: "machine-doomed", pinned: "machine-doomed"}
            witness = Machine(tmp_path, "machine-w", redis_url, fake_codex, repos=[workdir])
            await started_keepers(doomed)
            doomed.die()
            died = time.monotonic()
            ends = await Ends().wait(redis_url, [busy, moved, pinned], timeout=40)
            took = time.monotonic() - died
            moved_claim = await read_claim(redis, KEYS, moved)
            moved_end = await read_end_fields(redis, KEYS, moved)
            pinned_end = await read_end_fields(redis, KEYS, pinned)
            assert await routed(redis) == {}
    finally:
        for machine in (doomed, witness):
            if machine is not None:
                machine.stop()
    assert witness is not None
    logs = witness.log.read_text() + doomed.log.read_text()
    assert ends == {busy: "lost", moved: "done", pinned: "lost"}, (moved_end, logs)
    assert took < 30
    assert moved_claim is not None and moved_claim.host_id == "machine-w"
    assert pinned_end is not None and "machine machine-doomed stopped serving" in str(pinned_end["reason"])
    assert len(codex_runs(argv_log, "moved-1.")) == 1
    assert codex_runs(argv_log, "pinned-1.") == []
    log = witness.log.read_text()
    assert log.count(f"team job {moved}: its machine stopped serving before taking it: machine-w") == 1
    assert log.count(f"team job {pinned}: its machine stopped serving before taking it: lost") == 1


def overlaps(time_log: Path, marker: str) -> tuple[int, list[tuple[float, float]]]:
    """The most fake codex turns with `marker` running at one moment, and each turn's span."""
    starts: dict[int, float] = {}
    spans = []
    for line in time_log.read_text().splitlines():
        event = json.loads(line)
        if marker not in event["prompt"]:
            continue
        if event["event"] == "start":
            starts[event["pid"]] = event["time"]
        else:
            spans.append((starts.pop(event["pid"]), event["time"]))
    assert not starts, "a turn that never ended"
    moments = sorted([(begin, 1) for begin, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in moments:  # an end sorts before a start at the same instant
        running += change
        most = max(most, running)
    return most, spans


@pytest.fixture
def time_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "codex-times.jsonl"
    monkeypatch.setenv("FAKE_CODEX_TIME_LOG", str(path))
    return path


async def test_the_team_limit_holds_across_two_workers(
    tmp_path: Path,
    redis_url: str,
    fake_codex: Path,
    workdir: Path,
    time_log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await asyncio.to_thread(cli_main, ["team-limit", "2", "--redis", redis_url]) == 0
    assert capsys.readouterr().out == "team limit: 2\n"
    machines = [
        Machine(tmp_path, name, redis_url, fake_codex, repos=[workdir]) for name in ("machine-a", "machine-b")
    ]
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            ids = [await enqueue(docket, run(f"sleep=1 limited-{n}.", workdir)) for n in range(8)]
            ends = await Ends().wait(redis_url, ids, timeout=90)
            hosts = {(await started_claim(redis, each)).host_id for each in ids}
    finally:
        for machine in machines:
            machine.stop()
    assert set(ends.values()) == {"done"}
    most, spans = overlaps(time_log, "limited-")
    assert len(spans) == 8
    assert most == 2  # never more than the limit, and the limit was used
    assert hosts == {"machine-a", "machine-b"}  # across both workers (6 places between them)
    assert await asyncio.to_thread(cli_main, ["team-limit", "off", "--redis", redis_url]) == 0
    assert capsys.readouterr().out == "team limit: off\n"


async def test_a_killed_workers_job_keeps_its_place_until_it_ends(
    tmp_path: Path, redis_url: str, fake_codex: Path, workdir: Path, time_log: Path
) -> None:
    assert await asyncio.to_thread(cli_main, ["team-limit", "1", "--redis", redis_url]) == 0
    a = Machine(tmp_path, "machine-a", redis_url, fake_codex, repos=[workdir])
    b: Machine | None = None
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            first = await enqueue(docket, run("sleep=6 place-1.", workdir))
            await started_claim(redis, first)
            await started_keepers(a)
            a.process.kill()  # SIGKILL: codex runs on, its end recorded by the keeper
            a.process.wait()
            b = Machine(tmp_path, "machine-b", redis_url, fake_codex, repos=[workdir])
            second = await enqueue(docket, run("place-2.", workdir))
            ends = await Ends().wait(redis_url, [first, second], timeout=60)
    finally:
        for machine in (a, b):
            if machine is not None:
                machine.stop()
    assert ends == {first: "done", second: "done"}
    most, spans = overlaps(time_log, "place-")
    assert most == 1 and len(spans) == 2
