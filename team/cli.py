"""`codex-async worker`: this machine takes jobs from the team's queue; `list`, `show` and `follow`
read the team's jobs from Redis when given one (`--redis URL` or `$CODEX_ASYNC_REDIS`).

`codex-async` is this module's `main`: jobstore's command line with the team's commands added
(jobstore never imports the team). Redis and Docket are imported only when `worker` runs or a
command reads the team (team.commands), so the other commands start as fast as before.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from jobstore import InvalidInput, JobStore, Settings, is_job_id
from jobstore.cli.main import main as store_main
from team.settings import (
    ENV_REDIS,
    check_name,
    check_redis_url,
    redis_errors_explained,
    redis_url_from_env,
)

# A command of the store's CLI: what it runs with the store and its parsed arguments.
Command = Callable[[JobStore, argparse.Namespace], int]

MAX_CONCURRENCY = 1000
MAX_LEASE_SECONDS = 600.0
MAX_TEAM_LIMIT = 100_000
# A worker left with Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130


def add_worker_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("worker", "take jobs from the team's queue on Redis and run them in this machine's store")
    p.add_argument("--redis", metavar="URL", help=f"the team's Redis (default: ${ENV_REDIS})")
    p.add_argument(
        "--host-id", required=True, metavar="NAME", help="this machine's name in the team (unique)"
    )
    p.add_argument(
        "--concurrency", type=int, default=10, metavar="N", help="team jobs taken at once (default 10)"
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long this machine counts as alive without renewing (default 5)",
    )
    p.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="DIR",
        help="a repository root this machine serves: jobs whose folder is in it come here (repeatable)",
    )
    q = command("team-limit", "show or set how many team jobs may run at once, team-wide (on Redis)")
    q.add_argument("limit", nargs="?", metavar="N|off", help="the new limit, or off for none")
    q.add_argument("--redis", metavar="URL", help=f"the team's Redis (default: ${ENV_REDIS})")


def _redis_url(args: argparse.Namespace) -> str:
    url = check_redis_url(args.redis) if args.redis is not None else redis_url_from_env()
    if url is None:
        raise InvalidInput(f"no Redis for the team's queue: pass --redis URL or set ${ENV_REDIS}")
    return url


def run_worker(store: JobStore, args: argparse.Namespace) -> int:
    from team.routing import check_repo_roots

    url = _redis_url(args)
    host_id = check_name("--host-id", args.host_id)
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise InvalidInput(f"--concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 1.0 <= args.lease_seconds <= MAX_LEASE_SECONDS:
        raise InvalidInput(f"--lease-seconds must be between 1 and {MAX_LEASE_SECONDS:g}")
    roots = check_repo_roots(args.repo)
    max_policy = Settings.from_env().max_policy  # refused here when the variable is not a policy
    with redis_errors_explained(url):  # a wrong password or address: one line, nothing made
        asyncio.run(_ping(url))
    store.ensure()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with redis_errors_explained(url):
        asyncio.run(_serve(store, url, host_id, args.concurrency, args.lease_seconds, max_policy, roots))
    return 0


def run_team_limit(store: JobStore, args: argparse.Namespace) -> int:
    """`codex-async team-limit [N|off]`: the team-wide limit, stored in Redis, read by every
    worker's claim (team.claim), so it holds across machines and needs no restart."""
    url = _redis_url(args)
    limit: int | None = None
    if args.limit is not None and args.limit != "off":
        try:
            limit = int(args.limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_TEAM_LIMIT:
            raise InvalidInput(f"the team limit must be a number from 1 to {MAX_TEAM_LIMIT}, or off")
    with redis_errors_explained(url):
        now = asyncio.run(_team_limit(url, args.limit is not None, limit))
    print(f"team limit: {now if now is not None else 'off'}")
    return 0


async def _ping(url: str) -> None:
    from redis.asyncio import Redis

    async with Redis.from_url(url) as redis:
        await redis.ping()


async def _team_limit(url: str, change: bool, limit: int | None) -> int | None:
    from redis.asyncio import Redis

    from team.keys import TeamKeys, text

    keys = TeamKeys()
    async with Redis.from_url(url) as redis:
        if change and limit is None:
            await redis.delete(keys.team_limit)
        elif change:
            await redis.set(keys.team_limit, str(limit))
        value = text(await redis.get(keys.team_limit))
    return int(value) if value is not None else None


async def _serve(
    store: JobStore,
    url: str,
    host_id: str,
    concurrency: int,
    lease_seconds: float,
    max_policy: str,
    roots: tuple[str, ...],
) -> None:
    from docket import Docket

    from team.keys import TeamKeys
    from team.lease import HostLease, read_boot_id
    from team.worker import TeamWorker

    keys = TeamKeys()
    # This machine's own Docket: the jobs routed to it (team.routing).
    async with Docket(name=keys.host_docket_name(host_id), url=url) as docket, docket.redis() as redis:
        lease = HostLease(host_id, read_boot_id(), lease_seconds)
        worker = TeamWorker(
            store, redis, lease, keys=keys, max_policy=max_policy, keeper_redis_url=url, roots=roots
        )
        # SIGTERM: finish the jobs running here first (a service manager's stop); SIGINT (Ctrl-C)
        # leaves at once, the jobs' runners going on, to be re-attached within the lease.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, _leave_at_once)
        await worker.serve(docket, concurrency=concurrency)


def _leave_at_once() -> None:
    """Ctrl-C: leave now, as a SIGKILL would, whatever Redis does (a cleanup that waited for
    Redis would wait as long as an outage). The runners and the keeper are detached and go on."""
    logging.getLogger("codex_async.team").warning("interrupted: leaving at once; the jobs run on")
    logging.shutdown()  # the log says why before the process is gone
    os._exit(EXIT_INTERRUPTED)


# The built-in commands that act on the team instead when given a Redis (--redis or
# $CODEX_ASYNC_REDIS): all read it; `apply` writes this machine's working tree.
TEAM_READS = ("list", "show", "follow", "diff", "apply")


def add_team_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    add_worker_command(command)
    for name in TEAM_READS:
        command(name, "").add_argument(
            "--redis",
            metavar="URL",
            help=f"the team's jobs on this Redis (default: ${ENV_REDIS} when set; a local job id: here)",
        )


def on_the_team(name: str) -> Callable[[Command], Command]:
    """`name` over the team when a Redis is given (a local job id stays local), else the built-in."""

    def wrap(local: Command) -> Command:
        def run(store: JobStore, args: argparse.Namespace) -> int:
            url = check_redis_url(args.redis) if args.redis is not None else redis_url_from_env()
            job_id = getattr(args, "job_id", None)
            if url is None or (job_id is not None and is_job_id(job_id)):
                return local(store, args)
            from team.commands import run_team_command  # redis and Docket: loaded only now

            return run_team_command(name, url, args, store)

        return run

    return wrap


def main(argv: list[str] | None = None) -> int:
    return store_main(
        argv,
        extend=add_team_commands,
        more_commands={"worker": run_worker, "team-limit": run_team_limit},
        wrap_commands={name: on_the_team(name) for name in TEAM_READS},
    )


if __name__ == "__main__":
    sys.exit(main())
