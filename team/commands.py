"""`codex-async list`, `show`, `follow`, `diff` and `apply` over the team (`--redis URL` or
`CODEX_ASYNC_REDIS`): the team's jobs read from Redis (team.view), printed through the CLI's own
output (its tables, every stored string made terminal-safe; `--json` escaped), exit codes as for a
local job. `apply` writes this machine's working tree of the job's folder, from the change its
machine published (team.change), through this machine's store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime

from jobstore import InvalidInput, JobStatus, JobStore, output_lines, render_line
from jobstore.cli.follow import EXIT_DONE, EXIT_ENDED_BADLY, EXIT_INTERRUPTED, POLL_SECONDS, print_rendered
from jobstore.cli.output import Column, say, say_json, say_json_line, say_output_line, table, terminal_width
from jobstore.cli.worktree import EXIT_CONFLICT, say_diff
from team.client import TeamClient
from team.view import OutputFollow, TeamJob

LIST_COLUMNS = (
    Column("JOB"),
    Column("STATUS"),
    Column("HOST", drop_rank=3, max_width=16),
    Column("CREATED", drop_rank=2),
    Column("FOLDER", drop_rank=1, max_width=24),
    Column("PROMPT"),
)
MAX_LIMIT = 1_000
MAX_TAIL = 10_000


def _row(job: TeamJob) -> list[str]:
    status = "cancelling" if job.cancel_requested and not job.is_terminal else job.status.value
    created = datetime.fromtimestamp(job.asked.enqueued_at).strftime("%m-%d %H:%M")
    folder = os.path.basename(job.cwd.rstrip(os.sep)) or job.cwd
    first_line = next((line.strip() for line in job.prompt.split("\n") if line.strip()), "")
    return [job.team_job_id, status, job.host or "", created, folder, first_line]


def describe_end(job: TeamJob) -> str:
    text = f"team job {job.team_job_id} {job.status}" + (f" on {job.host}" if job.host else "")
    if job.exit_code is not None:
        text += f" (exit {job.exit_code})"
    reason = job.describe_end()
    return text + (f": {reason}" if reason and job.status != JobStatus.LOST else "")


def _checked(name: str, value: int, most: int) -> int:
    if not 1 <= value <= most:
        raise InvalidInput(f"{name} must be between 1 and {most}, not {value}")
    return value


async def list_jobs(team: TeamClient, args: argparse.Namespace) -> int:
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else None
    jobs = await team.jobs(_checked("--limit", args.limit, MAX_LIMIT), args.status, cwd)
    if args.json:
        say_json([job.to_dict() for job in jobs])
    elif not jobs:
        say("no team jobs" + (f" in status {args.status}" if args.status else ""))
    else:
        for line in table(LIST_COLUMNS, [_row(job) for job in jobs], terminal_width()):
            say(line)
    return 0


async def show(team: TeamClient, args: argparse.Namespace) -> int:
    job = await team.job(args.job_id)
    say_json(job.to_dict())
    if not args.json:
        for line in (await team.output(job.team_job_id)).rendered(_checked("--tail", args.tail, MAX_TAIL)):
            say_output_line(line)
    return 0


async def follow(team: TeamClient, args: argparse.Namespace) -> int:
    """The end of the output, then each line as the owner's copy in Redis gets it, until the end."""
    wanted = _checked("--tail", args.tail, MAX_TAIL)
    job = await team.job(args.job_id)
    tail = await team.output(job.team_job_id)
    # Whole lines only: one codex is still writing comes with what follows it.
    print_rendered([each for line in tail.whole_lines for each in render_line(line)][-wanted:], args)
    following = OutputFollow(tail.complete_until)
    while True:
        ended = job.is_terminal  # read before the output: all of it was copied before the end
        _, whole = following.take(await team.output_from(job.team_job_id, following.read_from), ended=ended)
        if whole:
            print_rendered([each for line in output_lines(whole) for each in render_line(line)], args)
        if ended:
            break
        await asyncio.sleep(POLL_SECONDS)
        job = await team.job(job.team_job_id)
    if args.json:
        say_json_line({"job": job.to_dict()})
    else:
        say(describe_end(job))
    return EXIT_DONE if job.status == JobStatus.DONE else EXIT_ENDED_BADLY


async def diff(team: TeamClient, args: argparse.Namespace) -> int:
    """The worktree job's diff, as its machine published it when the job ended."""
    job = await team.job(args.job_id)
    change = await team.change(job.team_job_id)
    if change is None:
        if not job.is_terminal:
            say(f"team job {job.team_job_id} has not ended: its diff is published when it does")
            return 0
        raise InvalidInput(
            f"team job {job.team_job_id} published no diff: it did not run in a worktree (for a job in "
            f"the person's tree, run `codex-async diff {job.local_job_id or 'ITS_JOB_ID'}` on {job.host})"
        )
    return say_diff(
        f"team job {job.team_job_id}", change.recorded, args, team_job_id=job.team_job_id, host=job.host
    )


async def apply(team: TeamClient, args: argparse.Namespace, store: JobStore) -> int:
    """The ended worktree job's change brought into this machine's working tree of its folder."""
    applied = await team.apply(store, args.job_id)
    change = applied.change
    if args.json:
        say_json(
            {
                "team_job_id": change.team_job_id,
                "host": change.host,
                "cwd": applied.cwd,
                "applied": applied.clean,
                "changed_files": applied.changed,
                "conflicts": applied.conflicts,
            }
        )
    elif applied.clean:
        say(f"applied team job {change.team_job_id}: {len(applied.changed)} file(s) changed, uncommitted")
        for name in applied.changed:
            say(f"  {name}")
    else:
        say(
            f"not applied: team job {change.team_job_id}'s change conflicts in {', '.join(applied.conflicts)}"
        )
        say(
            "nothing was changed; resolve those files and apply again, or apply it on its machine: "
            + change.own_machine_command("apply")
        )
    return 0 if applied.clean else EXIT_CONFLICT


TeamCommand = Callable[[TeamClient, argparse.Namespace], Awaitable[int]]
TEAM_COMMANDS: dict[str, TeamCommand] = {"list": list_jobs, "show": show, "follow": follow, "diff": diff}


def run_team_command(name: str, url: str, args: argparse.Namespace, store: JobStore) -> int:
    async def run() -> int:
        async with TeamClient(url) as team:
            if name == "apply":  # the one that writes here: through this machine's store
                return await apply(team, args, store)
            return await TEAM_COMMANDS[name](team, args)

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
