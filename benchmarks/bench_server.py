"""The MCP server against the reference (`codex-mcp-server` 1.4.10), both over stdio with the
official MCP Python client, both running the same fake `codex`.

    python -m benchmarks.bench_server [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import psutil

from benchmarks._common import (
    PROJECT,
    Context,
    Row,
    Server,
    call,
    file_create_cost,
    mcp_session,
    median,
    ms,
    our_server,
    print_table,
    reference_server,
    temp_area,
    wait_terminal,
)

# No word the fake codex reads as an instruction (fail, crash, child, ...: see its docstring).
PROMPT = "Make the broken test in tests/test_api.py pass and explain the cause"


# --------------------------------------------------------------------------- helpers


async def time_to_initialize(server: Server, errlog: Path) -> tuple[float, float]:
    """Seconds from spawning the server to `initialize` answered, and to `tools/list` answered."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    with open(errlog, "a", encoding="utf-8") as err:
        started = time.perf_counter()
        async with (
            stdio_client(server.params(), errlog=err) as (read, write),
            ClientSession(read, write, read_timeout_seconds=60) as session,
        ):
            with anyio.fail_after(60):
                await session.initialize()
                initialized = time.perf_counter()
                await session.list_tools()
                listed = time.perf_counter()
    return initialized - started, listed - started


async def start_job(
    session: Any, server: Server, ctx: Context, prompt: str = PROMPT
) -> tuple[float, str | None]:
    """One start on `server` (codex_start for ours, the blocking `codex` call for the reference):
    its seconds, and our job id."""
    if server.name == "ours":
        started = time.perf_counter()
        result = await call(session, "codex_start", {"prompt": prompt, "cwd": str(ctx.project)})
        return time.perf_counter() - started, result["job_id"]
    started = time.perf_counter()
    await call(session, "codex", {"prompt": prompt, "workingDirectory": str(ctx.project)})
    return time.perf_counter() - started, None


async def start_latencies(
    session: Any, server: Server, ctx: Context, store: Path | None, count: int
) -> list[float]:
    """`count` starts one after another. Between two of ours, wait (outside the timing, by
    reading the store) for the job to end, so runners finishing in the background do not
    load the machine during the next start: the reference's call includes its run too."""
    times = []
    for _ in range(count):
        seconds, job_id = await start_job(session, server, ctx)
        times.append(seconds)
        if job_id is not None and store is not None:
            ended = await anyio.to_thread.run_sync(wait_terminal, store, [job_id], 30.0)
            if not ended:
                raise RuntimeError(f"job {job_id} did not end within 30 s")
            await anyio.sleep(0.02)  # let the runner exit
    return times


async def run_concurrent(session: Any, server: Server, ctx: Context, count: int) -> float:
    """Seconds from starting `count` jobs at once to all of them ended (as the client sees it:
    ours via codex_start + codex_wait, the reference's via `count` concurrent `codex` calls)."""
    started = time.perf_counter()

    async def ours_one(i: int) -> None:
        result = await call(session, "codex_start", {"prompt": f"{PROMPT} #{i}", "cwd": str(ctx.project)})
        job_id = result["job_id"]
        for _ in range(20):
            waited = await call(session, "codex_wait", {"job_id": job_id, "timeout_seconds": 50})
            if waited["finished"]:
                return
        raise RuntimeError(f"job {job_id} never finished")

    async def reference_one(i: int) -> None:
        await call(session, "codex", {"prompt": f"{PROMPT} #{i}", "workingDirectory": str(ctx.project)})

    one = ours_one if server.name == "ours" else reference_one
    with anyio.fail_after(300):
        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(one, i)
    return time.perf_counter() - started


async def measured_burst(session: Any, server: Server, ctx: Context, count: int) -> tuple[float, float]:
    """`run_concurrent`'s seconds, and the whole machine's CPU seconds per job meanwhile."""
    cpu_before = machine_cpu_seconds()
    seconds = await run_concurrent(session, server, ctx, count)
    return seconds, (machine_cpu_seconds() - cpu_before) / count


