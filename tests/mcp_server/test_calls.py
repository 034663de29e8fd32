"""The job tools called outside FastMCP (mcp_server.calls): the same checks, refusals and results
as the inline `codex` and `codex_review` tools, compared call for call."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import without_injected_parameters

from jobstore import JobStatus, JobStore, ReviewOptions, RunOptions
from mcp_server.calls import (
    JOB_TOOLS,
    TASK_TOOLS,
    admit_job_call,
    check_job_arguments,
    job_call_result,
    job_tool,
    task_tool_for,
)
from mcp_server.render import render_text
from mcp_server.settings import ServerSettings
from mcp_server.tools import codex_batch
from tests.mcp_server.mcp_helpers import call_error, call_ok, check_against_schema, output_schemas
from tests.mcp_server.test_mcp_server import BAD_INPUT, connect, fill, snapshot

# codex takes codex_start's arguments (and wait_seconds): its refusals are codex_start's too.
REFUSED = [
    ("codex" if tool == "codex_start" else tool, arguments, expected)
    for tool, arguments, expected in BAD_INPUT
    if tool in ("codex", "codex_start", "codex_review")
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), REFUSED, ids=lambda v: str(v)[:40])
async def test_refusals_match_the_inline_tool(
    store: JobStore, workdir: Path, tmp_path: Path, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    places = {"cwd": str(workdir), "missing": str(tmp_path / "missing"), "file": str(a_file)}
    arguments = {k: fill(v, places) for k, v in arguments.items()}
    before = snapshot(store)
    async with connect(store) as session:
        inline = await call_error(session, tool, arguments)
    with pytest.raises(ToolError) as refused:
        await admit_job_call(store, ServerSettings(), tool, arguments)
    assert expected in str(refused.value)
    assert str(refused.value) == inline
    assert snapshot(store) == before


async def test_policy_cap_refusal_matches(store: JobStore, workdir: Path) -> None:
    capped = ServerSettings(max_policy="suggest")
    arguments = {"prompt": "x", "cwd": str(workdir), "approval_policy": "full-auto"}
    before = snapshot(store)
    async with connect(store, capped) as session:
        inline = await call_error(session, "codex", {**arguments, "wait_seconds": 0})
    with pytest.raises(ToolError) as refused:
        await admit_job_call(store, capped, "codex", arguments)
    assert str(refused.value) == inline and "refused" in inline
    assert snapshot(store) == before


def test_arguments_get_the_tools_defaults(workdir: Path) -> None:
    checked = check_job_arguments("codex", {"prompt": "x", "cwd": str(workdir)})
    assert checked == {
        "prompt": "x",
        "cwd": str(workdir),
        "approval_policy": "auto-edit",
        "sandbox": None,
        "model": None,
        "reasoning_effort": None,
        "session_id": None,
        "worktree": None,
        "wait_seconds": 45,
    }
    with pytest.raises(ValueError, match="does not start a job"):
        check_job_arguments("codex_poll", {"job_id": "x"})


async def test_admitted_codex_job_gets_the_inline_result(store: JobStore, workdir: Path) -> None:
    arguments = {"prompt": "as a task", "cwd": str(workdir)}
    admitted = await admit_job_call(store, ServerSettings(), "codex", arguments)
    assert admitted.status in (JobStatus.RUNNING, JobStatus.QUEUED)
    assert admitted.prompt == "as a task" and admitted.approval_policy == "auto-edit"
    async with connect(store) as session:
        inline = await session.call_tool("codex", {"prompt": "inline", "cwd": str(workdir)})
        assert inline.structured_content["finished"] is True
        job_id = inline.structured_content["job_id"]
        waited = inline.structured_content["waited_seconds"]
        built = job_call_result(store, "codex", store.get(job_id), waited)
        assert built.structured_content == inline.structured_content
        assert built.content == inline.content
        assert built.is_error is False

        # The admitted job, once ended, reads like the inline tool's answer to it.
        await call_ok(session, "codex_wait", {"job_id": admitted.job_id, "timeout_seconds": 30})
        ended = job_call_result(store, "codex", store.get(admitted.job_id))
        schemas = await output_schemas(session)
    check_against_schema("codex", schemas["codex"], ended.structured_content)
    assert ended.structured_content is not None
    assert ended.structured_content["answer"] == "Done: as a task"
    assert ended.structured_content["status"] == "done" and ended.structured_content["finished"] is True
    assert [block.text for block in ended.content if block.type == "text"] == [
        render_text(ended.structured_content)
    ]


async def test_admitted_review_gets_the_inline_result(store: JobStore, workdir: Path) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)  # codex reviews a repository
    arguments = {"cwd": str(workdir), "base": "main"}
    admitted = await admit_job_call(store, ServerSettings(), "codex_review", arguments)
    assert admitted.kind == "review" and admitted.review == {"base": "main"}
    async with connect(store) as session:
        inline = (await session.call_tool("codex_review", arguments)).structured_content
        # Both jobs were just started: their results differ only in the job's id and pid.
        built = job_call_result(store, "codex_review", admitted).structured_content
        assert built is not None
        renamed = {
            key: value.replace(inline["job_id"], admitted.job_id) if isinstance(value, str) else value
            for key, value in inline.items()
        }
        assert built == {**renamed, "pid": admitted.pid}
        await call_ok(session, "codex_wait", {"job_id": admitted.job_id, "timeout_seconds": 30})
        ended = job_call_result(store, "codex_review", store.get(admitted.job_id))
        schemas = await output_schemas(session)
    check_against_schema("codex_review", schemas["codex_review"], ended.structured_content)
    assert ended.structured_content is not None and ended.structured_content["status"] == "done"
    assert [block.text for block in ended.content if block.type == "text"] == [
        render_text(ended.structured_content)
    ]


def test_each_job_tool_takes_every_option_of_its_carrier() -> None:
    """A tool picks its job's options from its arguments by name: an option its signature
    lacked would silently take its default. (codex_batch: one prompt per job, no session;
    codex_review: no policy, a review only reads.)"""
    parameters = {
        name: set(inspect.signature(without_injected_parameters(spec.function)).parameters)
        for name, spec in JOB_TOOLS.items()
    }
    parameters["codex_batch"] = set(inspect.signature(without_injected_parameters(codex_batch)).parameters)
    expected = {
        "codex_start": set(RunOptions.names()),
        "codex": set(RunOptions.names()),
        "codex_batch": set(RunOptions.names()) - {"prompt", "session_id"},
        "codex_review": set(ReviewOptions.names()) - {"approval_policy"},
    }
    for name, options in expected.items():
        assert options <= parameters[name], (name, options - parameters[name])


def test_the_job_tools_table() -> None:
    assert TASK_TOOLS == ("codex", "codex_review")  # codex_start and codex_batch never become tasks
    assert task_tool_for("run").name == "codex" and task_tool_for("review").name == "codex_review"
    assert [name for name, spec in JOB_TOOLS.items() if spec.waits] == ["codex"]
    with pytest.raises(ValueError, match="does not start a job"):
        job_tool("codex_list")
