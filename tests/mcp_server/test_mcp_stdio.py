"""The installed `codex-async-mcp` console script, driven over stdio by the official MCP client.

Each test starts real server processes over the store of the `store` fixture (whose
teardown cancels whatever still runs) with the fake codex.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import ClientSession

from jobstore import JobStatus, JobStore, RunOptions
from tests.conftest import stop_everything
from tests.helpers import wait_until
from tests.mcp_server.mcp_helpers import (
    call_error,
    call_ok,
    server_command,
    server_env,
    stdio_session,
    wait_done,
)
from tests.mcp_server.mcp_helpers import start_job as start


@pytest.fixture
def env(store: JobStore, fake_codex: Path, tmp_path: Path) -> dict[str, str]:
    return server_env(store.root, fake_codex, CODEX_ASYNC_LOG_FILE=str(tmp_path / "server.log"))


@pytest.fixture
def stderr_path(tmp_path: Path) -> Path:
    return tmp_path / "server.stderr"


async def poll_until(session: ClientSession, job_id: str, check: Any, timeout: float = 20) -> dict[str, Any]:
    """codex_poll until `check(result)` holds (a wait on state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await call_ok(session, "codex_poll", {"job_id": job_id})
        if check(result):
            return result
        assert time.monotonic() < deadline, f"job {job_id} never got there: {result}"
        await anyio.sleep(0.05)


@pytest.mark.usefixtures("repo")  # codex reviews only inside a git repository
async def test_full_flow_over_stdio(
    env: dict[str, str], store: JobStore, workdir: Path, tmp_path: Path, stderr_path: Path
) -> None:
    async with stdio_session(env, stderr_path=stderr_path) as session:
        pong = await call_ok(session, "ping")
        assert pong["ok"] and pong["codex_version"] == "0.169.0"
        assert pong["store_root"] == str(store.root)

        # start, wait (with progress), poll
        progress: list[float] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        started = await start(session, workdir, "first turn sleep=1.2")
        assert started["status"] == "running"
        assert store.get(started["job_id"]).status == JobStatus.RUNNING  # visible in the store at once
        done = await call_ok(
            session,
            "codex_wait",
            {"job_id": started["job_id"], "timeout_seconds": 30},
            progress=on_progress,
        )
        assert done["status"] == "done" and done["last_message"] == "Done: first turn sleep=1.2"
        assert len(progress) >= 2
        polled = await call_ok(session, "codex_poll", {"job_id": started["job_id"]})
        assert "$ sleep  [exit 0]" in polled["output"].splitlines()

        # a second turn in the same session
        session_id = done["session_id"]
        second = await start(session, workdir, "second turn", session_id=session_id)
        await wait_done(session, second["job_id"])
        sessions = await call_ok(session, "codex_sessions", {})
        assert sessions["sessions"][0]["session_id"] == session_id
        assert [t["job_id"] for t in sessions["sessions"][0]["turns"]] == [
            started["job_id"],
            second["job_id"],
        ]

        # review
        review = await call_ok(session, "codex_review", {"cwd": str(workdir), "commit": "abc123"})
        reviewed = await wait_done(session, review["job_id"])
        assert reviewed["last_message"] == "Review: no issues found."

        # cancel mid-run
        slow = await start(session, workdir, "slow sleep=60")
        await poll_until(session, slow["job_id"], lambda r: r["commands"])
        cancelled = await call_ok(session, "codex_cancel", {"job_id": slow["job_id"]})
        assert cancelled["changed"] and cancelled["status"] == "cancelled"
        record = store.get(slow["job_id"])
        assert (
            not psutil.pid_exists(record.codex_pid) or psutil.Process(record.codex_pid).status() == "zombie"
        )

        # batch
        batch = await call_ok(session, "codex_batch", {"prompts": ["b1", "b2", "b3"], "cwd": str(workdir)})
        for job in batch["jobs"]:
            assert (await wait_done(session, job["job_id"]))["status"] == "done"

        listed = await call_ok(session, "codex_list", {"limit": 50})
        ids = [j["job_id"] for j in listed["jobs"]]
        assert ids == sorted(ids, reverse=True)
        assert set(ids) == {started["job_id"], second["job_id"], review["job_id"], slow["job_id"]} | {
            j["job_id"] for j in batch["jobs"]
        }

        # a refusal over the wire
        message = await call_error(session, "codex_poll", {"job_id": "../../etc/passwd"})
        assert "invalid job id" in message

    log = (tmp_path / "server.log").read_text()
    assert "serving on stdio" in log
    assert "serving on stdio" in stderr_path.read_text()


async def test_jobs_are_shared_between_server_processes(env: dict[str, str], workdir: Path) -> None:
    async with stdio_session(env) as first, stdio_session(env) as second:
        job = await start(first, workdir, "long sleep=60")
        seen = await poll_until(second, job["job_id"], lambda r: r["status"] == "running")
        assert seen["pid"] == job["pid"]
        cancelled = await call_ok(second, "codex_cancel", {"job_id": job["job_id"]})
        assert cancelled["status"] == "cancelled"
        assert (await call_ok(first, "codex_poll", {"job_id": job["job_id"]}))["status"] == "cancelled"
        quick = await start(second, workdir, "quick")
        assert (await wait_done(first, quick["job_id"]))["last_message"] == "Done: quick"


async def test_jobs_survive_a_killed_server(env: dict[str, str], workdir: Path) -> None:
    async with stdio_session(env) as session:
        server_pid = (await call_ok(session, "ping"))["server_pid"]
        ok = await start(session, workdir, "finishes fine")
        failed = await start(session, workdir, "this will fail")
        # Ends only when `release` appears, whatever the machine's load: still running below.
        slow = await start(session, workdir, "outlives the server untilfile")
        await wait_done(session, ok["job_id"])
        await wait_done(session, failed["job_id"])
        await poll_until(session, slow["job_id"], lambda r: r["commands"])
        os.kill(server_pid, signal.SIGKILL)
        wait_until(
            lambda: not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == "zombie"
        )

    async with stdio_session(env) as session:
        assert (await call_ok(session, "ping"))["server_pid"] != server_pid
        done = await call_ok(session, "codex_poll", {"job_id": ok["job_id"]})
        assert done["status"] == "done" and done["exit_code"] == 0
        error = await call_ok(session, "codex_poll", {"job_id": failed["job_id"]})
        assert error["status"] == "error" and error["exit_code"] == 1
        running = await call_ok(session, "codex_poll", {"job_id": slow["job_id"]})
        assert running["status"] == "running", running  # its runner is detached: it carries on
        (workdir / "release").touch()
        ended = await wait_done(session, slow["job_id"])
        assert ended["status"] == "done" and ended["exit_code"] == 0


async def test_codex_missing_over_stdio(store: JobStore, tmp_path: Path, workdir: Path) -> None:
    env = server_env(store.root, tmp_path / "nowhere" / "codex")
    async with stdio_session(env) as session:
        pong = await call_ok(session, "ping")
        assert pong["codex_version"] is None and "codex CLI not found" in pong["codex_error"]
        message = await call_error(session, "codex_start", {"prompt": "x", "cwd": str(workdir)})
        assert "codex CLI not found" in message
    assert not (store.root / "jobs").exists() or not list((store.root / "jobs").iterdir())


async def test_python_dash_m_with_a_relative_store_flag(
    tmp_path: Path, fake_codex: Path, workdir: Path
) -> None:
    env = server_env(tmp_path / "ignored", fake_codex)
    args = ["-m", "mcp_server", "--store", "rel-store"]
    async with stdio_session(env, command=sys.executable, args=args, cwd=tmp_path) as session:
        pong = await call_ok(session, "ping")
        assert pong["store_root"] == str(tmp_path / "rel-store")
        job = await start(session, workdir, "in the flagged store")
        assert (await wait_done(session, job["job_id"]))["status"] == "done"
    assert JobStore(tmp_path / "rel-store").job_ids() == [job["job_id"]]
    assert not (tmp_path / "ignored").exists()


def test_stdout_carries_only_the_protocol(env: dict[str, str], tmp_path: Path) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "ping", "arguments": {}}},
    ]
    lines = []
    with subprocess.Popen(
        [server_command()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for message in messages:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            if "id" in message:
                lines.append(proc.stdout.readline())
        rest, stderr = proc.communicate(timeout=30)  # closes stdin: the server exits
    assert proc.returncode == 0, stderr.decode()
    assert rest == b""
    answers = [json.loads(line) for line in lines]
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert all(a["jsonrpc"] == "2.0" and "result" in a for a in answers)
    assert answers[0]["result"]["serverInfo"]["name"] == "codex-async"
    assert answers[2]["result"]["structuredContent"]["ok"] is True
    assert b"serving on stdio" in stderr  # logs went to stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "CODEX_ASYNC_MAX_POLICY",
            "yolo",
            "is not a valid policy; use one of: suggest, auto-edit, full-auto",
        ),
        ("CODEX_ASYNC_MAX_POLICY", "auto_edit", "is not a valid policy"),
        ("CODEX_ASYNC_MAX_JOBS", "0", "is out of range"),
    ],
)
def test_invalid_settings_refuse_to_start(
    env: dict[str, str], store: JobStore, name: str, value: str, expected: str
) -> None:
    done = subprocess.run(
        [server_command()],
        env={**env, name: value},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert f"{name}={value!r}" in done.stderr.decode() and expected in done.stderr.decode()
    assert not store.root.exists()


async def test_max_policy_cap_over_stdio(env: dict[str, str], store: JobStore, workdir: Path) -> None:
    async with stdio_session({**env, "CODEX_ASYNC_MAX_POLICY": "suggest"}) as session:
        assert (await call_ok(session, "ping"))["max_policy"] == "suggest"
        message = await call_error(
            session,
            "codex_start",
            {
                "prompt": "x",
                "cwd": str(workdir),
                "approval_policy": "suggest",
                "sandbox": "danger-full-access",
            },
        )
        assert "refused" in message
        job = await start(session, workdir, "read only", approval_policy="suggest")
        await wait_done(session, job["job_id"])
    assert [j for j in store.job_ids()] == [job["job_id"]]


async def test_server_start_settles_a_crashed_store(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    """A job's runner and codex died without recording the end, and a job waits behind it:
    the server's start-up reconcile marks the dead job lost and starts the queued one."""
    crashed = JobStore(tmp_path / "crashed", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=2.0)
    try:
        first = crashed.start(RunOptions.checked(prompt="dies sleep=60", cwd=str(workdir)))
        second = crashed.start(RunOptions.checked(prompt="waits behind it", cwd=str(workdir)))
        assert second.status == JobStatus.QUEUED
        record = wait_until(lambda: (r := crashed.read_record(first.job_id)).codex_pgid and r)
        os.kill(record.pid, signal.SIGKILL)
        os.killpg(record.codex_pgid, signal.SIGKILL)
        # Reads are pure: the store reports the job lost without recording it.
        wait_until(lambda: crashed.get(first.job_id).status == JobStatus.LOST)
        assert crashed.read_record(first.job_id).status == JobStatus.RUNNING  # nobody noticed yet
        assert crashed.read_record(second.job_id).status == JobStatus.QUEUED

        env = server_env(crashed.root, fake_codex, CODEX_ASYNC_MAX_JOBS="1")
        async with stdio_session(env) as session:
            done = await wait_done(session, second.job_id)  # only the start-up reconcile starts it
            assert done["status"] == "done"
            lost = await call_ok(session, "codex_poll", {"job_id": first.job_id})
            assert lost["status"] == "lost" and "gone" in lost["error"]
    finally:
        stop_everything(crashed)
