"""The machine's keeper: the lease and the jobs' true ends, kept after the worker is gone.

Runners are detached: a worker SIGKILLed (or left with Ctrl-C) leaves its jobs running. The
keeper is detached too (a session of its own, started by the worker as it starts a team job), so
while this machine has started team jobs with no end in Redis it (1) extends the machine's lease
and (2) reads those jobs in the local store and records each one's end (`record_end`, the same
single SET NX the worker uses: whoever is first writes it). It exits once none is left.

One keeper per host id and store on a machine: it holds an abstract Unix socket named after both,
which the kernel frees when it dies; a second keeper finds the name taken and leaves. It dies with
its machine (nothing keeps it then: the lease lapses and the others record `lost`, once).

The worker and the keeper share the lease key: the worker takes and renews it, the keeper only
extends it while it holds this boot's id (`HostLease.extend`), so it never takes a lease a
stopping worker let go, nor one another machine holds.

Its Redis address comes from `CODEX_ASYNC_REDIS` (checked as the worker's is), never from argv:
the address may hold a password, and argv is readable by every user in `ps`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

from jobstore import InvalidInput, JobStatus, JobStore, JobStoreError
from team.change import publish_change
from team.claim import Claim, read_claim
from team.keys import REDIS_AWAY, RedisClient, TeamKeys, text
from team.lease import ENDED_KEEP_SECONDS, HostLease, read_boot_id, record_end
from team.settings import ENV_REDIS, check_name, redis_url_from_env
from team.streams import OutputCopier

log = logging.getLogger("codex_async.team.keeper")
# How often the jobs are read while the worker is gone (an end reaches Redis within this).
POLL_SECONDS = 1.0
# A Redis away this long: the lease lapsed long ago and the others record the jobs lost when it
# is back; the keeper leaves rather than wait for ever.
GIVE_UP_AFTER_SECONDS = 60.0


def socket_name(keys: TeamKeys, host_id: str, store_root: Path) -> bytes:
    """The abstract socket a machine's keeper holds (Linux: no file, freed when it dies). Named
    after the store too: abstract names are machine-wide, and another store on this machine (of
    another team, or a test run beside this one) may use the same host id."""
    store = hashlib.sha256(os.path.realpath(store_root).encode()).hexdigest()[:16]
    return f"\0{keys.namespace}:keeper:{host_id}:{store}".encode()


def is_running(keys: TeamKeys, host_id: str, store_root: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(socket_name(keys, host_id, store_root))
        except OSError:
            return False
        return True


def hold_name(keys: TeamKeys, host_id: str, store_root: Path) -> socket.socket | None:
    """This machine's keeper name, held; None when another keeper holds it."""
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        held.bind(socket_name(keys, host_id, store_root))
        held.listen(16)
    except OSError:
        held.close()
        return None
    return held


# The keeper this process started last, per host id: while it lives (still starting, before it
# holds its name) no other is started from here.
_STARTED: dict[str, subprocess.Popen[bytes]] = {}
_STARTING = threading.Lock()


def ensure_keeper(store_root: Path, lease: HostLease, redis_url: str, keys: TeamKeys) -> None:
    """Start this machine's keeper unless one runs (called after a job's start is recorded, so
    a keeper about to leave sees that job on its last look, or this call starts a new one).
    Two workers starting one at the same moment: the second finds the name held and leaves."""
    with _STARTING:
        started = _STARTED.get(lease.host_id)
        if (started is not None and started.poll() is None) or is_running(keys, lease.host_id, store_root):
            return
        _STARTED[lease.host_id] = _start_keeper(store_root, lease, redis_url, keys)


