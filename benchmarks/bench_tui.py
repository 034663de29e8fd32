"""codex-tui, the real app in a real terminal (tmux, 160x45), watched from outside: the pane is
captured every few milliseconds until what is looked for is on screen.

The first paint, live updates and 1 GB output are also measured on an earlier release's
codex-tui (`--baseline REV`, by default BASELINE_REV), taken from git into the temp folder
and run in the same terminal on the same stores, with the same writer and the same fake codex:
each figure's ratio to it says whether a change made the app slower.

    python -m benchmarks.bench_tui [--quick] [--part flood] [--baseline REV|none] ...
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil

from benchmarks._common import (
    PROJECT,
    Context,
    Row,
    build_store,
    compile_bytecode,
    median,
    ms,
    print_table,
    temp_area,
    wait_terminal,
)
from jobstore import JobStore, RunOptions

WIDTH, HEIGHT = 160, 45
POLL_SECONDS = 0.004
# The release before the store's layers, trust, tasks, lean runners and the TUI's new views
# (issues 10-14): the figures they must not make worse.
BASELINE_REV = "bdf2013"
# The parts measured on the baseline too (the flood takes minutes; scripts/run is not the app).
BASELINE_PARTS = ("first paint", "live updates", "1 GB output")


class Tmux:
    """A tmux server of our own (its own socket), killed at the end."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"codex-bench-{os.getpid()}-{secrets.token_hex(3)}"
        # A first session keeps the server up, so that starting the app does not include
        # starting tmux itself.
        self._tmux("new-session", "-d", "-s", "keep", "-x", "80", "-y", "10", "sleep 3600")
        # An app that dies leaves its pane (and its traceback) to be read.
        self._tmux("set-option", "-g", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, name: str, command: str, env: dict[str, str]) -> None:
        options = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
        self._tmux("new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), *options, command)

    def pid(self, name: str) -> int:
        return int(self._tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def capture(self, name: str) -> str:
        return self._tmux("capture-pane", "-p", "-t", name)

    def keys(self, name: str, *keys: str) -> None:
        self._tmux("send-keys", "-t", name, *keys)

    def kill(self, name: str) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-session", "-t", name], capture_output=True, timeout=20
        )

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)

    def wait_for(
        self, name: str, found: Callable[[str], bool], timeout: float, since: float | None = None
    ) -> float | None:
        """Seconds from `since` (default: now) until `found(pane text)` holds; None on timeout."""
        since = time.perf_counter() if since is None else since
        deadline = time.perf_counter() + timeout
        next_check = time.perf_counter() + 0.5
        while True:
            if found(self.capture(name)):
                return time.perf_counter() - since
            now = time.perf_counter()
            if now > deadline:
                return None
            if now > next_check:
                next_check = now + 0.5
                if self.dead(name):
                    raise RuntimeError(f"codex-tui exited; its pane:\n{self.capture(name)}")
            time.sleep(POLL_SECONDS)

    def dead(self, name: str) -> bool:
        return self._tmux("display-message", "-p", "-t", name, "#{pane_dead}").strip() == "1"


def app_command(store: Path, overrides: dict[str, object] | None = None, tree: Path | None = None) -> str:
    """The command tmux runs: the installed `codex-tui`, or with TuiConfig fields overridden
    (benchmarks.tui_variant) to try a proposed change, or the codex-tui of the source tree
    `tree` (a baseline: its folder comes first on PYTHONPATH; -P keeps the working folder off)."""
    if tree is not None:
        return f"exec env PYTHONPATH={tree} {sys.executable} -P -m tui --store {store}"
    if overrides:
        sets = " ".join(f"--set {k}={v}" for k, v in overrides.items())
        return f"exec {sys.executable} -m benchmarks.tui_variant --store {store} {sets}"
    exe = Path(sys.executable).parent / "codex-tui"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "tui"]
    return "exec " + " ".join(argv) + f" --store {store}"


def counts(pane: str) -> int | None:
    """The total of the status bar's counts once every job is loaded (None while loading)."""
    first = pane.splitlines()[0] if pane else ""
    if "loading" in first:
        return None
    found = re.findall(r"([\d,]+) (?:running|queued|done|error|cancelled|lost|unreadable)", first)
    return sum(int(n.replace(",", "")) for n in found)


