"""The team's worker: a Docket task that runs a team job through this machine's own store.

A delivery of `codex_team_job` carries the job's options as plain values, never argv: they are
checked again here (`RunOptions.checked`) and the local store builds codex's command from them,
exactly as for a local start. Each delivery first claims the job (`claim`): the first one starts
it, any later one (Docket redelivers after a worker died or Redis restarted) never starts codex
again. It re-attaches instead: to the local job when this machine owns it, or to the recorded
end when another live machine does; a job whose machine's lease is gone ends `lost` (`lease`).

Around the task, `TeamWorker.serve` keeps the machine's lease, listens for cancel nudges, looks
at its jobs' cancel keys every lease renewal (a missed nudge only delays a cancel), and records
the jobs of gone machines lost. The local store does the cancelling (the whole process tree).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from docket import CurrentWorker, Docket, Worker

from jobstore import (
    NO_POLICY_CAP,
    InvalidInput,
    JobStatus,
    JobStore,
    JobStoreError,
    RunOptions,
    echoed,
    permissiveness,
)
from team.cancel import is_cancel_requested
from team.change import publish_change
from team.claim import Claim, Outcome, claim_job, read_claim, record_started
from team.keeper import ensure_keeper
from team.keys import REDIS_AWAY, RedisClient, TeamKeys, text
from team.lease import (
    ENDED_KEEP_SECONDS,
    HostLease,
    read_end,
    record_end,
    settle_if_owner_gone,
    settle_lost_jobs,
)
from team.routing import Serving, advertise, reroute_orphans
from team.settings import check_name
from team.streams import OutputCopier

log = logging.getLogger("codex_async.team")
T = TypeVar("T")
# How soon a call is tried again while Redis is away (well within a lease's third).
RETRY_SECONDS = 0.25
# How often a watched job's new output is copied to its stream (what a reader's lag is).
COPY_SECONDS = 0.2
# How often a job waiting for the team's limit tries its claim again.
LIMIT_RETRY_SECONDS = 0.25

# Docket workers by name, so that the task (a plain function Docket calls) finds its machine's.
_WORKERS: dict[str, TeamWorker] = {}


async def codex_team_job(
    team_job_id: str,
    options: dict[str, object],
    worker: Worker = CurrentWorker(),  # noqa: B008 - Docket's way of injecting it
) -> str:
    """Docket's task: run the team job on this worker's machine (at most once); its end status."""
    return await _WORKERS[worker.name].run_job(team_job_id, options)


class TeamWorker:
    """One machine's side of the team: its store, its lease, the team jobs it runs."""

    def __init__(
        self,
        store: JobStore,
        redis: RedisClient,
        lease: HostLease,
        *,
        keys: TeamKeys | None = None,
        recheck_seconds: float = 1.0,
        threads: int = 32,
        max_policy: str = NO_POLICY_CAP,
        keeper_redis_url: str | None = None,
        roots: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.redis = redis
        self.lease = lease
        self.keys = keys or TeamKeys()
        self.recheck_seconds = recheck_seconds
        self.mine = Claim(lease.host_id, lease.boot_id)
        # The machine's operator's cap (CODEX_ASYNC_MAX_POLICY), as the MCP server applies it.
        self.max_policy = max_policy
        # Set: a keeper (team.keeper) is started with the jobs, to outlive this process; None in
        # tests on memory://, where there is no Redis another process could reach.
        self.keeper_redis_url = keeper_redis_url
        # The repository roots this machine serves (`--repo`, resolved): jobs routed by their
        # folder come here only if it is one of these or inside one (team.routing).
        self.roots = roots
        self.concurrency = 1  # set by serve: what the advertisement tells routers
        self._docket: Docket | None = None  # this machine's Docket, while serving
        self._runs: dict[str, asyncio.Future[str]] = {}  # team job id -> its one run in this process
        self._local_ids: dict[str, str] = {}  # team job id -> local job id, while it is watched
        self._cancelling: set[str] = set()
        self._background: set[asyncio.Future[Any]] = set()  # kept: the loop holds tasks weakly
        self._stopping = asyncio.Event()
        # The store's calls block (a wait, a cancel's grace): threads of the worker's own, so
        # that many watched jobs never starve a start or a cancel of the loop's default pool.
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="team-job")

    async def _in_thread(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(call, *args, **kwargs)
        )

    async def _until_redis_answers(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, tried again while Redis is away: what a job's end must reach, it reaches."""
        while True:
            try:
                return await call()
            except REDIS_AWAY as exc:
                log.warning("%s: Redis is away (%s); trying again", what, exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------ one job

    async def run_job(self, team_job_id: str, options: Mapping[str, object]) -> str:
        """Run the team job here unless it was claimed already; its end status either way."""
        check_name("a team job id", team_job_id)
        run = self._runs.get(team_job_id)
        if run is None:  # a second delivery to this process waits for the first, never starts again
            run = asyncio.ensure_future(self._run_once(team_job_id, dict(options)))
            self._runs[team_job_id] = run
            run.add_done_callback(lambda _: self._runs.pop(team_job_id, None))
        # Shielded: a Docket-side cancel of the task must not orphan a running job's watch.
        return await asyncio.shield(run)

    async def _run_once(self, team_job_id: str, options: dict[str, object]) -> str:
        while True:
            taken = await self._until_redis_answers(
                f"team job {team_job_id}", lambda: claim_job(self.redis, self.keys, team_job_id, self.mine)
            )
            serves = functools.partial(self.redis.exists, self.keys.serves(taken.detail))
            if taken.outcome is Outcome.ELSEWHERE and not await self._until_redis_answers(
                f"team job {team_job_id}", serves
            ):
                # Routed to a machine that stopped serving: a watcher is routing it again, and
                # adds it to the new machine's queue (perhaps this one's) before it switches the
                # route. Dropping this delivery then would leave the job routed with no message.
                await asyncio.sleep(LIMIT_RETRY_SECONDS)
                continue
            if taken.outcome is not Outcome.FULL:
                break
            # At the team's limit: the job waits here, taken from Docket but not claimed, so it
            # does not count; a cancel asked meanwhile ends it unstarted.
            asked = await self._until_redis_answers(
                f"team job {team_job_id}", lambda: is_cancel_requested(self.redis, self.keys, team_job_id)
            )
            if asked:
                return await self._end(team_job_id, JobStatus.CANCELLED)
            await asyncio.sleep(LIMIT_RETRY_SECONDS)
        if taken.outcome is Outcome.WON:
            return await self._start(team_job_id, options)
        if taken.outcome is Outcome.ENDED:
            return str(json.loads(taken.detail)["status"])
        if taken.outcome is Outcome.ELSEWHERE:
            log.info("team job %s: routed to %s since; not taken here", team_job_id, taken.detail)
            return f"routed to {taken.detail}"
        owner = taken.owner
        assert owner is not None
        if owner.same_machine(self.mine):
            if owner.job_id is not None:
                log.info(
                    "team job %s: delivered again, re-attaching to local job %s", team_job_id, owner.job_id
                )
                return await self._watch(team_job_id, owner.job_id)
            # Claimed by an earlier worker process of this machine that died before it named
            # the local job: whether codex started cannot be told, so it is not started again.
            return await self._end(team_job_id, JobStatus.LOST)
        log.info("team job %s: delivered again, owned by %s", team_job_id, owner.host_id)
        return await self._await_owner(team_job_id)

    async def _start(self, team_job_id: str, options: dict[str, object]) -> str:
        asked = await self._until_redis_answers(
            f"team job {team_job_id}", lambda: is_cancel_requested(self.redis, self.keys, team_job_id)
        )
        if asked:
            return await self._end(team_job_id, JobStatus.CANCELLED)
        try:
            run_options = self._within_cap(RunOptions.checked(**options))
            # The local record names the team job it runs (listings and `show` tell them apart).
            record = await self._in_thread(self.store.start, run_options, client=f"team:{team_job_id}")
        except (InvalidInput, JobStoreError) as exc:
            log.warning("team job %s: not started: %s", team_job_id, exc)
            return await self._end(team_job_id, JobStatus.ERROR)
        except Exception:  # a claimed job must end somewhere, not sit claimed under a live lease
            log.exception("team job %s: not started", team_job_id)
            return await self._end(team_job_id, JobStatus.ERROR)
        started = Claim(self.mine.host_id, self.mine.boot_id, record.job_id, started_at=time.time())
        await self._until_redis_answers(
            f"team job {team_job_id}", lambda: record_started(self.redis, self.keys, team_job_id, started)
        )
        log.info("team job %s: started as local job %s", team_job_id, record.job_id)
        return await self._watch(team_job_id, record.job_id)

    def _within_cap(self, options: RunOptions) -> RunOptions:
        """Refuse a job more permissive than this machine allows (sandbox counted, so an explicit
        sandbox cannot get around the cap)."""
        if permissiveness(options.approval_policy, options.sandbox) > permissiveness(self.max_policy, None):
            raise InvalidInput(
                f"approval_policy {echoed(options.approval_policy)} (sandbox {echoed(options.sandbox)}) "
                f"is more than this machine allows ({echoed(self.max_policy)}, CODEX_ASYNC_MAX_POLICY)"
            )
        return options

    async def _watch(self, team_job_id: str, job_id: str) -> str:
        """Wait for the local job's end (a cancel asked meanwhile is carried out), record it."""
        self._local_ids[team_job_id] = job_id
        if self.keeper_redis_url is not None:  # the job's end reaches Redis even if this process dies
            url = self.keeper_redis_url
            try:
                await self._in_thread(ensure_keeper, self.store.root, self.lease, url, self.keys)
            except OSError as exc:  # the job is watched here all the same; only a crash is uncovered
                log.warning("team job %s: no keeper started: %s", team_job_id, exc)
        copier = OutputCopier(self.store, self.redis, self.keys, team_job_id, job_id)
        copying = asyncio.ensure_future(self._copy_output(copier))
        try:
            while True:
                record = await self._in_thread(self.store.wait, job_id, self.recheck_seconds)
                if record.is_terminal:
                    if record.status is JobStatus.LOST:  # its processes are gone: say so locally too
                        record = await self._in_thread(self.store.settle, job_id)
                    copying.cancel()
                    await self._copy_last(copier)  # all of the output is there before the end is
                    await self._publish_change(team_job_id, job_id)  # and its change, if any
                    return await self._end(team_job_id, record.status, record.exit_code)
                try:
                    await self._cancel_if_requested(team_job_id)
                except REDIS_AWAY:  # the job runs on meanwhile; its cancel key is looked at again
                    pass
        finally:
            copying.cancel()
            self._local_ids.pop(team_job_id, None)

    async def _copy_output(self, copier: OutputCopier) -> None:
        """Copy the job's new output to its stream while it runs (refilled after Redis lost it)."""
        while True:
            try:
                await copier.copy_new()
            except REDIS_AWAY:  # copied again from the stream's end once Redis is back
                pass
            except Exception as exc:  # the file refused or unreadable: the job runs on regardless
                log.warning("team job %s: output not copied: %s", copier.team_job_id, exc)
                await asyncio.sleep(self.recheck_seconds)
            await asyncio.sleep(COPY_SECONDS)

    async def _copy_last(self, copier: OutputCopier) -> None:
        """The ended job's whole output, copied (Redis waited for), its stream kept as its end is."""
        try:
            await self._until_redis_answers(f"team job {copier.team_job_id} output", copier.copy_new)
            await self._until_redis_answers(
                f"team job {copier.team_job_id} output", lambda: copier.keep_ended(ENDED_KEEP_SECONDS)
            )
        except Exception as exc:  # the end is recorded all the same
            log.warning("team job %s: output not copied: %s", copier.team_job_id, exc)

    async def _publish_change(self, team_job_id: str, job_id: str) -> None:
        """The ended worktree job's change, published (Redis waited for) before its end is."""
        try:
            await self._until_redis_answers(
                f"team job {team_job_id} change",
                lambda: publish_change(
                    self.store, self.redis, self.keys, team_job_id, job_id, self.lease.host_id
                ),
            )
        except Exception as exc:  # the end is recorded all the same; the diff stays on this machine
            log.warning("team job %s: change not published: %s", team_job_id, exc)

    async def _await_owner(self, team_job_id: str) -> str:
        """Another machine owns the job: its recorded end, or `lost` once its lease is gone."""
        while True:
            try:
                end = await read_end(self.redis, self.keys, team_job_id)
                if end is not None:
                    return end
                await settle_if_owner_gone(self.redis, self.keys, team_job_id, by=self.lease.host_id)
                end = await read_end(self.redis, self.keys, team_job_id)
                if end is not None:
                    return end
            except REDIS_AWAY as exc:
                log.warning("team job %s: Redis is away (%s); trying again", team_job_id, exc)
            await asyncio.sleep(self.recheck_seconds)

    async def _end(self, team_job_id: str, status: JobStatus, exit_code: int | None = None) -> str:
        _, recorded = await self._until_redis_answers(
            f"team job {team_job_id}",
            lambda: record_end(
                self.redis, self.keys, team_job_id, status, by=self.lease.host_id, exit_code=exit_code
            ),
        )
        return recorded

    # ------------------------------------------------------------ cancels

    async def _cancel_if_requested(self, team_job_id: str) -> None:
        job_id = self._local_ids.get(team_job_id)
        if job_id is None or team_job_id in self._cancelling:
            return
        if not await is_cancel_requested(self.redis, self.keys, team_job_id):
            return
        self._cancelling.add(team_job_id)
        try:
            log.info("team job %s: cancel asked, cancelling local job %s", team_job_id, job_id)
            await self._in_thread(self.store.cancel, job_id)
        finally:
            self._cancelling.discard(team_job_id)

    async def check_cancels(self) -> None:
        """Look at the cancel key of every job this machine is watching (the periodic and
        on-reconnect check: a nudge may have been missed)."""
        for team_job_id in list(self._local_ids):
            await self._cancel_if_requested(team_job_id)

    async def listen_for_cancels(self) -> None:
        """Act on cancel nudges at once; on every (re)subscription, check all keys first."""
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(self.keys.cancel_channel)
                try:
                    await self.check_cancels()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message and message.get("type") == "message":
                            nudged = text(message.get("data")) or ""
                            self._spawn(self._cancel_if_requested(nudged))
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the periodic check covers the gap
                log.warning("cancel nudges: %s; subscribing again", exc)
                await asyncio.sleep(self.recheck_seconds)

    # ------------------------------------------------------------ the machine

    async def reattach_own_jobs(self) -> list[str]:
        """Watch again the jobs this machine started that have no end yet: a worker that died
        (its runners live on, detached) and came back records their truthful ends. The ids."""
        members = [text(each) or "" for each in await self.redis.smembers(self.keys.claimed)]
        reattached = []
        for team_job_id in sorted(members):
            owner = await read_claim(self.redis, self.keys, team_job_id)
            if owner is None or not owner.same_machine(self.mine) or owner.job_id is None:
                continue
            if team_job_id not in self._runs:
                log.info("team job %s: re-attaching to job %s after a restart", team_job_id, owner.job_id)
                self._spawn(self.run_job(team_job_id, {}))
                reattached.append(team_job_id)
        return reattached

    def serving(self) -> Serving:
        """What this machine advertises: its roots, its concurrency, the team jobs it runs now."""
        return Serving(self.mine.host_id, self.mine.boot_id, self.roots, self.concurrency, len(self._runs))

    async def keep_lease(self) -> None:
        """Renew the lease and the advertisement, check cancel keys, record gone machines' jobs
        lost and route again the jobs of machines that stopped serving before taking them: forever."""
        while True:
            try:
                await self.lease.renew(self.redis, self.keys)
                if not self._stopping.is_set():  # a stopping worker is routed no more jobs
                    await advertise(self.redis, self.keys, self.serving(), self.lease.seconds)
                await self.check_cancels()
                for lost in await settle_lost_jobs(self.redis, self.keys, by=self.lease.host_id):
                    log.warning("team job %s: its machine's lease expired, recorded lost", lost)
                await self.reroute_orphans()
            except InvalidInput:
                raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: try again soon, before the lease lapses
                log.warning("lease: %s; trying again", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await asyncio.sleep(self.lease.renew_every)

    async def reroute_orphans(self) -> None:
        if self._docket is None:
            return
        moved = await reroute_orphans(self._docket, self.redis, self.keys, codex_team_job, self.lease.host_id)
        for team_job_id, where in moved.items():
            log.warning("team job %s: its machine stopped serving before taking it: %s", team_job_id, where)

    async def serve(self, docket: Docket, *, concurrency: int = 10, until_finished: bool = False) -> None:
        """Take the jobs routed to this machine from `docket` (its own: `TeamKeys.host_docket_name`)
        until cancelled (or, `until_finished`, until the queue is empty: for tests and one-shot runs)."""
        await self.lease.renew(self.redis, self.keys)  # refused at once if the host id is taken
        self.concurrency = concurrency
        self._docket = docket
        await advertise(self.redis, self.keys, self.serving(), self.lease.seconds)
        name = f"{self.lease.host_id}#{id(self)}"
        _WORKERS[name] = self
        docket.register(codex_team_job)
        await self.reattach_own_jobs()
        machine = [
            asyncio.ensure_future(self.keep_lease()),
            asyncio.ensure_future(self.listen_for_cancels()),
        ]
        queue = asyncio.ensure_future(self._take_jobs(docket, name, concurrency, until_finished))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            # Whichever ends first: the queue (until_finished), a stop asked, or a failure of the
            # machine's side (a host id taken), which must not leave jobs taken under a lapsing lease.
            done, _ = await asyncio.wait([queue, stop, *machine], return_when=asyncio.FIRST_COMPLETED)
            for each in done:
                each.result()
            if stop in done:
                await self._finish_running_jobs(queue)
        finally:
            stop.cancel()
            for each in (queue, *machine):
                each.cancel()
            await asyncio.gather(queue, *machine, return_exceptions=True)
            _WORKERS.pop(name, None)
            self._docket = None

    def stop(self) -> None:
        """Stop taking jobs; `serve` returns once the jobs running here have ended and their ends
        are recorded (the lease renewed meanwhile, so no other machine calls them lost)."""
        self._stopping.set()

    async def _finish_running_jobs(self, queue: asyncio.Future[None]) -> None:
        # Its advertisement is renewed no more (keep_lease): within a lease, the jobs routed here
        # and not taken (queued, or waiting for the team's limit) are routed elsewhere; a worker
        # started again sooner takes them itself.
        queue.cancel()  # Docket takes no more; the runs it started are shielded and go on
        await asyncio.gather(queue, return_exceptions=True)
        while self._runs:
            log.info("stopping: waiting for %d running team job(s) to end", len(self._runs))
            await asyncio.gather(*list(self._runs.values()), return_exceptions=True)
        await self._until_redis_answers("stopping", lambda: self.lease.release(self.redis, self.keys))

    async def _take_jobs(self, docket: Docket, name: str, concurrency: int, until_finished: bool) -> None:
        async with Worker(
            docket,
            name=name,
            concurrency=concurrency,
            # A job's task lives as long as its codex turn; a redelivery is guarded by the claim.
            redelivery_timeout=timedelta(minutes=5),
        ) as worker:
            await (worker.run_until_finished() if until_finished else worker.run_forever())
