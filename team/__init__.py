"""codex-async for a team: one queue on Redis (Docket), codex jobs on several machines.

A library over `jobstore`, below the adapters (`mcp_server`, `tui`) as jobstore is: each
machine's own store stays the truth of what ran there (records, output, runners, cancel of the
whole tree); Redis carries what machines must agree on, each in one module:

- `settings`: the Redis address (`CODEX_ASYNC_REDIS`) and host ids, checked;
- `keys`: every Redis key name, in one namespace;
- `registry`: what was asked at enqueue (options, host, time), indexed by time;
- `claim`: a job is started at most once, whatever Docket redelivers;
- `lease`: which machines are alive; a job whose machine is gone ends `lost`, once;
- `cancel`: a cancel that outlives a dropped connection;
- `streams`: each job's output and the team's state changes, copied to Redis;
- `change`: a worktree job's change, published as it ends, read and applied anywhere;
- `view`: a team job as any machine reads it (queued, running, its end; its output; a wait);
- `queue`: putting a job on the team's queue (validated options, never argv);
- `worker`: the Docket task and the loop that runs jobs through the local store;
- `keeper`: the detached process that records a machine's job ends after its worker died;
- `client`: the adapters' connection to the team (`TeamClient`);
- `commands`: `list`/`show`/`follow` over the team (given a Redis);
- `cli`: `codex-async`, jobstore's command line with `worker` and those.

The public surface, the only door the adapters use, is `__all__` below (lint-imports checks
it). Everything that needs redis or Docket is loaded on first use: importing `team` costs a
server or a command that never talks to Redis nothing more than the settings' checks.
`jobstore` never imports this package, nor redis; this package never imports an adapter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from team.settings import ENV_REDIS, check_name, check_redis_url, redis_url_from_env

if TYPE_CHECKING:
    from team.cancel import request_cancel
    from team.change import TeamApplied, TeamChange
    from team.client import TeamClient, TeamUnavailable
    from team.keys import TeamKeys
    from team.queue import enqueue
    from team.streams import StateChange
    from team.view import OutputFollow, TeamJob, TeamOutput, line_starts

# Public names loaded on first use (they import redis or Docket), and the module of each.
_LOADED_ON_USE = {
    "TeamApplied": "team.change",
    "TeamChange": "team.change",
    "TeamClient": "team.client",
    "TeamUnavailable": "team.client",
    "TeamJob": "team.view",
    "TeamOutput": "team.view",
    "OutputFollow": "team.view",
    "StateChange": "team.streams",
    "line_starts": "team.view",
    "TeamKeys": "team.keys",
    "enqueue": "team.queue",
    "request_cancel": "team.cancel",
}


def __getattr__(name: str) -> object:
    module = _LOADED_ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'team' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


__all__ = [
    "ENV_REDIS",
    "OutputFollow",
    "StateChange",
    "TeamApplied",
    "TeamChange",
    "TeamClient",
    "TeamJob",
    "TeamKeys",
    "TeamOutput",
    "TeamUnavailable",
    "check_name",
    "check_redis_url",
    "enqueue",
    "line_starts",
    "redis_url_from_env",
    "request_cancel",
]
