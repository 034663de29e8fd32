"""The MCP server through FastMCP's in-memory client, with the fake codex.

Every successful call is checked against the tool's declared output schema (call_ok),
every refusal is an isError result with a message and no traceback (call_error).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, redirect_stderr
from pathlib import Path
from typing import Any, get_args

import psutil
import pytest
from fastmcp import Client

from jobstore import APPROVAL_POLICIES, REASONING_EFFORTS, SANDBOXES, JobStatus, JobStore, Settings
from mcp_server import arguments
from mcp_server.__main__ import main as server_main
from mcp_server.render import render_text
from mcp_server.schemas import EntryStatusName, JobStatusName
from mcp_server.server import create_server
from mcp_server.settings import ServerSettings
from tests.conftest import stop_everything
from tests.helpers import wait_until
from tests.mcp_server.mcp_helpers import ALL_TOOLS as TOOLS
from tests.mcp_server.mcp_helpers import ProgressCallback, call_error, call_ok, result_text, wait_done
from tests.mcp_server.mcp_helpers import start_job as start

UNKNOWN_JOB = "0000000000zzzz"


class InMemorySession:
    """FastMCP's in-memory Client, shaped like an MCP ClientSession for the shared helpers."""

    def __init__(self, client: Client[Any]) -> None:
        self.client = client

    async def list_tools(self) -> Any:
        return await self.client.list_tools_mcp()

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        progress_callback: ProgressCallback | None = None,
    ) -> Any:
        return await self.client.call_tool_mcp(name, arguments or {}, progress_handler=progress_callback)


@asynccontextmanager
async def connect(store: JobStore, settings: ServerSettings | None = None) -> AsyncIterator[InMemorySession]:
    server = create_server(store, settings or ServerSettings())
    async with Client(server) as client:
        yield InMemorySession(client)


def snapshot(store: JobStore) -> dict[str, list[tuple[str, int]]]:
    """Jobs, queue entries and session indexes of the store: to show that a refused call
    created no job. (What runners write inside their own job folders is left out: jobs that
    run or have just ended may still be writing there.)"""
    found: dict[str, list[tuple[str, int]]] = {}
    for folder in (store.layout.jobs_dir, store.layout.queue_dir, store.layout.sessions_dir):
        entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.is_dir() else []
        found[folder.name] = [(e.name, 0 if e.is_dir() else e.stat().st_size) for e in entries]
    return found


# ---------------------------------------------------------------- the tools as listed


async def test_tools_and_schemas_are_declared(store: JobStore) -> None:
    async with connect(store) as session:
        listed = (await session.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object", tool.name
        assert tool.input_schema.get("type") == "object"
    by_name = {t.name: t for t in listed}
    # The descriptions teach the start / wait / wait-again loop.
    assert "codex_wait" in by_name["codex_start"].description
    assert "again" in by_name["codex_wait"].description
    assert "auto-edit" in by_name["codex_start"].description
    start_args = by_name["codex_start"].input_schema["properties"]
    assert start_args["approval_policy"]["default"] == "auto-edit"
    assert set(start_args["approval_policy"]["enum"]) == set(APPROVAL_POLICIES)
    assert by_name["codex_wait"].input_schema["properties"]["timeout_seconds"]["default"] == 50


async def test_every_tool_result_matches_its_declared_schema(
    store: JobStore, workdir: Path, person_repo: Path
) -> None:
    # call_ok validates structuredContent against the outputSchema from tools/list.
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)  # codex reviews a repository
    cwd = str(workdir)
    async with connect(store) as session:
        job = await call_ok(session, "codex_start", {"prompt": "schema check", "cwd": cwd})
        job_id = job["job_id"]
        calls: list[tuple[str, dict[str, Any]]] = [
            ("codex_wait", {"job_id": job_id, "timeout_seconds": 30}),
            ("codex_poll", {"job_id": job_id}),
            ("codex_list", {}),
            ("codex_cancel", {"job_id": job_id}),
            ("codex_review", {"cwd": cwd}),
            ("codex_sessions", {}),
            ("codex", {"prompt": "one call", "cwd": cwd}),
            ("codex_batch", {"prompts": ["a", "b"], "cwd": cwd}),
            ("ping", {}),
        ]
        for name, arguments in calls:
            await call_ok(session, name, arguments)
        worktree_job = await call_ok(
            session, "codex", {"prompt": "write=new.txt", "cwd": str(person_repo), "worktree": True}
        )
        assert worktree_job["status"] == "done"
        for name in ("codex_apply", "codex_discard"):
            calls.append((name, {"job_id": worktree_job["job_id"]}))
            await call_ok(session, name, calls[-1][1])
        assert (person_repo / "new.txt").exists()
        # The fake codex runs as `codex exec`, which cannot be talked to: a clear error each.
        # Their results are checked against their schemas with the real codex's app-server
        # (tests/e2e/test_mcp_talk_real_codex.py).
        talk = {
            "codex_steer": {"message": "hi"},
            "codex_interrupt": {},
            "codex_answer": {"decision": "approve"},
        }
        for name, arguments in talk.items():
            error = await call_error(session, name, {"job_id": job_id, **arguments})
            assert "already ended" in error
    assert {"codex_start"} | {name for name, _ in calls} | set(talk) == TOOLS


