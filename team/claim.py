"""The at-most-once claim of a team job: whoever sets the claim key first owns the job.

Docket delivers a task at least once (a worker that dies mid-job, or a Redis restart, hands it
out again). The claim (SET NX) makes every later delivery a reader: it learns the owner and
never starts codex.
"""

from __future__ import annotations

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


async def claim_job(redis: RedisClient, keys: TeamKeys, team_job_id: str, mine: Claim) -> tuple[bool, Claim]:
    """Try to own the job: (True, mine) when this call set the claim, else (False, the owner's)."""
    if await redis.set(keys.claim(team_job_id), mine.to_json(), nx=True):
        await redis.sadd(keys.claimed, team_job_id)
        return True, mine
    owner = await read_claim(redis, keys, team_job_id)
    if owner is None:  # the claim vanished between the two calls (Redis lost data): try again once
        return await claim_job(redis, keys, team_job_id, mine)
    return False, owner


async def record_started(redis: RedisClient, keys: TeamKeys, team_job_id: str, owner: Claim) -> None:
    """The owner names the local job it started (a redelivery on the owner re-attaches to it);
    the team's state stream gets the job's start (`started`)."""
    change = state_entry(team_job_id, "started", owner.host_id)
    await redis.eval(_RECORD_STARTED, 2, keys.claim(team_job_id), keys.states, owner.to_json(), *change)


async def read_claim(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> Claim | None:
    value = text(await redis.get(keys.claim(team_job_id)))
    return None if value is None else Claim.from_json(value)
