"""A snapshot of codex-tui's team view (pytest-textual-snapshot) on Docket's `memory://`.

Deterministic by construction: the team's records are written with fixed ids and times before
the team view opens (from this machine's jobs, by `T`), the clock is frozen, the size and theme
fixed, no periodic listing, and the snapshot is taken once the listing is drawn and the
selected job's output read (its reader then finds nothing new: nothing changes on screen).
Regenerate with `pytest tests/team/test_team_tui_snapshots.py --snapshot-update`, then read it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from docket import Docket

from jobstore import JobStatus
from team import lease, registry
from team.claim import Claim, claim_job, record_started
from team.keys import RedisClient, TeamKeys
from team.lease import HostLease, record_end
from team.registry import record_enqueued
from tests.tui.tui_demo import NOW, done_output, failed_output, running_output, tui_config
from tui.app import CodexTuiApp
from tui.screens.team import TeamScreen

KEYS = TeamKeys()
WIDE = (120, 35)
CWD = "/home/dev/src/api"
SESSION = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def at(minutes_ago: float) -> float:
    return (NOW - timedelta(minutes=minutes_ago)).timestamp()


async def team_job(
    redis: RedisClient,
    monkeypatch: pytest.MonkeyPatch,
    team_job_id: str,
    prompt: str,
    enqueued_minutes_ago: float,
    *,
    host: str | None = None,
    asked_host: str | None = None,
    end: tuple[JobStatus, int | None] | None = None,
    output: list[str] | None = None,
) -> None:
    """A team job as the workers would have left it, at fixed times: enqueued, started on
    `host` a minute later, ended (`end`: status and exit code) when given, its output copied."""
    enqueued = at(enqueued_minutes_ago)
    monkeypatch.setattr(registry, "time", SimpleNamespace(time=lambda: enqueued))
    await record_enqueued(redis, KEYS, team_job_id, {"prompt": prompt, "cwd": CWD}, asked_host)
    if host is None:
        return
    claim = Claim(host, f"boot-{host}")
    await claim_job(redis, KEYS, team_job_id, claim)
    started = Claim(
        host,
        claim.boot_id,
        job_id=f"20250602-0{int(enqueued_minutes_ago):03d}-{host[-1]}",
        started_at=enqueued + 60,
    )
    await record_started(redis, KEYS, team_job_id, started)
    if output:
        data = "".join(line + "\n" for line in output).encode()
        await redis.xadd(KEYS.output(team_job_id), {"offset": "0", "data": data})
    if end is not None:
        monkeypatch.setattr(lease, "time", SimpleNamespace(time=lambda: enqueued + 150))
        await record_end(redis, KEYS, team_job_id, end[0], host, end[1])


async def write_team(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Docket(name=KEYS.docket_name, url=url) as docket, docket.redis() as redis:
        for host in ("machine-a", "machine-b"):
            await HostLease(host, f"boot-{host}", 3600).renew(redis, KEYS)
        done = done_output(SESSION, "The retry settings are documented.", 5200, 340)
        await team_job(
            redis,
            monkeypatch,
            "t0c7d1e9a2b4f6081",
            "Cancelled: rename the CLI flags",
            50,
            host="machine-a",
            end=(JobStatus.CANCELLED, None),
        )
        await team_job(
            redis,
            monkeypatch,
            "t5b2e8c4d6a1f3907",
            "Upgrade the ORM and run the migrations",
            40,
            host="machine-b",
            end=(JobStatus.ERROR, 1),
            output=failed_output(SESSION),
        )
        await team_job(
            redis,
            monkeypatch,
            "t9e4a7c1b3d5f2608",
            "Document the retry settings in README",
            30,
            host="machine-a",
            end=(JobStatus.DONE, 0),
            output=done,
        )
        await team_job(
            redis, monkeypatch, "t2f8b6d0c9e1a4735", "Write the changelog for 2.4", 12, asked_host="machine-b"
        )
        # A prompt with a terminal escape in it (a window-title change): shown visibly, never sent.
        await team_job(
            redis,
            monkeypatch,
            "t7a3c5e1f9b2d4068",
            "Fix the flaky login test \x1b]0;pwned\x07now",
            6,
            host="machine-b",
            output=running_output(SESSION)[:4],
        )
        await team_job(
            redis,
            monkeypatch,
            "t4d9f2a6c8e0b1357",
            "Add retry with backoff to the payments client",
            3,
            host="machine-a",
            output=running_output(SESSION),
        )


def test_team_view_of_two_machines(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "memory://team-snapshot"  # shown in the status line; one memory:// per event loop
    config = tui_config(
        Path("/nonexistent/codex-tui-snapshot/store"),
        now=NOW.astimezone(UTC),
        redis_url=url,
        team_relist_seconds=0.0,
    )

    async def open_team_view(pilot: Any) -> None:
        await write_team(url, monkeypatch)  # in the app's loop: memory:// is one per loop
        await pilot.press("T")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not ready(pilot.app):
            assert loop.time() < deadline, "the team view did not settle"
            await pilot.pause(0.02)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    def ready(app: CodexTuiApp) -> bool:
        screen = app.screen
        return isinstance(screen, TeamScreen) and screen.listed and not screen.output.reading

    assert snap_compare(CodexTuiApp(config), terminal_size=WIDE, run_before=open_team_view)