def loaded(total: int) -> Callable[[str], bool]:
    return lambda pane: (counts(pane) or 0) >= total


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class App:
    """One codex-tui in a tmux session."""

    def __init__(
        self,
        tmux: Tmux,
        store: Path,
        env: dict[str, str],
        overrides: dict[str, object] | None = None,
        tree: Path | None = None,
    ) -> None:
        self.tmux = tmux
        self.name = f"app{secrets.token_hex(3)}"
        self.started = time.perf_counter()
        tmux.start(self.name, app_command(store, overrides, tree), env)
        self.proc = psutil.Process(tmux.pid(self.name))

    def wait_for(
        self, found: Callable[[str], bool], timeout: float, since: float | None = None
    ) -> float | None:
        return self.tmux.wait_for(self.name, found, timeout, since)

    def shows(self, text: str) -> Callable[[str], bool]:
        return lambda pane: text in pane

    def since_start(self, found: Callable[[str], bool], timeout: float) -> float | None:
        return self.tmux.wait_for(self.name, found, timeout, self.started)

    def rss_mb(self) -> float:
        return self.proc.memory_info().rss / 2**20

    def close(self) -> None:
        self.tmux.kill(self.name)
        try:
            self.proc.wait(5)
        except psutil.TimeoutExpired:
            self.proc.kill()
        except psutil.NoSuchProcess:
            pass


def agent_line(text: str) -> bytes:
    import json

    event = {"type": "item.completed", "item": {"id": "bench", "type": "agent_message", "text": text}}
    return (json.dumps(event) + "\n").encode()


def idle_cpu(app: App, seconds: float) -> float:
    """CPU of the app over `seconds`, in % of one core."""
    before = cpu_seconds(app.proc)
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(app.proc) - before) / seconds


def first_paint(
    ctx: Context,
    tmux: Tmux,
    env: dict[str, str],
    count: int,
    rows: list[Row],
    baseline: tuple[Path, list[Row]] | None = None,
) -> None:
    """`count` starts of ours (rows) and, given `baseline` (its tree, its rows), as many of the
    baseline's, alternating one of each: a start's figure depends on what the machine did just
    before (writeback, caches), so the two must share those moments."""
    root, ids = ctx.store_with(10_000)
    newest = ids[:20]
    trees: list[Path | None] = [None] if baseline is None else [None, baseline[0]]
    paints: dict[Path | None, list[float]] = {tree: [] for tree in trees}
    loads: dict[Path | None, list[float]] = {tree: [] for tree in trees}
    rss: dict[Path | None, list[float]] = {tree: [] for tree in trees}
    idle: dict[Path | None, float] = {}
    for i in range(count):
        for tree in trees:
            app = App(tmux, root, env, tree=tree)
            try:
                paint = app.since_start(lambda pane: any(job_id in pane for job_id in newest), 30)
                if paint is None:
                    raise RuntimeError("codex-tui showed no job within 30 s:\n" + tmux.capture(app.name))
                paints[tree].append(paint)
                done = app.since_start(loaded(len(ids)), 60)
                if done is not None:
                    loads[tree].append(done)
                rss[tree].append(app.rss_mb())
                if i == 0 and not ctx.quick:
                    time.sleep(2.0)
                    idle[tree] = idle_cpu(app, 10.0)
            finally:
                app.close()
    for tree, out in [(None, rows)] + ([(baseline[0], baseline[1])] if baseline else []):
        out += [
            Row.under(
                "start to first paint, 10,000 jobs (median)",
                median(paints[tree]),
                "s",
                1.0,
                note="from the tmux command to a job row on screen",
            ),
            Row.info(
                "start to all 10,000 loaded (status bar counts)",
                median(loads[tree]) if loads[tree] else None,
                "s",
            ),
            Row.info("resident memory, 10,000 jobs loaded", max(rss[tree]), "MB"),
        ]
        if tree in idle:
            out.append(
                Row.info(
                    "idle CPU, 10,000 jobs, none changing (10 s)",
                    idle[tree],
                    "%",
                    note="% of one core; the same measure as the 1,000-job figure",
                )
            )


