"""Talking to running jobs (steer, interrupt, answer) through the store, the real codex CLI's
app-server against the fake model service."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions
from jobstore.processes import marked_processes, marker_secret_of
from jobstore.record import JobRecord
from tests.helpers import processes_matching, wait_until


def run(store: JobStore, cwd: Path, prompt: str, **kw: object) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(cwd), **kw))


def running_command(store: JobStore, job_id: str, command: str) -> JobRecord:
    """The job once codex runs `command` (its turn started, the command's process up)."""
    wait_until(lambda: processes_matching(command), timeout=60)
    return wait_until(lambda: (r := store.get(job_id)).codex_pid and r, timeout=10)


def job_processes(store: JobStore, record: JobRecord) -> list[object]:
    secret = marker_secret_of(record)
    assert secret is not None and record.pid_started_at is not None
    return list(marked_processes(record.job_id, secret, record.pid_started_at))


def test_a_steered_turn_answers_the_message(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    job = run(store, git_repo, "SLOW_COMMAND: sleep 4.25", approval_policy="full-auto")
    running_command(store, job.job_id, "sleep 4.25")
    outcome = store.steer(job.job_id, "REPLY: the steered answer")
    assert outcome.handled, outcome.message
    final = store.wait(job.job_id, 60)
    assert final.status == JobStatus.DONE, final.error
    assert store.final_message(job.job_id) == "the steered answer"
    texts = [(line.kind, line.text) for line in store.rendered_tail(job.job_id, 50)]
    # Where it was sent: in the running turn, before the answer it asked for.
    assert texts.index(("user", "» REPLY: the steered answer")) < texts.index(("agent", "the steered answer"))
    assert [s["text"] for s in store.summary(job.job_id).steered] == ["REPLY: the steered answer"]
    with pytest.raises(InvalidInput, match="already ended"):
        store.steer(job.job_id, "too late")


def test_an_interrupted_job_stops_its_commands_and_its_session_goes_on(
    app_server_store: JobStore, git_repo: Path
) -> None:
    store = app_server_store
    job = run(store, git_repo, "SLOW_COMMAND: sleep 591", approval_policy="full-auto")
    record = running_command(store, job.job_id, "sleep 591")
    outcome = store.interrupt(job.job_id)
    assert outcome.handled, outcome.message
    assert outcome.record.status == JobStatus.INTERRUPTED
    assert outcome.record.session_id
    assert processes_matching("sleep 591") == []
    assert job_processes(store, record) == []
    with pytest.raises(InvalidInput, match="already ended"):
        store.interrupt(job.job_id)
    second = run(store, git_repo, "REPLY: a new turn", session_id=outcome.record.session_id)
    second = store.wait(second.job_id, 60)
    assert second.status == JobStatus.DONE, second.error
    assert store.final_message(second.job_id) == "a new turn"


def test_an_approved_command_runs(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    job = run(store, git_repo, "RUN_COMMAND: echo approved > approved.txt", approval_policy="untrusted")
    waiting = wait_until(lambda: (r := store.get(job.job_id)).status == JobStatus.WAITING and r, timeout=60)
    assert waiting.question is not None
    assert waiting.question["kind"] == "command"
    assert "approved.txt" in waiting.question["command"]
    assert not (git_repo / "approved.txt").exists()
    outcome = store.answer(job.job_id, "approve")
    assert outcome.handled, outcome.message
    assert outcome.record.question is None
    with pytest.raises(InvalidInput, match="already answered"):
        store.answer(job.job_id, "deny")
    final = store.wait(job.job_id, 60)
    assert final.status == JobStatus.DONE, final.error
    assert (git_repo / "approved.txt").read_text().strip() == "approved"


def test_a_denied_command_does_not_run(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    job = run(store, git_repo, "RUN_COMMAND: echo denied > denied.txt", approval_policy="untrusted")
    wait_until(lambda: store.get(job.job_id).status == JobStatus.WAITING, timeout=60)
    assert store.answer(job.job_id, "deny").handled
    final = store.wait(job.job_id, 60)
    assert final.status.is_terminal
    assert not (git_repo / "denied.txt").exists()
    commands = store.summary(job.job_id).commands
    assert commands and commands[-1].status == "declined"


def test_a_waiting_job_is_cancelled_unanswered(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    job = run(store, git_repo, "RUN_COMMAND: echo never > never.txt", approval_policy="untrusted")
    wait_until(lambda: store.get(job.job_id).status == JobStatus.WAITING, timeout=60)
    assert [j.job_id for j in store.list_jobs(limit=1)] == [job.job_id]
    outcome = store.cancel(job.job_id)
    assert outcome.record.status == JobStatus.CANCELLED
    assert outcome.record.question is None
    assert not (git_repo / "never.txt").exists()


def test_talking_to_a_job_that_cannot_listen_changes_nothing(
    app_server_store: JobStore, real_store: JobStore, git_repo: Path, codex_path: str
) -> None:
    if codex_path == "exec":
        job = run(real_store, git_repo, "SLOW_COMMAND: sleep 589", approval_policy="full-auto")
        running_command(real_store, job.job_id, "sleep 589")
        with pytest.raises(InvalidInput, match="runs as `codex exec`"):
            real_store.steer(job.job_id, "REPLY: no")
        with pytest.raises(InvalidInput, match="runs as `codex exec`"):
            real_store.interrupt(job.job_id)
        assert real_store.get(job.job_id).status == JobStatus.RUNNING
        with pytest.raises(InvalidInput, match="app-server"):
            run(real_store, git_repo, "REPLY: ask me", approval_policy="untrusted")
        return
    store = app_server_store
    store.configure(max_jobs=1)
    first = run(store, git_repo, "SLOW_COMMAND: sleep 587", approval_policy="full-auto")
    queued = run(store, git_repo, "REPLY: later")
    assert queued.status == JobStatus.QUEUED
    with pytest.raises(InvalidInput, match="not started yet"):
        store.steer(queued.job_id, "REPLY: no")
    running_command(store, first.job_id, "sleep 587")
    with pytest.raises(InvalidInput, match="already answered: .* no question waiting"):
        store.answer(first.job_id, "approve")
    with pytest.raises(InvalidInput, match="unknown decision"):
        store.answer(first.job_id, "maybe")
    assert not store.layout.messages_dir(queued.job_id).exists()
