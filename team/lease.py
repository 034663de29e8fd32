"""Machines known by a lease, and jobs whose machine is gone recorded `lost` exactly once.

A machine's lease is its boot id under `lease:<host id>`, set with a time to live and renewed
well within it. A lease that expired, or that carries another boot id (the machine restarted),
means the processes of the jobs it claimed are gone with it.

A job's end is one key written with SET NX: the owner's truthful end and a watcher's `lost`
race for it, and the first write is the only one. So a job whose end was recorded is never made
lost, and two watchers that see the same expired lease record it once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from jobstore import InvalidInput, JobStatus, echoed
from team.claim import Claim, read_claim
from team.keys import RedisClient, TeamKeys, text
from team.streams import state_entry, xadd_state_lua

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
DEFAULT_LEASE_SECONDS = 5.0
# An ended job's claim and end stay this long (a late redelivery still finds them), then go:
# Redis does not grow with every job the team ever ran.
ENDED_KEEP_SECONDS = 7 * 24 * 3600


# Atomic: the holder checked and the time to live set in one step.
_EXTEND_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """This boot of this machine (changes at every boot, shared by every process on it)."""
    return path.read_text().strip()


@dataclass(frozen=True)
class HostLease:
    host_id: str
    boot_id: str
    seconds: float = DEFAULT_LEASE_SECONDS

    @property
    def renew_every(self) -> float:
        # A third of the lease: two renewals may be missed before it lapses.
        return self.seconds / 3

    async def renew(self, redis: RedisClient, keys: TeamKeys) -> None:
        """Take or extend the lease. Refused (InvalidInput) while another machine, live under
        the same host id, holds it: two machines must not share a name."""
        key = keys.lease(self.host_id)
        millis = max(1, int(self.seconds * 1000))
        if await redis.set(key, self.boot_id, px=millis, nx=True):
            return
        holder = text(await redis.get(key))
        if holder not in (None, self.boot_id):
            raise InvalidInput(
                f"host id {echoed(self.host_id)} is in use by another live machine (boot {holder}); "
                "give each machine its own --host-id"
            )
        await redis.set(key, self.boot_id, px=millis)

    async def extend(self, redis: RedisClient, keys: TeamKeys) -> bool:
        """Extend the lease only while this boot holds it, never take it (the keeper's renewal:
        a lease a stopping worker let go, or another machine's, is left alone). Whether held."""
        millis = max(1, int(self.seconds * 1000))
        return bool(await redis.eval(_EXTEND_IF_HELD, 1, keys.lease(self.host_id), self.boot_id, millis))

    async def release(self, redis: RedisClient, keys: TeamKeys) -> None:
        """Let the lease go now (a worker stopping on purpose, with no jobs left running)."""
        if text(await redis.get(keys.lease(self.host_id))) == self.boot_id:
            await redis.delete(keys.lease(self.host_id))


# The end is set once (NX) and, only by the call that set it, put on the state stream: one step.
_RECORD_END = f"""
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
{xadd_state_lua(3)}
return 1
"""
# The same for a job no machine took (team.routing): only while it is unclaimed and still routed
# to the machine found gone (ARGV[11]); its route goes with it.
_RECORD_UNTAKEN_END = f"""
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('HGET', KEYS[3], ARGV[11]) ~= ARGV[12] then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[3], ARGV[11])
redis.call('DEL', KEYS[4])
{xadd_state_lua(3)}
return 1
"""


async def is_alive(redis: RedisClient, keys: TeamKeys, owner: Claim) -> bool:
    """Whether the machine that claimed a job is still the one running: lease held, same boot."""
    return text(await redis.get(keys.lease(owner.host_id))) == owner.boot_id


async def record_end(
    redis: RedisClient,
    keys: TeamKeys,
    team_job_id: str,
    status: JobStatus,
    by: str,
    exit_code: int | None = None,
    *,
    reason: str | None = None,
    untaken_on: str | None = None,
) -> tuple[bool, str]:
    """Record the job's end (with codex's exit code when the local store has one, and why, when
    known) unless one is recorded: (True, status) when this call wrote it, else (False, the end
    already there). `untaken_on`: only if no machine took the job and it is still routed there."""
    fields: dict[str, object] = {"status": status.value, "by": by, "at": round(time.time(), 3)}
    if exit_code is not None:
        fields["exit_code"] = exit_code
    if reason is not None:
        fields["reason"] = reason
    end = json.dumps(fields, sort_keys=True)
    change = state_entry(team_job_id, status.value, by)
    if untaken_on is not None:
        routing = [keys.claim(team_job_id), keys.routed, keys.route(team_job_id)]
        won = bool(
            await redis.eval(
                _RECORD_UNTAKEN_END,
                5,
                keys.end(team_job_id),
                *routing,
                keys.states,
                end,
                str(ENDED_KEEP_SECONDS),
                *change,
                team_job_id,
                untaken_on,
            )
        )
        return won, status.value if won else (await read_end(redis, keys, team_job_id) or "")
    won = bool(
        await redis.eval(
            _RECORD_END, 2, keys.end(team_job_id), keys.states, end, str(ENDED_KEEP_SECONDS), *change
        )
    )
    # A job ended before any machine took it (a cancel while it waited) is routed no more.
    await redis.hdel(keys.routed, team_job_id)
    await redis.srem(keys.claimed, team_job_id)
    await redis.expire(keys.claim(team_job_id), ENDED_KEEP_SECONDS)
    await redis.expire(keys.job(team_job_id), ENDED_KEEP_SECONDS)  # what was asked goes with it
    if won:
        return True, status.value
    recorded = await read_end(redis, keys, team_job_id)
    return False, recorded or status.value


async def read_end(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> str | None:
    """The job's recorded end status, or None while it has none."""
    fields = await read_end_fields(redis, keys, team_job_id)
    return None if fields is None else str(fields["status"])


async def read_end_fields(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> dict[str, object] | None:
    """The job's recorded end (status, by, exit_code, reason when known), or None."""
    value = text(await redis.get(keys.end(team_job_id)))
    return None if value is None else dict(json.loads(value))


async def settle_if_owner_gone(redis: RedisClient, keys: TeamKeys, team_job_id: str, by: str) -> bool:
    """Record the job `lost` if its owner's lease is gone and it has no end: True when this
    call recorded it (exactly one caller does, however many race)."""
    if await read_end(redis, keys, team_job_id) is not None:
        return False
    owner = await read_claim(redis, keys, team_job_id)
    if owner is None or await is_alive(redis, keys, owner):
        return False
    won, _ = await record_end(redis, keys, team_job_id, JobStatus.LOST, by)
    return won


async def settle_lost_jobs(redis: RedisClient, keys: TeamKeys, by: str) -> list[str]:
    """Every claimed job without an end whose machine is gone, recorded lost; the ids this
    call recorded."""
    members = [text(each) or "" for each in await redis.smembers(keys.claimed)]
    return [each for each in sorted(members) if await settle_if_owner_gone(redis, keys, each, by)]
