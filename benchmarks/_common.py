"""What every benchmark shares: result tables, temp areas, the fake codex, the reference
server, store fixtures, MCP sessions over stdio and cleanup.

Nothing here talks to anything but local processes and files (MCP over stdio, no sockets);
the only network use is `npm install` of the reference server from the npm registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import psutil

from tests.fakes import install_fake_codex

if TYPE_CHECKING:
    from jobstore.record import JobRecord

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
REFERENCE_PACKAGE = "codex-mcp-server@1.4.10"
# Every MCP call in a benchmark gets its answer within this, or the benchmark fails instead of hanging.
CALL_TIMEOUT = 60.0


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One figure: ours, what it is compared with, and whether the target is met."""

    figure: str
    ours: float | None
    unit: str
    target: str
    passed: bool | None
    reference: float | None = None
    reference_label: str = ""  # what `reference` is when it is not the reference server
    ratio: float | None = None
    note: str = ""

    @classmethod
    def vs(
        cls,
        figure: str,
        ours: float | None,
        other: float | None,
        unit: str,
        max_ratio: float,
        *,
        label: str = "",
        note: str = "",
        target: str | None = None,
    ) -> Row:
        """A figure whose target is a ratio to another figure (the reference's, or our own)."""
        ratio = ours / other if ours is not None and other else None
        return cls(
            figure,
            ours,
            unit,
            target or f"<= {max_ratio:g}x",
            None if ratio is None or target == "-" else ratio <= max_ratio,  # "-": shown, not judged
            reference=other,
            reference_label=label,
            ratio=ratio,
            note=note,
        )

    @classmethod
    def under(cls, figure: str, ours: float | None, unit: str, limit: float, *, note: str = "") -> Row:
        """A figure whose target is an absolute bound."""
        return cls(
            figure,
            ours,
            unit,
            f"< {_fmt(limit, unit)}",
            None if ours is None else ours < limit,
            note=note,
        )

    @classmethod
    def info(
        cls, figure: str, ours: float | None, unit: str, *, note: str = "", reference: float | None = None
    ) -> Row:
        """A figure shown for understanding, without a target."""
        ratio = ours / reference if ours is not None and reference else None
        return cls(figure, ours, unit, "-", None, reference=reference, ratio=ratio, note=note)

    @classmethod
    def missing(cls, figure: str, target: str, why: str) -> Row:
        return cls(figure, None, "", target, None, note=why)

    @property
    def verdict(self) -> str:
        if self.target == "-":
            return "info"
        if self.passed is None:
            return "n/a"
        return "pass" if self.passed else "MISS"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 1000 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "/s":
        return f"{value:,.0f} /s"
    if unit == "µs":
        return f"{value:.0f} µs"
    return f"{value:g} {unit}".strip()


def _cells(row: Row) -> list[str]:
    ref = _fmt(row.reference, row.unit)
    if row.reference is not None and row.reference_label:
        ref = f"{row.reference_label} {ref}"
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    return [row.figure, _fmt(row.ours, row.unit), ref, ratio, row.target, row.verdict]


HEADERS = ["figure", "ours", "reference", "ratio", "target", "result"]