def new_jobs(ctx: Context, app: App, store: JobStore, count: int) -> tuple[list[float], list[float]]:
    """Jobs started (JobStore.start, instant fake codex) while the app runs: seconds until
    the id shows, and until the prompt shows."""
    token = secrets.token_hex(3)
    by_id, by_prompt = [], []
    for i in range(count):
        marker = f"bench-new-{i}-{token}"
        started = time.perf_counter()
        record = store.start(RunOptions.checked(prompt=f"{marker} please", cwd=str(ctx.project)))
        seen_id = app.wait_for(app.shows(record.job_id), 10, started)
        seen_prompt = app.wait_for(app.shows(marker), 10, started)
        if seen_id is None or seen_prompt is None:
            raise RuntimeError(f"new job {record.job_id} never showed:\n{app.tmux.capture(app.name)}")
        by_id.append(seen_id)
        by_prompt.append(seen_prompt)
        wait_terminal(store.root, [record.job_id], 30)
        time.sleep(0.5)
    return by_id, by_prompt


def appended_lines(ctx: Context, app: App, store: JobStore, count: int) -> tuple[list[float], float]:
    """Start a job that keeps running, select it, append `count` lines to its output one at a
    time: seconds until each shows. Also the app's CPU while it follows that job, idle."""
    marker = f"bench-follow-{secrets.token_hex(3)}"
    record = store.start(RunOptions.checked(prompt=f"{marker} @sleep=600@", cwd=str(ctx.project)))
    job_id = record.job_id
    try:
        if app.wait_for(app.shows(marker), 10) is None:
            raise RuntimeError("the running job never showed")
        app.tmux.keys(app.name, "g")  # the first (newest) job: it is the one shown
        if app.wait_for(app.shows(f"Output · {job_id}"), 10) is None:
            raise RuntimeError("could not select the running job:\n" + app.tmux.capture(app.name))
        time.sleep(1.0)
        output = store.layout.output(job_id)
        times = []
        for i in range(count):
            line_marker = f"APPENDED-{i}-{secrets.token_hex(4)}"
            started = time.perf_counter()
            fd = os.open(output, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, agent_line(f"Working: {line_marker}"))
            finally:
                os.close(fd)
            seen = app.wait_for(app.shows(line_marker), 5, started)
            if seen is None:
                raise RuntimeError("an appended line never showed:\n" + app.tmux.capture(app.name))
            times.append(seen)
            time.sleep(0.3)
        busy = idle_cpu(app, 5.0)
    finally:
        stop_job(store, job_id)
    return times, busy


def stop_job(store: JobStore, job_id: str) -> None:
    try:
        pgid = store.read_record(job_id).codex_pgid
        if pgid:
            os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    wait_terminal(store.root, [job_id], 30)


def live_updates(
    ctx: Context,
    tmux: Tmux,
    env: dict[str, str],
    rows: list[Row],
    *,
    overrides: dict[str, object] | None = None,
    label: str = "",
    tree: Path | None = None,
) -> None:
    live = ctx.fresh_store("tui-live")
    live_ids = build_store(live, 1_000)
    store = JobStore(live, codex_bin=str(ctx.fake_codex))
    app = App(tmux, live, env, overrides, tree)
    quick = ctx.quick
    try:
        if app.since_start(app.shows(live_ids[0]), 30) is None:
            raise RuntimeError("codex-tui showed nothing:\n" + tmux.capture(app.name))
        app.wait_for(loaded(1_000), 30)
        time.sleep(2.0)  # let start-up work (rescan, watcher restart) finish
        idle = idle_cpu(app, 10.0)
        by_id, by_prompt = new_jobs(ctx, app, store, 4 if quick else 10)
        appended, busy = appended_lines(ctx, app, store, 6 if quick else 15)
    finally:
        app.close()
    rows += [
        Row.under(f"idle CPU, 1,000 jobs, none changing (10 s){label}", idle, "%", 1.0, note="% of one core"),
        Row.under(
            f"a line appended to the output, to the screen (median){label}",
            ms(median(appended)),
            "ms",
            100.0,
            note="the selected job is running; one JSONL agent_message appended per try",
        ),
        Row.under(
            f"a new job in the store, to its row on screen (median){label}",
            ms(median(by_prompt)),
            "ms",
            200.0,
            note="JobStore.start() in another process, until its prompt shows in the table",
        ),
        Row.info(f"a new job, to its id on screen (median){label}", ms(median(by_id)), "ms"),
        Row.info(
            f"CPU while following a running job, nothing written (5 s){label}",
            busy,
            "%",
            note="the running job's spinner redraws every 0.2 s",
        ),
    ]


