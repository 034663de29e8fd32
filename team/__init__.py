"""codex-async for a team: one queue on Redis (Docket), codex jobs on several machines.

An adapter over `jobstore`, like `mcp_server` and `tui`: each machine's own store stays the
truth of what ran there (records, output, runners, cancel of the whole tree); Redis carries
what machines must agree on, each in one module:

- `settings`: the Redis address (`CODEX_ASYNC_REDIS`) and host ids, checked;
- `keys`: every Redis key name, in one namespace;
- `claim`: a job is started at most once, whatever Docket redelivers;
- `lease`: which machines are alive; a job whose machine is gone ends `lost`, once;
- `cancel`: a cancel that outlives a dropped connection;
- `queue`: putting a job on the team's queue (validated options, never argv);
- `worker`: the Docket task and the loop that runs jobs through the local store;
- `cli`: `codex-async worker`.

`jobstore` never imports this package, nor redis.
"""
