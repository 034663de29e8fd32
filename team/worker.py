"""The team's worker: a Docket task that admits a team job to this machine's own store, and the
worker process that watches the job to its end (so no Docket task lasts as long as a codex turn).

A delivery of `codex_team_job` carries the job's options as plain values, never argv: they are
checked again here (`RunOptions.checked`) and the local store builds codex's command from them,
exactly as for a local start. Each delivery first claims the job (`claim`): the first one starts
it, any later one (Docket redelivers after a worker died or Redis restarted) never starts codex
again. It re-attaches instead to the local job when this machine owns it, and leaves the job to
its owner when another machine does; a job whose machine's lease is gone ends `lost` (`lease`).

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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from docket import CurrentExecution, CurrentWorker, Docket, Execution, Worker
from docket.dependencies import AdmissionBlocked

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

# How soon a job this worker has no free place for is offered to it again (Docket reschedules it).
PLACE_RETRY_SECONDS = 0.5
# Stopping: how long Docket's queue may take to let go of the deliveries it holds, and how long
# a Redis call (the last ends, the lease) is waited for, before Redis counts as away.
STOP_PATIENCE_SECONDS = 5.0

# Docket workers by name, so that the task (a plain function Docket calls) finds its machine's.
_WORKERS: dict[str, TeamWorker] = {}


class Later(Exception):
    """The job cannot be admitted now (no free place here, the team's limit, a route being
    switched): its delivery is offered again after `delay` seconds."""

    def __init__(self, why: str, delay: float) -> None:
        super().__init__(why)
        self.why = why
        self.delay = delay


async def codex_team_job(
    team_job_id: str,
    options: dict[str, object],
    worker: Worker = CurrentWorker(),  # noqa: B008 - Docket's way of injecting it
    execution: Execution = CurrentExecution(),  # noqa: B008 - the same
) -> str:
    """Docket's task: admit the team job on this worker's machine (at most once) and return;
    the worker process itself watches it to its end, so that Docket's drain after a Redis error
    (it waits for every task it runs) never waits for a codex turn."""
    try:
        return await _WORKERS[worker.name].admit(team_job_id, options)
    except Later as later:
        # Docket's admission control: the delivery is acknowledged and scheduled again, so a
        # waiting job holds neither a Docket slot nor up a drain.
        raise AdmissionBlocked(execution, later.why, retry_delay=timedelta(seconds=later.delay)) from None


@dataclass(frozen=True)
class Admitted:
    """What a delivery came to: `said` (what the Docket task returns); the job's watch here, or
    the other machine that owns it."""

    said: str
    watch: asyncio.Future[str] | None = None
    owner: str | None = None


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
        concurrency: int = 1,
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
        # The most team jobs admitted here at once (serve sets it; what the advertisement says).
        self.concurrency = concurrency
        self._docket: Docket | None = None  # this machine's Docket, while serving
        self._admissions: dict[str, asyncio.Future[Admitted]] = {}  # one admission per job at once
        self._reserved: set[str] = set()  # admissions holding a place before their watch does
        self._watches: dict[str, asyncio.Future[str]] = {}  # team job id -> its watch to the end
        self._local_ids: dict[str, str] = {}  # team job id -> local job id, once started
        self._cancelling: set[str] = set()
        self._background: set[asyncio.Future[Any]] = set()  # kept: the loop holds tasks weakly
        self._stopping = asyncio.Event()
        # Set while stopping with Redis away: what still waits for Redis before a job runs gives up.
        self._giving_up = asyncio.Event()
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

    async def _before_start(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call` tried again while Redis is away, unless a stopping worker gives up on Redis
        (then CancelledError: nothing was started, the delivery stays Docket's to hand out again)."""
        trying = asyncio.ensure_future(self._until_redis_answers(what, call))
        giving_up = asyncio.ensure_future(self._giving_up.wait())
        try:
            await asyncio.wait([trying, giving_up], return_when=asyncio.FIRST_COMPLETED)
        finally:
            giving_up.cancel()
        if not trying.done():
            trying.cancel()
            raise asyncio.CancelledError(f"{what}: stopping while Redis is away")
        return trying.result()

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def places_taken(self) -> int:
        """The team jobs admitted here and not ended (each holds one of `concurrency` places)."""
        return len(self._watches) + len(self._reserved)

    # ------------------------------------------------------------ one job

    async def admit(self, team_job_id: str, options: Mapping[str, object]) -> str:
        """Admit the job here (claim it, start it, its watch left running) unless it was claimed
        already; what came of it. `Later` when it cannot be admitted now."""
        return (await self._admission(team_job_id, options)).said

    async def run_job(self, team_job_id: str, options: Mapping[str, object]) -> str:
        """Admit the job (waiting here while it cannot be), then its end status: its watch's, or
        the owner's when another machine runs it."""
        while True:
            try:
                admitted = await self._admission(team_job_id, options)
                break
            except Later as later:
                await asyncio.sleep(later.delay)
        if admitted.watch is not None:
            return await asyncio.shield(admitted.watch)
        if admitted.owner is not None:
            return await self._await_owner(team_job_id)
        return admitted.said

    async def _admission(self, team_job_id: str, options: Mapping[str, object]) -> Admitted:
        check_name("a team job id", team_job_id)
        watch = self._watches.get(team_job_id)
        if watch is not None:  # delivered again while watched here: never a second watch
            return Admitted("running here", watch)
        admission = self._admissions.get(team_job_id)
        if admission is None:  # a second delivery meanwhile waits for the first, never starts again
            admission = asyncio.ensure_future(self._admit(team_job_id, dict(options)))
            self._admissions[team_job_id] = admission
            admission.add_done_callback(lambda _: self._admissions.pop(team_job_id, None))
        # Shielded: a claim cut off after Redis wrote it would leave the job claimed, never started.
        return await asyncio.shield(admission)

    def _own(self, team_job_id: str, work: Coroutine[Any, Any, str]) -> asyncio.Future[str]:
        """The job's watch, run by this process (not by a Docket task): it holds its place till
        the job's end is recorded."""
        watch = asyncio.ensure_future(work)
        self._watches[team_job_id] = watch
        watch.add_done_callback(lambda _: self._watches.pop(team_job_id, None))
        return watch

    async def _admit(self, team_job_id: str, options: dict[str, object]) -> Admitted:
        if self.places_taken() >= self.concurrency:
            raise Later(f"all {self.concurrency} places of {self.mine.host_id} taken", PLACE_RETRY_SECONDS)
        what = f"team job {team_job_id}"
        # Held from here, given to the watch in the same step (`_own`): places are never oversold.
        self._reserved.add(team_job_id)
        try:
            taken = await self._before_start(
                what, lambda: claim_job(self.redis, self.keys, team_job_id, self.mine)
            )
            if taken.outcome is Outcome.ELSEWHERE:
                serves = functools.partial(self.redis.exists, self.keys.serves(taken.detail))
                if not await self._before_start(what, serves):
                    # Routed to a machine that stopped serving: a watcher is routing it again,
                    # and adds it to the new machine's queue (perhaps this one's) before it
                    # switches the route. Dropping this delivery would leave it with no message.
                    raise Later(f"routed to {taken.detail}, which stopped serving", LIMIT_RETRY_SECONDS)
                log.info("team job %s: routed to %s since; not taken here", team_job_id, taken.detail)
                return Admitted(f"routed to {taken.detail}")
            if taken.outcome is Outcome.FULL:
                # At the team's limit: not claimed, so it does not count; a cancel asked
                # meanwhile ends it unstarted.
                asked = functools.partial(is_cancel_requested, self.redis, self.keys, team_job_id)
                if await self._before_start(what, asked):
                    return Admitted(await self._end(team_job_id, JobStatus.CANCELLED))
                raise Later(f"the team's limit ({taken.detail}) is reached", LIMIT_RETRY_SECONDS)
            if taken.outcome is Outcome.WON:
                return Admitted("started here", self._own(team_job_id, self._start(team_job_id, options)))
            if taken.outcome is Outcome.ENDED:
                return Admitted(str(json.loads(taken.detail)["status"]))
            owner = taken.owner
            assert owner is not None
            if not owner.same_machine(self.mine):
                # Its end is the owner's to record, or `lost` by the lease watchers if it dies.
                log.info("team job %s: delivered again, owned by %s", team_job_id, owner.host_id)
                return Admitted(f"owned by {owner.host_id}", owner=owner.host_id)
            if owner.job_id is not None:
                log.info(
                    "team job %s: delivered again, re-attaching to local job %s", team_job_id, owner.job_id
                )
                return Admitted(
                    "running here", self._own(team_job_id, self._watch(team_job_id, owner.job_id))
                )
            # Claimed by an earlier worker process of this machine that died before it named
            # the local job: whether codex started cannot be told, so it is not started again.
            return Admitted(await self._end(team_job_id, JobStatus.LOST))
        finally:
            self._reserved.discard(team_job_id)

    async def _start(self, team_job_id: str, options: dict[str, object]) -> str:
        asked = functools.partial(is_cancel_requested, self.redis, self.keys, team_job_id)
        if await self._before_start(f"team job {team_job_id}", asked):
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
        # Known before Redis is: a stop waits for this job's local end whatever Redis does.
        self._local_ids[team_job_id] = record.job_id
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
            if (
                team_job_id not in self._watches
            ):  # running already: each holds a place, over the limit if need be
                log.info("team job %s: re-attaching to job %s after a restart", team_job_id, owner.job_id)
                self._own(team_job_id, self._watch(team_job_id, owner.job_id))
                reattached.append(team_job_id)
        return reattached

    def serving(self) -> Serving:
        """What this machine advertises: its roots, its concurrency, the team jobs it runs now."""
        return Serving(
            self.mine.host_id, self.mine.boot_id, self.roots, self.concurrency, self.places_taken()
        )

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
        until cancelled (or, `until_finished`, until the queue is empty and the jobs taken ended:
        for tests and one-shot runs)."""
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
            if queue in done:  # until_finished: the jobs it admitted are watched to their ends
                while self._watches:
                    await asyncio.gather(*list(self._watches.values()), return_exceptions=True)
            if stop in done:
                await self._finish_running_jobs(queue)
        finally:
            stop.cancel()
            for each in (queue, *machine):
                each.cancel()
            # Bounded: a Redis that accepts connections and answers nothing (stopped) must not
            # keep a leaving worker; what is left is cancelled again as the loop closes.
            await asyncio.wait([queue, *machine], timeout=STOP_PATIENCE_SECONDS)
            _WORKERS.pop(name, None)
            self._docket = None

    def stop(self) -> None:
        """Stop taking jobs; `serve` returns once the jobs running here have ended and their ends
        are recorded (the lease renewed meanwhile, so no other machine calls them lost) or, with
        Redis away, left to the keeper."""
        self._stopping.set()

    async def _finish_running_jobs(self, queue: asyncio.Future[None]) -> None:
        # Its advertisement is renewed no more (keep_lease): within a lease, the jobs routed here
        # and not taken (queued, or waiting for a place) are routed elsewhere; a worker started
        # again sooner takes them itself.
        queue.cancel()  # Docket takes no more; the deliveries it holds are admitted, or given up
        await asyncio.wait([queue], timeout=STOP_PATIENCE_SECONDS)
        if not queue.done():  # admissions wait for Redis: they give up, their messages stay queued
            self._giving_up.set()
            queue.cancel()
            await asyncio.wait([queue], timeout=STOP_PATIENCE_SECONDS)
        while self._watches:
            log.info("stopping: waiting for %d running team job(s) to end", len(self._watches))
            await asyncio.wait(list(self._watches.values()), timeout=self.recheck_seconds)
            if self._watches and await self._all_ended_locally() and not await self._redis_answers():
                # Their ends are on this machine's store; its keeper records them once Redis is back.
                log.warning(
                    "stopping: Redis is away; the ends of team job(s) %s are left to the keeper",
                    ", ".join(sorted(self._watches)),
                )
                return
        try:
            await asyncio.wait_for(self.lease.release(self.redis, self.keys), STOP_PATIENCE_SECONDS)
        except REDIS_AWAY as exc:  # it lapses on its own (TimeoutError is an OSError)
            log.warning("stopping: the lease was not let go (%r); it lapses", exc)

    async def _all_ended_locally(self) -> bool:
        """Whether every job watched here has ended in the local store (a job not started yet,
        or being started, has not)."""
        for team_job_id in list(self._watches):
            job_id = self._local_ids.get(team_job_id)
            if job_id is None or not (await self._in_thread(self.store.get, job_id)).is_terminal:
                return False
        return True

    async def _redis_answers(self) -> bool:
        try:
            await asyncio.wait_for(self.redis.ping(), STOP_PATIENCE_SECONDS)
        except REDIS_AWAY:  # TimeoutError is an OSError
            self._giving_up.set()  # a job not started yet is not started while Redis is away
            return False
        return True

    async def _take_jobs(self, docket: Docket, name: str, concurrency: int, until_finished: bool) -> None:
        async with Worker(
            docket,
            name=name,
            concurrency=concurrency,
            # A delivery's task only admits its job (its watch is the worker's): a redelivery
            # is guarded by the claim.
            redelivery_timeout=timedelta(minutes=5),
            # Back soon after a Redis outage: the drain before it no longer waits for jobs.
            reconnection_delay=timedelta(seconds=1),
        ) as worker:
            await (worker.run_until_finished() if until_finished else worker.run_forever())
