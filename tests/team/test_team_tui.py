"""codex-tui's team view driven by Textual's pilot, on Docket's `memory://` with the in-process
`TeamWorker` and the fake codex: the team's jobs listed, a start and an end shown from the state
stream alone (no periodic listing), the selected job's output followed as codex writes it, a
cancel asked first and landing, and an unreachable Redis said plainly while the UI still answers.
Also: `codex-tui --team` without a Redis is one line and exit 2; `T` goes there and back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from docket import Docket
from textual.widgets import Static

from jobstore import JobStatus, JobStore, RunOptions
from team.client import TeamClient
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease
from team.routing import Serving, advertise, host_docket
from team.worker import TeamWorker
from tests.tui.test_tui_pilot import notifications, wait_for
from tests.tui.tui_demo import tui_config
from tui.app import CodexTuiApp
from tui.config import TuiConfig
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.jobs import JobsScreen
from tui.screens.team import TeamScreen
from tui.widgets.output_log import OutputLog
from tui.widgets.status_bar import StatusBar
from tui.widgets.team_table import TeamJobsTable

KEYS = TeamKeys()
SIZE = (140, 40)


def team_config(tmp_path: Path, redis_url: str | None, **overrides: Any) -> TuiConfig:
    """The pilot tests' configuration: the team's Redis, opened on the team view, the state
    stream the only way a start or an end is seen (no periodic listing)."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "team_first": True,
        "team_relist_seconds": 0.0,
        "team_block_seconds": 0.2,
        "team_output_seconds": 0.05,
        "team_retry_seconds": 0.2,
    }
    values.update(overrides)
    return tui_config(tmp_path / "no-local-store", now=datetime.now(UTC), **values)


def team_screen(app: CodexTuiApp) -> TeamScreen:
    screen = app.screen
    assert isinstance(screen, TeamScreen)
    return screen


def shown_rows(app: CodexTuiApp) -> dict[str, tuple[str, str]]:
    """Each team job shown: (its status cell, its host cell); none before the team view shows."""
    if not isinstance(app.screen, TeamScreen):
        return {}
    table = app.screen.query_one(TeamJobsTable)
    return {
        team_job_id: (table.get_cell(team_job_id, "status").plain, table.get_cell(team_job_id, "host").plain)
        for team_job_id in table.jobs
    }


def output_text(app: CodexTuiApp) -> list[str]:
    if not isinstance(app.screen, TeamScreen):
        return []
    return [line.text for line in team_screen(app).query_one(OutputLog).lines]


def status_line(app: CodexTuiApp) -> str:
    return str(team_screen(app).query_one(StatusBar).render())


def palette_titles(app: CodexTuiApp) -> list[str]:
    return [command.title for command in app.get_system_commands(app.screen)]


def run(workdir: Path, prompt: str) -> RunOptions:
    return RunOptions.checked(prompt=prompt, cwd=str(workdir))


@pytest.fixture
async def team(memory_docket: Docket) -> AsyncIterator[TeamClient]:
    async with TeamClient(memory_docket.url) as client:
        yield client


@pytest.fixture
async def serving(
    argv_log: Path, store: JobStore, memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> AsyncIterator[TeamWorker]:
    """machine-a's worker, in this process, serving `workdir` and taking the jobs routed to it
    (from its own queue) until the test ends."""
    lease = HostLease("machine-a", "boot-a", 30.0)
    worker = TeamWorker(store, memory_redis, lease, recheck_seconds=0.2, roots=(str(workdir),))
    await worker.lease.renew(memory_redis, KEYS)
    await advertise(memory_redis, KEYS, worker.serving(), lease.seconds)
    async with host_docket(memory_docket, KEYS, "machine-a") as own:
        task = asyncio.ensure_future(worker.serve(own))
        yield worker
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(pilot: Any, condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    await wait_for(pilot, condition, timeout=timeout, what=what)


async def test_lists_the_team_and_shows_a_start_and_an_end_from_the_state_stream(
    tmp_path: Path, team: TeamClient, serving: TeamWorker, memory_docket: Docket, workdir: Path
) -> None:
    first = await team.enqueue(run(workdir, "untilfile sleep=60 first"))
    app = CodexTuiApp(team_config(tmp_path, memory_docket.url))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: first.team_job_id in shown_rows(app), "the first listing")
        assert "live from memory://" in status_line(app)
        # Enqueued after the listing: seen when it starts (the state stream), not before.
        job = await team.enqueue(run(workdir, "untilfile sleep=60 live-one"))
        # Docket may hand the first job over after the second (seen: about 1 run in 4): both starts
        # are awaited, each shown from the state stream alone.
        both = {job.team_job_id: ("● running", "machine-a"), first.team_job_id: ("● running", "machine-a")}
        await until(pilot, lambda: shown_rows(app) == both, "their starts")
        assert shown_rows(app) == {
            job.team_job_id: ("● running", "machine-a"),
            first.team_job_id: ("● running", "machine-a"),
        }
        table = team_screen(app).table
        assert list(table.jobs) == [job.team_job_id, first.team_job_id]  # newest first
        assert table.get_cell(job.team_job_id, "prompt").plain == "untilfile sleep=60 live-one"
        assert table.get_cell(job.team_job_id, "id").plain == job.team_job_id[:12] + "…"
        (workdir / "release").touch()
        ended = {"✓ done"}
        await until(
            pilot, lambda: {row[0] for row in shown_rows(app).values()} == ended, "their ends", timeout=60
        )


async def test_follows_the_selected_jobs_output_as_codex_writes_it(
    tmp_path: Path, team: TeamClient, serving: TeamWorker, memory_docket: Docket, workdir: Path
) -> None:
    job = await team.enqueue(run(workdir, "lines=3 untilfile sleep=60 followed"))
    app = CodexTuiApp(team_config(tmp_path, memory_docket.url))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "line 2" in output_text(app), "the output so far")
        assert output_text(app)[-4:] == ["line 0", "line 1", "line 2", "… $ sleep"]  # the command runs
        assert not any("Done:" in line for line in output_text(app))
        view = team_screen(app).output
        assert view.border_title == f"Output · {job.team_job_id} · machine-a"
        assert view.border_subtitle == "following"
        (workdir / "release").touch()
        await until(pilot, lambda: any("Done: lines=3" in line for line in output_text(app)), "new lines")
        await until(pilot, lambda: view.border_subtitle == "done · all of it read", "its end")
        # Each line once, in order, rendered as the owner's store renders its own job.
        local = serving.store.rendered_tail(serving.store.job_ids()[0], 100)
        assert [line.text for line in team_screen(app).query_one(OutputLog).lines] == [
            line.text for line in local
        ]


