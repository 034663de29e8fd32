"""The MCP server on a team's queue: `codex-async-mcp` with `CODEX_ASYNC_REDIS` set, over stdio
with the official MCP client, a real redis-server and a real worker process with a store of its
own (a stand-in for another machine). Starts go to the team, team jobs are read from Redis and
rendered as the worker's own server renders them, a cancel lands on the worker's machine, MCP
tasks are team jobs, and bad input gets a clear error and changes nothing."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import ClientSession

from jobstore import JobStatus, JobStore
from tests.helpers import wait_until
from tests.mcp_server.mcp_helpers import call_error, call_ok, server_env, stdio_session
from tests.mcp_server.test_tasks import check_result, check_task_fields, task_client
from tests.team.conftest import codex_runs
from tests.team.test_team_redis import Machine


@pytest.fixture
def team_env(store: JobStore, fake_codex: Path, tmp_path: Path, redis_url: str) -> dict[str, str]:
    """A server on the team's queue, over a store of its own (not the worker's)."""
    return server_env(
        store.root, fake_codex, CODEX_ASYNC_REDIS=redis_url, CODEX_ASYNC_LOG_FILE=str(tmp_path / "team.log")
    )


def local_env(machine: Machine, fake_codex: Path, tmp_path: Path) -> dict[str, str]:
    """A server without a team over the worker's own store: what its machine's person sees."""
    return server_env(machine.store.root, fake_codex, CODEX_ASYNC_LOG_FILE=str(tmp_path / "local.log"))


async def poll_until(session: ClientSession, job_id: str, check: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not check(result := await call_ok(session, "codex_poll", {"job_id": job_id})):
        assert time.monotonic() < deadline, f"team job {job_id} never got there: {result}"
        await anyio.sleep(0.05)
    return result


# What the worker's own server and the team's server both show of one job.
SAME_FIELDS = ("status", "exit_code", "prompt", "approval_policy", "session_id", "last_message", "output")
SAME_FIELDS += ("output_lines", "commands", "commands_total", "file_changes", "usage")


async def test_a_team_job_runs_on_the_workers_machine_and_reads_as_there(
    machine_a: Machine,
    team_env: dict[str, str],
    store: JobStore,
    workdir: Path,
    fake_codex: Path,
    tmp_path: Path,
    argv_log: Path,
) -> None:
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with stdio_session(team_env) as session:
        started = await call_ok(
            session, "codex_start", {"prompt": "garbage lines=30 team-one", "cwd": str(workdir)}
        )
        job_id = started["job_id"]
        assert job_id.startswith("t") and started["status"] == "queued" and started["pid"] is None
        waited = await call_ok(
            session, "codex_wait", {"job_id": job_id, "timeout_seconds": 30}, progress=on_progress
        )
        assert waited["finished"] and waited["status"] == "done", waited
        assert waited["host"] == "machine-a" and waited["local_job_id"]
        polled = await call_ok(session, "codex_poll", {"job_id": job_id, "tail_lines": 40})
        listed = await call_ok(session, "codex_list", {})
    assert store.job_ids() == []  # nothing ran, nothing was written in the server's own store
    assert any(f"team job {job_id}" in message for message in progress), progress
    local_job_id = polled["local_job_id"]
    assert machine_a.store.get(local_job_id).client == f"team:{job_id}"
    async with stdio_session(local_env(machine_a, fake_codex, tmp_path)) as there:
        local_poll = await call_ok(there, "codex_poll", {"job_id": local_job_id, "tail_lines": 40})
        local_wait = await call_ok(there, "codex_wait", {"job_id": local_job_id, "timeout_seconds": 5})
    assert polled["output_lines"] > 30 and "\ufffd" in polled["output"]  # invalid bytes, made visible
    for field in SAME_FIELDS:
        assert polled[field] == local_poll[field], field
        assert waited[field] == local_wait[field], field
    assert polled["cwd"] == str(workdir) and polled["requested_host"] is None
    assert polled["next"].endswith(f"session_id={polled['session_id']!r}, host='machine-a')")
    (entry,) = listed["jobs"]
    assert (entry["job_id"], entry["status"], entry["host"]) == (job_id, "done", "machine-a")
    assert len(codex_runs(argv_log, "team-one")) == 1


async def test_a_cancel_through_the_team_stops_the_whole_tree(
    machine_a: Machine, team_env: dict[str, str], workdir: Path
) -> None:
    async with stdio_session(team_env) as session:
        job_id = (
            await call_ok(session, "codex_start", {"prompt": "child team-cancel", "cwd": str(workdir)})
        )["job_id"]
        running = await poll_until(session, job_id, lambda r: r["status"] == "running")
        local = machine_a.store.get(running["local_job_id"])
        record = wait_until(lambda: (r := machine_a.store.get(local.job_id)).codex_pid and r)
        runner = psutil.Process(record.pid)
        descendants = wait_until(lambda: len(runner.children(recursive=True)) >= 3 and runner.children(True))
        tree = [runner, *descendants]

        cancelled = await call_ok(session, "codex_cancel", {"job_id": job_id})
        assert cancelled["changed"] is True and "machine-a stops it" in cancelled["message"]
        ended = await call_ok(session, "codex_wait", {"job_id": job_id, "timeout_seconds": 30})
        assert ended["status"] == "cancelled" and ended["finished"]
        wait_until(lambda: not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE])
        assert machine_a.store.get(local.job_id).status is JobStatus.CANCELLED
        again = await call_ok(session, "codex_cancel", {"job_id": job_id})
        assert again["changed"] is False and "already ended" in again["message"]


async def test_bad_input_gets_a_clear_error_and_changes_nothing(
    team_env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    unknown = "t" + "0" * 32
    async with stdio_session(team_env) as session:
        for tool in ("codex_poll", "codex_wait", "codex_cancel"):
            assert "no team job" in await call_error(session, tool, {"job_id": unknown})
        bad_host = await call_error(
            session, "codex_start", {"prompt": "x", "cwd": str(workdir), "host": "no such/host"}
        )
        assert "host must be 1-64 letters" in bad_host
        session_elsewhere = await call_error(
            session,
            "codex_start",
            {"prompt": "x", "cwd": str(workdir), "session_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"},
        )
        assert "give host=<that machine>" in session_elsewhere
        assert "codex_review does not run on the team's queue" in await call_error(
            session, "codex_review", {"cwd": str(workdir)}
        )
        assert "does not reach across machines" in await call_error(session, "codex_sessions", {})
        steer = await call_error(session, "codex_steer", {"job_id": unknown, "message": "hi"})
        assert "codex-async steer <local job id>" in steer
        assert (await call_ok(session, "codex_list", {}))["count"] == 0
    assert store.job_ids() == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def test_an_unreachable_redis_is_said_and_nothing_starts(
    store: JobStore, fake_codex: Path, tmp_path: Path, workdir: Path
) -> None:
    env = server_env(
        store.root, fake_codex, CODEX_ASYNC_REDIS=f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    )
    async with stdio_session(env) as session:
        refused = await call_error(session, "codex_start", {"prompt": "x", "cwd": str(workdir)})
        assert "did not answer" in refused and "nothing was changed" in refused and "hunter2" not in refused
        assert "did not answer" in await call_error(session, "codex_list", {})
        pong = await call_ok(session, "ping")  # the server itself is fine
        assert pong["ok"]
    assert store.job_ids() == []


async def test_a_codex_task_is_a_team_job_any_server_answers(
    machine_a: Machine, team_env: dict[str, str], workdir: Path
) -> None:
    async with task_client(team_env) as tasks:
        created = await tasks.start("codex", {"prompt": "sleep=1 team-task", "cwd": str(workdir)})
        task_id = created["taskId"]
        assert task_id.startswith("t") and created["status"] == "working"
        check_task_fields(created, task_id)
        refused = await tasks.call("codex_review", {"cwd": str(workdir)})
        assert refused.is_error
    async with task_client(team_env) as other:  # another server process: the task is in Redis
        done = await other.until_done(task_id)
        result = await check_result(other, "codex", done)
        answer = result["structuredContent"]
        assert result["isError"] is False and answer["job_id"] == task_id and answer["status"] == "done"
        assert answer["answer"] == "Done: sleep=1 team-task"
        cancelled = await other.request("tasks/cancel", task_id)  # ended: nothing changes
        assert cancelled["status"] == "completed"
        long = await other.start("codex", {"prompt": "sleep=60 team-task-cancel", "cwd": str(workdir)})
        await other.until(
            long["taskId"], lambda t: "codex running on machine-a" in (t.get("statusMessage") or "")
        )
        await other.request("tasks/cancel", long["taskId"])
        ended = await other.until(long["taskId"], lambda t: t["status"] != "working")
        assert ended["status"] == "cancelled"


async def test_a_worktree_team_jobs_diff_and_apply_reach_another_machine_through_redis(
    machine_a: Machine, team_env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    from tests.worktree_repo import UNCOMMITTED_NOTES, person_repository

    repo = person_repository(workdir / "repo")  # the path the team shares: served by machine-a
    index_before = (repo / ".git" / "index").read_bytes()
    async with stdio_session(team_env) as session:
        started = await call_ok(
            session,
            "codex_start",
            {"prompt": "write=made.py write=notes.txt", "cwd": str(repo), "worktree": True},
        )
        job_id = started["job_id"]
        waited = await call_ok(session, "codex_wait", {"job_id": job_id, "timeout_seconds": 30})
        assert waited["status"] == "done", waited
        local_id = waited["local_job_id"]
        # The worker's worktree, branch and private git folder go: only the published patch is left.
        machine_a.store.discard(local_id)
        assert not machine_a.store.layout.worktree_git_dir(local_id).exists()
        assert not (repo / "made.py").exists()

        polled = await call_ok(session, "codex_poll", {"job_id": job_id, "include_diff": True})
        diff = polled["worktree_diff"]
        assert diff["ended"] and sorted(diff["files"], key=str) == sorted(
            [{"path": "made.py", "kind": "A"}, {"path": "notes.txt", "kind": "M"}], key=str
        )
        assert "+written by the job: made.py" in diff["diff"] and diff["error"] is None

        applied = await call_ok(session, "codex_apply", {"job_id": job_id})
        assert applied["applied"] and sorted(applied["changed_files"]) == ["made.py", "notes.txt"]
        assert applied["branch"] == f"codex/{local_id}" and applied["worktree"].startswith("machine-a:")
        again = await call_error(session, "codex_apply", {"job_id": job_id})
        refused = await call_error(session, "codex_discard", {"job_id": job_id})
    assert (repo / "made.py").read_text() == "written by the job: made.py\n"
    assert (repo / "notes.txt").read_text() == UNCOMMITTED_NOTES + "written by the job: notes.txt\n"
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert "applied already" in again
    assert "machine that runs it" in refused and local_id not in store.job_ids()