def big_output(
    ctx: Context, tmux: Tmux, env: dict[str, str], rows: list[Row], tree: Path | None = None
) -> None:
    big = ctx.big_job()
    app = App(tmux, big.store, env, tree=tree)
    try:
        if app.since_start(app.shows(f"Output · {big.neighbour}"), 30) is None:
            raise RuntimeError("codex-tui did not show the newest job:\n" + tmux.capture(app.name))
        time.sleep(1.0)
        shown, rss = [], []
        for _ in range(3 if ctx.quick else 6):
            started = time.perf_counter()
            app.tmux.keys(app.name, "j")  # down: from the small newest job to the 1 GB one
            seen = app.wait_for(app.shows(big.marker), 10, started)
            if seen is None:
                raise RuntimeError("the 1 GB output's end never showed:\n" + tmux.capture(app.name))
            shown.append(seen)
            time.sleep(0.3)
            rss.append(app.rss_mb())
            app.tmux.keys(app.name, "k")
            app.wait_for(lambda pane: big.marker not in pane, 10)
            time.sleep(0.3)
    finally:
        app.close()
    rows += [
        Row.under(
            "1 GB output: select the job, to its end on screen (median)",
            ms(median(shown)),
            "ms",
            300.0,
            note="sparse 1 GB file (a hole, then ~2.6 MB of realistic JSONL at its end)",
        ),
        Row.under("1 GB output: resident memory (max)", max(rss), "MB", 200.0),
    ]


FLOOD_LINES = 1_000_000


def flood_job(ctx: Context, store: JobStore, app: App | None) -> tuple[float, float | None, float | None]:
    """Run a job printing a million lines; its wall time (start to recorded end) and, with
    `app` following it, the app's peak RSS and CPU seconds meanwhile. The app is made to
    follow it: once its row shows, `g` selects the newest job (the selection otherwise
    stays on the job selected before), and the job's last line must reach the screen."""
    cpu_before = cpu_seconds(app.proc) if app is not None else 0.0
    started = time.perf_counter()
    job = store.start(RunOptions.checked(prompt=f"flood @lines={FLOOD_LINES}@", cwd=str(ctx.project)))
    peak = None
    shown = app is None
    while not store.get(job.job_id).is_terminal:
        if app is not None:
            peak = max(peak or 0.0, app.rss_mb())
            if not shown:  # one capture per 0.1 s: what the benchmark costs the job is small
                pane = app.tmux.capture(app.name)
                shown = f"Output · {job.job_id}" in pane
                if not shown and job.job_id in pane:
                    app.tmux.keys(app.name, "g")
        time.sleep(0.1)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(app.proc) - cpu_before if app is not None else None
    final = store.get(job.job_id)
    if final.status != "done":
        raise RuntimeError(f"the flood job ended {final.status}: {final.error}")
    if app is not None:
        last = f"line {FLOOD_LINES - 1}"
        if (
            not shown
            or app.wait_for(lambda pane: f"Output · {job.job_id}" in pane and last in pane, 10) is None
        ):
            raise RuntimeError(
                f"codex-tui did not follow the flood to its end:\n{app.tmux.capture(app.name)}"
            )
    return wall, peak, cpu


