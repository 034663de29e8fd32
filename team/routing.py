"""Where a team job runs: the machine named (`host=`), else a live machine that has its folder.

A job's `cwd` is a path on one machine. Each worker advertises what it serves beside its lease
(`serves:<host id>`, expiring after the lease unless renewed): the repository roots given with
`codex-async worker --repo DIR` (resolved on that machine), its concurrency and how many team
jobs it runs. A job routed by repository goes to a live machine with a root that is its cwd or
a parent of it (the same absolute path), least busy first (running + routed and not yet taken,
over its concurrency; then by name). None: `NoMachine` at enqueue, naming the cwd and the fix,
and nothing is queued.

Each machine has a Docket of its own (`TeamKeys.host_docket_name`), read by its workers only: a
job is added there, then its route is recorded (`routed` hash: job -> host, and `route:<job>`:
pinned or not, cwd, options) unless a worker already took it. A worker takes a job only while it
is routed to its host (the claim checks it in the same step: `team.claim`).

A machine that stops serving (its worker died or stopped, its machine died) before taking a job
routed to it: every worker looks at the routed jobs at each lease renewal. A job pinned with
`host=` is recorded `lost` with its reason; one routed by repository is routed again to another
live machine that has the folder (added to its Docket first, then the route switched in one
step that checks the old host and that no claim exists; a worker given it before the switch
finds it routed to a machine not serving and waits for the switch: `TeamWorker._run_once`),
else recorded `lost` with its reason.
Whoever switches or records first is the only one: each step checks what it changes.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docket import Docket

from jobstore import InvalidInput, JobStatus, echoed
from team.keys import RedisClient, TeamKeys, text
from team.lease import ENDED_KEEP_SECONDS, record_end

# Most repository roots one worker advertises (each a path: the advertisement stays small).
MAX_ROOTS = 64


@dataclass(frozen=True)
class Serving:
    """What one machine's worker serves, as advertised beside its lease."""

    host_id: str
    boot_id: str
    roots: tuple[str, ...]
    concurrency: int
    running: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, value: str) -> Serving:
        fields = json.loads(value)
        return cls(
            host_id=str(fields["host_id"]),
            boot_id=str(fields["boot_id"]),
            roots=tuple(str(each) for each in fields.get("roots", ())),
            concurrency=max(1, int(fields.get("concurrency", 1))),
            running=max(0, int(fields.get("running", 0))),
        )

    def has(self, cwd: str) -> bool:
        """Whether `cwd` is one of this machine's roots or inside one (paths compared as written:
        roots are resolved by their worker, a cwd names a folder on the machine that has it)."""
        path = PurePosixPath(os.path.normpath(cwd))
        return any(path == PurePosixPath(root) or PurePosixPath(root) in path.parents for root in self.roots)


def check_repo_roots(roots: Iterable[str]) -> tuple[str, ...]:
    """`--repo DIR` values: each an existing folder, resolved (symlinks followed once, here)."""
    resolved: list[str] = []
    for root in roots:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise InvalidInput(f"--repo {echoed(root)} is not a folder on this machine")
        real = str(path.resolve())
        if real not in resolved:
            resolved.append(real)
    if len(resolved) > MAX_ROOTS:
        raise InvalidInput(f"at most {MAX_ROOTS} --repo folders per worker")
    return tuple(resolved)


async def advertise(redis: RedisClient, keys: TeamKeys, serving: Serving, seconds: float) -> None:
    """Say what this machine serves, for one lease's time."""
    await redis.set(keys.serves(serving.host_id), serving.to_json(), px=max(1, int(seconds * 1000)))
    await redis.sadd(keys.hosts, serving.host_id)


async def serving_hosts(redis: RedisClient, keys: TeamKeys) -> dict[str, Serving]:
    """The machines serving now (advertisement not expired), by host id."""
    hosts = sorted(text(each) or "" for each in await redis.smembers(keys.hosts))
    if not hosts:
        return {}
    found = {}
    for host_id, value in zip(hosts, await redis.mget(*[keys.serves(each) for each in hosts]), strict=True):
        if value is not None:
            found[host_id] = Serving.from_json(text(value) or "")
    return found


async def waiting_by_host(redis: RedisClient, keys: TeamKeys) -> Counter[str]:
    """How many routed jobs each machine has not taken yet."""
    return Counter(text(each) or "" for each in await redis.hvals(keys.routed))


class NoMachine(InvalidInput):
    """No live machine can take the job: nothing was queued."""


