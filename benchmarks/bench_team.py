"""The team's queue on a real redis-server (127.0.0.1) with two worker processes standing in for
two machines (separate stores; separate PID namespaces when run as root), against one machine's
own store: a job's start, and a line of its output reaching a reader.

    python -m benchmarks.bench_team [--quick] [--keep]

Needs `redis-server` on PATH (Debian: apt-get install redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks._common import Context, Row, median, ms, p90, print_table, temp_area, wait_terminal

# How often both readers look for new output (the same for both, so the ratio is the pipeline's).
TAIL_POLL_SECONDS = 0.002
TICKS = 30  # lines a tail job writes, 0.1 s apart


class Stamps:
    """The fake codex's own start stamps (FAKE_CODEX_TIME_LOG), read as they are appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.starts: dict[str, float] = {}  # the prompt's marker -> when its turn started

    def wait_start(self, marker: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while marker not in self.starts:
            if time.monotonic() > deadline:
                raise TimeoutError(f"codex never started {marker}")
            if self.path.exists():
                with self.path.open("rb") as log:
                    log.seek(self.offset)
                    chunk = log.read()
                whole = chunk[: chunk.rfind(b"\n") + 1]
                self.offset += len(whole)
                for line in whole.splitlines():
                    event = json.loads(line)
                    if event["event"] == "start":
                        self.starts[event["prompt"].split()[-1]] = event["time"]
            time.sleep(0.001)
        return self.starts[marker]


async def tail_lags(fetch: Callable[[int], Awaitable[bytes]], count: int, timeout: float = 60) -> list[float]:
    """Read a job's output from its start, every TAIL_POLL_SECONDS, until `count` tick lines came:
    for each, the time it was read minus the time codex wrote it (carried in the line)."""
    lags: list[float] = []
    offset, pending = 0, b""
    deadline = time.monotonic() + timeout
    while len(lags) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(lags)} of {count} lines read")
        data = await fetch(offset)
        now = time.time()
        offset += len(data)
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if b'"tick ' in line:
                text = json.loads(line)["item"]["text"]
                lags.append(now - float(text.split()[1]))
        await asyncio.sleep(TAIL_POLL_SECONDS)
    return lags


async def measure(ctx: Context, redis_url: str, where: str, stamps: Stamps) -> list[Row]:
    from docket import Docket

    from jobstore import JobStore, RunOptions
    from team.claim import read_claim
    from team.keys import TeamKeys
    from team.queue import enqueue
    from team.streams import read_output

    keys = TeamKeys()
    local = JobStore(ctx.fresh_store("team-local"), codex_bin=str(ctx.fake_codex))
    rounds = 6 if ctx.quick else 20
    team_starts, local_starts, enqueue_calls = [], [], []
    async with Docket(name=keys.docket_name, url=redis_url) as docket, docket.redis() as redis:
        for n in range(-2, rounds):  # two warm-up rounds, not counted
            options = RunOptions.checked(prompt=f"start team-{n}", cwd=str(ctx.project))
            began = time.time()
            team_job_id = await enqueue(docket, options)
            enqueue_call = time.time() - began
            team_start = stamps.wait_start(f"team-{n}") - began
            options = RunOptions.checked(prompt=f"start local-{n}", cwd=str(ctx.project))
            began = time.time()
            record = local.start(options)
            local_start = stamps.wait_start(f"local-{n}") - began
            wait_terminal(local.root, [record.job_id], 30)
            while (await redis.get(keys.end(team_job_id))) is None:  # each start on a quiet machine
                await asyncio.sleep(0.005)
            if n >= 0:
                team_starts.append(team_start)
                local_starts.append(local_start)
                enqueue_calls.append(enqueue_call)
        team_lags: list[float] = []
        local_lags: list[float] = []
        hosts = set()
        for n in range(1 if ctx.quick else 2):
            options = RunOptions.checked(prompt=f"ticks={TICKS} tail-team-{n}", cwd=str(ctx.project))
            team_job_id = await enqueue(docket, options)

            async def from_redis(offset: int, job: str = team_job_id) -> bytes:
                return b"".join(piece for _, piece in await read_output(redis, job, offset))

            team_lags += await tail_lags(from_redis, TICKS)
            claim = await read_claim(redis, keys, team_job_id)
            hosts.add(claim.host_id if claim else "?")
            tail_local = f"ticks={TICKS} tail-local-{n}"
            record = local.start(RunOptions.checked(prompt=tail_local, cwd=str(ctx.project)))

            async def from_file(offset: int, job: str = record.job_id) -> bytes:
                output = local.open_output(job)
                if output is None:
                    return b""
                with output:
                    return output.read(offset, 1 << 20)

            local_lags += await tail_lags(from_file, TICKS)
            wait_terminal(local.root, [record.job_id], 30)
    label_start = "local JobStore.start"
    label_tail = "local file tail"
    return [
        Row.vs(
            "enqueue to codex started on a worker (median)",
            ms(median(team_starts)),
            ms(median(local_starts)),
            "ms",
            0,
            label=label_start,
            target="-",
            note=f"{rounds} jobs, one at a time, over two worker processes ({where})",
        ),
        Row.info(
            "…of which the enqueue call: route, add to the machine's Docket (median)",
            ms(median(enqueue_calls)),
            "ms",
        ),
        Row.vs(
            "enqueue to codex started on a worker (p90)",
            ms(p90(team_starts)),
            ms(p90(local_starts)),
            "ms",
            0,
            label=label_start,
            target="-",
        ),
        Row.vs(
            "a line codex wrote on a worker, to a reader of Redis (median)",
            ms(median(team_lags)),
            ms(median(local_lags)),
            "ms",
            0,
            label=label_tail,
            target="-",
            note=f"{len(team_lags)} lines; both readers poll every {TAIL_POLL_SECONDS * 1000:g} ms; "
            f"the worker copies output every 0.2 s (hosts: {', '.join(sorted(hosts))})",
        ),
        Row.vs(
            "a line codex wrote on a worker, to a reader of Redis (p90)",
            ms(p90(team_lags)),
            ms(p90(local_lags)),
            "ms",
            0,
            label=label_tail,
            target="-",
        ),
    ]


def run(ctx: Context) -> list[tuple[str, list[Row]]]:
    from tests.team.conftest import RedisServer
    from tests.team.test_team_redis import Machine

    time_log = ctx.area.path("team") / "codex-times.jsonl"
    saved = os.environ.get("FAKE_CODEX_TIME_LOG")
    os.environ["FAKE_CODEX_TIME_LOG"] = str(time_log)  # the workers and the local store inherit it
    server = RedisServer(ctx.area.root / "team" / "redis")
    machines: list[Machine] = []
    try:
        own_pids = os.geteuid() == 0  # unshare needs root: else the two share one PID namespace
        for name in ("bench-a", "bench-b"):
            machines.append(
                Machine(
                    ctx.area.root / "team",
                    name,
                    server.url,
                    ctx.fake_codex,
                    repos=[ctx.project],
                    own_pids=own_pids,
                )
            )
        where = "PID namespaces of their own" if own_pids else "one PID namespace: not root"
        rows = asyncio.run(measure(ctx, server.url, where, Stamps(time_log)))
    finally:
        for machine in machines:
            machine.stop()
        server.stop()
        if saved is None:
            os.environ.pop("FAKE_CODEX_TIME_LOG", None)
        else:
            os.environ["FAKE_CODEX_TIME_LOG"] = saved
    print_table("team: a queue on Redis, two workers", rows)
    return [("team: a queue on Redis, two workers", rows)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with temp_area(keep=args.keep) as area:
        run(Context(area, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
