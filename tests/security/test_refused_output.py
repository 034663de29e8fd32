"""Class 3 through every door: a job's output.txt that the store's rules refuse (a symlink to a
file outside the store, a file of another user, one that group or others may write) shows none
of its text anywhere: not in the store's reads, the CLI (`show`, `follow`), any MCP tool
(`codex_poll`, `codex_wait`, a task's result) or codex-tui (the output pane, the pager). Each
says it refused the file instead."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from jobstore import JobStatus, JobStore, RunOptions, StoreRefused, UnreadableRecord
from tests.mcp_server.mcp_helpers import call_error, server_env
from tests.mcp_server.test_mcp_server import connect
from tests.mcp_server.test_tasks import task_client
from tests.security.attack import run_cli
from tests.tui.test_output_view import open_output, shown_rows
from tests.tui.tui_demo import settle, tui_config
from tui.app import CodexTuiApp

SECRET = "SECRET-FROM-OUTSIDE-THE-STORE"
# What the file holds: a codex event, so a renderer that read it would show the secret.
SECRET_EVENT = '{"type": "item.completed", "item": {"type": "agent_message", "text": "' + SECRET + '"}}\n'


def _symlink(output: Path, outside: Path) -> str:
    victim = outside / "victim.jsonl"
    victim.write_text(SECRET_EVENT)
    output.unlink()
    output.symlink_to(victim)
    return "it is a symlink"


def _group_writable(output: Path, outside: Path) -> str:
    output.write_text(SECRET_EVENT)
    output.chmod(0o664)
    return "group or others may write it"


def _foreign_owner(output: Path, outside: Path) -> str:
    output.write_text(SECRET_EVENT)
    os.chown(output, 65534, 65534)  # nobody's
    return "it belongs to"


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
PLANTS: dict[str, Callable[[Path, Path], str]] = {
    "symlink": _symlink,
    "group-writable": _group_writable,
    "foreign-owner": _foreign_owner,
}
KINDS = [pytest.param(name, marks=ROOT_ONLY if name == "foreign-owner" else ()) for name in PLANTS]


def refused_job(store: JobStore, workdir: Path, tmp_path: Path, kind: str) -> tuple[str, str]:
    """A job that ended well, its output then made one the store refuses; (job id, the reason
    the refusal gives)."""
    job = store.start(RunOptions.checked(prompt="quick", cwd=str(workdir)))
    assert store.wait(job.job_id, 30).status == JobStatus.DONE
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    return job.job_id, PLANTS[kind](store.layout.output(job.job_id), outside)


def assert_refused(text: str, reason: str) -> None:
    assert SECRET not in text
    assert "refusing" in text and "output.txt" in text and reason in text, text


@pytest.mark.parametrize("kind", KINDS)
def test_the_store_refuses_the_output_for_every_reader(
    kind: str, store: JobStore, workdir: Path, tmp_path: Path
) -> None:
    job_id, reason = refused_job(store, workdir, tmp_path, kind)
    for read in (store.output_tail, store.rendered_tail, store.open_output):
        with pytest.raises(UnreadableRecord) as refused:
            read(job_id)
        assert_refused(str(refused.value), reason)
    follower = store.follow_output(job_id)
    with contextlib.closing(follower), pytest.raises(StoreRefused) as stopped:
        follower.read_new(final=True)
    assert_refused(str(stopped.value), reason)
    assert store.get(job_id).status == JobStatus.DONE  # the record is still read


@pytest.mark.parametrize("kind", KINDS)
def test_the_cli_says_refused_and_shows_none_of_it(
    kind: str, store: JobStore, workdir: Path, tmp_path: Path
) -> None:
    job_id, reason = refused_job(store, workdir, tmp_path, kind)
    for args in (("show", job_id), ("follow", job_id)):
        done = run_cli(store.root, *args)
        out = (done.stdout + done.stderr).decode("utf-8", "replace")
        assert done.returncode != 0, args
        assert_refused(out, reason)
    assert SECRET.encode() not in run_cli(store.root, "--json", "show", job_id).stdout  # the record only


@pytest.mark.parametrize("kind", KINDS)
async def test_every_mcp_tool_says_refused_and_shows_none_of_it(
    kind: str, store: JobStore, workdir: Path, tmp_path: Path
) -> None:
    job_id, reason = refused_job(store, workdir, tmp_path, kind)
    async with connect(store) as session:
        for tool in ("codex_poll", "codex_wait"):
            assert_refused(await call_error(session, tool, {"job_id": job_id}), reason)


async def test_a_task_result_says_refused_and_shows_none_of_it(
    store: JobStore, workdir: Path, fake_codex: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(store.root, fake_codex, HOME=str(home))
    async with task_client(env) as tasks:
        created = await tasks.start("codex", {"prompt": "quick", "cwd": str(workdir)})
        task_id = created["task"]["taskId"] if "task" in created else created["taskId"]
        assert store.wait(task_id, 30).status == JobStatus.DONE
        outside = tmp_path / "outside"
        outside.mkdir()
        reason = _symlink(store.layout.output(task_id), outside)
        task = await tasks.get(task_id)  # the answer, from last_message.txt: the output is not read
        assert task["result"]["structuredContent"]["answer"] == "Done: quick" and SECRET not in str(task)
        # Without the runner's summary and the final message, the answer would come from the output.
        store.layout.last_message(task_id).unlink()
        (store.layout.job_dir(task_id) / "summary.json").unlink()
        with pytest.raises(MCPError) as refused:
            await tasks.get(task_id)
    assert_refused(str(refused.value), reason)


@pytest.fixture
def no_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pager that would write what it is given to a file (it must never run)."""
    paged = tmp_path / "paged.txt"
    pager = tmp_path / "fake-pager"
    pager.write_text(f"#!/bin/sh\ncat > {paged}\n")
    pager.chmod(0o755)
    monkeypatch.setenv("PAGER", str(pager))
    return paged


@pytest.mark.parametrize("kind", KINDS)
async def test_codex_tui_says_refused_and_shows_none_of_it(
    kind: str,
    store: JobStore,
    workdir: Path,
    tmp_path: Path,
    no_pager: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id, reason = refused_job(store, workdir, tmp_path, kind)
    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC)), store=store)
    async with app.run_test(size=(200, 40)) as pilot:
        log = await open_output(pilot, app, job_id)
        shown = " ".join(shown_rows(log)) + " ".join(line.text for line in log.lines)
        assert SECRET not in shown
        assert "cannot read the output" in shown and "refusing" in shown and "output.txt" in shown
        notes: list[str] = []
        monkeypatch.setattr(app.jobs_screen, "notify", lambda message, **kw: notes.append(str(message)))

        @contextlib.contextmanager
        def suspend() -> Iterator[None]:
            raise AssertionError("the pager must not be started for a refused output")
            yield

        monkeypatch.setattr(app, "suspend", suspend)
        await pilot.press("o")
        await settle(pilot)
    assert not no_pager.exists()
    assert len(notes) == 1
    assert_refused(notes[0], reason)