def test_argument_enums_match_the_store() -> None:
    assert get_args(arguments.ApprovalPolicy) == APPROVAL_POLICIES
    assert get_args(arguments.Sandbox) == SANDBOXES
    assert get_args(arguments.ReasoningEffort) == REASONING_EFFORTS
    assert set(get_args(JobStatusName)) == {s.value for s in JobStatus}
    assert set(get_args(EntryStatusName)) == {s.value for s in JobStatus} | {"unreadable"}


# ---------------------------------------------------------------- start, wait, poll


async def test_start_wait_poll(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        started = await start(session, workdir, "say hello sleep=1.5")
        job_id = started["job_id"]
        assert started["status"] in ("running", "queued")
        assert started["kind"] == "run"
        assert isinstance(started["pid"], int)
        assert "codex_wait" in started["next"] and job_id in started["next"]
        # Visible in the store at once.
        assert store.get(job_id).status in (JobStatus.RUNNING, JobStatus.QUEUED)

        done = await wait_done(session, job_id)
        assert done["status"] == "done" and done["exit_code"] == 0
        assert done["timed_out"] is False
        assert done["last_message"] == "Done: say hello sleep=1.5"
        assert done["session_id"]
        assert done["session_id"] in done["next"]

        polled = await call_ok(session, "codex_poll", {"job_id": job_id})
        assert polled["status"] == "done"
        assert polled["created_at"] and polled["started_at"] and polled["finished_at"]
        assert polled["codex_pid"] and polled["pid"] == started["pid"]
        assert polled["commands"] == [{"command": "sleep", "exit_code": 0, "status": "completed"}]
        assert polled["usage"]["input_tokens"] == 10
        lines = polled["output"].splitlines()
        assert lines == [
            f"session {done['session_id']}",
            "… $ sleep",
            "$ sleep  [exit 0]",
            "Done: say hello sleep=1.5",
            "turn completed · 10 in / 5 out tokens",
        ]
        assert polled["output_lines"] == len(lines)
        assert '{"type"' not in polled["output"]  # rendered, not raw events

        short = await call_ok(session, "codex_poll", {"job_id": job_id, "tail_lines": 2})
        assert short["output"].splitlines() == lines[-2:]


async def test_text_form_is_readable(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        job_id = (await start(session, workdir, "hello lines=3"))["job_id"]
        await wait_done(session, job_id)
        result = await session.call_tool("codex_poll", {"job_id": job_id})
    text = result_text(result)
    assert text == render_text(result.structured_content)
    assert f"job_id: {job_id}" in text
    assert "status: done" in text
    assert "output:\n  | session " in text
    assert "  | line 2" in text


async def test_failed_and_crashed_jobs(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        failed = await start(session, workdir, "please fail")
        crashed = await start(session, workdir, "please crash")
        f = await wait_done(session, failed["job_id"])
        c = await wait_done(session, crashed["job_id"])
    assert f["status"] == "error" and f["exit_code"] == 1
    assert "fake model failure" in f["error"]
    assert c["status"] == "error" and c["exit_code"] == 3
    assert "exited with code 3" in c["error"]
    assert "see error" in c["next"]


async def test_wait_returns_at_the_timeout_while_running(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        job_id = (await start(session, workdir, "long sleep=30"))["job_id"]
        result = await call_ok(session, "codex_wait", {"job_id": job_id, "timeout_seconds": 0.6})
        # It answered at its timeout, not at the job's end (30 s away): the job still runs.
        # (How fast it answers is measured in benchmarks/, not asserted here.)
        assert result["status"] == "running"
        assert result["finished"] is False and result["timed_out"] is True
        assert result["waited_seconds"] >= 0.5
        assert "codex_wait" in result["next"] and "again" in result["next"]
        cancelled = await call_ok(session, "codex_cancel", {"job_id": job_id})
        assert cancelled["status"] == "cancelled"


async def test_wait_sends_progress_notifications(store: JobStore, workdir: Path) -> None:
    received: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.append((progress, total, message))

    async with connect(store) as session:
        job_id = (await start(session, workdir, "slow sleep=3"))["job_id"]
        result = await call_ok(
            session, "codex_wait", {"job_id": job_id, "timeout_seconds": 20}, progress=on_progress
        )
    assert result["status"] == "done"
    assert len(received) >= 2, received
    progresses = [p for p, _, _ in received]
    assert progresses == sorted(progresses) and len(set(progresses)) == len(progresses)
    assert all(total == 20 for _, total, _ in received)
    assert all(job_id in (message or "") for _, _, message in received)


# ---------------------------------------------------------------- list, cancel


async def test_list_newest_first_with_filters(store: JobStore, workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    async with connect(store) as session:
        first = await start(session, workdir, "first")
        second = await start(session, other, "second")
        third = await start(session, workdir, "third please fail")
        for job in (first, second, third):
            await wait_done(session, job["job_id"])

        listed = await call_ok(session, "codex_list", {})
        assert [j["job_id"] for j in listed["jobs"]] == [third["job_id"], second["job_id"], first["job_id"]]
        assert listed["count"] == 3
        assert listed["jobs"][0]["status"] == "error" and listed["jobs"][0]["exit_code"] == 1

        assert [j["job_id"] for j in (await call_ok(session, "codex_list", {"limit": 1}))["jobs"]] == [
            third["job_id"]
        ]
        errors = await call_ok(session, "codex_list", {"status": "error"})
        assert [j["job_id"] for j in errors["jobs"]] == [third["job_id"]]
        in_other = await call_ok(session, "codex_list", {"cwd": str(other)})
        assert [j["job_id"] for j in in_other["jobs"]] == [second["job_id"]]

        # A job whose record is garbage is listed, not hidden, and polling it says why.
        (store.layout.meta(first["job_id"])).write_text("{not json")
        listed = await call_ok(session, "codex_list", {})
        broken = next(j for j in listed["jobs"] if j["job_id"] == first["job_id"])
        assert broken["status"] == "unreadable" and "not valid JSON" in broken["error"]
        unreadable = await call_ok(session, "codex_list", {"status": "unreadable"})
        assert [j["job_id"] for j in unreadable["jobs"]] == [first["job_id"]]
        message = await call_error(session, "codex_poll", {"job_id": first["job_id"]})
        assert "not valid JSON" in message


async def test_cancel_running_then_finished(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        job_id = (await start(session, workdir, "work child"))["job_id"]
        record = wait_until(lambda: (r := store.get(job_id)).codex_pid and r)
        codex = psutil.Process(record.codex_pid)
        runner = psutil.Process(record.pid)
        # codex, and the two sleeps it started (one in a session of its own)
        descendants = wait_until(lambda: len(runner.children(recursive=True)) >= 3 and runner.children(True))
        tree = [runner, codex, *descendants]

        cancelled = await call_ok(session, "codex_cancel", {"job_id": job_id})
        assert cancelled["changed"] is True
        assert cancelled["status"] == "cancelled"
        # The whole tree is gone: runner, codex and what codex started (even in another session).
        wait_until(lambda: not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE])

        before = store.read_record(job_id)
        again = await call_ok(session, "codex_cancel", {"job_id": job_id})
        assert again["changed"] is False
        assert "already ended" in again["message"]
        assert store.read_record(job_id) == before


async def test_cancel_queued_job(workdir: Path, tmp_path: Path, fake_codex: Path) -> None:
    small = JobStore(tmp_path / "small", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=2.0)
    try:
        async with connect(small) as session:
            running = await start(session, workdir, "hold sleep=30")
            queued = await start(session, workdir, "waits its turn")
            assert queued["status"] == "queued" and queued["pid"] is None
            result = await call_ok(session, "codex_cancel", {"job_id": queued["job_id"]})
            assert result["changed"] is True and result["status"] == "cancelled"
            await call_ok(session, "codex_cancel", {"job_id": running["job_id"]})
    finally:
        stop_everything(small)


# ---------------------------------------------------------------- review, sessions


async def test_review(store: JobStore, workdir: Path) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)  # codex reviews a repository
    async with connect(store) as session:
        started = await call_ok(session, "codex_review", {"cwd": str(workdir)})
        assert started["kind"] == "review"
        done = await wait_done(session, started["job_id"])
        assert done["status"] == "done"
        assert done["last_message"] == "Review: no issues found."
        assert done["approval_policy"] == "suggest"
        with_base = await call_ok(session, "codex_review", {"cwd": str(workdir), "base": "main"})
        await wait_done(session, with_base["job_id"])
    assert store.get(with_base["job_id"]).review == {"base": "main"}
    assert store.get(started["job_id"]).review == {"uncommitted": True}


async def test_sessions_and_a_second_turn(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        first = await wait_done(session, (await start(session, workdir, "first turn"))["job_id"])
        other = await wait_done(session, (await start(session, workdir, "another session"))["job_id"])
        session_id = first["session_id"]
        second = await start(session, workdir, "second turn", session_id=session_id)
        assert second["session_id"] == session_id
        second_done = await wait_done(session, second["job_id"])
        assert second_done["session_id"] == session_id

        sessions = await call_ok(session, "codex_sessions", {})
        assert sessions["count"] == 2
        newest = sessions["sessions"][0]
        assert newest["session_id"] == session_id
        assert [t["job_id"] for t in newest["turns"]] == [first["job_id"], second["job_id"]]
        assert [t["final_message"] for t in newest["turns"]] == ["Done: first turn", "Done: second turn"]
        assert all(t["status"] == "done" for t in newest["turns"])
        assert sessions["sessions"][1]["session_id"] == other["session_id"]
        assert "session_id" in sessions["next"]

        one = await call_ok(session, "codex_sessions", {"limit": 1})
        assert [s["session_id"] for s in one["sessions"]] == [session_id]


async def test_session_with_a_turn_in_progress_is_refused(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        first = await start(session, workdir, "busy sleep=30")
        session_id = wait_until(lambda: store.get(first["job_id"]).session_id)
        before = snapshot(store)
        message = await call_error(
            session, "codex_start", {"prompt": "more", "cwd": str(workdir), "session_id": session_id}
        )
        assert "turn in progress" in message
        assert snapshot(store) == before


# ---------------------------------------------------------------- one call, batch, ping


async def test_one_call_codex(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        quick = await call_ok(session, "codex", {"prompt": "quick one", "cwd": str(workdir)})
        assert quick["finished"] is True and quick["status"] == "done"
        assert quick["answer"] == "Done: quick one"
        assert quick["exit_code"] == 0 and quick["session_id"]

        slow = await call_ok(
            session, "codex", {"prompt": "slow sleep=30", "cwd": str(workdir), "wait_seconds": 0.5}
        )
        assert slow["finished"] is False and slow["status"] == "running"
        assert slow["answer"] is None
        assert f"codex_wait(job_id={slow['job_id']!r})" in slow["next"]

        no_wait = await call_ok(
            session, "codex", {"prompt": "slow sleep=30", "cwd": str(workdir), "wait_seconds": 0}
        )
        assert no_wait["waited_seconds"] == 0 and no_wait["finished"] is False


async def test_batch_queues_beyond_the_limit(workdir: Path, tmp_path: Path, fake_codex: Path) -> None:
    small = JobStore(tmp_path / "small", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=2.0)
    try:
        async with connect(small) as session:
            prompts = ["one sleep=1", "two sleep=1", "three", "four"]
            batch = await call_ok(session, "codex_batch", {"prompts": prompts, "cwd": str(workdir)})
            assert [j["prompt"] for j in batch["jobs"]] == prompts
            assert batch["running"] == 2 and batch["queued"] == 2
            assert [j["status"] for j in batch["jobs"]] == ["running", "running", "queued", "queued"]
            for job in batch["jobs"]:
                done = await wait_done(session, job["job_id"])
                assert done["status"] == "done"
    finally:
        stop_everything(small)


async def test_ping(store: JobStore) -> None:
    async with connect(store, ServerSettings(max_policy="auto-edit")) as session:
        pong = await call_ok(session, "ping")
    assert pong["ok"] is True
    assert pong["codex_version"] == "0.169.0" and pong["codex_error"] is None
    assert pong["store_root"] == str(store.root)
    assert pong["max_policy"] == "auto-edit" and pong["max_jobs"] == 5
    assert pong["server_pid"] == os.getpid()


# ---------------------------------------------------------------- refusals


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    # codex_start
    ("codex_start", {"prompt": 3, "cwd": "{cwd}"}, "valid string"),
    ("codex_start", {"prompt": "", "cwd": "{cwd}"}, "prompt is empty"),
    ("codex_start", {"prompt": "   \n", "cwd": "{cwd}"}, "prompt is empty"),
    ("codex_start", {"prompt": "bell \x07", "cwd": "{cwd}"}, "control character"),
    ("codex_start", {"cwd": "{cwd}"}, "prompt is required"),
    ("codex_start", {"prompt": "x", "cwd": "{missing}"}, "does not exist"),
    ("codex_start", {"prompt": "x", "cwd": "{file}"}, "is not a folder"),
    ("codex_start", {"prompt": "x", "cwd": "project"}, "not an absolute path"),
    ("codex_start", {"prompt": "x", "cwd": ""}, "cwd is required"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "approval_policy": "yolo"}, "'suggest', 'auto-edit'"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "sandbox": "none"}, "sandbox"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "reasoning_effort": "max"}, "reasoning_effort"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "model": "bad model!"}, "invalid model"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "session_id": "../x"}, "invalid session id"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "colour": "red"}, "colour is not an argument"),
    # codex_poll
    ("codex_poll", {"job_id": "../x"}, "invalid job id"),
    ("codex_poll", {"job_id": "/etc/passwd"}, "invalid job id"),
    ("codex_poll", {"job_id": ""}, "invalid job id"),
    ("codex_poll", {"job_id": "01M7XHZR3J77PF"}, "invalid job id"),
    ("codex_poll", {"job_id": UNKNOWN_JOB}, "no job"),
    ("codex_poll", {"job_id": 12}, "valid string"),
    ("codex_poll", {"job_id": "{job}", "tail_lines": -1}, "greater than or equal to 1"),
    ("codex_poll", {"job_id": "{job}", "tail_lines": 0}, "greater than or equal to 1"),
    ("codex_poll", {"job_id": "{job}", "tail_lines": 10**9}, "less than or equal to 1000"),
    ("codex_poll", {"job_id": "{job}", "tail_lines": "40"}, "valid integer"),
    # codex_wait
    ("codex_wait", {"job_id": "../x"}, "invalid job id"),
    ("codex_wait", {"job_id": UNKNOWN_JOB}, "no job"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": 0}, "greater than 0"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": -5}, "greater than 0"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": 601}, "less than or equal to 600"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": 1e12}, "less than or equal to 600"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": "50"}, "valid number"),
    # codex_list
    ("codex_list", {"limit": -1}, "greater than or equal to 1"),
    ("codex_list", {"limit": 0}, "greater than or equal to 1"),
    ("codex_list", {"limit": 10**7}, "less than or equal to 1000"),
    ("codex_list", {"limit": True}, "valid integer"),
    ("codex_list", {"status": "bogus"}, "'queued', 'running'"),
    ("codex_list", {"cwd": "relative/dir"}, "not an absolute path"),
    # codex_cancel
    ("codex_cancel", {"job_id": "../x"}, "invalid job id"),
    ("codex_cancel", {"job_id": "/etc/passwd"}, "invalid job id"),
    ("codex_cancel", {"job_id": UNKNOWN_JOB}, "no job"),
    ("codex_cancel", {}, "job_id is required"),
    # codex_review
    ("codex_review", {"cwd": "{missing}"}, "does not exist"),
    ("codex_review", {"cwd": "{file}"}, "is not a folder"),
    ("codex_review", {"cwd": "{cwd}", "base": "--evil"}, "invalid base"),
    ("codex_review", {"cwd": "{cwd}", "base": "main", "prompt": "look"}, "not both"),
    ("codex_review", {"cwd": "{cwd}", "base": "main", "commit": "abc"}, "one review target"),
    ("codex_review", {"cwd": "{cwd}", "title": "t"}, "title goes with commit"),
    ("codex_review", {"cwd": "{cwd}", "uncommitted": "yes"}, "valid boolean"),
    # codex_sessions
    ("codex_sessions", {"limit": -5}, "greater than or equal to 1"),
    ("codex_sessions", {"limit": 10**9}, "less than or equal to 1000"),
    # codex
    ("codex", {"prompt": "", "cwd": "{cwd}"}, "prompt is empty"),
    ("codex", {"prompt": "x", "cwd": "{missing}"}, "does not exist"),
    ("codex", {"prompt": "x", "cwd": "{cwd}", "wait_seconds": 51}, "less than or equal to 50"),
    ("codex", {"prompt": "x", "cwd": "{cwd}", "wait_seconds": -1}, "greater than or equal to 0"),
    ("codex", {"prompt": "x", "cwd": "{cwd}", "approval_policy": "never"}, "'suggest', 'auto-edit'"),
    # codex_batch
    ("codex_batch", {"prompts": [], "cwd": "{cwd}"}, "at least 1 item"),
    ("codex_batch", {"prompts": "do it", "cwd": "{cwd}"}, "valid array"),
    ("codex_batch", {"prompts": ["fine", ""], "cwd": "{cwd}"}, "prompts[1]: prompt is empty"),
    ("codex_batch", {"prompts": ["fine", 7], "cwd": "{cwd}"}, "valid string"),
    ("codex_batch", {"prompts": ["p"] * 101, "cwd": "{cwd}"}, "at most 100 items"),
    ("codex_batch", {"prompts": ["fine"], "cwd": "{file}"}, "is not a folder"),
    ("codex_batch", {"prompts": ["fine"], "cwd": "{cwd}", "sandbox": "yes"}, "sandbox"),
    # ping
    ("ping", {"verbose": True}, "verbose is not an argument of ping"),
    # huge values, control characters, invalid Unicode, NUL and path tricks everywhere
    ("codex_start", {"prompt": "x" * 1_048_576, "cwd": "{cwd}"}, "the limit is"),
    ("codex_start", {"prompt": "lone \ud800 surrogate", "cwd": "{cwd}"}, "surrogates not allowed"),
    ("codex_start", {"prompt": "nul \x00 byte", "cwd": "{cwd}"}, "control character U+0000"),
    ("codex_start", {"prompt": "escape \x1b[31m", "cwd": "{cwd}"}, "control character U+001B"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}\x00/etc"}, "NUL"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "model": "m" * 5000}, "invalid model"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "model": "gpt\n5"}, "invalid model"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "session_id": "/etc/passwd"}, "invalid session id"),
    ("codex_start", {"prompt": "x", "cwd": "{cwd}", "session_id": "a\x00b"}, "invalid session id"),
    (
        "codex_start",
        {"prompt": "x", "cwd": "{cwd}", "approval_policy": "FULL-AUTO"},
        "'suggest', 'auto-edit'",
    ),
    ("codex_start", {"prompt": ["x"], "cwd": "{cwd}"}, "valid string"),
    ("codex_start", {"prompt": None, "cwd": "{cwd}"}, "valid string"),
    ("codex_poll", {"job_id": "01m7xhzr3j77p\x00"}, "invalid job id"),
    ("codex_poll", {"job_id": "01m7xhzr3j77pf/../../etc"}, "invalid job id"),
    ("codex_poll", {"job_id": "..\\..\\windows"}, "invalid job id"),
    ("codex_poll", {"job_id": "x" * 100_000}, "invalid job id"),
    ("codex_wait", {"job_id": "/"}, "invalid job id"),
    ("codex_wait", {"job_id": "{job}", "timeout_seconds": float("inf")}, "valid number"),
    ("codex_cancel", {"job_id": "../../" + UNKNOWN_JOB}, "invalid job id"),
    ("codex_cancel", {"job_id": None}, "valid string"),
    ("codex_list", {"cwd": "/tmp/\x00"}, "NUL"),
    ("codex_list", {"limit": 2.5}, "valid integer"),
    ("codex_list", {"status": "DONE"}, "'queued', 'running'"),
    ("codex_review", {"cwd": "{cwd}", "commit": "abc\x00"}, "invalid commit"),
    ("codex_review", {"cwd": "{cwd}", "base": "../../etc/passwd;rm"}, "invalid base"),
    ("codex_review", {"cwd": "{cwd}", "prompt": "x" * 1_048_576}, "the limit is"),
    ("codex_sessions", {"limit": "5"}, "valid integer"),
    ("codex", {"prompt": "x", "cwd": "{cwd}", "wait_seconds": 1e308}, "less than or equal to 50"),
    ("codex_batch", {"prompts": ["fine", "x" * 1_048_576], "cwd": "{cwd}"}, "prompts[1]"),
    ("codex_batch", {"prompts": ["fine", "bad \x00"], "cwd": "{cwd}"}, "prompts[1]"),
]


