"""Class 9, echoed input: an error repeats at most a bounded, visible part of what it was given.

A million-character task id (or path, option, job or session id) came back whole in the
error, to a model's context or a terminal. Every refusal that names the caller's value goes
through `jobstore.echoed`: cut to ~80 characters, the length said, controls made visible.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mcp_types
import pytest
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from jobstore import JobStore, JobStoreError, ReviewOptions, RunOptions
from mcp_server.calls import check_job_arguments
from tests.mcp_server.test_mcp_server import connect
from tests.mcp_server.test_tasks import env, task_client  # noqa: F401 (env: a fixture)
from tests.security.attack import unsafe_characters

HUGE = "\x1b]0;pwned\x07" + "x" * 1_000_000
# Room for the message's own words, the echoed part and the length: far below HUGE.
MAX_MESSAGE = 600


def check_bounded(message: str) -> None:
    assert len(message) < MAX_MESSAGE, message[:300]
    assert ",0" in message and "characters)" in message  # the cut is said, with the whole length
    assert not unsafe_characters(message), unsafe_characters(message)


def refusals(store: JobStore, workdir: Path) -> dict[str, Callable[[], object]]:
    cwd = str(workdir)
    return {
        "job id": lambda: store.get(HUGE),
        "cancel's job id": lambda: store.cancel(HUGE),
        "session id": lambda: RunOptions.checked(prompt="x", cwd=cwd, session_id=HUGE),
        "cwd": lambda: RunOptions.checked(prompt="x", cwd="/" + HUGE),
        "relative cwd": lambda: RunOptions.checked(prompt="x", cwd=HUGE),
        "approval_policy": lambda: RunOptions.checked(prompt="x", cwd=cwd, approval_policy=HUGE),
        "sandbox": lambda: RunOptions.checked(prompt="x", cwd=cwd, sandbox=HUGE),
        "model": lambda: RunOptions.checked(prompt="x", cwd=cwd, model=HUGE),
        "reasoning_effort": lambda: RunOptions.checked(prompt="x", cwd=cwd, reasoning_effort=HUGE),
        "an unknown option": lambda: RunOptions.checked(prompt="x", cwd=cwd, **{HUGE: 1}),
        "review base": lambda: ReviewOptions.checked(cwd=cwd, base=HUGE),
        "review commit": lambda: ReviewOptions.checked(cwd=cwd, commit=HUGE),
        "list status": lambda: store.list_jobs(status=HUGE),
        "list cwd": lambda: store.list_jobs(cwd=HUGE),
        "session": lambda: store.session(HUGE),
    }


@pytest.mark.parametrize(
    "case", sorted(refusals(JobStore("/nonexistent"), Path("/")).keys()), ids=lambda name: name
)
def test_every_store_refusal_echoes_a_bounded_part(case: str, store: JobStore, workdir: Path) -> None:
    with pytest.raises(JobStoreError) as refused:
        refusals(store, workdir)[case]()
    check_bounded(str(refused.value))


def test_a_tools_argument_error_echoes_a_bounded_part(workdir: Path) -> None:
    with pytest.raises(ToolError) as refused:
        check_job_arguments("codex", {"prompt": "x", "cwd": str(workdir), "wait_seconds": HUGE})
    check_bounded(str(refused.value))


async def test_a_tools_refusal_over_mcp_echoes_a_bounded_part(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        for tool, arguments in (
            ("codex_poll", {"job_id": HUGE}),
            ("codex_list", {"cwd": HUGE}),
            ("codex_start", {"prompt": "x", "cwd": str(workdir), "model": HUGE}),
            ("codex_review", {"cwd": str(workdir), "base": HUGE}),
        ):
            result = await session.call_tool(tool, arguments)
            assert result.is_error, tool
            check_bounded(result.content[0].text)


async def test_a_million_character_task_id_is_not_echoed_whole(env: dict[str, str]) -> None:  # noqa: F811
    async with task_client(env) as tasks:
        for method in ("tasks/get", "tasks/cancel", "tasks/update"):
            with pytest.raises(MCPError) as raised:
                await tasks.request(method, HUGE)
            assert raised.value.code == mcp_types.INVALID_PARAMS
            check_bounded(raised.value.message)
