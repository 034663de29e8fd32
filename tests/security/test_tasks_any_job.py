"""Class 10, whose jobs a task request reaches: every job of the store, by decision.

`tasks/get` and `tasks/cancel` take a job id as the task id, and answer for any job of the
store, also one `codex-async` or codex-tui started: the store is one person's, private to
them (SECURITY.md, "Tasks"), and the tools (codex_poll, codex_cancel) already reach every
job by its id. This pins that decision: a job the CLI started reads and cancels as a task.
"""

from __future__ import annotations

from pathlib import Path

from jobstore import JobStatus, JobStore
from tests.mcp_server.test_tasks import env, task_client  # noqa: F401 (env: a fixture)
from tests.security.attack import run_cli


def cli_start(store: JobStore, workdir: Path, prompt: str) -> str:
    done = run_cli(store.root, "--json", "start", prompt, "--cwd", str(workdir))
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    job_id = store.job_ids()[0]
    assert store.get(job_id).client is None  # no MCP client asked for it
    return job_id


async def test_a_job_the_cli_started_is_a_task_to_get_and_cancel(
    env: dict[str, str],  # noqa: F811
    store: JobStore,
    workdir: Path,
) -> None:
    finished = cli_start(store, workdir, "quick")
    store.wait(finished, 30)
    running = cli_start(store, workdir, "sleep=60")
    async with task_client(env) as tasks:
        got = await tasks.until_done(finished)
        assert got["taskId"] == finished and got["status"] == "completed"
        assert (await tasks.get(running))["status"] == "working"
        cancelled = await tasks.request("tasks/cancel", running)
        assert cancelled["status"] == "cancelled"
    assert store.get(running).status == JobStatus.CANCELLED
