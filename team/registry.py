"""What was asked of the team: each job's record at enqueue, and the index of jobs by enqueue time.

The record (`job:<id>`, JSON) holds the job's options by name, as a local job's record holds
them, the host it was asked for (if any) and when it was enqueued; the index (`jobs`, a sorted
set scored by enqueue time) makes "the newest N team jobs" one ZREVRANGE. Both are written in
one Lua step, so a job is listed only with its record. A record lasts `RECORD_KEEP_SECONDS`
(a job queued that long is given up on), and as long as its end once it ends (`record_end`);
index entries older than that are dropped at the next enqueue, and a reader skips an entry whose
record is gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from team.keys import RedisClient, TeamKeys, text

RECORD_KEEP_SECONDS = 30 * 24 * 3600
# The index is bounded whatever the age of its entries.
INDEX_MAX_ENTRIES = 100_000

# All values as text: memory:// (the unit tests' Redis) takes no numbers, and knows no
# ZREMRANGEBYRANK (pcall'd: there, the index is bounded by age alone).
_RECORD_ENQUEUED = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.pcall('ZREMRANGEBYRANK', KEYS[2], '0', ARGV[6])
return 1
"""


@dataclass(frozen=True)
class Enqueued:
    """A team job as it was asked for."""

    team_job_id: str
    options: dict[str, Any]  # RunOptions by name, as checked at enqueue
    host: str | None  # the machine it was asked to run on; None: any
    enqueued_at: float  # Unix time

    def to_json(self) -> str:
        return json.dumps(
            {"options": self.options, "host": self.host, "enqueued_at": self.enqueued_at}, sort_keys=True
        )

    @classmethod
    def from_json(cls, team_job_id: str, value: str) -> Enqueued | None:
        """The record, or None when it is not one (a reader shows no job rather than fail)."""
        try:
            fields = json.loads(value)
            options = fields["options"]
            host = fields.get("host")
            enqueued_at = float(fields["enqueued_at"])
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(options, dict) or not isinstance(host, str | None):
            return None
        return cls(team_job_id, options, host, enqueued_at)


async def record_enqueued(
    redis: RedisClient, keys: TeamKeys, team_job_id: str, options: Mapping[str, Any], host: str | None
) -> Enqueued:
    """Record the job and index it (before it is put on the queue: a listed job has a record)."""
    now = time.time()
    entry = Enqueued(team_job_id, dict(options), host, round(now, 3))
    oldest_kept = now - RECORD_KEEP_SECONDS
    await redis.eval(
        _RECORD_ENQUEUED,
        2,
        keys.job(team_job_id),
        keys.jobs,
        entry.to_json(),
        str(RECORD_KEEP_SECONDS),
        repr(entry.enqueued_at),
        team_job_id,
        repr(oldest_kept),
        str(-INDEX_MAX_ENTRIES - 1),
    )
    return entry


async def forget_enqueued(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> None:
    """Undo `record_enqueued` (the job never reached the queue)."""
    await redis.zrem(keys.jobs, team_job_id)
    await redis.delete(keys.job(team_job_id))


async def read_enqueued(
    redis: RedisClient, keys: TeamKeys, team_job_ids: Sequence[str]
) -> list[Enqueued | None]:
    """The records of these jobs, in order (None where there is none)."""
    if not team_job_ids:
        return []
    values = await redis.mget(*[keys.job(each) for each in team_job_ids])
    found: list[Enqueued | None] = []
    for team_job_id, value in zip(team_job_ids, values, strict=True):
        raw = text(value)
        found.append(None if raw is None else Enqueued.from_json(team_job_id, raw))
    return found


async def newest_ids(redis: RedisClient, keys: TeamKeys, skip: int, count: int) -> list[str]:
    """Team job ids, newest first, from position `skip` on (at most `count`)."""
    # ZRANGE from the end (memory:// knows no ZREVRANGE), turned newest first.
    members = await redis.zrange(keys.jobs, -(skip + count), -(skip + 1))
    return [text(each) or "" for each in reversed(members)]