@pytest.fixture
def finished_job(store: JobStore, workdir: Path) -> str:
    from jobstore import RunOptions

    job = store.start(RunOptions.checked(prompt="already done", cwd=str(workdir)))
    assert store.wait(job.job_id, 30).is_terminal
    return job.job_id


def fill(value: Any, places: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in places:
        return places[value[1:-1]]
    return value


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_INPUT, ids=lambda v: str(v)[:40])
async def test_bad_input_is_a_tool_error_and_writes_nothing(
    store: JobStore,
    workdir: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    tool: str,
    arguments: dict,
    expected: str,
) -> None:
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    places = {"cwd": str(workdir), "missing": str(tmp_path / "missing"), "file": str(a_file)}
    if "{job}" in arguments.values():
        places["job"] = request.getfixturevalue("finished_job")
    arguments = {k: fill(v, places) for k, v in arguments.items()}
    before = snapshot(store)
    async with connect(store) as session:
        message = await call_error(session, tool, arguments)
    assert expected in message, message
    assert snapshot(store) == before


@pytest.mark.usefixtures("repo")  # codex reviews only inside a git repository
async def test_codex_missing(tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = tmp_path / "no-such-dir" / "codex"
    monkeypatch.setenv("CODEX_BIN", str(nowhere))
    store = JobStore(tmp_path / "store", codex_bin=str(nowhere))
    async with connect(store) as session:
        for tool, arguments in [
            ("codex_start", {"prompt": "x", "cwd": str(workdir)}),
            ("codex", {"prompt": "x", "cwd": str(workdir)}),
            ("codex_review", {"cwd": str(workdir)}),
            ("codex_batch", {"prompts": ["x", "y"], "cwd": str(workdir)}),
        ]:
            message = await call_error(session, tool, arguments)
            assert "codex CLI not found" in message and "CODEX_BIN" in message, message
        pong = await call_ok(session, "ping")
        assert pong["ok"] is True and pong["codex_version"] is None
        assert "codex CLI not found" in pong["codex_error"]
        assert (await call_ok(session, "codex_list"))["jobs"] == []
    assert not store.root.exists()


# ---------------------------------------------------------------- the operator's policy cap


@pytest.mark.parametrize(
    ("cap", "arguments", "allowed"),
    [
        ("suggest", {"approval_policy": "suggest"}, True),
        ("suggest", {}, False),  # the default, auto-edit
        ("suggest", {"approval_policy": "suggest", "sandbox": "workspace-write"}, False),
        ("suggest", {"approval_policy": "suggest", "sandbox": "danger-full-access"}, False),
        ("auto-edit", {}, True),
        ("auto-edit", {"approval_policy": "suggest", "sandbox": "workspace-write"}, True),
        ("auto-edit", {"approval_policy": "full-auto"}, False),
        ("auto-edit", {"approval_policy": "auto-edit", "sandbox": "danger-full-access"}, False),
        ("auto-edit", {"approval_policy": "full-auto", "sandbox": "read-only"}, True),
        ("full-auto", {"approval_policy": "full-auto"}, True),
    ],
)
@pytest.mark.usefixtures("repo")  # codex reviews only inside a git repository
async def test_max_policy_cap(
    store: JobStore, workdir: Path, cap: str, arguments: dict[str, str], allowed: bool
) -> None:
    settings = ServerSettings(max_policy=cap)
    async with connect(store, settings) as session:
        for tool, extra in [
            ("codex_start", {"prompt": "x"}),
            ("codex", {"prompt": "x", "wait_seconds": 0}),
            ("codex_batch", {"prompts": ["x", "y"]}),
        ]:
            call = {**extra, "cwd": str(workdir), **arguments}
            before = snapshot(store)
            if allowed:
                await call_ok(session, tool, call)
            else:
                message = await call_error(session, tool, call)
                assert "refused" in message and "CODEX_ASYNC_MAX_POLICY" in message, message
                assert f"at most {cap!r}" in message
                assert snapshot(store) == before
        # A review is read-only: always within any cap.
        await call_ok(session, "codex_review", {"cwd": str(workdir)})


def server_settings_from_env(environ: dict[str, str]) -> ServerSettings:
    """What __main__ does: the environment read once by jobstore's Settings."""
    return ServerSettings.from_settings(Settings.from_env(environ))


def test_max_policy_from_env() -> None:
    assert server_settings_from_env({}).max_policy == "full-auto"
    assert server_settings_from_env({"CODEX_ASYNC_MAX_POLICY": " Suggest "}).max_policy == "suggest"
    with pytest.raises(ValueError, match="CODEX_ASYNC_MAX_POLICY='yolo' is not a valid policy"):
        server_settings_from_env({"CODEX_ASYNC_MAX_POLICY": "yolo"})


def test_invalid_max_policy_refuses_to_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEX_ASYNC_MAX_POLICY", "everything")
    err = io.StringIO()
    with redirect_stderr(err):
        code = server_main(["--store", str(tmp_path / "store")])
    assert code == 2
    assert "CODEX_ASYNC_MAX_POLICY='everything' is not a valid policy" in err.getvalue()
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------- rendering


def test_render_text_layout() -> None:
    text = render_text(
        {
            "job_id": "abc",
            "error": None,
            "finished": True,
            "output": "one\ntwo",
            "commands": [{"command": "ls", "exit_code": 0}],
            "usage": {"input_tokens": 3},
            "empty": [],
        }
    )
    assert text.splitlines() == [
        "job_id: abc",
        "finished: yes",
        "output:",
        "  | one",
        "  | two",
        "commands:",
        "  - command=ls, exit_code=0",
        "usage: input_tokens=3",
    ]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-memory tests never open a network socket (a Unix one is local IPC: the runner zygote)."""
    import socket

    real_connect = socket.socket.connect

    def refuse(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, *args, **kwargs)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield
