"""The job store called directly (no MCP): listing, reading a 1 GB output, starting a job,
with a cProfile of the start path.

    python -m benchmarks.bench_store [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable

from benchmarks._common import Context, Row, median, ms, print_table, temp_area, wait_terminal


def timed(fn: Callable[[], object], count: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def profile_start(ctx: Context, count: int) -> tuple[list[float], str]:
    """`count` JobStore.start calls (each job waited to its end, outside the timing), with
    cProfile on the calls only; returns the times and the top of the profile."""
    from jobstore import JobStore, RunOptions

    store = JobStore(ctx.fresh_store("direct-start"), codex_bin=str(ctx.fake_codex))
    options = RunOptions.checked(prompt="Make the broken test pass", cwd=str(ctx.project))
    for _ in range(2):
        wait_terminal(store.root, [store.start(options).job_id], 30)
    profiler = cProfile.Profile()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        profiler.enable()
        record = store.start(options)
        profiler.disable()
        times.append(time.perf_counter() - started)
        wait_terminal(store.root, [record.job_id], 30)
        time.sleep(0.02)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(10)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    # Who calls the costliest built-ins (a bare `read` says little on its own).
    callers = []
    ranked = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (filename, _line, func), (_cc, nc, tt, _ct, by) in ranked[:5]:
        if filename == "~":
            # The last folder and the file of each caller ("~" for a built-in one).
            where = ", ".join(f"{'/'.join(f.rsplit('/', 2)[-2:])}:{fn}" for f, _l, fn in by)
            callers.append(
                f"  {func}: {1000 * tt / count:.2f} ms per start ({nc // count} calls), called by {where}"
            )
    return times, "\n".join(lines[start:] + ["built-ins, per start:"] + callers)


def listing_rows(ctx: Context) -> list[Row]:
    """JobStore.list_jobs(20) among 1,000, 20,000 and 100,000 jobs, read from the job index's
    end; and the same with the index moved aside (the folder listed, as every listing did
    before the index, and as a store of an earlier version still does until reconciled)."""
    from jobstore import JobStore

    count = 20 if ctx.quick else 60
    indexed: dict[int, float] = {}
    listed: dict[int, float] = {}
    for jobs in (1_000, 20_000, 100_000):
        root, ids = ctx.listing_store(jobs)
        store = JobStore(root)
        assert [e.job_id for e in store.list_jobs(20)] == ids[:20]
        indexed[jobs] = ms(median(timed(lambda: store.list_jobs(20), count)))  # noqa: B023
        aside = root / "jobs.index.aside"
        store.layout.job_index.rename(aside)  # keeps its seal: the jobs folder is not touched
        try:
            assert [e.job_id for e in store.list_jobs(20)] == ids[:20]
            listed[jobs] = ms(median(timed(lambda: store.list_jobs(20), max(count // 3, 10))))  # noqa: B023
        finally:
            aside.rename(store.layout.job_index)
    return [
        Row.info("JobStore.list_jobs(20) of 1,000 jobs (median)", indexed[1_000], "ms"),
        Row.info("JobStore.list_jobs(20) of 20,000 jobs (median)", indexed[20_000], "ms"),
        Row.under("JobStore.list_jobs(20) of 100,000 jobs (median)", indexed[100_000], "ms", 20.0),
        Row.vs(
            "JobStore.list_jobs(20): 100,000 jobs vs 1,000 (median)",
            indexed[100_000],
            indexed[1_000],
            "ms",
            1.5,
            label="1,000 jobs",
        ),
        *(
            Row.info(
                f"JobStore.list_jobs(20) of {jobs:,} jobs, without the index (median)",
                listed[jobs],
                "ms",
                note="the jobs folder listed and sorted, as before the index",
            )
            for jobs in (1_000, 20_000, 100_000)
        ),
    ]


def run(ctx: Context) -> list[tuple[str, list[Row]]]:
    from jobstore import JobStore
    from jobstore.output_file import read_tail
    from mcp_server.convert import job_view

    count = 20 if ctx.quick else 60
    root, ids = ctx.store_with(10_000)
    store = JobStore(root)
    listing = timed(lambda: store.list_jobs(20), count)
    assert [e.job_id for e in store.list_jobs(20)] == ids[:20]
    rows = [
        Row.under("JobStore.list_jobs(20) of 10,000 jobs (median)", ms(median(listing)), "ms", 20.0),
        Row.info("JobStore.job_ids() of 10,000 jobs (median)", ms(median(timed(store.job_ids, count))), "ms"),
        Row.info(
            "JobStore.get() of one job (median)", ms(median(timed(lambda: store.get(ids[0]), count))), "ms"
        ),
    ]
    big = ctx.big_job()
    big_store = JobStore(big.store)
    output = big_store.layout.output(big.job_id)
    tail = read_tail(output, 40)
    assert big.marker in tail.lines[-2], "read_tail did not return the end of the 1 GB output"
    rows += [
        Row.info(
            "read_tail(40 lines) of a 1 GB output (median)",
            ms(median(timed(lambda: read_tail(output, 40), count))),
            "ms",
        ),
        Row.info(
            "codex_poll's work without MCP: job_view(get(job), 40), 1 GB output (median)",
            ms(median(timed(lambda: job_view(big_store, big_store.get(big.job_id), 40), count))),
            "ms",
            note="200 commands in its summary (the most the runner keeps), all of them in the result",
        ),
        Row.info(
            "the same for a small job (2 commands) (median)",
            ms(median(timed(lambda: job_view(big_store, big_store.get(big.neighbour), 40), count))),
            "ms",
        ),
    ]
    start_times, profile = profile_start(ctx, 10 if ctx.quick else 30)
    rows.append(
        Row.info(
            "JobStore.start(), instant fake codex (median)",
            ms(median(start_times)),
            "ms",
            note="one fsync of meta.json + posix_spawn of the runner + psutil reading the new "
            "runner's /proc/PID/stat while it execs (see the profile)",
        )
    )
    print_table("store, called directly", rows)
    print("\n== cProfile of JobStore.start (by own time) ==")
    print(profile)
    listing = listing_rows(ctx)
    print_table("store: listing the newest jobs of large stores", listing)
    return [("job store, called directly", rows), ("job store: listing large stores", listing)]


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
