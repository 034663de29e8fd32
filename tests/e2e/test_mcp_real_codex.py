"""The installed `codex-async-mcp` driven over stdio by the official MCP client, running the
real codex CLI against the fake model service on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import ClientSession

from jobstore import JobStore
from tests.helpers import PINNED_CODEX_VERSION, processes_matching
from tests.mcp_server.mcp_helpers import call_ok, server_env, stdio_session
from tests.mcp_server.mcp_helpers import start_job as start


def env_for(real_store: JobStore, codex_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return server_env(
        real_store.root,
        codex_env["CODEX_BIN"],
        CODEX_HOME=codex_env["CODEX_HOME"],
        NO_PROXY="127.0.0.1,localhost",
        CODEX_ASYNC_CANCEL_GRACE="3",
        CODEX_ASYNC_LOG_FILE=str(tmp_path / "server.log"),
    )


async def wait_end(session: ClientSession, job_id: str) -> dict[str, Any]:
    for _ in range(6):  # the start, wait, wait-again loop a client runs
        result = await call_ok(session, "codex_wait", {"job_id": job_id, "timeout_seconds": 20})
        if result["finished"]:
            return result
    raise AssertionError(f"job {job_id} did not end")


async def test_every_tool_with_the_real_codex(
    real_store: JobStore, codex_env: dict[str, str], git_repo: Path, tmp_path: Path
) -> None:
    async with stdio_session(env_for(real_store, codex_env, tmp_path)) as session:
        assert (await call_ok(session, "ping"))["codex_version"] == PINNED_CODEX_VERSION

        # start, wait, poll
        first = await start(
            session, git_repo, "RUN_COMMAND: echo from-real-codex", approval_policy="full-auto"
        )
        done = await wait_end(session, first["job_id"])
        assert done["status"] == "done" and done["exit_code"] == 0
        assert done["last_message"] == "Command finished."
        polled = await call_ok(session, "codex_poll", {"job_id": first["job_id"]})
        assert "from-real-codex" in polled["output"]
        assert polled["session_id"] == done["session_id"]

        # a second turn in the same session
        second = await start(session, git_repo, "REPLY: turn two", session_id=done["session_id"])
        second_done = await wait_end(session, second["job_id"])
        assert second_done["status"] == "done" and second_done["last_message"] == "turn two"
        sessions = (await call_ok(session, "codex_sessions", {"limit": 5}))["sessions"]
        ours = next(s for s in sessions if s["session_id"] == done["session_id"])
        assert [t["job_id"] for t in ours["turns"]] == [first["job_id"], second["job_id"]]

        # the one-call form
        answer = await call_ok(session, "codex", {"prompt": "REPLY: one call", "cwd": str(git_repo)})
        assert answer["finished"] and answer["answer"] == "one call"

        # review
        review = await call_ok(session, "codex_review", {"cwd": str(git_repo), "uncommitted": True})
        reviewed = await wait_end(session, review["job_id"])
        assert reviewed["status"] == "done" and reviewed["kind"] == "review"

        # a failing run
        failed = await wait_end(session, (await start(session, git_repo, "FAIL_TURN"))["job_id"])
        assert failed["status"] == "error" and failed["exit_code"] == 1

        # batch
        batch = await call_ok(
            session,
            "codex_batch",
            {"prompts": ["REPLY: b1", "REPLY: b2", "REPLY: b3"], "cwd": str(git_repo)},
        )
        ids = [job["job_id"] for job in batch["jobs"]]
        assert len(ids) == 3
        answers = [(await wait_end(session, job_id))["last_message"] for job_id in ids]
        assert answers == ["b1", "b2", "b3"]

        # cancel mid-command
        slow = await start(session, git_repo, "SLOW_COMMAND: sleep 593", approval_policy="full-auto")
        for _ in range(200):
            if processes_matching("sleep 593"):
                break
            await call_ok(session, "codex_poll", {"job_id": slow["job_id"]})
        assert processes_matching("sleep 593")
        cancelled = await call_ok(session, "codex_cancel", {"job_id": slow["job_id"]})
        assert cancelled["status"] == "cancelled"
        assert processes_matching("sleep 593") == []

        listed = (await call_ok(session, "codex_list", {"limit": 20}))["jobs"]
        assert {j["job_id"] for j in listed} >= {first["job_id"], slow["job_id"], *ids}
        assert listed[0]["job_id"] == slow["job_id"]  # newest first