def choose_host(
    serving: Mapping[str, Serving], waiting: Mapping[str, int], cwd: str, host: str | None
) -> str:
    """The machine a job goes to: `host` if it serves now, else the least busy one that has `cwd`."""
    if host is not None:
        if host not in serving:
            raise NoMachine(
                f"no worker of host {echoed(host)} is serving now (never started, stopped, or its lease "
                f"lapsed): start `codex-async worker --host-id {host} ...` there, or leave host out"
            )
        return host
    fits = [each for each in serving.values() if each.has(cwd)]
    if not fits:
        live = ", ".join(sorted(serving)) or "none"
        raise NoMachine(
            f"no live machine serves {echoed(cwd)} (machines serving: {live}): start "
            f"`codex-async worker --repo DIR` with DIR that folder or a parent of it, on the machine "
            "that has it, or pass host=NAME"
        )

    def load(each: Serving) -> tuple[float, str]:
        return (each.running + waiting.get(each.host_id, 0)) / each.concurrency, each.host_id

    return min(fits, key=load).host_id


@dataclass(frozen=True)
class Route:
    """How a job was routed: enough to route it again (pinned jobs are not)."""

    host: str
    pinned: bool
    cwd: str
    values: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, value: str) -> Route:
        fields = json.loads(value)
        return cls(str(fields["host"]), bool(fields["pinned"]), str(fields["cwd"]), dict(fields["values"]))


# Set the route unless the job was taken or ended; when ARGV[2] is not empty, only while the job
# is still routed to that host (a switch: one of many racing watchers wins).
_SET_ROUTE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[5])
return 1
"""


async def _set_route(redis: RedisClient, keys: TeamKeys, team_job_id: str, route: Route, was: str) -> bool:
    return bool(
        await redis.eval(
            _SET_ROUTE,
            4,
            keys.claim(team_job_id),
            keys.end(team_job_id),
            keys.routed,
            keys.route(team_job_id),
            team_job_id,
            was,
            route.host,
            route.to_json(),
            str(ENDED_KEEP_SECONDS),
        )
    )


def host_docket(docket: Docket, keys: TeamKeys, host_id: str) -> Docket:
    """A machine's own Docket, on the same Redis (and credentials) as `docket`."""
    return Docket(
        name=keys.host_docket_name(host_id), url=docket.url, credential_provider=docket.credential_provider
    )


TaskFunction = Callable[..., Any]


async def _queue_on(
    docket: Docket, keys: TeamKeys, task: TaskFunction, team_job_id: str, route: Route
) -> None:
    async with host_docket(docket, keys, route.host) as target:
        await target.add(task, key=team_job_id)(team_job_id, route.values)


async def route_job(
    docket: Docket,
    keys: TeamKeys,
    task: TaskFunction,
    team_job_id: str,
    values: dict[str, Any],
    host: str | None,
) -> str:
    """Queue a job on the machine it goes to (`NoMachine` when none can, nothing queued); its host.
    Added to the machine's Docket first, then routed: a job is never routed without being queued."""
    cwd = str(values.get("cwd") or "")
    async with docket.redis() as redis:
        chosen = choose_host(await serving_hosts(redis, keys), await waiting_by_host(redis, keys), cwd, host)
        route = Route(chosen, host is not None, cwd, values)
        await _queue_on(docket, keys, task, team_job_id, route)
        await _set_route(redis, keys, team_job_id, route, "")
    return chosen


async def reroute_orphans(
    docket: Docket, redis: RedisClient, keys: TeamKeys, task: TaskFunction, by: str
) -> dict[str, str]:
    """Every routed job whose machine stopped serving before taking it: routed again, or recorded
    `lost` with its reason. What this call did: team job id -> new host id, or "lost"."""
    serving = await serving_hosts(redis, keys)
    routed = {text(job) or "": text(host) or "" for job, host in (await redis.hgetall(keys.routed)).items()}
    done: dict[str, str] = {}
    for team_job_id, was in sorted(routed.items()):
        if was in serving:
            continue
        raw = text(await redis.get(keys.route(team_job_id)))
        route = Route.from_json(raw) if raw is not None else None
        reason = f"machine {was} stopped serving before it took the job"
        if route is not None and not route.pinned:
            try:
                new_host = choose_host(serving, await waiting_by_host(redis, keys), route.cwd, None)
            except NoMachine:
                reason += f", and no other live machine serves {route.cwd}"
            else:
                moved = Route(new_host, False, route.cwd, route.values)
                await _queue_on(docket, keys, task, team_job_id, moved)
                if await _set_route(redis, keys, team_job_id, moved, was):
                    done[team_job_id] = new_host
                continue
        elif route is not None:
            reason += " (it was sent to that machine only, with host=)"
        won, _ = await record_end(redis, keys, team_job_id, JobStatus.LOST, by, reason=reason, untaken_on=was)
        if won:
            done[team_job_id] = "lost"
    return done
