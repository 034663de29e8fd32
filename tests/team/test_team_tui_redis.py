"""codex-tui's team view on a real redis-server (127.0.0.1, a free port) with two worker
processes, each with its own store and host id: the view shows jobs of both machines, and
following a running job's output shows its new lines as that machine's codex writes them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from jobstore import JobStatus, RunOptions
from team.client import TeamClient
from tests.team.test_team_redis import Machine, machines  # noqa: F401 (a fixture)
from tests.team.test_team_tui import SIZE, output_text, shown_rows, team_config, team_screen, until
from tui.app import CodexTuiApp

HOSTS = {"machine-a", "machine-b"}


async def test_the_team_view_shows_both_machines_and_follows_a_running_job_live(
    machines: list[Machine],  # noqa: F811 (the fixture imported above)
    redis_url: str,
    workdir: Path,
    tmp_path: Path,
) -> None:
    followed_dir = workdir / "followed"  # in the repository both machines serve
    followed_dir.mkdir()
    async with TeamClient(redis_url) as team:
        # More jobs at once than one machine takes (3 each): both machines run some.
        quick = [
            await team.enqueue(RunOptions.checked(prompt=f"sleep=1 quick-{n}", cwd=str(workdir)))
            for n in range(8)
        ]
        followed = await team.enqueue(
            RunOptions.checked(prompt="lines=3 untilfile sleep=120 followed", cwd=str(followed_dir))
        )
        deadline = time.monotonic() + 60
        while True:
            jobs = {job.team_job_id: job for job in await team.jobs(20)}
            ran = {jobs[each.team_job_id].host for each in quick if jobs[each.team_job_id].is_terminal}
            # Every quick job ended (one waiting for a place reads host "any"); the followed one runs.
            ended = all(jobs[each.team_job_id].is_terminal for each in quick)
            if ended and ran == HOSTS and jobs[followed.team_job_id].status is JobStatus.RUNNING:
                break
            assert time.monotonic() < deadline, f"both machines never ran jobs: {ran}"
            await asyncio.sleep(0.1)

        app = CodexTuiApp(team_config(tmp_path, redis_url, team_relist_seconds=2.0))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: followed.team_job_id in shown_rows(app), "the listing")
            hosts = {host for _, host in shown_rows(app).values()}
            assert hosts == HOSTS  # jobs of both machines, in one table
            assert {each.team_job_id for each in quick} <= set(shown_rows(app))
            table = team_screen(app).table
            table.move_cursor(row=table.get_row_index(followed.team_job_id))
            await until(pilot, lambda: "line 2" in output_text(app), "the running job's output")
            assert output_text(app)[-4:] == ["line 0", "line 1", "line 2", "… $ sleep"]
            owner = shown_rows(app)[followed.team_job_id][1]
            assert team_screen(app).output.border_title == f"Output · {followed.team_job_id} · {owner}"
            (followed_dir / "release").touch()  # codex goes on: its next lines come live
            await until(pilot, lambda: any("Done: lines=3" in line for line in output_text(app)), "new lines")
            await until(pilot, lambda: shown_rows(app)[followed.team_job_id][0] == "✓ done", "its end")
            shown = output_text(app)
        # What was shown is what its machine's store renders of its local job, each line once.
        ended = await team.job(followed.team_job_id)
        (machine,) = [each for each in machines if each.host_id == ended.host]
        assert ended.local_job_id is not None
        local = [line.text for line in machine.store.rendered_tail(ended.local_job_id, 100)]
        assert shown == local
