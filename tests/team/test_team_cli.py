"""`codex-async list`, `show` and `follow` over the team (`--redis URL` or `CODEX_ASYNC_REDIS`) on a
real redis-server with a real worker process: what they print is what the worker's own
`codex-async` prints of the same job; bad input gets a clear error; without a Redis (or for a
local job id) they are the store's commands as before, and neither they nor the MCP server's
start load redis or Docket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from jobstore import JobStatus, JobStore, RunOptions
from team.client import TeamClient
from tests.team.test_team_redis import Machine


async def codex_async(store: Path, *argv: str, redis: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("CODEX_ASYNC_REDIS", None)
    if redis is not None:
        env["CODEX_ASYNC_REDIS"] = redis
    command = [sys.executable, "-m", "team", "--store", str(store), *argv]
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    )


def rendered_lines(printed: str) -> list[str]:
    """The output lines `show` prints after its record (JSON, then one line each)."""
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(printed)
    return printed[end:].strip("\n").splitlines()


async def test_list_show_and_follow_read_the_team_as_the_worker_reads_its_job(
    machine_a: Machine, redis_url: str, store: JobStore, workdir: Path
) -> None:
    async with TeamClient(redis_url) as team:
        job = await team.enqueue(
            RunOptions.checked(prompt="garbage lines=40 sleep=1 cli-one", cwd=str(workdir))
        )
    team_job_id = job.team_job_id
    followed = await codex_async(store.root, "follow", team_job_id, "--tail", "1000", "--redis", redis_url)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.splitlines()[-1] == f"team job {team_job_id} done on machine-a (exit 0)"

    shown = await codex_async(store.root, "show", team_job_id, "--tail", "1000", redis=redis_url)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout[: shown.stdout.index("\n}") + 2])
    assert (record["status"], record["host"], record["exit_code"]) == ("done", "machine-a", 0)
    there = await codex_async(machine_a.store.root, "show", record["local_job_id"], "--tail", "1000")
    expected = rendered_lines(there.stdout)
    assert len(expected) > 40 and rendered_lines(shown.stdout) == expected
    assert followed.stdout.splitlines()[:-1] == expected  # every line once, in order

    listed = await codex_async(store.root, "list", redis=redis_url)
    (row,) = listed.stdout.splitlines()[1:]
    assert row.split()[:3] == [team_job_id, "done", "machine-a"]
    as_json = await codex_async(store.root, "--json", "list", "--redis", redis_url)
    assert [each["team_job_id"] for each in json.loads(as_json.stdout)] == [team_job_id]
    # Without a Redis, the same commands read this machine's store, as before.
    local = await codex_async(store.root, "list")
    assert local.returncode == 0 and local.stdout.strip() == "no jobs"
    assert store.job_ids() == []


async def test_bad_input_is_said_and_changes_nothing(redis_url: str, store: JobStore, tmp_path: Path) -> None:
    unknown = await codex_async(store.root, "show", "t" + "0" * 32, "--redis", redis_url)
    assert unknown.returncode == 1 and "no team job" in unknown.stderr
    malformed = await codex_async(store.root, "follow", "../x", redis=redis_url)
    assert malformed.returncode == 2 and "a team job id must be" in malformed.stderr
    plain_elsewhere = await codex_async(store.root, "list", "--redis", "redis://10.1.2.3/0")
    assert plain_elsewhere.returncode == 2 and "use rediss://" in plain_elsewhere.stderr
    away = await codex_async(store.root, "list", "--redis", "redis://:pw@127.0.0.1:1/0")
    assert away.returncode == 1 and "did not answer" in away.stderr and ":pw@" not in away.stderr
    assert not store.root.exists() or store.job_ids() == []


@pytest.mark.parametrize("with_team", [False, True])
def test_the_mcp_server_loads_redis_only_with_a_team(tmp_path: Path, with_team: bool) -> None:
    code = (
        "import sys; import mcp_server.__main__ as entry; "
        "entry.run_stdio = lambda server, front: print("
        "sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'docket', 'team.client'}), "
        "'team.client' in sys.modules); "
        "entry.main(['--store', sys.argv[1]])"
    )
    env = {key: value for key, value in os.environ.items() if key != "CODEX_ASYNC_REDIS"}
    if with_team:
        env["CODEX_ASYNC_REDIS"] = "redis://127.0.0.1:1/0"  # never connected: no tool is called
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "store")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded, client = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert (loaded, client) == (("['docket', 'redis']", "True") if with_team else ("[]", "False"))


async def test_diff_and_apply_of_a_team_job_reach_this_machines_working_tree(
    machine_a: Machine, redis_url: str, store: JobStore, workdir: Path
) -> None:
    from tests.worktree_repo import UNCOMMITTED_NOTES, person_repository

    repo = person_repository(workdir / "repo")  # the path the team shares: served by machine-a
    index_before = (repo / ".git" / "index").read_bytes()
    async with TeamClient(redis_url) as team:
        asked = [
            RunOptions.checked(prompt=f"write=made-{n}.py write=notes.txt", cwd=str(repo), worktree=True)
            for n in (1, 2)
        ]
        jobs = [await team.enqueue(options) for options in asked]
        ended = [(await team.wait(job.team_job_id, 60))[0] for job in jobs]
    assert [job.status for job in ended] == [JobStatus.DONE, JobStatus.DONE]
    first, second = (job.team_job_id for job in ended)
    for job in ended:  # nothing of the worker's side is left: only the published changes
        assert job.local_job_id is not None
        machine_a.store.discard(job.local_job_id)

    shown = await codex_async(store.root, "diff", first, redis=redis_url)
    assert shown.returncode == 0, shown.stderr
    assert "+written by the job: made-1.py" in shown.stdout and "notes.txt" in shown.stdout
    printed = await codex_async(store.root, "--json", "diff", first, "--redis", redis_url)
    as_json = json.loads(printed.stdout)
    assert (as_json["team_job_id"], as_json["host"]) == (first, "machine-a")
    assert sorted(name for _, name in as_json["files"]) == ["made-1.py", "notes.txt"]

    applied = await codex_async(store.root, "apply", first, redis=redis_url)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[0] == f"applied team job {first}: 2 file(s) changed, uncommitted"
    assert (repo / "made-1.py").read_text() == "written by the job: made-1.py\n"
    assert (repo / "notes.txt").read_text() == UNCOMMITTED_NOTES + "written by the job: notes.txt\n"
    assert (repo / ".git" / "index").read_bytes() == index_before
    again = await codex_async(store.root, "apply", first, redis=redis_url)
    assert again.returncode == 2 and "applied already" in again.stderr
    # The second job appended the same line to notes.txt as the first: on top of the first's, it
    # conflicts there. Nothing changes, and the answer names the file and the way out.
    before = {path.name: path.read_bytes() for path in repo.iterdir() if path.is_file()}
    conflicted = await codex_async(store.root, "apply", second, redis=redis_url)
    assert conflicted.returncode == 5, conflicted.stderr
    assert f"not applied: team job {second}'s change conflicts in notes.txt" in conflicted.stdout
    assert "on machine-a" in conflicted.stdout
    assert {path.name: path.read_bytes() for path in repo.iterdir() if path.is_file()} == before
    assert store.job_ids() == []  # the local store made no job of it
