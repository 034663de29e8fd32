"""Talking to running jobs through the installed `codex-async-mcp`: steer, interrupt and answer
with the official MCP client, and a question as a task's `input_required` answered through
`tasks/update` by a 2026-07-28 client; the real codex CLI's app-server against the fake model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobstore import JobStore
from tests.e2e.test_mcp_real_codex import env_for, wait_end
from tests.helpers import processes_matching
from tests.mcp_server.mcp_helpers import call_error, call_ok, stdio_session
from tests.mcp_server.mcp_helpers import start_job as start
from tests.mcp_server.test_tasks import ANY_DICT, TaskRequest, task_client


async def until_command(session: Any, job_id: str, command: str) -> None:
    for _ in range(400):
        if processes_matching(command):
            polled = await call_ok(session, "codex_poll", {"job_id": job_id})
            if polled["commands"]:
                return
        await call_ok(session, "codex_poll", {"job_id": job_id})
    raise AssertionError(f"{command} never ran")


async def until_status(session: Any, job_id: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        polled = await call_ok(session, "codex_poll", {"job_id": job_id})
        if polled["status"] == status:
            return polled
    raise AssertionError(f"job {job_id} never became {status}")


async def test_steer_interrupt_and_answer_over_mcp(
    app_server_store: JobStore, codex_env: dict[str, str], git_repo: Path, tmp_path: Path
) -> None:
    async with stdio_session(env_for(app_server_store, codex_env, tmp_path)) as session:
        # steer: the turn's answer is the model's answer to the message
        job = await start(session, git_repo, "SLOW_COMMAND: sleep 4.75", approval_policy="full-auto")
        await until_command(session, job["job_id"], "sleep 4.75")
        steered = await call_ok(
            session, "codex_steer", {"job_id": job["job_id"], "message": "REPLY: over mcp"}
        )
        assert steered["handled"], steered
        done = await wait_end(session, job["job_id"])
        assert done["status"] == "done" and done["last_message"] == "over mcp"
        assert "» REPLY: over mcp" in done["output"]
        error = await call_error(session, "codex_steer", {"job_id": job["job_id"], "message": "late"})
        assert "already ended" in error

        # interrupt: the job ends interrupted, its command stopped; the session goes on
        slow = await start(session, git_repo, "SLOW_COMMAND: sleep 583", approval_policy="full-auto")
        await until_command(session, slow["job_id"], "sleep 583")
        interrupted = await call_ok(session, "codex_interrupt", {"job_id": slow["job_id"]})
        assert interrupted["status"] == "interrupted", interrupted
        assert processes_matching("sleep 583") == []
        polled = await call_ok(session, "codex_poll", {"job_id": slow["job_id"]})
        assert "codex_start" in polled["next"] and polled["session_id"]
        again = await start(session, git_repo, "REPLY: next turn", session_id=polled["session_id"])
        assert (await wait_end(session, again["job_id"]))["last_message"] == "next turn"

        # a question: waiting, listed first, answered once
        asking = await start(
            session, git_repo, "RUN_COMMAND: echo yes > asked.txt", approval_policy="untrusted"
        )
        waiting = await until_status(session, asking["job_id"], "waiting")
        assert "asked.txt" in waiting["question"]["command"]
        assert "codex_answer" in waiting["next"]
        listed = (await call_ok(session, "codex_list", {}))["jobs"]
        assert listed[0]["job_id"] == asking["job_id"] and listed[0]["status"] == "waiting"
        answered = await call_ok(session, "codex_answer", {"job_id": asking["job_id"], "decision": "approve"})
        assert answered["handled"]
        error = await call_error(session, "codex_answer", {"job_id": asking["job_id"], "decision": "deny"})
        assert "already answered" in error
        assert (await wait_end(session, asking["job_id"]))["status"] == "done"
        assert (git_repo / "asked.txt").read_text().strip() == "yes"


async def test_a_question_is_a_tasks_input_required(
    app_server_store: JobStore, codex_env: dict[str, str], git_repo: Path, tmp_path: Path
) -> None:
    env = env_for(app_server_store, codex_env, tmp_path)
    async with task_client(env) as tasks:
        prompt = "RUN_COMMAND: echo from-a-task > task-asked.txt"
        created = await tasks.start(
            "codex", {"prompt": prompt, "cwd": str(git_repo), "approval_policy": "untrusted"}
        )
        task_id = created["taskId"]
        asked = await tasks.until(task_id, lambda task: task["status"] == "input_required")
        ((key, request),) = asked["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        assert "task-asked.txt" in request["params"]["message"]
        assert request["params"]["requestedSchema"]["properties"]["decision"]["enum"] == ["approve", "deny"]
        answer = {
            "taskId": task_id,
            "inputResponses": {key: {"action": "accept", "content": {"decision": "approve"}}},
        }
        await tasks.client.session.send_request(TaskRequest(method="tasks/update", params=answer), ANY_DICT)
        final = await tasks.until(task_id, lambda task: task["status"] not in ("working", "input_required"))
        assert final["status"] == "completed" and not final["result"].get("isError"), final
        assert (git_repo / "task-asked.txt").read_text().strip() == "from-a-task"
