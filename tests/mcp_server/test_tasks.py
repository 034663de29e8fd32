"""MCP tasks (2026-07-28) over stdio with the official Python client (mcp 2.3.0) opted in.

The server runs as its installed console script over a private store; the client speaks
`server/discover` at 2026-07-28 and opts in to `io.modelcontextprotocol/tasks` on every
request. One test runs the real codex CLI against the fake model service; the others use
the fake codex. Waiting is on state (tasks/get until the status changes), never on time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp_types
import psutil
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict, TypeAdapter

from jobstore import JobStatus, JobStore
from jobstore.ids import new_job_id
from jobstore.processes import is_alive
from mcp_server.tasks import POLL_INTERVAL_MS, TASKS_EXTENSION
from tests.e2e.conftest import (  # noqa: F401 (the real codex and the fake model, as fixtures)
    codex_env,
    codex_path,
    git_repo,
    model_service,
    real_codex,
    real_store,
)
from tests.helpers import wait_until
from tests.mcp_server.mcp_helpers import (
    READ_TIMEOUT_SECONDS,
    call_ok,
    check_against_schema,
    output_schemas,
    result_text,
    server_command,
    server_env,
)

CLIENT = mcp_types.Implementation(name="task-test-client", version="9.8.7")
# Enough tasks/get rounds for any job here to end; each round waits for the store to change.
MAX_POLLS = 400
ANY_DICT = TypeAdapter(dict[str, Any])


class CreatedTask(mcp_types.Result):
    """The tools/call answer that is a task (resultType "task"); the test polls it itself."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str


async def _not_resolved(task: CreatedTask, ctx: ClaimContext) -> mcp_types.CallToolResult:
    raise AssertionError("the tests poll tasks themselves (session.call_tool with allow_claimed)")


class TasksOptIn(ClientExtension):
    identifier = TASKS_EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=_not_resolved)]


class TaskRequest(mcp_types.Request[dict[str, Any], str]):
    method: str
    params: dict[str, Any]


