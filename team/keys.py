"""Every Redis key and channel the team uses, in one place and one namespace.

Docket keeps its own keys under its docket name (`docket_name`); ours sit beside them under
the same prefix, so one Redis (or one ACL key pattern, SECURITY.md) serves one team.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# The client `docket.redis()` yields (redis-py's, or the in-process one behind memory://):
# both answer the same commands; typed loosely because they share no public base class.
RedisClient = Any

# What a call raises while Redis is away (restarting, unreachable): worth trying again.
REDIS_AWAY: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

DEFAULT_NAMESPACE = "codex-async"


@dataclass(frozen=True)
class TeamKeys:
    namespace: str = DEFAULT_NAMESPACE

    @property
    def docket_name(self) -> str:
        """The team's Docket, which callers open to reach the team (enqueue): its keys are
        `<docket_name>:...`. Jobs themselves go to a machine's own Docket (`host_docket_name`)."""
        return f"{self.namespace}:queue"

    def host_docket_name(self, host_id: str) -> str:
        """One machine's Docket: the jobs routed to it (team.routing), read by its workers only."""
        return f"{self.namespace}:host:{host_id}"

    def serves(self, host_id: str) -> str:
        """What a machine's worker serves (repository roots, concurrency, jobs running): expires
        with the lease unless renewed, so only live, taking workers are routed to."""
        return f"{self.namespace}:serves:{host_id}"

    @property
    def hosts(self) -> str:
        """The set of host ids that ever served (the ones whose `serves` key is gone are skipped)."""
        return f"{self.namespace}:hosts"

    @property
    def routed(self) -> str:
        """Hash: team job id -> the host it is routed to, until a worker takes (claims) it."""
        return f"{self.namespace}:routed"

    def route(self, team_job_id: str) -> str:
        """How a routed job may be routed again (pinned or by repository, its cwd and options)."""
        return f"{self.namespace}:route:{team_job_id}"

    @property
    def team_limit(self) -> str:
        """The team-wide limit of jobs running at once (absent: no limit beyond each worker's)."""
        return f"{self.namespace}:team-limit"

    def claim(self, team_job_id: str) -> str:
        """Who took the job (host, boot, local job id): set once, never replaced by another host."""
        return f"{self.namespace}:claim:{team_job_id}"

    def end(self, team_job_id: str) -> str:
        """How the job ended: written once (SET NX), by the owner or by whoever records it lost."""
        return f"{self.namespace}:end:{team_job_id}"

    def cancel(self, team_job_id: str) -> str:
        """A cancel asked for: stays until the job ends, so a missed nudge is found later."""
        return f"{self.namespace}:cancel:{team_job_id}"

    def lease(self, host_id: str) -> str:
        """A machine's lease: its boot id, expiring unless renewed."""
        return f"{self.namespace}:lease:{host_id}"

    def output(self, team_job_id: str) -> str:
        """The job's output, copied from its owner's local output.txt (team.streams)."""
        return f"{self.namespace}:output:{team_job_id}"

    def change(self, team_job_id: str) -> str:
        """A worktree job's change, published by its machine as it ends (team.change)."""
        return f"{self.namespace}:change:{team_job_id}"

    def job(self, team_job_id: str) -> str:
        """What was asked at enqueue (its options, the host asked for, when): team.registry."""
        return f"{self.namespace}:job:{team_job_id}"

    @property
    def jobs(self) -> str:
        """Every enqueued team job by its enqueue time (a sorted set): the newest are cheap to list."""
        return f"{self.namespace}:jobs"

    @property
    def states(self) -> str:
        """The team-wide stream of state changes: a job started, a job ended (team.streams)."""
        return f"{self.namespace}:states"

    @property
    def claimed(self) -> str:
        """The set of claimed jobs that have no recorded end yet (what lease watchers look at)."""
        return f"{self.namespace}:claimed"

    @property
    def cancel_channel(self) -> str:
        """The pub/sub channel of cancel nudges (the message is the team job id)."""
        return f"{self.namespace}:cancels"


def text(value: object) -> str | None:
    """A Redis reply as text (clients answer bytes or str)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
