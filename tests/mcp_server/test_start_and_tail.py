"""Small promises of the tools: tail_lines counts the lines returned, codex_start brings a new
session's id, and a review of a folder outside git is refused at start."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio

from jobstore import JobStore
from tests.mcp_server.mcp_helpers import ToolSession, call_error, call_ok, wait_done
from tests.mcp_server.test_mcp_server import connect


async def wait_for_session(session: ToolSession, job_id: str) -> dict[str, Any]:
    """codex_poll until the job's session id is known (codex's first event)."""
    with anyio.fail_after(20):
        while (view := await call_ok(session, "codex_poll", {"job_id": job_id}))["session_id"] is None:
            await anyio.sleep(0.05)
    return view


async def test_tail_lines_counts_the_lines_returned(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        job = await call_ok(session, "codex_start", {"prompt": "talk lines=12", "cwd": str(workdir)})
        await wait_done(session, job["job_id"])
        for wanted in (1, 5, 8):
            view = await call_ok(session, "codex_poll", {"job_id": job["job_id"], "tail_lines": wanted})
            assert view["output_lines"] == wanted
            assert len(view["output"].splitlines()) == wanted
        # Fewer only when the output holds fewer.
        view = await call_ok(session, "codex_poll", {"job_id": job["job_id"], "tail_lines": 500})
        assert view["output_lines"] == len(store.rendered_tail(job["job_id"], 10_000)) < 500


async def test_codex_start_answers_at_once_and_says_when_the_session_id_comes(
    store: JobStore, workdir: Path
) -> None:
    async with connect(store) as session:
        job = await call_ok(session, "codex_start", {"prompt": "slow sleep=5", "cwd": str(workdir)})
        if job["session_id"] is None:  # codex had not printed its first event yet
            assert "session_id is null until codex starts its session" in job["next"]
        polled = await wait_for_session(session, job["job_id"])
        # Read from codex's first event at once; in the job's record with its next write (the
        # runner's summary, half a second on): the same id.
        with anyio.fail_after(10):
            while store.get(job["job_id"]).session_id is None:
                await anyio.sleep(0.05)
        assert polled["session_id"] == store.get(job["job_id"]).session_id
        await call_ok(session, "codex_cancel", {"job_id": job["job_id"]})


async def test_a_queued_start_says_when_the_session_id_comes(store: JobStore, workdir: Path) -> None:
    small = JobStore(store.root, max_jobs=1, codex_bin=store.codex_bin, cancel_grace=2.0)
    async with connect(small) as session:
        first = await call_ok(session, "codex_start", {"prompt": "sleep=30", "cwd": str(workdir)})
        queued = await call_ok(session, "codex_start", {"prompt": "after", "cwd": str(workdir)})
        assert queued["status"] == "queued" and queued["session_id"] is None
        assert "session_id is null until codex starts" in queued["next"]
        await call_ok(session, "codex_cancel", {"job_id": queued["job_id"]})
        await call_ok(session, "codex_cancel", {"job_id": first["job_id"]})


async def test_a_review_outside_git_is_refused_at_start(store: JobStore, workdir: Path) -> None:
    async with connect(store) as session:
        error = await call_error(session, "codex_review", {"cwd": str(workdir)})
        assert "is not in a git repository" in error
        assert store.job_ids() == []  # nothing was written
        inner = workdir / "src"
        inner.mkdir()
        subprocess.run(["git", "init", "-q", str(workdir)], check=True)
        started = await call_ok(session, "codex_review", {"cwd": str(inner)})  # below the repository's root
        assert (await wait_done(session, started["job_id"]))["status"] == "done"