def last_finished(store: Path) -> float | None:
    """The wall-clock time (epoch seconds) the last job of `store` was recorded as ended."""
    from jobstore import JobStore
    from jobstore.record import parse_iso

    s = JobStore(store)
    ends = []
    for job_id in s.job_ids():
        finished = parse_iso(s.read_record(job_id).finished_at)
        if finished is not None:
            ends.append(finished.timestamp())
    return max(ends) if ends else None


def our_server_cpu_seconds() -> float:
    """CPU used so far by the codex-async-mcp processes this benchmark started."""
    total = 0.0
    for proc in psutil.Process().children():
        try:
            if any("codex-async-mcp" in part for part in proc.cmdline()):
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy since boot (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def runners_cpu(store: Path, seconds: float) -> tuple[float, int]:
    """CPU used by the job runners of `store` over `seconds`, in % of one core; and their count."""
    needle = str(store)
    procs = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "jobstore.runner" in cmdline and needle in cmdline:
            procs.append(proc)

    def cpu() -> float:
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    before = cpu()
    time.sleep(seconds)
    return 100.0 * (cpu() - before) / seconds, len(procs)


def set_limit(store: Path, max_jobs: int) -> None:
    from jobstore import JobStore

    JobStore(store).configure(max_jobs=max_jobs)


def check_queued(store: Path, job_ids: list[str | None]) -> None:
    """Fail the part unless every start it timed was queued (else it measured plain starts)."""
    from jobstore import JobStatus, JobStore

    s = JobStore(store)
    started = [j for j in job_ids if j is None or s.read_record(j).status != JobStatus.QUEUED]
    if started:
        raise RuntimeError(f"{len(started)} of the starts at the limit did not queue")


def stop_sleepers(store: Path, job_ids: list[str]) -> None:
    """End the sleeping fake codex runs (SIGTERM to their process groups) and wait for their
    runners to record it."""
    from jobstore import JobStore

    s = JobStore(store)
    for job_id in job_ids:
        try:
            record = s.read_record(job_id)
        except Exception:
            continue
        if record.codex_pgid and not record.is_terminal:
            try:
                os.killpg(record.codex_pgid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
    wait_terminal(store, s.job_ids(), 60.0)


# --------------------------------------------------------------------------- import costs


def import_profile(top: int = 12, runs: int = 3) -> list[tuple[str, float, float]]:
    """`python -X importtime -c "import mcp_server.server"`, `runs` times (median per module):
    (module, cumulative ms, self ms), the costliest by self time first."""
    samples: dict[str, list[tuple[float, float, int]]] = {}
    order: list[str] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import mcp_server.server"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if m:
                if m[4] not in samples:
                    order.append(m[4])
                samples.setdefault(m[4], []).append((int(m[2]) / 1000, int(m[1]) / 1000, len(m[3]) // 2))
    rows = [
        (name, median(s[0] for s in samples[name]), median(s[1] for s in samples[name]), samples[name][0][2])
        for name in order
    ]
    total = next((r[1] for r in rows if r[0] == "mcp_server.server"), 0.0)
    by_self = sorted(rows, key=lambda r: r[2], reverse=True)[:top]
    print(f"\n== import time: python -X importtime -c 'import mcp_server.server' (median of {runs}) ==")
    print(f"  total {total:.0f} ms. Costliest modules by own time (self) and with what they import (cum):")
    print(f"  {'module':<52} {'self ms':>8} {'cum ms':>8}")
    for name, cum, own, _ in by_self:
        print(f"  {name:<52} {own:8.1f} {cum:8.1f}")
    # As the entry point imports it: the GC off, pydantic models built on first use.
    as_shipped = (
        "import gc; gc.disable(); from mcp_server.__main__ import models_built_on_first_use\n"
        "with models_built_on_first_use(): import mcp_server.server"
    )
    gc_off = "import gc; gc.disable(); import mcp_server.server"
    totals: dict[str, list[float]] = {"gc": [], "shipped": []}
    for _ in range(runs):
        for key, code in (("gc", gc_off), ("shipped", as_shipped)):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", code],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            lines = done.stderr.splitlines()
            last = [line for line in lines if line.rstrip().endswith("| mcp_server.server")]
            if last:
                totals[key].append(int(last[-1].split("|")[1]) / 1000)
    if totals["gc"] and totals["shipped"]:
        print(
            f"  with the garbage collector off: total {median(totals['gc']):.0f} ms; and with pydantic "
            f"models built on first use, as `codex-async-mcp` imports it: {median(totals['shipped']):.0f} "
            "ms. A collection is charged to whichever module is importing when it runs (a large self "
            "time of a small module, such as psutil._common, is a GC pass)."
        )
    print("  the import tree down to 20 ms (cumulative ms):")
    for name, cum, _own, depth in rows:
        if cum >= 20 and depth <= 8:
            print(f"  {'  ' * depth}{name} {cum:.0f}")
    return [(n, c, s) for n, c, s, _ in by_self]


def process_start(argv: list[str], repeat: int = 5) -> float:
    """Median seconds for a process to run `argv` to its end."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=60)
        times.append(time.perf_counter() - started)
    return median(times)


def create_server_ms() -> float:
    code = (
        "import tempfile, time; import mcp_server.server as s; from jobstore import JobStore; "
        "from mcp_server.settings import ServerSettings; "
        "t = time.perf_counter(); s.create_server(JobStore(tempfile.mkdtemp()), ServerSettings()); "
        "print((time.perf_counter() - t) * 1000)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return float(done.stdout.strip())


def start_breakdown(ctx: Context) -> list[Row]:
    py = sys.executable
    rows = [
        Row.info("python -c pass", ms(process_start([py, "-c", "pass"])), "ms"),
        Row.info("python: import jobstore", ms(process_start([py, "-c", "import jobstore"])), "ms"),
        Row.info("python: import mcp_types", ms(process_start([py, "-c", "import mcp_types"])), "ms"),
        Row.info("python: import fastmcp", ms(process_start([py, "-c", "import fastmcp"])), "ms"),
        Row.info(
            "python: import mcp_server.server",
            ms(process_start([py, "-c", "import mcp_server.server"])),
            "ms",
        ),
        Row.info(
            "job runner's imports (python -c 'import jobstore.runner')",
            ms(process_start([py, "-c", "import jobstore.runner"])),
            "ms",
            note="paid only by a runner spawned when no zygote answers (a store's first jobs); "
            "the store's zygote forks the others",
        ),
        Row.info(
            "create_server() in a process that has imported it (median of 3)",
            median(create_server_ms() for _ in range(3)),
            "ms",
            note="FastMCP parses every tool's docstring with griffe (imported on first use) and "
            "builds each tool's JSON schemas",
        ),
        Row.info("node -e 0", ms(process_start(["node", "-e", "0"])), "ms"),
        Row.info(
            "fake codex run (sh)",
            ms(process_start([str(ctx.fake_codex), "exec", "--json", "--", "hi"])),
            "ms",
        ),
    ]
    return rows


# --------------------------------------------------------------------------- the benchmark


async def explore_start(ctx: Context) -> list[Row]:
    """Spawn to initialize for proposed start-up changes, tried without editing mcp_server/."""
    logs = ctx.area.path("logs")
    store = ctx.fresh_store("explore")
    plain = our_server(store, ctx.fake_codex)
    env = plain.env | {"PYTHONPATH": str(PROJECT)}
    variant = Server("ours, gc held off", sys.executable, ("-m", "benchmarks.server_variant"), env)
    times: dict[str, list[float]] = {"plain": [], "variant": []}
    for i in range(6 if not ctx.quick else 3):
        for key, server in (("plain", plain), ("variant", variant)):
            seconds, _ = await time_to_initialize(server, logs / "explore.log")
            if i:
                times[key].append(seconds)
    return [
        Row.info("spawn to initialize answered, as shipped (median)", ms(median(times["plain"])), "ms"),
        Row.info(
            "the same with the GC off during start-up, then gc.freeze() (median)",
            ms(median(times["variant"])),
            "ms",
            reference=ms(median(times["plain"])),
            note="benchmarks/server_variant.py; the ratio is to the figure above",
        ),
    ]


async def bench(ctx: Context) -> list[Row]:
    quick = ctx.quick
    logs = ctx.area.path("logs")
    ref_entry = ctx.reference()
    rows: list[Row] = []

    # 1. spawn to initialize answered (alternating, after one warm-up each)
    store = ctx.fresh_store("init")
    ours = our_server(store, ctx.fake_codex)
    ref = reference_server(ref_entry, ctx.fake_codex)
    n = 3 if quick else 7
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "reference": []}
    for i in range(n + 1):
        for server in (ours, ref):
            result = await time_to_initialize(server, logs / f"{server.name}-init.log")
            if i:
                times[server.name].append(result)
    init_ours = median(t[0] for t in times["ours"])
    init_ref = median(t[0] for t in times["reference"])
    rows.append(Row.vs("spawn to initialize answered (median)", ms(init_ours), ms(init_ref), "ms", 1.0))
    rows.append(
        Row.info(
            "spawn to tools/list answered (median)",
            ms(median(t[1] for t in times["ours"])),
            "ms",
            reference=ms(median(t[1] for t in times["reference"])),
        )
    )
    print_table("server: start", rows)

    # 2. one start, median: codex_start against the reference's blocking `codex` call
    count = 15 if quick else 40
    store = ctx.fresh_store("start")
    ours = our_server(store, ctx.fake_codex)
    async with mcp_session(ours, logs / "ours-start.log") as session:
        await start_latencies(session, ours, ctx, store, 3)  # warm: probe of codex, imports
        ours_times = await start_latencies(session, ours, ctx, store, count)
        ping_times = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "ping", {})
            ping_times.append(time.perf_counter() - started)
        round_trips = []
        for _ in range(5 if quick else 10):
            started = time.perf_counter()
            job = await call(session, "codex_start", {"prompt": PROMPT, "cwd": str(ctx.project)})
            waited = await call(session, "codex_wait", {"job_id": job["job_id"], "timeout_seconds": 50})
            assert waited["finished"] and waited["status"] == "done", waited
            round_trips.append(time.perf_counter() - started)
    async with mcp_session(ref, logs / "ref-start.log") as session:
        await start_latencies(session, ref, ctx, None, 3)
        ref_times = await start_latencies(session, ref, ctx, None, count)
        ref_ping = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "ping", {})
            ref_ping.append(time.perf_counter() - started)
    idle_median = median(ours_times)
    start_rows = [
        Row.vs(
            "one codex_start vs one reference `codex` call (median)",
            ms(idle_median),
            ms(median(ref_times)),
            "ms",
            1.0,
            note=f"{count} calls each, after 3 warm-up calls",
        ),
        Row.info(
            "one job to its answer: codex_start + codex_wait (median)",
            ms(median(round_trips)),
            "ms",
            reference=ms(median(ref_times)),
            note="the reference column is its `codex` call; the runner and codex_wait wake on "
            "events (pidfd, inotify)",
        ),
        Row.info(
            "round trip of `ping` (median): the MCP floor",
            ms(median(ping_times)),
            "ms",
            reference=ms(median(ref_ping)),
        ),
    ]
    rows += start_rows
    print_table("server: one start", start_rows)

    # 3. 100 jobs at once, waited on until all end
    jobs = 30 if quick else 100
    rounds = 1 if quick else 2
    conc: dict[str, list[float]] = {"ours": [], "reference": []}
    cpu_per_job: dict[str, list[float]] = {"ours": [], "reference": []}
    server_cpu_per_job: list[float] = []
    store_ends: list[float] = []
    create_costs: list[float] = []
    for _ in range(rounds):
        store = ctx.fresh_store("concurrent")
        ours = our_server(store, ctx.fake_codex, CODEX_ASYNC_MAX_JOBS=str(jobs))
        async with mcp_session(ours, logs / "ours-concurrent.log") as session:
            await start_latencies(session, ours, ctx, store, 1)
            create_costs.append(file_create_cost(ctx.area.root))
            wall_start = time.time()
            server_before = our_server_cpu_seconds()
            seconds, cpu = await measured_burst(session, ours, ctx, jobs)
            conc["ours"].append(seconds)
            cpu_per_job["ours"].append(cpu)
            server_cpu_per_job.append((our_server_cpu_seconds() - server_before) / jobs)
            last = last_finished(store)
            if last is not None:
                store_ends.append(last - wall_start)
        async with mcp_session(ref, logs / "ref-concurrent.log") as session:
            await start_latencies(session, ref, ctx, None, 1)
            seconds, cpu = await measured_burst(session, ref, ctx, jobs)
            conc["reference"].append(seconds)
            cpu_per_job["reference"].append(cpu)
    conc_rows = [
        Row.vs(
            f"{jobs} jobs at once, until all end (wall, median of {rounds})",
            median(conc["ours"]),
            median(conc["reference"]),
            "s",
            2.0,
            note=f"ours: codex_start + codex_wait per job, CODEX_ASYNC_MAX_JOBS={jobs}; "
            "reference: concurrent `codex` calls",
        ),
        Row.info(
            f"{jobs} jobs at once, until the store recorded all ended",
            median(store_ends) if store_ends else None,
            "s",
            note="the rest of the wall time above is codex_wait waking and the answers",
        ),
        Row.vs(
            f"CPU per job, {jobs} at once (the whole machine's)",
            ms(median(cpu_per_job["ours"])),
            ms(median(cpu_per_job["reference"])),
            "ms",
            2.0,
            note="/proc/stat busy time over each run, divided by the jobs; every process counts "
            "(server, client, zygote, runners, codex)",
        ),
        Row.info(
            f"…of which our MCP server's, {jobs} at once",
            ms(median(server_cpu_per_job)),
            "ms",
            note="psutil cpu_times of the codex-async-mcp process: codex_start and codex_wait",
        ),
        Row.info(
            "creating one file in the benchmark's folder, just before our burst (median)",
            median(create_costs) * 1e6,
            "µs",
            note="CPU; on ext4 without a journal it grows with the inodes freed in the last minutes "
            "(skipped one by one): a store job creates ~10 files, the reference none",
        ),
        Row.info(
            f"jobs per second ({jobs} at once)",
            jobs / median(conc["ours"]),
            "/s",
            reference=jobs / median(conc["reference"]),
        ),
    ]
    rows += conc_rows
    print_table(f"server: {jobs} jobs at once", conc_rows)

    # 4. codex_start while 100 jobs are running (the fake sleeps on `@sleep=N@` in the prompt)
    sleepers = 30 if quick else 100
    count = 15 if quick else 30
    store = ctx.fresh_store("busy")
    ours = our_server(store, ctx.fake_codex, CODEX_ASYNC_MAX_JOBS=str(sleepers + 100))
    busy_rows: list[Row] = []
    async with mcp_session(ours, logs / "ours-busy.log") as session:
        await start_latencies(session, ours, ctx, store, 3)
        idle = await start_latencies(session, ours, ctx, store, count)
        batch = await call(
            session,
            "codex_batch",
            {
                "prompts": [f"hold the slot #{i} @sleep=300@" for i in range(sleepers)],
                "cwd": str(ctx.project),
            },
        )
        sleeper_ids = [j["job_id"] for j in batch["jobs"]]
        try:
            await anyio.to_thread.run_sync(_wait_codex_started, store, sleeper_ids, 120.0)
            await anyio.sleep(1.0)
            cpu, nrunners = await anyio.to_thread.run_sync(runners_cpu, store, 3.0)
            busy = await start_latencies(session, ours, ctx, store, count)
            busy_rows.append(
                Row.vs(
                    f"codex_start while {sleepers} jobs run (median)",
                    ms(median(busy)),
                    ms(median(idle)),
                    "ms",
                    2.0,
                    label="idle",
                    target="<= 2x idle",
                    note="the reference column is our idle median in the same session",
                )
            )
            busy_rows.append(
                Row.under(
                    f"CPU of {nrunners} running jobs whose codex is silent (sum)",
                    cpu,
                    "%",
                    1.0,
                    note="% of one core over 3 s; each runner sleeps until codex exits, prints, or a "
                    "cancel arrives",
                )
            )
            # The same, when the store is at its limit: new jobs queue. The limit is the
            # store's setting (CODEX_ASYNC_MAX_JOBS only seeds a new store), so set it.
            await anyio.to_thread.run_sync(set_limit, store, sleepers)
            at_limit = our_server(store, ctx.fake_codex)
            async with mcp_session(at_limit, logs / "ours-at-limit.log") as limited:
                queued_times = []
                queued_ids = []
                for _ in range(count):
                    seconds, job_id = await start_job(limited, at_limit, ctx)
                    queued_times.append(seconds)
                    queued_ids.append(job_id)
            await anyio.to_thread.run_sync(check_queued, store, queued_ids)
            busy_rows.append(
                Row.vs(
                    f"codex_start while {sleepers} run at the limit (job queues; median)",
                    ms(median(queued_times)),
                    ms(median(idle)),
                    "ms",
                    2.0,
                    label="idle",
                    target="<= 2x idle",
                    note="every one of them queued (checked); the first start to queue at a full "
                    "store re-checks every running job's processes, the others only queue",
                )
            )
        finally:
            await anyio.to_thread.run_sync(stop_sleepers, store, sleeper_ids)
    rows += busy_rows
    print_table(f"server: start under load ({sleepers} running)", busy_rows)

    # 5. codex_poll of a job whose output is 1 GB; 6. codex_list of the newest 20 of 10,000
    big = ctx.big_job()
    count = 20 if quick else 60
    read_rows: list[Row] = []
    ours = our_server(big.store, ctx.fake_codex)
    async with mcp_session(ours, logs / "ours-poll.log") as session:
        for _ in range(5):
            result = await call(session, "codex_poll", {"job_id": big.job_id})
        assert big.marker in result["output"], "codex_poll did not show the end of the output"
        poll_times = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "codex_poll", {"job_id": big.job_id})
            poll_times.append(time.perf_counter() - started)
        small_times = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "codex_poll", {"job_id": big.neighbour})
            small_times.append(time.perf_counter() - started)
    read_rows.append(
        Row.under(
            "codex_poll, job with a 1 GB output (median)",
            ms(median(poll_times)),
            "ms",
            5.0,
            note="1 GB sparse file (a hole, then ~2.6 MB of realistic JSONL at its end); tail_lines=40; "
            f"its result holds {len(result['commands'])} commands (~{len(json.dumps(result)) // 1000} KB)",
        )
    )
    read_rows.append(
        Row.info(
            "codex_poll, a small job (2 commands) (median)",
            ms(median(small_times)),
            "ms",
            note="same output tail; the difference is the size of the result, not of the file",
        )
    )
    read_rows += await huge_line_rows(ctx, logs, count)
    store10k, _ids = ctx.store_with(10_000)
    ours = our_server(store10k, ctx.fake_codex)
    async with mcp_session(ours, logs / "ours-list.log") as session:
        for _ in range(3):
            result = await call(session, "codex_list", {"limit": 20})
        assert result["count"] == 20
        list_times = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "codex_list", {"limit": 20})
            list_times.append(time.perf_counter() - started)
    read_rows.append(
        Row.under("codex_list: newest 20 of 10,000 jobs (median)", ms(median(list_times)), "ms", 20.0)
    )
    rows += read_rows
    print_table("server: reading", read_rows)
    return rows


LISTING_SIZES = (1_000, 20_000, 100_000)


async def listing_rows(ctx: Context) -> list[Row]:
    """codex_list of the newest 20 among 1,000, 20,000 and 100,000 jobs (stores of a meta.json
    a job, with the job index a real store has): read from the index's end, the same cost at
    any size. Each store in a server of its own, warmed up first."""
    count = 20 if ctx.quick else 60
    logs = ctx.area.path("logs")
    times: dict[int, float] = {}
    for jobs in LISTING_SIZES:
        root, ids = ctx.listing_store(jobs)
        async with mcp_session(our_server(root, ctx.fake_codex), logs / f"ours-list-{jobs}.log") as session:
            for _ in range(3):
                result = await call(session, "codex_list", {"limit": 20})
            assert [job["job_id"] for job in result["jobs"]] == ids[:20]
            # The server's first periodic check (checking the job index against the folder:
            # ~0.1 s at 100,000 jobs, in a thread of its own) is over before the timing.
            await anyio.sleep(1.0)
            samples = []
            for _ in range(count):
                started = time.perf_counter()
                await call(session, "codex_list", {"limit": 20})
                samples.append(time.perf_counter() - started)
        times[jobs] = ms(median(samples))
    return [
        Row.info("codex_list: newest 20 of 1,000 jobs (median)", times[1_000], "ms"),
        Row.under("codex_list: newest 20 of 100,000 jobs (median)", times[100_000], "ms", 20.0),
        Row.vs(
            "codex_list: newest 20 of 20,000 jobs vs of 1,000 (median)",
            times[20_000],
            times[1_000],
            "ms",
            1.5,
            label="1,000 jobs",
        ),
    ]


HUGE_LINE_MIB = 200


async def huge_line_rows(ctx: Context, logs: Path, count: int) -> list[Row]:
    """A job printing 200 MB without a newline: its runner's peak memory, and codex_poll of it."""
    from jobstore import JobStore

    store = ctx.fresh_store("huge-line")
    ours = our_server(store, ctx.fake_codex)
    async with mcp_session(ours, logs / "ours-huge-line.log") as session:
        prompt = f"one long line @bigline={HUGE_LINE_MIB}@ @sleep=300@"
        job = await call(session, "codex_start", {"prompt": prompt, "cwd": str(ctx.project)})
        job_id = job["job_id"]
        output = JobStore(store).layout.output(job_id)

        def written() -> bool:
            return output.exists() and output.stat().st_size >= HUGE_LINE_MIB * 1024 * 1024

        deadline = time.monotonic() + 120
        while not written() and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        await anyio.sleep(1.0)  # the runner has read it all by now (it reads ~1 GB/s)
        runner_pid = JobStore(store).read_record(job_id).pid
        peak = psutil.Process(runner_pid).memory_full_info().uss if runner_pid else None
        with open(f"/proc/{runner_pid}/status") as f:
            hwm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        for _ in range(3):
            await call(session, "codex_poll", {"job_id": job_id})
        poll_times = []
        for _ in range(count):
            started = time.perf_counter()
            await call(session, "codex_poll", {"job_id": job_id})
            poll_times.append(time.perf_counter() - started)
        await anyio.to_thread.run_sync(stop_sleepers, store, [job_id])
    return [
        Row.under(
            f"runner memory, a job printing {HUGE_LINE_MIB} MB without a newline (peak RSS)",
            hwm_kib / 1024,
            "MB",
            50.0,
            note=f"VmHWM of the job's runner after it read the line; its own pages (USS) now "
            f"{(peak or 0) / 2**20:.0f} MB",
        ),
        Row.under(
            "codex_poll of that job (median)",
            ms(median(poll_times)),
            "ms",
            10.0,
            note="the line's end is the output's end: each reader decodes only what it shows",
        ),
    ]


async def cold_start_rows(ctx: Context) -> list[Row]:
    """What a new server costs its first jobs: the store's zygote is started with the server,
    so its first start should cost what a later one does."""
    logs = ctx.area.path("logs")
    ref = reference_server(ctx.reference(), ctx.fake_codex)
    rounds = 3 if ctx.quick else 5
    firsts: list[float] = []
    sixths: list[float] = []
    in_a_row: list[float] = []
    for _ in range(rounds):
        # A new server on a fresh store: its first start, then five more (each waited for).
        store = ctx.fresh_store("cold")
        ours = our_server(store, ctx.fake_codex)
        async with mcp_session(ours, logs / "ours-cold.log") as session:
            times = await start_latencies(session, ours, ctx, store, 6)
        firsts.append(times[0])
        sixths.append(times[5])
    for _ in range(rounds):
        # A new server on a fresh store, 15 starts back to back: nothing waits for a runner.
        store = ctx.fresh_store("row")
        ours = our_server(store, ctx.fake_codex)
        async with mcp_session(ours, logs / "ours-row.log") as session:
            for _ in range(15):
                seconds, _job_id = await start_job(session, ours, ctx)
                in_a_row.append(seconds)
        await anyio.to_thread.run_sync(wait_all_ended, store, 60.0)
    async with mcp_session(ref, logs / "ref-row.log") as session:
        await start_latencies(session, ref, ctx, None, 3)
        ref_times = await start_latencies(session, ref, ctx, None, 15)
    # The burst again, on a new server whose zygote is still being born (no warm-up start).
    jobs = 30 if ctx.quick else 100
    bursts: dict[str, list[float]] = {"ours": [], "reference": []}
    cpu: dict[str, list[float]] = {"ours": [], "reference": []}
    for _ in range(1 if ctx.quick else 2):
        store = ctx.fresh_store("cold-burst")
        ours = our_server(store, ctx.fake_codex, CODEX_ASYNC_MAX_JOBS=str(jobs))
        async with mcp_session(ours, logs / "ours-cold-burst.log") as session:
            seconds, per_job = await measured_burst(session, ours, ctx, jobs)
            bursts["ours"].append(seconds)
            cpu["ours"].append(per_job)
        async with mcp_session(ref, logs / "ref-cold-burst.log") as session:
            await start_latencies(session, ref, ctx, None, 1)
            seconds, per_job = await measured_burst(session, ref, ctx, jobs)
            bursts["reference"].append(seconds)
            cpu["reference"].append(per_job)
    rows = [
        Row.vs(
            "the first codex_start of a new server on a fresh store vs its sixth (median)",
            ms(median(firsts)),
            ms(median(sixths)),
            "ms",
            2.0,
            label="sixth",
            target="<= 2x sixth",
            note=f"{rounds} new servers, each on a fresh store; its zygote is started with it",
        ),
        Row.vs(
            "15 codex_start in a row on a new server, fresh store, no waiting (median) "
            "vs one reference `codex` call",
            ms(median(in_a_row)),
            ms(median(ref_times)),
            "ms",
            1.0,
            note=f"{rounds} new servers x 15 starts; the reference's call includes its instant codex's run",
        ),
        Row.vs(
            f"{jobs} jobs at once on a new server, fresh store, no warm-up (wall, median)",
            median(bursts["ours"]),
            median(bursts["reference"]),
            "s",
            2.0,
            note="the burst starts right after initialize and tools/list: the zygote may still be "
            "being born, and starts wait for it rather than spawn runners",
        ),
        Row.vs(
            f"CPU per job, {jobs} at once on a new server (the whole machine's)",
            ms(median(cpu["ours"])),
            ms(median(cpu["reference"])),
            "ms",
            2.0,
        ),
    ]
    print_table("server: a new server's first starts", rows)
    return rows


def wait_all_ended(store: Path, timeout: float) -> None:
    from jobstore import JobStore

    if not wait_terminal(store, JobStore(store).job_ids(), timeout):
        raise RuntimeError(f"jobs of {store} did not end within {timeout:.0f} s")


def _wait_codex_started(store: Path, job_ids: list[str], timeout: float) -> None:
    from jobstore import JobStore

    s = JobStore(store)
    deadline = time.monotonic() + timeout
    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            record = s.read_record(job_id)
            if record.codex_pid is not None or record.is_terminal:
                pending.discard(job_id)
        time.sleep(0.05)
    if pending:
        raise RuntimeError(f"{len(pending)} jobs did not start codex within {timeout:.0f} s")


PARTS = ("main", "cold", "listing", "breakdown")


def run(
    ctx: Context, *, explore: bool = False, parts: tuple[str, ...] = PARTS
) -> list[tuple[str, list[Row]]]:
    sections: list[tuple[str, list[Row]]] = []
    if "breakdown" in parts:
        import_profile()
        breakdown = start_breakdown(ctx)
        print_table("start-up cost breakdown (each a fresh process, median of 5)", breakdown)
    rows: list[Row] = []
    if "main" in parts:
        rows += anyio.run(bench, ctx)
    if "cold" in parts:
        rows += anyio.run(cold_start_rows, ctx)
    sections.append(("MCP server vs reference", rows))
    if "listing" in parts:
        listing = anyio.run(listing_rows, ctx)
        print_table("server: listing the newest jobs of large stores", listing)
        sections.append(("MCP server: listing large stores", listing))
    if "breakdown" in parts:
        sections.append(("start-up breakdown", breakdown))
    if explore:
        tried = anyio.run(explore_start, ctx)
        print_table("server: proposed start-up change, tried", tried)
        sections.append(("MCP server, proposed changes tried", tried))
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 30 jobs instead of 100")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, stores)")
    parser.add_argument("--explore", action="store_true", help="also try proposed start-up changes")
    parser.add_argument(
        "--part", action="append", choices=PARTS, help="only this part (repeatable; default: all)"
    )
    args = parser.parse_args()
    with temp_area(keep=args.keep) as area:
        ctx = Context(area, quick=args.quick)
        sections = run(ctx, explore=args.explore, parts=tuple(args.part or PARTS))
    print_table("summary", [r for _, rows in sections for r in rows if r.target != "-"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