def flood(ctx: Context, tmux: Tmux, env: dict[str, str], rows: list[Row]) -> None:
    root = ctx.fresh_store("flood")
    store = JobStore(root, max_jobs=4, codex_bin=str(ctx.fake_codex), cancel_grace=2.0)
    flood_job(ctx, store, None)  # warm: the store's zygote, the page cache
    alone = [flood_job(ctx, store, None)[0] for _ in range(1 if ctx.quick else 2)]
    app = App(tmux, root, env)
    followed, peaks, cpus = [], [], []
    try:
        if app.since_start(app.shows("Output ·"), 30) is None:
            raise RuntimeError("codex-tui showed no output pane:\n" + tmux.capture(app.name))
        for _ in range(1 if ctx.quick else 2):
            wall, peak, cpu = flood_job(ctx, store, app)
            followed.append(wall)
            peaks.append(peak or app.rss_mb())
            cpus.append(cpu or 0.0)
    finally:
        app.close()
    rows += [
        Row.under(
            "the TUI following a job that prints 1 million lines: TUI memory (max)",
            max(peaks),
            "MB",
            100.0,
            note="RSS of codex-tui sampled every 0.1 s while it shows the job live",
        ),
        Row.vs(
            "…that job's wall time with the TUI following, vs without (median)",
            median(followed),
            median(alone),
            "s",
            1.2,
            label="without",
            target="<= 1.2x without",
            note="start to the end the runner recorded; fake codex prints 1M agent-message lines; "
            f"codex-tui's CPU meanwhile (threads included): {', '.join(f'{c:.2f}' for c in cpus)} s",
        ),
    ]


def second_run(ctx: Context, tmux: Tmux, env: dict[str, str], rows: list[Row]) -> None:
    """`bash scripts/run --store DIR`, the second time: to the UI on screen (a job id)."""
    root, ids = ctx.store_with(10_000)
    command = f"exec bash {PROJECT / 'scripts' / 'run'} --store {root}"
    times = []
    for i in range(3 if ctx.quick else 4):  # the first may install; the rest must not
        name = f"run{secrets.token_hex(3)}"
        started = time.perf_counter()
        tmux.start(name, command, env)
        try:
            seen = tmux.wait_for(name, lambda pane: any(job_id in pane for job_id in ids[:20]), 120, started)
            if seen is None:
                raise RuntimeError("scripts/run showed no job:\n" + tmux.capture(name))
            if i:
                times.append(seen)
        finally:
            tmux.kill(name)
    rows.append(
        Row.under(
            "`bash scripts/run` the second time, to the UI on screen (median)",
            median(times),
            "s",
            2.0,
            note="10,000 jobs in the store; the install is skipped while pyproject.toml is unchanged",
        )
    )


# Each part's figures with their targets, to report as missing when the part fails.
PARTS: dict[str, list[tuple[str, str]]] = {
    "first paint": [("start to first paint, 10,000 jobs (median)", "< 1 s")],
    "live updates": [
        ("idle CPU, 1,000 jobs, none changing (10 s)", "< 1 %"),
        ("a line appended to the output, to the screen (median)", "< 100 ms"),
        ("a new job in the store, to its row on screen (median)", "< 200 ms"),
    ],
    "flood": [
        ("the TUI following a job that prints 1 million lines: TUI memory (max)", "< 100 MB"),
        ("…that job's wall time with the TUI following, vs without (median)", "<= 1.2x without"),
    ],
    "scripts/run": [("`bash scripts/run` the second time, to the UI on screen (median)", "< 2 s")],
    "1 GB output": [
        ("1 GB output: select the job, to its end on screen (median)", "< 300 ms"),
        ("1 GB output: resident memory (max)", "< 200 MB"),
    ],
}


def guarded(part: str, measure: Callable[[list[Row]], None], *, title: str = "") -> list[Row]:
    """Run one part; if the app fails, report its figures as missing (with why) and go on."""
    rows: list[Row] = []
    try:
        measure(rows)
    except Exception as exc:
        lines = [line.strip(" │╭╰─") for line in str(exc).splitlines() if line.strip(" │╭╰─")]
        why = lines[-1] if lines else repr(exc)
        print(f"  !! {part} failed: {str(exc)[-3000:]}", file=sys.stderr)
        rows = [Row.missing(figure, target, f"not measured: {why[:200]}") for figure, target in PARTS[part]]
    print_table(f"tui: {title or part}", rows)
    return rows


def baseline_tree(ctx: Context, rev: str) -> Path | None:
    """Release `rev`'s source, from git, in the temp folder; None (said why) where git cannot give it."""
    archive = subprocess.run(["git", "-C", str(PROJECT), "archive", "--format=tar", rev], capture_output=True)
    if archive.returncode != 0:
        print(f"  (no baseline: git archive {rev}: {archive.stderr.decode(errors='replace').strip()})")
        return None
    tree = ctx.area.root / f"baseline-{rev}"
    tree.mkdir()
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    compile_bytecode(tree)
    return tree


