"""The at-most-once claim of a team job: whoever sets the claim key first owns the job.

Docket delivers a task at least once (a worker that dies mid-job, or a Redis restart, hands it
out again). The claim (SET NX) makes every later delivery a reader: it learns the owner and
never starts codex.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass

from team.keys import RedisClient, TeamKeys, text
from team.streams import state_entry, xadd_state_lua

# The claim names its local job and the start goes on the state stream, in one step and once:
# a call tried again (its reply lost while Redis was away) finds the claim named and adds nothing.
_RECORD_STARTED = f"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'XX') then return 0 end
{xadd_state_lua(2)}
return 1
"""


@dataclass(frozen=True)
class Claim:
    host_id: str
    boot_id: str
    # The job's id in the owner's local store; None until the owner has started it.
    job_id: str | None = None
    # When the owner started it (Unix time), for the team's readers (team.view).
    started_at: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, value: str) -> Claim:
        fields = json.loads(value)
        started_at = fields.get("started_at")
        return cls(
            host_id=str(fields["host_id"]),
            boot_id=str(fields["boot_id"]),
            job_id=fields.get("job_id"),
            started_at=float(started_at) if isinstance(started_at, int | float) else None,
        )

    def same_machine(self, other: Claim) -> bool:
        return (self.host_id, self.boot_id) == (other.host_id, other.boot_id)


# One step: a claim already there wins (a redelivery learns the owner); an end already there
# (recorded lost or cancelled before any machine took it) is returned; a job routed to another
# machine since (team.routing re-routed it) is left to that one; the team's limit is checked
# against the claimed jobs without an end (SMEMBERS: memory:// has no SCARD in Lua; the set
# holds only the jobs running now); then the claim is set and the route goes.
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner then return {'owned', owner} end
local ended = redis.call('GET', KEYS[2])
if ended then return {'ended', ended} end
local routed = redis.call('HGET', KEYS[3], ARGV[1])
if routed and routed ~= ARGV[3] then return {'elsewhere', routed} end
local raw_limit = redis.call('GET', KEYS[5])
local limit = raw_limit and tonumber(raw_limit)
if limit and #redis.call('SMEMBERS', KEYS[4]) >= limit then return {'full', raw_limit} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[6])
return {'won', ARGV[2]}
"""


class Outcome(enum.Enum):
    WON = "won"  # this call claimed the job: start it
    OWNED = "owned"  # claimed before (by `owner`): never start it again
    ENDED = "ended"  # recorded ended before any machine took it (`detail`: the end)
    ELSEWHERE = "elsewhere"  # routed to another machine since (`detail`: its host id)
    FULL = "full"  # the team's limit is reached (`detail`: the limit): try again later


@dataclass(frozen=True)
class Taken:
    outcome: Outcome
    owner: Claim | None = None  # WON: mine; OWNED: the owner's
    detail: str = ""


async def claim_job(redis: RedisClient, keys: TeamKeys, team_job_id: str, mine: Claim) -> Taken:
    """Try to own the job (at most one caller ever does); what this call found."""
    reply = await redis.eval(
        _CLAIM,
        6,
        keys.claim(team_job_id),
        keys.end(team_job_id),
        keys.routed,
        keys.claimed,
        keys.team_limit,
        keys.route(team_job_id),
        team_job_id,
        mine.to_json(),
        mine.host_id,
    )
    outcome, value = Outcome(text(reply[0])), text(reply[1]) or ""
    if outcome in (Outcome.WON, Outcome.OWNED):
        return Taken(outcome, Claim.from_json(value))
    return Taken(outcome, detail=value)


async def record_started(redis: RedisClient, keys: TeamKeys, team_job_id: str, owner: Claim) -> None:
    """The owner names the local job it started (a redelivery on the owner re-attaches to it);
    the team's state stream gets the job's start (`started`)."""
    change = state_entry(team_job_id, "started", owner.host_id)
    await redis.eval(_RECORD_STARTED, 2, keys.claim(team_job_id), keys.states, owner.to_json(), *change)


async def read_claim(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> Claim | None:
    value = text(await redis.get(keys.claim(team_job_id)))
    return None if value is None else Claim.from_json(value)