def _open_private_log(path: Path) -> io.BufferedWriter:
    """The keeper's log in the store: ours alone (0600 whatever the umask), never through a
    symlink, never another user's file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise OSError(f"refusing {path}: not a plain file of ours")
    return os.fdopen(fd, "ab")


def _start_keeper(
    store_root: Path, lease: HostLease, redis_url: str, keys: TeamKeys
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "team.keeper", "--host-id", lease.host_id, "--store", str(store_root)]
    argv += ["--lease-seconds", str(lease.seconds), "--namespace", keys.namespace]
    with _open_private_log(store_root / "team-keeper.log") as log_file:
        keeper = subprocess.Popen(
            argv,
            env={**os.environ, ENV_REDIS: redis_url},
            stdin=subprocess.DEVNULL,
            stdout=log_file,  # never the worker's stdout
            stderr=log_file,
            start_new_session=True,  # outlives the worker, as runners do
            close_fds=True,
        )
    # Reaped if it ends while the worker lives (no zombie); after that, init's.
    threading.Thread(target=keeper.wait, name="team-keeper-reaper", daemon=True).start()
    return keeper


class Keeper:
    def __init__(self, store: JobStore, redis: RedisClient, lease: HostLease, keys: TeamKeys) -> None:
        self.store = store
        self.redis = redis
        self.lease = lease
        self.keys = keys
        self.mine = Claim(lease.host_id, lease.boot_id)

    async def unended_jobs(self) -> dict[str, str]:
        """This machine's started team jobs with no end in Redis: team job id -> local job id."""
        found = {}
        for member in await self.redis.smembers(self.keys.claimed):
            team_job_id = text(member) or ""
            owner = await read_claim(self.redis, self.keys, team_job_id)
            if owner is not None and owner.same_machine(self.mine) and owner.job_id is not None:
                found[team_job_id] = owner.job_id
        return found

    async def record_ended(self, jobs: dict[str, str]) -> dict[str, str]:
        """Record the end of every job the local store says ended; the ones still running."""
        running = {}
        for team_job_id, job_id in jobs.items():
            try:
                record = await asyncio.to_thread(self.store.get, job_id)
                if record.status is JobStatus.LOST:  # its processes are gone: say so locally too
                    record = await asyncio.to_thread(self.store.settle, job_id)
            except JobStoreError as exc:  # not in this store (another store under this host id)
                log.warning("team job %s: local job %s unreadable here: %s", team_job_id, job_id, exc)
                continue
            await self._copy_output(team_job_id, job_id, ended=record.is_terminal)
            if not record.is_terminal:
                running[team_job_id] = job_id
                continue
            await self._publish_change(team_job_id, job_id)  # before the end: a reader finds both
            _, recorded = await record_end(
                self.redis, self.keys, team_job_id, record.status, self.lease.host_id, record.exit_code
            )
            log.info("team job %s: ended %s (recorded: %s)", team_job_id, record.status.value, recorded)
        return running

    async def _publish_change(self, team_job_id: str, job_id: str) -> None:
        """The ended worktree job's change, as the worker publishes it. Redis away: raised."""
        try:
            await publish_change(self.store, self.redis, self.keys, team_job_id, job_id, self.lease.host_id)
        except REDIS_AWAY:
            raise
        except Exception as exc:  # the end is recorded regardless; the diff stays on this machine
            log.warning("team job %s: change not published: %s", team_job_id, exc)

    async def _copy_output(self, team_job_id: str, job_id: str, *, ended: bool) -> None:
        """Copy the job's new output to its stream (the worker's copier: from the stream's end);
        an ended job's whole output is copied before its end is recorded. Redis away: raised."""
        copier = OutputCopier(self.store, self.redis, self.keys, team_job_id, job_id)
        try:
            await copier.copy_new()
            if ended:
                await copier.keep_ended(ENDED_KEEP_SECONDS)
        except REDIS_AWAY:
            raise
        except Exception as exc:  # the file refused or unreadable: the end is recorded regardless
            log.warning("team job %s: output not copied: %s", team_job_id, exc)

    async def run(self, held: socket.socket) -> None:
        """Extend the lease and record ends until no job of this machine is left unended."""
        loop = asyncio.get_running_loop()
        answered = loop.time()
        while True:
            if held.fileno() < 0:  # let go on a last look that found a job (or Redis cut short)
                reheld = hold_name(self.keys, self.lease.host_id, self.store.root)
                if reheld is None:  # a new keeper took over
                    return
                held = reheld
            try:
                running = await self.record_ended(await self.unended_jobs())
                if not running:
                    held.close()  # the name is free: a worker starting a job now starts a keeper
                    # A job started just before the name was let go is not left alone (one
                    # unreadable here does not hold the keeper: it is skipped again).
                    if not await self.record_ended(await self.unended_jobs()):
                        return
                    continue
                if not await self.lease.extend(self.redis, self.keys):
                    log.warning("the lease of %s is gone; recording what ends anyway", self.lease.host_id)
                answered = loop.time()
            except REDIS_AWAY as exc:
                if loop.time() - answered > max(GIVE_UP_AFTER_SECONDS, 10 * self.lease.seconds):
                    log.error("Redis has been away too long (%s); leaving", exc)
                    return
                log.warning("Redis is away (%s); trying again", exc)
            await asyncio.sleep(min(POLL_SECONDS, self.lease.renew_every))


async def _keep(store: JobStore, url: str, lease: HostLease, keys: TeamKeys, held: socket.socket) -> None:
    from redis.asyncio import Redis

    async with Redis.from_url(url) as redis:
        await Keeper(store, redis, lease, keys).run(held)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m team.keeper", description=__doc__.splitlines()[0])
    parser.add_argument("--host-id", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--lease-seconds", type=float, required=True)
    parser.add_argument("--namespace", default=TeamKeys().namespace)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        url = redis_url_from_env()
        if url is None:
            raise InvalidInput(f"no Redis for the keeper: ${ENV_REDIS} is not set")
        host_id = check_name("--host-id", args.host_id)
        keys = TeamKeys(check_name("--namespace", args.namespace))
    except InvalidInput as exc:
        log.error("%s", exc)
        return 2
    held = hold_name(keys, host_id, Path(args.store))
    if held is None:
        return 0  # this machine's keeper runs already
    lease = HostLease(host_id, read_boot_id(), args.lease_seconds)
    log.info("keeping %s (boot %s) while its team jobs run", host_id, lease.boot_id)
    asyncio.run(_keep(JobStore(args.store), url, lease, keys, held))
    log.info("no team job of %s left unended; leaving", host_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
