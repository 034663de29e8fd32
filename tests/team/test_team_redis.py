"""The team on a real redis-server (127.0.0.1, a free port, AOF on): two worker processes, each
with its own store and host id, share one queue; every job is started exactly once; a cancel
sent while the workers' pub/sub connections are down still lands; lost is recorded once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest
from docket import Docket
from redis import Redis as SyncRedis

from jobstore import JobStatus, JobStore, RunOptions
from team.cancel import request_cancel
from team.change import read_change
from team.claim import Claim, claim_job, read_claim
from team.keys import RedisClient, TeamKeys
from team.lease import read_end, settle_if_owner_gone
from team.queue import enqueue
from tests.conftest import stop_everything
from tests.team.conftest import RedisServer, codex_runs, started_claim

KEYS = TeamKeys()
TEAM_LIMIT = 3
JOBS = 20
CONCURRENCY = 3


class Machine:
    """A worker process and its own store (a stand-in for a machine)."""

    def __init__(
        self,
        tmp_path: Path,
        host_id: str,
        redis_url: str,
        fake_codex: Path,
        *,
        repos: Sequence[Path] = (),
        own_pids: bool = False,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.host_id = host_id
        self.redis_url = redis_url
        self.store = JobStore(tmp_path / f"store-{host_id}", max_jobs=5, codex_bin=str(fake_codex))
        self.log = tmp_path / f"worker-{host_id}.log"
        self.env = {**os.environ, "CODEX_BIN": str(fake_codex), "CODEX_ASYNC_HOME": str(self.store.root)}
        # own_pids: a PID namespace of its own (root; CI runs as root), whose init is the worker:
        # SIGKILL of it kills every process of the "machine" at once, runners and codex included.
        # --kill-child: unshare's own death (a test's cleanup) takes the machine with it.
        self.own_pids = own_pids
        namespace = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] if own_pids else []
        self.argv = [*namespace, sys.executable, "-m", "team", "worker", "--redis", redis_url]
        self.argv += ["--host-id", host_id]
        self.argv += ["--store", str(self.store.root), "--concurrency", str(concurrency)]
        self.argv += ["--lease-seconds", "5"]
        for repo in repos:
            self.argv += ["--repo", str(repo)]
        self.process = self._spawn()
        self.wait_serving()

    def wait_serving(self, timeout: float = 20) -> None:
        """Until its worker advertises what it serves (jobs are routed to it from then on)."""
        deadline = time.monotonic() + timeout
        with SyncRedis.from_url(self.redis_url) as redis:
            while not redis.exists(KEYS.serves(self.host_id)):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail(f"{self.host_id} never served: {self.log.read_text()}")
                time.sleep(0.05)

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("a") as log:
            return subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def kill_and_restart(self) -> None:
        """SIGKILL the worker process alone (its jobs' runners are detached and go on), start it again."""
        self.process.kill()
        self.process.wait()
        self.process = self._spawn()

    def die(self) -> None:
        """The machine dies: SIGKILL of its PID namespace's init (the worker, unshare's child)."""
        (init,) = psutil.Process(self.process.pid).children()
        init.kill()
        self.process.wait(10)

    def keepers(self) -> list[psutil.Process]:
        return keepers_of(self.host_id, self.store.root)

    def stop(self) -> None:
        if self.process.poll() is None:
            # In a PID namespace, the worker is unshare's child (its init): unshare does not pass
            # SIGTERM on, so the worker is asked itself.
            asked = psutil.Process(self.process.pid).children() if self.own_pids else [self.process]
            for each in asked:
                each.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        stop_everything(self.store)
        # Its keeper leaves on its own once the jobs' ends are recorded; one that does not (the
        # test failed, Redis gone) is killed: no process outlives the test.
        _, alive = psutil.wait_procs(self.keepers(), timeout=5)
        for keeper in alive:
            keeper.kill()


async def started_keepers(machine: Machine, timeout: float = 10) -> list[psutil.Process]:
    """The machine's keepers once one runs (its worker starts it as it starts a job)."""
    deadline = time.monotonic() + timeout
    while not (found := machine.keepers()):
        assert time.monotonic() < deadline, f"no keeper of {machine.host_id}"
        await asyncio.sleep(0.05)
    # Time for a second one to show, were there any (one started at the same moment by another
    # worker finds the name held and leaves as soon as it has started).
    await asyncio.sleep(3)
    return machine.keepers() or found


def keepers_of(host_id: str, store: Path) -> list[psutil.Process]:
    """The keeper processes of this host id and store alive now (in any PID namespace; another
    test run on this machine may use the same host id with its own stores)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("status") == psutil.STATUS_ZOMBIE or "team.keeper" not in cmdline:
            continue
        if _after(cmdline, "--host-id") == host_id and _after(cmdline, "--store") == str(store):
            found.append(proc)
    return found


def _after(cmdline: list[str], flag: str) -> str | None:
    return cmdline[cmdline.index(flag) + 1] if flag in cmdline[:-1] else None


@pytest.fixture
def machines(
    tmp_path: Path, redis_url: str, fake_codex: Path, argv_log: Path, workdir: Path
) -> Iterator[list[Machine]]:
    both = [
        Machine(tmp_path, name, redis_url, fake_codex, repos=[workdir]) for name in ("machine-a", "machine-b")
    ]
    yield both
    for machine in both:
        machine.stop()


class Ends:
    """The jobs' recorded ends once all have one, and the most jobs claimed and not ended seen at once."""

    def __init__(self) -> None:
        self.most_at_once = 0

    async def wait(self, redis_url: str, team_job_ids: list[str], timeout: float) -> dict[str, str | None]:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            deadline = time.monotonic() + timeout
            while True:
                self.most_at_once = max(self.most_at_once, int(await redis.scard(KEYS.claimed)))
                ends = {each: await read_end(redis, KEYS, each) for each in team_job_ids}
                if all(ends.values()) or time.monotonic() > deadline:
                    return ends
                await asyncio.sleep(0.02)


@pytest.fixture
def machines_of_their_own(
    tmp_path: Path, redis_url: str, fake_codex: Path, argv_log: Path, workdir: Path
) -> Iterator[list[Machine]]:
    """Two machines, each a worker in a PID namespace of its own (as root: CI runs as root)."""
    both = [
        Machine(tmp_path, name, redis_url, fake_codex, repos=[workdir], own_pids=True)
        for name in ("machine-a", "machine-b")
    ]
    yield both
    for machine in both:
        machine.stop()


async def test_twenty_jobs_on_two_machines_each_started_once(
    machines_of_their_own: list[Machine], redis_url: str, workdir: Path, argv_log: Path
) -> None:
    machines = machines_of_their_own
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket:
        async with docket.redis() as redis:
            await redis.set(KEYS.team_limit, str(TEAM_LIMIT))  # as `codex-async team-limit 3` does
        ids = [
            await enqueue(docket, RunOptions.checked(prompt=f"sleep=0.5 team-job-{n}.", cwd=str(workdir)))
            for n in range(JOBS)
        ]
        ends_seen = Ends()
        ends = await ends_seen.wait(redis_url, ids, timeout=90)
        async with docket.redis() as redis:
            owners = [await read_claim(redis, KEYS, each) for each in ids]
    logs = "\n".join(machine.log.read_text() for machine in machines)
    assert all(end == "done" for end in ends.values()), (ends, logs)
    for n in range(JOBS):
        assert len(codex_runs(argv_log, f"team-job-{n}.")) == 1, n
    used = {owner.host_id for owner in owners if owner is not None}
    assert used == {"machine-a", "machine-b"}
    for machine in machines:  # each machine's store holds exactly the jobs it claimed, all done
        mine = [owner.job_id for owner in owners if owner is not None and owner.host_id == machine.host_id]
        assert sorted(mine) == sorted(machine.store.job_ids())
        assert all(machine.store.get(job_id).status is JobStatus.DONE for job_id in machine.store.job_ids())
    # Never more jobs at once than the team's limit, across both machines (each takes more).
    assert TEAM_LIMIT < 2 * CONCURRENCY and 0 < ends_seen.most_at_once <= TEAM_LIMIT


async def test_a_cancel_sent_while_pubsub_is_down_lands(
    machines: list[Machine], redis_url: str, workdir: Path, argv_log: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        team_job_id = await enqueue(docket, RunOptions.checked(prompt="sleep=120 doomed-1", cwd=str(workdir)))
        claim = await started_claim(redis, team_job_id)
        assert claim.job_id is not None
        killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await request_cancel(redis, KEYS, team_job_id)  # its nudge reaches no one
        began = time.monotonic()
        ends = await Ends().wait(redis_url, [team_job_id], timeout=30)
    assert int(killed) >= len(machines)  # at least each worker's cancel listener
    assert ends[team_job_id] == "cancelled"
    assert time.monotonic() - began < 20
    owner = next(machine for machine in machines if machine.host_id == claim.host_id)
    assert owner.store.get(claim.job_id).status is JobStatus.CANCELLED
    # At most once: the cancel may land before the runner has started codex at all.
    assert len(codex_runs(argv_log, "doomed-1")) <= 1


async def start_one(
    docket: Docket, redis: RedisClient, machines: list[Machine], prompt: str, workdir: Path, **options: object
) -> tuple[str, str, Machine]:
    """Put one job on the queue; once started: its team job id, its local job id, its machine."""
    team_job_id = await enqueue(docket, RunOptions.checked(prompt=prompt, cwd=str(workdir), **options))
    claim = await started_claim(redis, team_job_id)
    assert claim.job_id is not None
    owner = next(machine for machine in machines if machine.host_id == claim.host_id)
    return team_job_id, claim.job_id, owner


async def test_a_worker_killed_mid_job_and_restarted_records_the_truthful_end(
    machines: list[Machine], redis_url: str, workdir: Path, argv_log: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        team_job_id, job_id, owner = await start_one(docket, redis, machines, "sleep=4 phoenix-1", workdir)
        owner.kill_and_restart()  # back within its lease: the other machine must not call it lost
        ends = await Ends().wait(redis_url, [team_job_id], timeout=40)
    assert ends[team_job_id] == "done", owner.log.read_text()
    assert owner.store.get(job_id).status is JobStatus.DONE
    assert len(codex_runs(argv_log, "phoenix-1")) == 1
    assert "re-attaching" in owner.log.read_text()


async def test_a_worker_killed_mid_job_and_not_restarted_still_records_the_truthful_end(
    machines: list[Machine], redis_url: str, workdir: Path, argv_log: Path
) -> None:
    from tests.worktree_repo import person_repository

    repo = person_repository(workdir / "repo")
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        # Longer than the lease (5 s): without its keeper, the other machine would record it lost.
        # A worktree job: its change is published by the keeper too, before the end it records.
        prompt = "sleep=8 write=kept.py orphan-1"
        team_job_id, job_id, owner = await start_one(docket, redis, machines, prompt, repo, worktree=True)
        (keeper,) = await started_keepers(owner)
        owner.process.kill()  # not started again
        owner.process.wait()
        ends = await Ends().wait(redis_url, [team_job_id], timeout=40)
        end = json.loads(await redis.get(KEYS.end(team_job_id)))
        record = owner.store.get(job_id)
        change = await read_change(redis, KEYS, team_job_id)
        keeper.wait(10)  # nothing of its machine left unended: it leaves on its own
        assert not keeper.is_running()
    assert ends[team_job_id] == "done", (owner.store.root / "team-keeper.log").read_text()
    assert change is not None and (change.host, change.local_job_id) == (owner.host_id, job_id)
    assert [path for _, path in change.recorded.files] == ["kept.py"] and change.patch
    assert end == {"status": "done", "by": owner.host_id, "exit_code": record.exit_code, "at": end["at"]}
    assert end["at"] >= time.time() - 60
    assert record.status is JobStatus.DONE and record.exit_code == 0
    assert len(codex_runs(argv_log, "orphan-1")) == 1


async def test_two_workers_of_one_host_id_share_one_keeper(
    tmp_path: Path, redis_url: str, fake_codex: Path, workdir: Path, argv_log: Path
) -> None:
    twins = [Machine(tmp_path, "machine-twin", redis_url, fake_codex, repos=[workdir]) for _ in range(2)]
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            ids = [
                await enqueue(docket, RunOptions.checked(prompt=f"sleep=8 twin-{n}.", cwd=str(workdir)))
                for n in range(2 * CONCURRENCY)  # more than one worker takes: both start jobs
            ]
            for each in ids:
                await started_claim(redis, each)
            keepers = await started_keepers(twins[0])
            ends = await Ends().wait(redis_url, ids, timeout=60)
            _, alive = psutil.wait_procs(keepers, timeout=10)
    finally:
        for twin in twins:
            twin.stop()
    assert len(keepers) == 1
    assert set(ends.values()) == {"done"}
    assert alive == []  # it left once the jobs ended, with the workers still running


async def test_sigterm_finishes_the_running_jobs_first(
    machines: list[Machine], redis_url: str, workdir: Path, argv_log: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        team_job_id = await enqueue(
            docket, RunOptions.checked(prompt="sleep=3 finishing-1", cwd=str(workdir))
        )
        claim = await started_claim(redis, team_job_id)
        owner = next(machine for machine in machines if machine.host_id == claim.host_id)
        owner.process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert owner.process.wait(30) == 0
        assert await read_end(redis, KEYS, team_job_id) == "done"  # recorded before it left
        assert time.monotonic() - began > 1  # it waited for the job
        assert await redis.get(KEYS.lease(owner.host_id)) is None  # let go: nothing of it runs
    assert len(codex_runs(argv_log, "finishing-1")) == 1


async def test_redis_killed_for_two_seconds_runs_no_job_twice(
    machines: list[Machine], redis_server: RedisServer, workdir: Path, argv_log: Path
) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_server.url) as docket, docket.redis() as redis:
        ids = [
            await enqueue(docket, RunOptions.checked(prompt=f"sleep=4 outage-{n}.", cwd=str(workdir)))
            for n in range(4)
        ]
        owners = [await started_claim(redis, each) for each in ids]
    # AOF `everysec`: what was written more than a second ago survives a SIGKILL (the claims).
    await asyncio.sleep(1.5)
    redis_server.kill()
    await asyncio.sleep(2)
    redis_server.start()
    ends = await Ends().wait(redis_server.url, ids, timeout=60)
    logs = "\n".join(machine.log.read_text() for machine in machines)
    assert set(ends.values()) == {"done"}, (ends, logs)
    for n in range(4):
        assert len(codex_runs(argv_log, f"outage-{n}.")) == 1, logs
    for owner in owners:  # every end truthful: the owner's store says done too
        machine = next(each for each in machines if each.host_id == owner.host_id)
        assert owner.job_id is not None
        assert machine.store.get(owner.job_id).status is JobStatus.DONE
    assert sum(len(machine.store.job_ids()) for machine in machines) == 4


async def test_jobs_of_a_machine_that_died_end_lost_exactly_once(
    tmp_path: Path, redis_url: str, fake_codex: Path, workdir: Path, argv_log: Path
) -> None:
    doomed = Machine(tmp_path, "machine-doomed", redis_url, fake_codex, repos=[workdir], own_pids=True)
    witnesses: list[Machine] = []
    try:
        async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
            ids = [
                await enqueue(
                    docket, RunOptions.checked(prompt=f"sleep=300 doomed-run-{n}.", cwd=str(workdir))
                )
                for n in range(2)
            ]
            for each in ids:  # both taken by the doomed machine, the only worker so far
                assert (await started_claim(redis, each)).host_id == "machine-doomed"
            deadline = time.monotonic() + 20
            while len(_codex_of("doomed-run-")) < 2:  # codex runs, inside the namespace
                assert time.monotonic() < deadline, doomed.log.read_text()
                await asyncio.sleep(0.05)
            witnesses = [Machine(tmp_path, f"witness-{n}", redis_url, fake_codex) for n in range(2)]
            # Its keeper runs inside the machine's namespace, so it dies with it.
            (keeper,) = await started_keepers(doomed)
            (init,) = psutil.Process(doomed.process.pid).children()
            assert _pid_namespace(keeper.pid) == _pid_namespace(init.pid) != _pid_namespace(os.getpid())
            doomed.die()
            keeper.wait(5)  # gone with its machine: nothing extends the lease
            died = time.monotonic()
            while _codex_of("doomed-run-"):  # gone with their machine (the kernel reaps them)
                assert time.monotonic() - died < 5
                await asyncio.sleep(0.05)
            ends = await Ends().wait(redis_url, ids, timeout=30)
            assert time.monotonic() - died >= 3  # not before the lease (5 s) could lapse
            recorded_by = {}
            for each in ids:
                raw = await redis.get(KEYS.end(each))
                recorded_by[each] = json.loads(raw)["by"]
    finally:
        for machine in (doomed, *witnesses):
            machine.stop()
    assert set(ends.values()) == {"lost"}
    assert set(recorded_by.values()) <= {"witness-0", "witness-1"}
    logs = "\n".join(machine.log.read_text() for machine in witnesses)
    for each in ids:  # each recorded by one witness only, once
        assert logs.count(f"team job {each}: its machine's lease expired, recorded lost") == 1
    for n in range(2):
        assert len(codex_runs(argv_log, f"doomed-run-{n}.")) == 1


def _pid_namespace(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def _codex_of(marker: str) -> list[psutil.Process]:
    """The fake codex processes alive now whose prompt carries `marker` (seen from the host's
    PID namespace, which sees those of the others too)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info.get("cmdline") or []
        running = proc.info.get("status") != psutil.STATUS_ZOMBIE and "exec" in cmdline[2:4]
        if running and any(marker in part for part in cmdline):
            found.append(proc)
    return found


async def test_lost_exactly_once_among_racing_connections(redis_url: str) -> None:
    async with Docket(name=KEYS.docket_name, url=redis_url) as docket, docket.redis() as redis:
        # A machine that claimed a job and whose lease is gone (it never renewed one).
        await claim_job(redis, KEYS, "t-orphan", Claim("machine-dead", "boot-x", "local-1"))  # unrouted

        async def watcher(n: int) -> bool:
            async with Docket(name=KEYS.docket_name, url=redis_url) as own, own.redis() as connection:
                return await settle_if_owner_gone(connection, KEYS, "t-orphan", by=f"watcher-{n}")

        outcomes = await asyncio.gather(*(watcher(n) for n in range(8)))
        assert outcomes.count(True) == 1
        assert await read_end(redis, KEYS, "t-orphan") == "lost"
