"""A durable cancel: a key per job that stays until the job ends, and a pub/sub nudge.

Docket's own cancel is a pub/sub message, lost while a worker's subscription is down. Here the
key is the truth and the nudge only makes the owner act at once; the owner also looks at the
keys of its running jobs periodically and on reconnecting, so a missed nudge costs a delay,
never the cancel.
"""

from __future__ import annotations

from team.keys import RedisClient, TeamKeys

# A cancel key outlives any job worth cancelling, then goes (no job is kept that long in Redis).
CANCEL_KEY_SECONDS = 7 * 24 * 3600


async def request_cancel(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> None:
    """Ask for the job to be cancelled, wherever and whenever it runs."""
    await redis.set(keys.cancel(team_job_id), "1", ex=CANCEL_KEY_SECONDS)
    await redis.publish(keys.cancel_channel, team_job_id)


async def is_cancel_requested(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> bool:
    return bool(await redis.exists(keys.cancel(team_job_id)))