async def test_cancel_asks_first_then_the_job_ends_cancelled(
    tmp_path: Path, team: TeamClient, serving: TeamWorker, memory_docket: Docket, workdir: Path
) -> None:
    job = await team.enqueue(run(workdir, "sleep=60 to be cancelled"))
    app = CodexTuiApp(team_config(tmp_path, memory_docket.url))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown_rows(app).get(job.team_job_id, ("",))[0] == "● running", "its start")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")  # kept: nothing asked of Redis
        await pilot.pause(0.3)
        assert not (await team.job(job.team_job_id)).cancel_requested
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: shown_rows(app)[job.team_job_id][0] == "⊘ cancelled", "the cancel")
        assert any(f"cancel asked for team job {job.team_job_id}" in each for each in notifications(app))
        ended = await team.job(job.team_job_id)
        assert ended.status is JobStatus.CANCELLED and ended.ended_by == "machine-a"
        await pilot.press("c")  # an ended job: said, not asked
        await pilot.pause(0.1)
        assert isinstance(app.screen, TeamScreen)
        assert any("only queued or running jobs can be cancelled" in each for each in notifications(app))


async def test_an_unreachable_redis_is_said_plainly_and_the_ui_still_answers(tmp_path: Path) -> None:
    app = CodexTuiApp(team_config(tmp_path, "redis://user:secret@127.0.0.1:1/0"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: team_screen(app).reachable is False, "the failure")
        assert "Redis at redis://127.0.0.1:1 did not answer" in status_line(app)
        said = str(team_screen(app).query_one("#team-problem", Static).render())
        assert said.startswith("The team's Redis at redis://127.0.0.1:1 did not answer (Error 111 connecting")
        assert said.endswith("Trying again every 0.2s; nothing read yet.")
        assert "secret" not in said and "Traceback" not in said
        await pilot.pause(0.5)  # tried again, still said the same way, no worker failed
        assert team_screen(app).reachable is False and not notifications(app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "T")
        assert isinstance(app.screen, JobsScreen)


async def test_t_switches_between_this_machines_jobs_and_the_teams(
    tmp_path: Path, team: TeamClient, memory_docket: Docket, memory_redis: RedisClient, workdir: Path
) -> None:
    await advertise(memory_redis, KEYS, Serving("machine-a", "boot-a", (str(workdir),), 2), 5.0)
    job = await team.enqueue(run(workdir, "listed"))
    app = CodexTuiApp(team_config(tmp_path, memory_docket.url, team_first=False))
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, JobsScreen)
        assert "Team jobs" in palette_titles(app)
        await pilot.press("T")
        await until(pilot, lambda: job.team_job_id in shown_rows(app), "the team's listing")
        assert {"This machine's jobs", "Cancel the selected team job"} <= set(palette_titles(app))
        await pilot.press("T")
        assert isinstance(app.screen, JobsScreen)
    local = CodexTuiApp(team_config(tmp_path, None, team_first=False))
    async with local.run_test(size=SIZE) as pilot:
        await pilot.press("T")  # no Redis: not offered
        assert isinstance(local.screen, JobsScreen)
        assert "Team jobs" not in palette_titles(local)


async def test_a_redis_that_never_answers_is_said_the_same_way(tmp_path: Path) -> None:
    with socket.socket() as silent:  # takes connections, never answers: a stopped Redis
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app = CodexTuiApp(team_config(tmp_path, url, team_read_seconds=0.3))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: team_screen(app).reachable is False, "the failure")
            said = str(team_screen(app).query_one("#team-problem", Static).render())
            assert f"The team's Redis at {url[:-2]} did not answer (no answer within 0.3s)" in said
            await pilot.press("question_mark")  # the UI answers meanwhile
            assert isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("env", [{}, {"CODEX_ASYNC_REDIS": "redis://10.0.0.9:6379/0"}])
def test_team_without_a_usable_redis_is_one_line_and_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "CODEX_ASYNC_REDIS"} | env
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--team", "--store", str(tmp_path / "store")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("codex-tui: ")
    assert ("--redis URL" in line) if not env else ("not on this machine" in line)
