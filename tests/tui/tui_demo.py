"""A deterministic demo store for the UI's tests and screenshots.

Writes job records straight into a store (as the runner would leave them): fixed ids
and timestamps, one job in every status, two codex sessions, realistic
`codex exec --json` output, an unreadable record. Nothing is started.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from jobstore import JobRecord, JobStatus, JobStore, Settings
from jobstore.events import Summary
from jobstore.fsio import append_line, create_empty, write_bytes_atomic, write_json_atomic
from jobstore.worktree_diff import WorktreeDiff, write_worktree_diff
from tui.app import CodexTuiApp
from tui.config import TuiConfig
from tui.workers import Task

NOW = datetime(2025, 6, 2, 9, 30, 0, tzinfo=UTC)
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def job_id_at(when: datetime, suffix: str) -> str:
    """A valid job id for a creation time (ids sort by creation time)."""
    ms = int(when.timestamp() * 1000)
    chars = []
    for _ in range(10):
        ms, digit = divmod(ms, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars)) + suffix


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def ev(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def item(kind: str, **fields: Any) -> str:
    return ev(kind, item=fields)


def usage_line(tin: int, tout: int) -> str:
    return ev(
        "turn.completed",
        usage={"input_tokens": tin, "cached_input_tokens": tin // 3, "output_tokens": tout},
    )


def running_output(session: str) -> list[str]:
    return [
        ev("thread.started", thread_id=session),
        ev("turn.started"),
        item(
            "item.completed",
            id="item_0",
            type="reasoning",
            text="**Finding the flaky test**\nThe retry test "
            "sleeps on a real clock; I will look at how the backoff is computed.",
        ),
        item(
            "item.started",
            id="item_1",
            type="command_execution",
            command="bash -lc 'pytest -q tests/test_http.py'",
            aggregated_output="",
            exit_code=None,
            status="in_progress",
        ),
        item(
            "item.completed",
            id="item_1",
            type="command_execution",
            command="bash -lc 'pytest -q tests/test_http.py'",
            aggregated_output="..F.....\nFAILED tests/test_http.py::test_retry_backoff - assert 0.31 < 0.3\n"
            "1 failed, 7 passed in 1.92s\n",
            exit_code=1,
            status="completed",
        ),
        item(
            "item.completed",
            id="item_2",
            type="todo_list",
            items=[
                {"text": "Reproduce the failure", "completed": True},
                {"text": "Inject a fake clock into RetryPolicy", "completed": False},
                {"text": "Run the whole suite", "completed": False},
            ],
        ),
        item(
            "item.completed",
            id="item_3",
            type="agent_message",
            text="The backoff uses time.monotonic() directly, so a slow CI machine pushes it over the limit. "
            "I'll pass a clock into RetryPolicy so the test can control time.",
        ),
        item(
            "item.completed",
            id="item_4",
            type="file_change",
            status="completed",
            changes=[
                {"path": "src/api/retry.py", "kind": "update"},
                {"path": "tests/test_http.py", "kind": "update"},
            ],
        ),
        item(
            "item.started",
            id="item_5",
            type="command_execution",
            command="bash -lc 'pytest -q'",
            aggregated_output="",
            exit_code=None,
            status="in_progress",
        ),
    ]


def steered_output(session: str) -> list[str]:
    """The running job's output after a person's message reached its turn (as the runner
    writes it: a user message item) and codex took it up."""
    return [
        *running_output(session)[:-1],
        item("item.completed", id="steer_1", type="user_message", text="Keep the fake clock in tests/ only"),
        item(
            "item.completed",
            id="item_6",
            type="agent_message",
            text="Understood: RetryPolicy takes a clock argument and only the tests pass a fake one.",
        ),
        running_output(session)[-1],
    ]


def waiting_output(session: str) -> list[str]:
    return [
        *running_output(session)[:2],  # the thread and its turn started
        item(
            "item.completed",
            id="item_0",
            type="reasoning",
            text="**Rebuilding the docs**\nThe build folders hold stale pages; I will remove them first.",
        ),
    ]


def done_output(session: str, answer: str, tin: int, tout: int) -> list[str]:
    return [
        ev("thread.started", thread_id=session),
        ev("turn.started"),
        item("item.completed", id="item_0", type="reasoning", text="Reading the module layout first."),
        item(
            "item.completed",
            id="item_1",
            type="command_execution",
            command="bash -lc 'rg -l payment src'",
            aggregated_output="src/payments/core.py\nsrc/payments/refunds.py\nsrc/payments/gateway.py\n"
            "src/payments/ledger.py\nsrc/payments/fees.py\nsrc/payments/webhooks.py\nsrc/payments/__init__.py\n",
            exit_code=0,
            status="completed",
        ),
        item(
            "item.completed",
            id="item_2",
            type="file_change",
            status="completed",
            changes=[
                {"path": "src/payments/gateway.py", "kind": "add"},
                {"path": "src/payments/core.py", "kind": "update"},
            ],
        ),
        item(
            "item.completed",
            id="item_3",
            type="error",
            message="Model metadata for `gpt-5.1-codex` not found",
        ),
        item("item.completed", id="item_4", type="agent_message", text=answer),
        usage_line(tin, tout),
    ]


def failed_output(session: str) -> list[str]:
    return [
        ev("thread.started", thread_id=session),
        ev("turn.started"),
        item(
            "item.completed",
            id="item_1",
            type="command_execution",
            command="bash -lc 'uv lock --upgrade'",
            aggregated_output="Resolved 84 packages in 1.2s\n",
            exit_code=0,
            status="completed",
        ),
        ev("error", message="stream disconnected before completion: rate limit exceeded"),
        ev("turn.failed", error={"message": "rate limit exceeded (429); retry after 20s"}),
    ]


def write_record(store: JobStore, record: JobRecord) -> None:
    """Write a record as the runner leaves it (the tests play the runner's part)."""
    write_json_atomic(store.layout.meta(record.job_id), record.to_dict())


@dataclass
class DemoStore:
    store: JobStore
    now: datetime
    jobs: dict[str, str] = field(default_factory=dict)  # name -> job id
    sessions: dict[str, str] = field(default_factory=dict)  # name -> session id


def build_demo_store(
    root: Path,
    *,
    now: datetime = NOW,
    projects: str = "/home/dev/src",
    running_pid: int | None = None,
    session_cwd: str | None = None,
    codex_bin: str | None = None,
    talk: bool = False,
) -> DemoStore:
    """A store with one job in every status. `running_pid` (default: this process)
    keeps the running job alive for `JobStore.get`; `session_cwd` overrides the
    folder of the sessions' turns (it must exist to continue one). `talk`: the running job
    runs through codex's app-server (a person can steer it), and a job waits for an answer."""
    store = JobStore(root, codex_bin=codex_bin, cancel_grace=2.0)
    store.ensure()
    demo = DemoStore(store, now)
    pid = running_pid if running_pid is not None else os.getpid()
    pid_started = psutil.Process(pid).create_time()
    sess_a = "0197a3c2-5e1f-7d40-9b2a-3c4d5e6f7a81"
    sess_b = "0197a3b0-11aa-7c3e-8f00-aa55cc77ee99"
    sess_c = "0197a1f4-2b3c-7e8f-a1b2-c3d4e5f6a7b8"
    demo.sessions = {"payments": sess_a, "flaky": sess_b, "deps": sess_c}
    api = f"{projects}/api"
    web = session_cwd or f"{projects}/web"
    infra = f"{projects}/infra"

    def write(
        name: str,
        minutes_ago: float,
        suffix: str,
        status: JobStatus,
        prompt: str,
        cwd: str,
        *,
        output: list[str] | None = None,
        ran: float | None = None,
        session: str | None = None,
        resumes: str | None = None,
        **fields: Any,
    ) -> str:
        created = now - timedelta(minutes=minutes_ago)
        job_id = job_id_at(created, suffix)
        started = created + timedelta(seconds=2) if status != JobStatus.QUEUED else None
        finished = started + timedelta(seconds=ran) if (started and ran is not None) else None
        record = JobRecord(
            job_id=job_id,
            status=status,
            kind=fields.pop("kind", "run"),
            prompt=prompt,
            cwd=cwd,
            approval_policy=fields.pop("approval_policy", "auto-edit"),
            created_at=iso(created),
            started_at=iso(started) if started else None,
            finished_at=iso(finished) if finished else None,
            session_id=session,
            resumes_session=resumes,
            codex_version="0.169.0",
            **fields,
        )
        store.layout.job_dir(job_id).mkdir(mode=0o700)
        lines = output or []
        write_bytes_atomic(store.layout.output(job_id), "".join(line + "\n" for line in lines).encode())
        write_record(store, record)
        summary = Summary()
        for line in lines:
            summary.feed_line(line)
        if lines:
            write_json_atomic(store.layout.summary(job_id), summary.to_dict())
        if summary.last_agent_message and status.is_terminal:
            write_bytes_atomic(store.layout.last_message(job_id), summary.last_agent_message.encode())
        if session:
            index = store.layout.session_index(session)
            append_line(index, job_id)
            # Sessions are listed by their index's mtime: make that the turn's time, not the clock's.
            stamp = (finished or started or created).timestamp()
            os.utime(index, (stamp, stamp))
        if status == JobStatus.QUEUED:
            create_empty(store.layout.queued_marker(job_id))
        if status.is_started:
            create_empty(store.layout.running_marker(job_id))
        demo.jobs[name] = job_id
        return job_id

    write(
        "payments_1",
        185,
        "p1a1",
        JobStatus.DONE,
        "Refactor the payment module into smaller services\n\nKeep the public API stable.",
        web,
        output=done_output(
            sess_a,
            "Split payments into gateway, ledger and fees services; the public "
            "API is unchanged and all 212 tests pass.",
            48_210,
            3_904,
        ),
        ran=412,
        session=sess_a,
        exit_code=0,
    )
    write(
        "deps",
        150,
        "d3p5",
        JobStatus.ERROR,
        "Upgrade the dependencies and fix what breaks",
        infra,
        output=failed_output(sess_c),
        ran=95,
        session=sess_c,
        exit_code=1,
        error="codex exited with code 1: rate limit exceeded (429); retry after 20s",
    )
    write(
        "payments_2",
        120,
        "p2b2",
        JobStatus.DONE,
        "Now add tests for the new gateway service",
        web,
        output=done_output(
            sess_a,
            "Added 18 tests for GatewayService (timeouts, retries, signature "
            "checks); coverage of src/payments is now 94%.",
            61_002,
            5_117,
        ),
        ran=288,
        session=sess_a,
        resumes=sess_a,
        exit_code=0,
    )
    write(
        "review",
        95,
        "r3v1",
        JobStatus.DONE,
        "Review uncommitted changes",
        api,
        kind="review",
        approval_policy="suggest",
        output=[
            ev("thread.started", thread_id="0197a2aa-0000-7000-8000-000000000001"),
            ev("turn.started"),
            item("item.completed", id="i1", type="agent_message", text="Review: no issues found."),
            usage_line(9_870, 402),
        ],
        ran=41,
        session="0197a2aa-0000-7000-8000-000000000001",
        exit_code=0,
    )
    write(
        "cancelled",
        70,
        "c4nc",
        JobStatus.CANCELLED,
        "Migrate the database schema to the new tenant model",
        infra,
        output=running_output("0197a2c0-7777-7888-8999-aaaabbbbcccc")[:3],
        ran=33,
        exit_code=-15,
        error="cancelled on request",
        cancel_requested_at=iso(now - timedelta(minutes=69)),
    )
    write(
        "lost",
        45,
        "7a5t",
        JobStatus.LOST,
        "Benchmark the search endpoint under load",
        api,
        output=running_output("0197a2ff-1111-7222-8333-444455556666")[:4],
        ran=600,
        error="the job's processes are gone and no end was recorded "
        "(its runner was killed, or the machine restarted)",
    )
    # An unreadable record: a truncated meta.json.
    bad_id = job_id_at(now - timedelta(minutes=20), "x0x0")
    store.layout.job_dir(bad_id).mkdir(mode=0o700)
    write_bytes_atomic(store.layout.meta(bad_id), b'{"job_id": "' + bad_id.encode() + b'", "status": "ru')
    demo.jobs["unreadable"] = bad_id
    write(
        "running",
        3,
        "r7n2",
        JobStatus.RUNNING,
        "Fix the flaky retry test in tests/test_http.py",
        api,
        output=steered_output(sess_b) if talk else running_output(sess_b),
        session=sess_b,
        pid=pid,
        pid_started_at=pid_started,
        codex_path="app-server" if talk else None,
    )
    if talk:
        write(
            "waiting",
            8,
            "w4a7",
            JobStatus.WAITING,
            "Clean the build outputs and rebuild the docs",
            web,
            output=waiting_output("0197a3d0-4444-7555-8666-777788889999"),
            session="0197a3d0-4444-7555-8666-777788889999",
            approval_policy="untrusted",
            pid=pid,
            pid_started_at=pid_started,
            codex_path="app-server",
            question={
                "id": 1,
                "kind": "command",
                # What codex asks is model-written: shown made safe (the escape never reaches the terminal).
                "command": "rm -rf build/ docs/_build\x1b]0;pwned\x07",
                "cwd": web,
                "reason": "remove stale build outputs before rebuilding",
                "asked_at": iso(now - timedelta(minutes=2, seconds=5)),
            },
        )
    write("queued", 0.5, "q8e9", JobStatus.QUEUED, "Add OpenAPI docs for the /v2 endpoints", api)
    return demo


def write_many_jobs(root: Path, count: int, *, now: datetime = NOW) -> list[str]:
    """`count` finished jobs, written fast (no fsync): for load tests of big stores."""
    store = JobStore(root)
    store.ensure()
    ids = []
    for n in range(count):
        created = now - timedelta(minutes=count - n)
        job_id = job_id_at(created, f"{n % 65536:04x}")
        record = JobRecord(
            job_id=job_id,
            status=JobStatus.DONE if n % 7 else JobStatus.ERROR,
            kind="run",
            prompt=f"Job number {n}: tidy up module {n % 50}",
            cwd=f"/home/dev/src/project{n % 12}",
            approval_policy="auto-edit",
            created_at=iso(created),
            started_at=iso(created + timedelta(seconds=1)),
            finished_at=iso(created + timedelta(seconds=30)),
            exit_code=0,
        )
        folder = store.layout.job_dir(job_id)
        folder.mkdir()
        (folder / "meta.json").write_text(json.dumps(record.to_dict()))
        (folder / "output.txt").write_text("")
        ids.append(job_id)
    return ids


def tui_config(store_path: Path, *, now: datetime, **overrides: Any) -> TuiConfig:
    """A deterministic configuration: frozen clock, no watcher, no animation, no periodic check."""
    values: dict[str, Any] = {
        "clock": lambda: now,
        "watch": False,
        "spinner": False,
        "animations": False,
        "theme": "textual-dark",
        "reconcile": False,
        "rescan_seconds": 0.0,
        "clock_tick_seconds": 0.0,
        "launch_cwd": store_path.parent,
    }
    values.update(overrides)
    return TuiConfig(Settings(store_root=store_path.absolute()), **values)


def is_settled(app: CodexTuiApp) -> bool:
    """Nothing being read or waiting to be read: every worker but the watcher finished, no
    read owed, the sessions and the output read."""
    screen = app.jobs_screen
    busy = any(not worker.is_finished for worker in app.workers if worker.group != Task.WATCH)
    sessions = screen.sessions_view
    return (
        screen.reads.idle
        and not busy
        and (sessions is None or (sessions.is_mounted and not sessions.model.reading))
        and not screen.output.reading
    )


async def settle(pilot: Any, timeout: float = 10.0) -> None:
    """Wait until the app has read everything it was asked to read, then let it paint."""
    app = pilot.app
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause(0.02)
        if is_settled(app):
            break
    else:
        raise AssertionError("the app did not settle")
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


WORKTREE_DIFF = """diff --git a/src/retry.py b/src/retry.py
index 3b18e51..a9c2f04 100644
--- a/src/retry.py
+++ b/src/retry.py
@@ -1,4 +1,5 @@
 def backoff(attempt):
-    return 2 ** attempt
+    # Capped, so a long outage never waits for hours.
+    return min(2 ** attempt, 60)
"""


def as_worktree_job(demo: DemoStore, name: str) -> str:
    """The demo's ended job `name`, made a worktree job whose recorded change is WORKTREE_DIFF
    (its worktree's folder does not exist here: no size is shown, the snapshot is the same anywhere)."""
    job_id = demo.jobs[name]
    record = demo.store.read_record(job_id)
    record.worktree = True
    record.worktree_repo = record.cwd
    record.worktree_path = f"/home/dev/.codex-async/worktrees/{job_id}"
    record.worktree_branch = f"codex/{job_id}"
    record.worktree_owner = job_id
    write_record(demo.store, record)
    start = WorktreeDiff(record.cwd, record.started_at or "", "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    ended = WorktreeDiff(
        start.repo,
        start.started_at,
        start.start_tree,
        ended_at=record.finished_at,
        end_tree="a9c2f04a9c2f04a9c2f04a9c2f04a9c2f04a9c2f",
        diff=WORKTREE_DIFF,
        files=[("M", "src/retry.py")],
    )
    write_worktree_diff(demo.store.layout, job_id, ended)
    return job_id


@asynccontextmanager
async def job_output_open(store: JobStore, job_id: str) -> AsyncIterator[tuple[Any, Any]]:
    """codex-tui on `store` (clock now) with the output of `job_id` shown: (pilot, its OutputLog)."""
    from tui.widgets.output_log import OutputLog

    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC)), store=store)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(job_id)
        await settle(pilot)
        yield pilot, app.query_one(OutputLog)