class TaskClient:
    """An opted-in client: tools/call answered by a task, and the tasks/* methods."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer = await self.client.session.call_tool(tool, arguments, allow_claimed=True)
        assert isinstance(answer, CreatedTask), f"{tool} was not answered with a task: {answer}"
        return answer.model_dump(by_alias=True)

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """A tools/call that may be answered inline (an error, say) or by a task."""
        return await self.client.session.call_tool(tool, arguments, allow_claimed=True)

    async def request(self, method: str, task_id: str) -> dict[str, Any]:
        return await self.client.session.send_request(
            TaskRequest(method=method, params={"taskId": task_id}), ANY_DICT
        )

    async def get(self, task_id: str) -> dict[str, Any]:
        return await self.request("tasks/get", task_id)

    async def until(self, task_id: str, wanted: Any) -> dict[str, Any]:
        """tasks/get until `wanted(task)` holds."""
        for _ in range(MAX_POLLS):
            task = await self.get(task_id)
            if wanted(task):
                return task
            await anyio.sleep(0.05)
        raise AssertionError(f"task {task_id} never got there: {task}")

    async def until_done(self, task_id: str) -> dict[str, Any]:
        return await self.until(task_id, lambda task: task["status"] != "working")


@asynccontextmanager
async def task_client(env: dict[str, str], *, mode: str = "auto") -> AsyncIterator[TaskClient]:
    params = StdioServerParameters(command=server_command(), env=env)
    async with Client(
        params,
        mode=mode,  # type: ignore[arg-type]
        extensions=[TasksOptIn()],
        client_info=CLIENT,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
    ) as client:
        yield TaskClient(client)


@pytest.fixture
def env(store: JobStore, fake_codex: Path, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return server_env(
        store.root, fake_codex, HOME=str(home), CODEX_ASYNC_LOG_FILE=str(tmp_path / "server.log")
    )


def check_task_fields(task: dict[str, Any], task_id: str) -> None:
    assert task["taskId"] == task_id
    assert task["pollIntervalMs"] == POLL_INTERVAL_MS
    assert "ttlMs" in task and task["ttlMs"] is None, task  # kept until a person prunes it
    assert task["createdAt"].endswith("Z") and task["lastUpdatedAt"] >= task["createdAt"], task


async def check_result(tasks: TaskClient, tool: str, task: dict[str, Any]) -> dict[str, Any]:
    """A completed task's result: the tool's own output schema, and a text form."""
    assert task["status"] == "completed", task
    result = task["result"]
    schemas = await output_schemas(tasks.client.session)
    check_against_schema(tool, schemas[tool], result["structuredContent"])
    assert result["content"][0]["type"] == "text" and result["content"][0]["text"].strip(), result
    return result


@pytest.mark.e2e
async def test_codex_as_a_task_with_the_real_codex(
    real_store: JobStore,  # noqa: F811 (the e2e fixtures, imported above)
    codex_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    git_repo: Path,  # noqa: F811
) -> None:
    go = tmp_path / "go"
    env = server_env(
        real_store.root,
        codex_env["CODEX_BIN"],
        HOME=str(tmp_path),
        CODEX_HOME=codex_env["CODEX_HOME"],
        NO_PROXY="127.0.0.1,localhost",
        CODEX_ASYNC_LOG_FILE=str(tmp_path / "server.log"),
    )
    # The command waits for a file the test creates: the task is seen working, mid-command.
    command = f"while [ ! -e {go} ]; do sleep 0.05; done; echo from-the-task"
    async with task_client(env) as tasks:
        assert tasks.client.protocol_version == "2026-07-28"
        assert TASKS_EXTENSION in (tasks.client.server_capabilities.extensions or {})
        created = await tasks.start(
            "codex",
            {"prompt": f"RUN_COMMAND: {command}", "cwd": str(git_repo), "approval_policy": "full-auto"},
        )
        job_id = created["taskId"]
        assert created["status"] == "working" and created["resultType"] == "task"
        check_task_fields(created, job_id)
        record = real_store.get(job_id)  # the task is the job, durably admitted before the answer
        assert record.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        assert record.client == "task-test-client 9.8.7 (MCP task)"

        working = await tasks.until(job_id, lambda t: "while [ ! -e" in (t.get("statusMessage") or ""))
        assert working["status"] == "working" and working["resultType"] == "complete"
        assert working["statusMessage"].startswith("codex running for "), working
        check_task_fields(working, job_id)

        go.touch()
        done = await tasks.until_done(job_id)
        result = await check_result(tasks, "codex", done)
        check_task_fields(done, job_id)
        assert result["isError"] is False
        answer = result["structuredContent"]
        assert answer["job_id"] == job_id and answer["status"] == "done" and answer["finished"] is True
        assert answer["answer"] == "Command finished." and answer["exit_code"] == 0
        assert answer["session_id"] == real_store.get(job_id).session_id

        # An ordinary job: codex_poll shows what codex printed; codex_list lists it.
        polled = await call_ok(tasks.client.session, "codex_poll", {"job_id": job_id})
        assert "from-the-task" in polled["output"]
        listed = await call_ok(tasks.client.session, "codex_list", {})
        assert [(j["job_id"], j["client"]) for j in listed["jobs"]] == [(job_id, record.client)]


async def test_a_failed_turn_is_an_error_result_never_a_success(env: dict[str, str], workdir: Path) -> None:
    async with task_client(env) as tasks:
        created = await tasks.start("codex", {"prompt": "this one will fail", "cwd": str(workdir)})
        done = await tasks.until_done(created["taskId"])
        result = await check_result(tasks, "codex", done)
        assert result["isError"] is True, result
        assert result["structuredContent"]["status"] == "error"
        assert result["structuredContent"]["exit_code"] == 1


@pytest.mark.usefixtures("repo")  # codex reviews only inside a git repository
async def test_a_review_as_a_task_ends_with_what_the_inline_tool_returns(
    env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    async with task_client(env) as tasks:
        created = await tasks.start("codex_review", {"cwd": str(workdir), "uncommitted": True})
        done = await tasks.until_done(created["taskId"])
        result = await check_result(tasks, "codex_review", done)
        assert result["isError"] is False
        assert result["structuredContent"]["status"] == "done"
        assert result["structuredContent"]["kind"] == "review"
        assert store.get(created["taskId"]).kind == "review"


async def test_a_task_outlives_its_server(env: dict[str, str], store: JobStore, workdir: Path) -> None:
    async with task_client(env) as tasks:
        server_pid = (await call_ok(tasks.client.session, "ping"))["server_pid"]
        created = await tasks.start("codex", {"prompt": "outlive sleep=2", "cwd": str(workdir)})
        job_id = created["taskId"]
        os.kill(server_pid, signal.SIGKILL)
        psutil.Process(server_pid).wait(timeout=30)
        with pytest.raises(MCPError):
            await tasks.get(job_id)

    async with task_client(env) as tasks:
        assert (await call_ok(tasks.client.session, "ping"))["server_pid"] != server_pid
        done = await tasks.until_done(job_id)
        result = await check_result(tasks, "codex", done)
        assert result["isError"] is False
        assert result["structuredContent"]["answer"] == "Done: outlive sleep=2"


async def test_cancel_twice_at_once(env: dict[str, str], store: JobStore, workdir: Path) -> None:
    async with task_client(env) as tasks:
        created = await tasks.start("codex", {"prompt": "cancel me sleep=600", "cwd": str(workdir)})
        job_id = created["taskId"]
        running = await tasks.until(job_id, lambda t: "$ sleep" in (t.get("statusMessage") or ""))
        assert running["status"] == "working"
        record = store.get(job_id)
        assert is_alive(record.codex_pid, record.codex_started_at)

        answers: list[dict[str, Any]] = []

        async def cancel() -> None:
            answers.append(await tasks.request("tasks/cancel", job_id))

        async with anyio.create_task_group() as group:
            group.start_soon(cancel)
            group.start_soon(cancel)
        assert [a["status"] for a in answers] == ["cancelled", "cancelled"], answers

        after = store.get(job_id)
        assert after.status == JobStatus.CANCELLED
        # The runner records the end, then exits: wait for that, and for nothing of the job to live.
        for pid, started in (
            (record.pid, record.pid_started_at),
            (record.codex_pid, record.codex_started_at),
        ):
            wait_until(lambda: not is_alive(pid, started), timeout=10)  # noqa: B023 (called at once)
        again = await tasks.get(job_id)
        assert again["status"] == "cancelled" and "result" not in again, again
        assert (await tasks.request("tasks/cancel", job_id))["status"] == "cancelled"  # still fine


async def test_unknown_and_pruned_ids_are_invalid_params(
    env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    async with task_client(env) as tasks:
        for method in ("tasks/get", "tasks/cancel", "tasks/update"):
            for task_id in (new_job_id(), "not a job id"):
                with pytest.raises(MCPError) as raised:
                    await tasks.request(method, task_id)
                assert raised.value.code == mcp_types.INVALID_PARAMS
                assert repr(task_id) in raised.value.message and "job" in raised.value.message

        created = await tasks.start("codex", {"prompt": "prune me", "cwd": str(workdir)})
        job_id = created["taskId"]
        await tasks.until_done(job_id)
        updated = await tasks.request("tasks/update", job_id)  # codex never asks: nothing to answer
        assert updated["resultType"] == "complete" and set(updated) <= {"resultType", "_meta"}, updated
        assert store.prune(timedelta(0)) == [job_id]
        with pytest.raises(MCPError) as raised:
            await tasks.get(job_id)
        assert raised.value.code == mcp_types.INVALID_PARAMS and job_id in raised.value.message


async def test_bad_input_to_a_task_call_is_refused_as_inline_and_writes_nothing(
    env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    bad_calls = [
        ("codex", {"cwd": str(workdir)}),
        ("codex", {"prompt": "x", "cwd": "relative/path"}),
        ("codex", {"prompt": "x", "cwd": str(workdir), "colour": "blue"}),
        ("codex", {"prompt": "x", "cwd": str(workdir), "wait_seconds": "5"}),
        ("codex", {"prompt": "x", "cwd": str(workdir / "missing")}),
        ("codex_review", {"cwd": str(workdir), "base": "main", "commit": "abc"}),
    ]
    async with task_client(env) as tasks, task_client(env, mode="legacy") as inline:
        for tool, arguments in bad_calls:
            refused = await tasks.call(tool, arguments)
            assert isinstance(refused, mcp_types.CallToolResult) and refused.is_error, refused
            expected = await inline.client.call_tool(tool, arguments)
            assert expected.is_error
            assert result_text(refused) == result_text(expected), (tool, arguments)
    assert not store.root.exists() or store.job_ids() == []


async def test_clients_that_do_not_opt_in_get_the_tool_inline(
    env: dict[str, str], store: JobStore, workdir: Path
) -> None:
    async with task_client(env, mode="legacy") as legacy:
        assert legacy.client.protocol_version == "2025-11-25"
        answer = await call_ok(
            legacy.client.session, "codex", {"prompt": "inline please", "cwd": str(workdir)}
        )
        assert answer["finished"] is True and answer["answer"] == "Done: inline please"
        with pytest.raises(MCPError):  # no tasks/* methods on the handshake-era protocol
            await legacy.get(answer["job_id"])
    async with Client(StdioServerParameters(command=server_command(), env=env), client_info=CLIENT) as modern:
        assert modern.protocol_version == "2026-07-28"  # on the new protocol, but not opted in
        answer = await call_ok(modern.session, "codex", {"prompt": "inline too", "cwd": str(workdir)})
        assert answer["finished"] is True and answer["answer"] == "Done: inline too"
        listed = await call_ok(modern.session, "codex_list", {})
    assert [job["client"] for job in listed["jobs"]] == [None, None]  # not tasks: no client recorded