# Not comparable: bdf2013's reads settle jobs, and it does not read this release's recorded
# process start times as its own: it records the running job it follows lost, and its
# spinner stops.
NOT_COMPARABLE = frozenset({"CPU while following a running job, nothing written (5 s)"})


def against(ours: list[Row], base: list[Row], label: str) -> list[Row]:
    """Our rows with the baseline's figures beside them, as ratios (above 1: slower or bigger)."""
    theirs = {row.figure: row.ours for row in base if row.figure not in NOT_COMPARABLE}
    return [
        replace(
            row,
            reference=theirs.get(row.figure),
            reference_label=label,
            ratio=row.ours / theirs[row.figure] if row.ours is not None and theirs.get(row.figure) else None,
        )
        for row in ours
    ]


def run(
    ctx: Context,
    *,
    explore: bool = False,
    parts: list[str] | None = None,
    baseline: str | None = BASELINE_REV,
) -> list[tuple[str, list[Row]]]:
    env = {
        "CODEX_BIN": str(ctx.fake_codex),
        "PATH": f"{ctx.fake_codex.parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(PROJECT),
    }
    tmux = Tmux()
    ctx.area.on_cleanup(tmux.close)
    try:
        measures: dict[str, Callable[[list[Row]], None]] = {
            "first paint": lambda out: first_paint(ctx, tmux, env, 2 if ctx.quick else 5, out),
            "live updates": lambda out: live_updates(ctx, tmux, env, out),
            "1 GB output": lambda out: big_output(ctx, tmux, env, out),
            "flood": lambda out: flood(ctx, tmux, env, out),
            "scripts/run": lambda out: second_run(ctx, tmux, env, out),
        }
        tree = baseline_tree(ctx, baseline) if baseline else None
        # The baseline's first paints alternate with ours (first_paint); the other parts run
        # ours, then the baseline's.
        paints_of_baseline: list[Row] = []
        if tree is not None:
            measures["first paint"] = lambda out: first_paint(
                ctx, tmux, env, 2 if ctx.quick else 5, out, (tree, paints_of_baseline)
            )
        on_baseline: dict[str, Callable[[list[Row]], None]] = {
            "first paint": lambda out: out.extend(paints_of_baseline),
            "live updates": lambda out: live_updates(ctx, tmux, env, out, tree=tree),
            "1 GB output": lambda out: big_output(ctx, tmux, env, out, tree),
        }
        rows: list[Row] = []
        for part in parts or measures:
            ours = guarded(part, measures[part])
            if tree is not None and baseline and part in on_baseline:
                base = guarded(part, on_baseline[part], title=f"{part}, release {baseline}")
                ours = against(ours, base, baseline)
                print_table(f"tui: {part}, ours beside release {baseline}", ours)
            rows += ours
        sections = [("codex-tui", rows)]
        if explore:
            variants: list[Row] = []
            for overrides, label in (
                ({"watch_step_ms": 20}, " [watch_step_ms=20]"),
                ({"spinner_seconds": 1.0}, " [spinner_seconds=1]"),
            ):
                try:
                    live_updates(ctx, tmux, env, variants, overrides=overrides, label=label)
                except Exception as exc:
                    print(f"  !! variant{label} failed: {str(exc)[-500:]}", file=sys.stderr)
            print_table("tui: proposed changes, tried through TuiConfig", variants)
            sections.append(("codex-tui, proposed changes tried through TuiConfig", variants))
        return sections
    finally:
        tmux.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--explore",
        action="store_true",
        help="also measure proposed TuiConfig changes (watch step, spinner rate)",
    )
    parser.add_argument(
        "--part", action="append", choices=list(PARTS), help="measure only this part (repeatable)"
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE_REV,
        help=f"the release measured beside ours (default {BASELINE_REV}; 'none': skip it)",
    )
    args = parser.parse_args()
    baseline = None if args.baseline == "none" else args.baseline
    compile_bytecode(PROJECT)
    with temp_area(keep=args.keep) as area:
        run(Context(area, quick=args.quick), explore=args.explore, parts=args.part, baseline=baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
