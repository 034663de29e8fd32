"""codex_poll's include_diff: what a job changed in its git repository, recorded by the runner."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastmcp import Client

from jobstore import JobStore, RunOptions
from mcp_server.server import create_server
from mcp_server.settings import ServerSettings
from tests.helpers import wait_until
from tests.jobstore.test_worktree_diff import codex_started, git


async def test_codex_poll_returns_the_diff_only_when_asked(store: JobStore, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("first\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    job_id = store.start(RunOptions(prompt="sleep=300", cwd=str(repo))).job_id
    wait_until(lambda: codex_started(store, job_id))
    subprocess.run("echo appended >> notes.txt", shell=True, cwd=repo, check=True)
    store.cancel(job_id, wait=20)
    wait_until(lambda: store.get(job_id).is_terminal)

    async with Client(create_server(store, ServerSettings())) as client:
        plain = (await client.call_tool("codex_poll", {"job_id": job_id})).structured_content
        asked = (
            await client.call_tool("codex_poll", {"job_id": job_id, "include_diff": True})
        ).structured_content
    assert plain is not None and plain["worktree_diff"] is None
    assert asked is not None
    diff = asked["worktree_diff"]
    assert diff["repo"] == str(repo) and diff["ended"] and diff["other_jobs"] == []
    assert diff["files"] == [{"path": "notes.txt", "kind": "M"}]
    assert " first\n+appended\n" in diff["diff"] and not diff["truncated"]