def print_table(title: str, rows: list[Row], *, file: Any = None) -> None:
    out = file or sys.stdout
    table = [HEADERS] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    print(f"\n== {title} ==", file=out)
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    notes = [(r.figure, r.note) for r in rows if r.note]
    for figure, note in notes:
        print(f"  * {figure}: {note}", file=out)
    out.flush()


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    model = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
    }


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def save_results(path: Path, sections: list[tuple[str, list[Row]]]) -> None:
    data = {
        "machine": machine_info(),
        "sections": [
            {"title": t, "rows": [asdict(r) | {"verdict": r.verdict} for r in rows]} for t, rows in sections
        ],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


# --------------------------------------------------------------------------- statistics


PACKAGES = ("jobstore", "mcp_server", "tui", "tests")


def compile_bytecode(tree: Path) -> None:
    """Write the bytecode of the project's packages in `tree`, as an install would: with
    PYTHONDONTWRITEBYTECODE set (as on this machine) a source tree without it compiles every
    module again at each start, ~30 ms of codex-tui's, which a tree that has it does not pay."""
    folders = [str(tree / name) for name in PACKAGES if (tree / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def p90(values: Iterable[float]) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(round(0.9 * (len(data) - 1))))]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def file_create_cost(folder: Path, count: int = 40) -> float:
    """CPU seconds (median) to create one empty file in `folder` now. On ext4 without a journal
    (this machine's and CI's) the allocator skips, one by one, every inode freed in the last
    minutes, so this swings with what ran before; a store creates ~10 files a job and the
    reference none. The files are kept (freeing them would add to what later creates skip)."""
    probe = folder / f"create-probe-{secrets.token_hex(3)}"
    probe.mkdir()
    samples = []
    for i in range(count):
        started = time.process_time()
        os.close(os.open(probe / str(i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        samples.append(time.process_time() - started)
    return median(samples)


# --------------------------------------------------------------------------- temp area, cleanup


@dataclass
class Area:
    """A private temp folder for one benchmark run, and everything to clean up after it."""

    root: Path
    keep: bool = False
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    def path(self, name: str) -> Path:
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def on_cleanup(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def cleanup(self) -> None:
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as exc:  # cleanup must go on
                print(f"benchmarks: cleanup step failed: {exc!r}", file=sys.stderr)
        self._cleanups.clear()
        kill_processes_under(self.root)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def temp_area(keep: bool = False) -> Iterator[Area]:
    area = Area(Path(tempfile.mkdtemp(prefix="codex-bench-")), keep=keep)
    try:
        yield area
    finally:
        area.cleanup()


def kill_processes_under(root: Path) -> int:
    """Stop every process of this run: job runners (their argv names the store), the fake
    codex and its sleeps (their process groups, from the job records). Only processes that
    mention `root` in their command line, or are the recorded codex group of one of its jobs."""
    killed = 0
    for meta in root.glob("**/jobs/*/meta.json"):
        try:
            record = json.loads(meta.read_bytes())
        except (OSError, ValueError):
            continue
        if record.get("status") in ("running", "queued"):
            for pgid in (record.get("codex_pgid"),):
                if isinstance(pgid, int) and pgid > 1:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                        killed += 1
    needle = str(root)
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if proc.pid != me and any(needle in part for part in cmdline):
                proc.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return killed


# --------------------------------------------------------------------------- fake codex, reference


def install_reference(area: Area) -> Path:
    """Install the reference server with the machine's npm; return its entry script.

    BENCH_REFERENCE_DIR=<dir> reuses (or fills) a folder instead of a fresh temp one."""
    reuse = os.environ.get("BENCH_REFERENCE_DIR")
    prefix = Path(reuse) if reuse else area.path("reference")
    entry = prefix / "node_modules" / "codex-mcp-server" / "dist" / "index.js"
    if not entry.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed: cannot install the reference server")
        started = time.monotonic()
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                REFERENCE_PACKAGE,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
        print(f"  (installed {REFERENCE_PACKAGE} in {time.monotonic() - started:.1f} s)", flush=True)
    version = json.loads((entry.parent.parent / "package.json").read_text())["version"]
    if version != REFERENCE_PACKAGE.rsplit("@", 1)[1]:
        raise RuntimeError(f"the reference at {prefix} is {version}, not {REFERENCE_PACKAGE}")
    return entry


def our_server_command() -> str:
    found = Path(sys.executable).parent / "codex-async-mcp"
    if found.exists():
        return str(found)
    on_path = shutil.which("codex-async-mcp")
    if on_path is None:
        raise RuntimeError("codex-async-mcp is not installed (pip install -e .)")
    return on_path


def base_env(fake_bin: Path) -> dict[str, str]:
    return {
        "PATH": f"{fake_bin.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


@dataclass(frozen=True)
class Server:
    """How to start one of the two servers, and the tool that runs codex on it."""

    name: str
    command: str
    args: tuple[str, ...]
    env: dict[str, str]

    def params(self) -> Any:
        from mcp import StdioServerParameters

        return StdioServerParameters(command=self.command, args=list(self.args), env=dict(self.env))


def our_server(store: Path, fake_codex: Path, **extra_env: str) -> Server:
    env = base_env(fake_codex) | {"CODEX_ASYNC_HOME": str(store), "CODEX_BIN": str(fake_codex)} | extra_env
    return Server("ours", our_server_command(), (), env)


def reference_server(entry: Path, fake_codex: Path) -> Server:
    env = base_env(fake_codex) | {"STRUCTURED_CONTENT_ENABLED": "1"}
    node = shutil.which("node") or "node"
    return Server("reference", node, (str(entry),), env)


@contextlib.asynccontextmanager
async def mcp_session(server: Server, errlog: Path, *, list_tools: bool = True) -> AsyncIterator[Any]:
    """An initialized MCP ClientSession over stdio to `server` (tools listed once, so that
    no later call pays for the client's output-schema cache)."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    with open(errlog, "a", encoding="utf-8") as err:
        async with (
            stdio_client(server.params(), errlog=err) as (read, write),
            ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT) as session,
        ):
            with anyio.fail_after(CALL_TIMEOUT):
                await session.initialize()
                if list_tools:
                    await session.list_tools()
            yield session


async def call(session: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool; its structured content (or {} if none); raise on an error result."""
    with anyio.fail_after(CALL_TIMEOUT):
        result = await session.call_tool(name, arguments)
    if result.is_error:
        text = " ".join(getattr(b, "text", "") for b in result.content)
        raise RuntimeError(f"{name} failed: {text[:500]}")
    return result.structured_content or {}


# --------------------------------------------------------------------------- store fixtures

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

PROMPTS = (
    "Fix the flaky test in tests/test_sync.py: it fails when the clock crosses midnight",
    "Add type hints to the public functions of src/report/builder.py and run mypy",
    "Refactor the HTTP retry logic into one helper and cover it with tests",
    "Explain why the build takes 4 minutes and propose two ways to make it faster",
    "Update the README: the install section still mentions Python 3.8",
    "Find and remove dead code in the billing module; keep behaviour the same",
    "Write a migration that adds an index on orders(created_at) and test it",
    "Review the error handling in the uploader and make every failure say what to do",
)
PROJECTS = ("/home/dev/work/api", "/home/dev/work/web", "/home/dev/work/billing", "/home/dev/src/tools")


def past_job_id(when: datetime) -> str:
    """A job id for a job created at `when`, shaped exactly as jobstore.ids.new_job_id() makes
    them (10 chars of ms timestamp + 4 random chars) but in the past, so that the fixture's
    jobs are older than any job the benchmark creates later."""
    from jobstore.ids import JOB_ID_LENGTH, is_job_id

    number = int(when.timestamp() * 1000)
    chars = []
    for _ in range(10):
        number, digit = divmod(number, 32)
        chars.append(_ID_ALPHABET[digit])
    job_id = "".join(reversed(chars)) + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))
    assert len(job_id) == JOB_ID_LENGTH and is_job_id(job_id)
    return job_id


def event_stream(message: str, *, thread_id: str, commands: int = 2) -> str:
    """A realistic `codex exec --json` stream for a finished turn."""
    events: list[dict[str, Any]] = [
        {"type": "thread.started", "thread_id": thread_id},
        {"type": "turn.started"},
    ]
    for i in range(commands):
        command = {
            "id": f"item_{2 * i}",
            "type": "command_execution",
            "command": f"/bin/bash -lc 'rg -n retry src | head -{20 + i}'",
            "aggregated_output": "src/http/client.py:41:    retry = Retry(total=3)\n",
            "exit_code": 0,
            "status": "completed",
        }
        events.append(
            {
                "type": "item.started",
                "item": command | {"aggregated_output": "", "exit_code": None, "status": "in_progress"},
            }
        )
        events.append({"type": "item.completed", "item": command})
    events.append(
        {
            "type": "item.completed",
            "item": {
                "id": "item_r",
                "type": "reasoning",
                "text": "**Checking the change** against the tests.",
            },
        }
    )
    events.append(
        {"type": "item.completed", "item": {"id": "item_m", "type": "agent_message", "text": message}}
    )
    usage = {
        "input_tokens": 18234,
        "cached_input_tokens": 12800,
        "cache_write_input_tokens": 0,
        "output_tokens": 912,
        "reasoning_output_tokens": 256,
    }
    events.append({"type": "turn.completed", "usage": usage})
    return "".join(json.dumps(e) + "\n" for e in events)


def write_job(root: Path, job_id: str, created: datetime, n: int, *, output: str | None = None) -> None:
    """One finished job as the runner leaves it: meta.json, summary.json, output.txt,
    last_message.txt (records written directly; no process is involved)."""
    from jobstore import fsio
    from jobstore.events import Summary

    job_dir = root / "jobs" / job_id
    job_dir.mkdir(mode=0o700)
    thread_id = f"0199a213-81c0-7800-8aa1-{n:012x}"
    message = f"Done with job {n}: the change is in place and the tests pass."
    text = output if output is not None else event_stream(message, thread_id=thread_id)
    summary = Summary()
    for line in text.splitlines()[-200:]:
        summary.feed_line(line)
    summary.session_id = thread_id
    record = finished_record(job_id, created, n)
    fsio.write_json_atomic(job_dir / "meta.json", record.to_dict(), durable=False)
    fsio.write_json_atomic(job_dir / "summary.json", summary.to_dict(), durable=False)
    if output is None:
        (job_dir / "output.txt").write_text(text)
    (job_dir / "last_message.txt").write_text(message + "\n")


def finished_record(job_id: str, created: datetime, n: int) -> JobRecord:
    """The record of the `n`th finished job of a benchmark store (statuses and projects vary)."""
    from jobstore.record import JobRecord
    from jobstore.states import JobStatus

    status = (
        JobStatus.DONE,
        JobStatus.DONE,
        JobStatus.DONE,
        JobStatus.ERROR,
        JobStatus.CANCELLED,
        JobStatus.LOST,
    )[n % 6]
    thread_id = f"0199a213-81c0-7800-8aa1-{n:012x}"
    finished = created + timedelta(seconds=40 + n % 300)
    return JobRecord(
        job_id=job_id,
        status=status,
        kind="run",
        prompt=f"{PROMPTS[n % len(PROMPTS)]} (#{n})",
        cwd=PROJECTS[n % len(PROJECTS)],
        approval_policy="auto-edit",
        created_at=created.isoformat(timespec="milliseconds"),
        sandbox="workspace-write",
        session_id=thread_id,
        started_at=(created + timedelta(milliseconds=30)).isoformat(timespec="milliseconds"),
        finished_at=finished.isoformat(timespec="milliseconds"),
        exit_code={JobStatus.DONE: 0, JobStatus.ERROR: 1, JobStatus.CANCELLED: -15}.get(status),
        error=None if status == JobStatus.DONE else f"codex ended as {status}",
        pid=100000 + n,
        pid_started_at=created.timestamp(),
        codex_pid=200000 + n,
        codex_pgid=200000 + n,
        codex_started_at=created.timestamp() + 0.03,
        codex_version="0.169.0",
    )


def build_store(
    root: Path,
    count: int,
    *,
    span_days: float = 30.0,
    newest_age_s: float = 120.0,
    records_only: bool = False,
) -> list[str]:
    """A store of `count` finished jobs spread over `span_days`, the newest `newest_age_s`
    old, with its job index as a real store has it (built by reconcile's own code).
    `records_only`: each job is only its folder and meta.json (all a listing reads), for
    stores of 100,000. Returns the ids, newest first."""
    from jobstore import fsio
    from jobstore.layout import StoreLayout
    from jobstore.records import Records

    for sub in ("jobs", "queue", "running", "sessions"):
        (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)
    step = timedelta(days=span_days) / max(count, 1)
    ids = []
    for n in range(count):
        created = now - timedelta(seconds=newest_age_s) - step * (count - 1 - n)
        job_id = past_job_id(created)
        if records_only:
            (root / "jobs" / job_id).mkdir(mode=0o700)
            record = finished_record(job_id, created, n)
            fsio.write_json_atomic(root / "jobs" / job_id / "meta.json", record.to_dict(), durable=False)
        else:
            write_job(root, job_id, created, n)
        ids.append(job_id)
    Records(StoreLayout(root)).check_index()  # what the periodic reconcile does
    return ids[::-1]


def make_big_output(path: Path, size: int, marker: str, *, tail_lines: int = 20_000) -> int:
    """Make `path` a file of `size` bytes whose end is a realistic JSONL event stream (about
    `tail_lines` lines, the last an agent message holding `marker`) and whose start is a
    hole (a sparse file: it reads as NUL bytes and takes no disk). Returns the tail's size."""
    lines = []
    for i in range(tail_lines // 2):
        command = {
            "id": f"item_{i}",
            "type": "command_execution",
            "command": f"/bin/bash -lc 'pytest -q tests/test_part_{i % 97}.py'",
            "aggregated_output": f"........ [{i % 100:3d}%]\n{i % 7 + 1} passed in 0.{i % 90 + 10}s\n",
            "exit_code": 0,
            "status": "completed",
        }
        lines.append(json.dumps({"type": "item.completed", "item": command}))
        lines.append(
            json.dumps(
                {
                    "type": "item.completed",
                    "item": {
                        "id": f"r{i}",
                        "type": "reasoning",
                        "text": f"Step {i}: the suite still passes; next part.",
                    },
                }
            )
        )
    lines.append(
        json.dumps(
            {
                "type": "item.completed",
                "item": {"id": "last", "type": "agent_message", "text": f"All done. {marker}"},
            }
        )
    )
    lines.append(
        json.dumps(
            {
                "type": "turn.completed",
                "usage": {
                    "input_tokens": 9_876_543,
                    "cached_input_tokens": 9_000_000,
                    "output_tokens": 123_456,
                    "reasoning_output_tokens": 45_678,
                },
            }
        )
    )
    tail = ("\n" + "\n".join(lines) + "\n").encode()
    with open(path, "wb") as f:
        f.truncate(size - len(tail))
        f.seek(size - len(tail))
        f.write(tail)
    assert path.stat().st_size == size
    return len(tail)


def wait_terminal(store_root: Path, job_ids: Iterable[str], timeout: float) -> bool:
    """Poll the records (directly, cheaply) until every job has ended."""
    from jobstore import JobStore

    store = JobStore(store_root)
    pending = set(job_ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            with contextlib.suppress(Exception):
                if store.read_record(job_id).is_terminal:
                    pending.discard(job_id)
        if pending:
            time.sleep(0.005)
    return not pending


# --------------------------------------------------------------------------- shared context


@dataclass
class BigJob:
    store: Path
    job_id: str  # the job whose output is `size` bytes
    neighbour: str  # a small job listed just above it (newer)
    marker: str  # text of its very last agent message
    size: int
    tail_bytes: int


class Context:
    """What the benchmarks of one run share: the temp area, the fake codex, the reference
    server (installed once) and the store fixtures (built once)."""

    def __init__(self, area: Area, *, quick: bool = False) -> None:
        self.area = area
        self.quick = quick
        # The tests' fake codex; lenient: the reference passes its prompt without `--`.
        self.fake_codex = install_fake_codex(area.path("bin"), lenient=True)
        self.project = area.path("project")
        self._reference: Path | None = None
        self._stores: dict[int, tuple[Path, list[str]]] = {}
        self._big: BigJob | None = None

    def reference(self) -> Path:
        if self._reference is None:
            self._reference = install_reference(self.area)
        return self._reference

    def store_with(self, count: int) -> tuple[Path, list[str]]:
        """A store of `count` finished jobs (built once per run; do not write to it)."""
        if count not in self._stores:
            root = self.area.root / f"store-{count}"
            started = time.monotonic()
            ids = build_store(root, count)
            # Its files written back before anything is timed: the kernel's writeback of tens of
            # MB would otherwise fall on whichever app is measured first.
            os.sync()
            print(f"  (built a store of {count:,} jobs in {time.monotonic() - started:.1f} s)", flush=True)
            self._stores[count] = (root, ids)
        return self._stores[count]

    def listing_store(self, count: int) -> tuple[Path, list[str]]:
        """A store of `count` finished jobs of a meta.json each (what a listing reads), with
        its job index (built once per run; do not write to it)."""
        key = -count  # beside store_with's stores
        if key not in self._stores:
            root = self.area.root / f"listing-{count}"
            started = time.monotonic()
            ids = build_store(root, count, records_only=True)
            os.sync()
            print(f"  (built a store of {count:,} records in {time.monotonic() - started:.1f} s)", flush=True)
            self._stores[key] = (root, ids)
        return self._stores[key]

    def fresh_store(self, name: str) -> Path:
        return self.area.root / f"store-{name}-{secrets.token_hex(3)}"

    def big_job(self, size: int = 1 << 30) -> BigJob:
        """A small store whose second-newest job has an output of `size` bytes (sparse)."""
        if self._big is None:
            root = self.area.root / "store-big"
            build_store(root, 20, span_days=1, newest_age_s=600)
            now = datetime.now(UTC)
            big_id = past_job_id(now - timedelta(seconds=300))
            write_job(root, big_id, now - timedelta(seconds=300), 0, output="")
            marker = f"END-OF-BIG-OUTPUT-{secrets.token_hex(4)}"
            tail = make_big_output(root / "jobs" / big_id / "output.txt", size, marker)
            # What the runner leaves: the summary of the stream's end, the last message.
            from jobstore import fsio
            from jobstore.events import Summary

            summary = Summary()
            with open(root / "jobs" / big_id / "output.txt", "rb") as f:
                f.seek(size - min(tail, 1 << 20))
                for line in f.read().decode().splitlines():
                    summary.feed_line(line)
            fsio.write_json_atomic(root / "jobs" / big_id / "summary.json", summary.to_dict(), durable=False)
            (root / "jobs" / big_id / "last_message.txt").write_text(f"All done. {marker}\n")
            small_id = past_job_id(now - timedelta(seconds=60))
            write_job(root, small_id, now - timedelta(seconds=60), 1)
            self._big = BigJob(root, big_id, small_id, marker, size, tail)
        return self._big
