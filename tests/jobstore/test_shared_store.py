"""The UI and MCP servers on one store at once: a cancel from the UI while a server polls the
job, and the UI open through a load of 200 jobs started by three servers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from jobstore import JobStatus, JobStore
from tests.jobstore.test_load import JOBS, LIMIT, Sampler
from tests.mcp_server.mcp_helpers import call_ok, server_env, stdio_session
from tests.tui.tui_demo import settle, tui_config
from tui.app import CodexTuiApp
from tui.screens.confirm import ConfirmScreen


def rows(app: CodexTuiApp) -> dict[str, Any]:
    """The jobs the UI shows, by id."""
    return app.jobs_screen.model.rows


async def wait_for(pilot: object, condition: object, timeout: float = 30.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_cancel_from_the_ui_while_a_server_polls(
    store: JobStore, fake_codex: Path, workdir: Path
) -> None:
    env = server_env(store.root, fake_codex)
    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC), watch=True), store=store)
    seen: list[str] = []
    async with stdio_session(env) as session, app.run_test(size=(120, 35)) as pilot:
        started = await call_ok(session, "codex_start", {"prompt": "sleep=60", "cwd": str(workdir)})
        job_id = str(started["job_id"])
        await wait_for(
            pilot,
            lambda: job_id in rows(app) and rows(app)[job_id].status == "running",
        )
        app.jobs_screen.open_job(job_id)
        await settle(pilot)

        async def poll_until_ended() -> None:
            while True:
                polled = await call_ok(session, "codex_poll", {"job_id": job_id})
                seen.append(polled["status"])
                if polled["status"] != "running":
                    return
                await anyio.sleep(0.02)

        async with anyio.create_task_group() as group:
            group.start_soon(poll_until_ended)
            await pilot.press("c")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await wait_for(pilot, lambda: rows(app)[job_id].status == "cancelled")

    assert seen[-1] == "cancelled" and set(seen) <= {"running", "cancelled"}
    final = store.get(job_id)
    assert final.status == JobStatus.CANCELLED and final.finished_at
    # Recorded once: the cancel request and the end, and nothing after.
    assert store.cancel(job_id).changed is False


async def test_ui_open_through_a_load_of_200_jobs(store: JobStore, fake_codex: Path, workdir: Path) -> None:
    env = server_env(store.root, fake_codex, CODEX_ASYNC_MAX_JOBS=str(LIMIT))
    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC), watch=True), store=store)
    sampler = Sampler(store)
    sampler.start()
    ids: list[str] = []
    try:
        async with (
            app.run_test(size=(120, 35)) as pilot,
            stdio_session(env) as first,
            stdio_session(env) as second,
            stdio_session(env) as third,
        ):
            sessions = [first, second, third]

            async def start(n: int) -> None:
                args = {"prompt": f"ui load {n} sleep=0.05", "cwd": str(workdir)}
                ids.append(str((await call_ok(sessions[n % 3], "codex_start", args))["job_id"]))

            async with anyio.create_task_group() as group:
                for n in range(JOBS):
                    group.start_soon(start, n)
            for job_id in ids:
                await anyio.to_thread.run_sync(store.wait, job_id, 120)
            # The UI, watching all along, ends up showing every job as done.
            await wait_for(
                pilot,
                lambda: len(rows(app)) == JOBS and all(r.status == "done" for r in rows(app).values()),
                timeout=60,
            )
            assert app.jobs_screen.table.row_count == JOBS
    finally:
        sampler.stop.set()
        sampler.join()
    assert sampler.most_processes <= LIMIT and sampler.most_slots <= LIMIT
    assert len(set(ids)) == JOBS
    assert all(store.read_record(job_id).status == JobStatus.DONE for job_id in ids)
