"""The job store running the real codex CLI against the fake model service."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from jobstore import JobStatus, JobStore, ReviewOptions, RunOptions
from jobstore.events import total_tokens
from jobstore.record import JobRecord
from tests.helpers import PINNED_CODEX_VERSION, processes_matching, wait_until

REPO = Path(__file__).resolve().parents[2]


def run(store: JobStore, cwd: Path, prompt: str, **kw: object) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(cwd), **kw))


def test_plain_run(real_store: JobStore, git_repo: Path) -> None:
    job = run(real_store, git_repo, "REPLY: hello from the fake model")
    final = real_store.wait(job.job_id, 60)
    assert final.status == JobStatus.DONE, final.error
    assert final.exit_code == 0
    assert final.session_id
    assert final.codex_version == PINNED_CODEX_VERSION
    assert final.codex_path == real_store.store_settings().codex_path
    assert real_store.final_message(job.job_id) == "hello from the fake model"
    summary = real_store.summary(job.job_id)
    assert summary.turn_completed and summary.usage and summary.usage["input_tokens"] > 0


def test_run_that_executes_a_shell_command(real_store: JobStore, git_repo: Path) -> None:
    job = run(
        real_store, git_repo, "RUN_COMMAND: echo e2e-marker > made-by-codex.txt", approval_policy="full-auto"
    )
    final = real_store.wait(job.job_id, 60)
    assert final.status == JobStatus.DONE, final.error
    assert (git_repo / "made-by-codex.txt").read_text().strip() == "e2e-marker"
    commands = real_store.summary(job.job_id).commands
    assert commands and commands[-1].exit_code == 0 and "e2e-marker" in commands[-1].command
    texts = [line.text for line in real_store.rendered_tail(job.job_id, 50)]
    assert any("e2e-marker" in t and "[exit 0]" in t for t in texts)


def test_failing_run_is_an_error(real_store: JobStore, git_repo: Path) -> None:
    final = real_store.wait(run(real_store, git_repo, "FAIL_TURN please").job_id, 60)
    assert final.status == JobStatus.ERROR
    assert final.exit_code == 1
    assert "fake model failure" in (final.error or "")


def test_session_continued_by_id(real_store: JobStore, git_repo: Path) -> None:
    first = real_store.wait(run(real_store, git_repo, "REPLY: first answer").job_id, 60)
    assert first.status == JobStatus.DONE and first.session_id
    second = run(real_store, git_repo, "REPLY: second answer", session_id=first.session_id)
    second = real_store.wait(second.job_id, 60)
    assert second.status == JobStatus.DONE, second.error
    assert second.session_id == first.session_id
    assert real_store.final_message(second.job_id) == "second answer"
    (session,) = [s for s in real_store.sessions() if s.session_id == first.session_id]
    assert [t.job_id for t in session.turns] == [first.job_id, second.job_id]


def test_review_job(real_store: JobStore, git_repo: Path) -> None:
    job = real_store.start_review(ReviewOptions.checked(cwd=str(git_repo), uncommitted=True))
    final = real_store.wait(job.job_id, 90)
    assert final.kind == "review"
    assert final.status == JobStatus.DONE, final.error
    assert final.exit_code == 0
    # codex's events say 0 tokens for a review; its sub-agent's session has the real count.
    assert total_tokens(real_store.summary(job.job_id).usage) == 15  # the fake model's 10 in, 5 out


def test_long_run_cancelled_mid_command_leaves_no_process(real_store: JobStore, git_repo: Path) -> None:
    job = run(real_store, git_repo, "SLOW_COMMAND: sleep 597", approval_policy="full-auto")
    wait_until(lambda: processes_matching("sleep 597"), timeout=60)
    # codex's own argv holds the prompt too: wait for its runner to have recorded it.
    record = wait_until(lambda: (r := real_store.get(job.job_id)).codex_pid and r, timeout=10)
    assert record.status == JobStatus.RUNNING and record.codex_pid
    outcome = real_store.cancel(job.job_id)
    assert outcome.changed
    assert outcome.record.status == JobStatus.CANCELLED
    assert processes_matching("sleep 597") == []
    # The runner records the end, then exits.
    wait_until(lambda: processes_matching(f"jobstore.runner {real_store.root}") == [], timeout=10)
    assert processes_matching(str(real_store.layout.last_message(job.job_id))) == []


def test_job_survives_sigkill_of_its_starter(real_store: JobStore, git_repo: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from jobstore import JobStore, RunOptions
        store = JobStore({str(real_store.root)!r}, codex_bin={real_store.codex_bin!r})
        job = store.start(RunOptions.checked(
            prompt="RUN_COMMAND: sleep 2 && echo survived", cwd={str(git_repo)!r},
            approval_policy="full-auto"))
        print(job.job_id, flush=True)
        time.sleep(600)
        """
    )
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    job_id = starter.stdout.readline().strip()  # type: ignore[union-attr]
    wait_until(lambda: processes_matching("sleep 2 && echo survived"), timeout=60)
    starter.kill()
    starter.wait()
    final = real_store.wait(job_id, 60)
    assert final.status == JobStatus.DONE, final.error
    assert final.exit_code == 0
    assert real_store.summary(job_id).commands[-1].exit_code == 0


def test_jobs_over_the_limit_queue_then_run(
    tmp_path: Path, codex_env: dict[str, str], real_codex: Path, git_repo: Path, codex_path: str
) -> None:
    store = JobStore(tmp_path / "limited", max_jobs=1, codex_bin=str(real_codex))
    store.configure(codex_path=codex_path)
    jobs = [run(store, git_repo, f"REPLY: answer {i}") for i in range(3)]
    assert [j.status for j in jobs] == [JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED]
    finals = [store.wait(j.job_id, 90) for j in jobs]
    assert [f.status for f in finals] == [JobStatus.DONE] * 3
    assert [store.final_message(j.job_id) for j in jobs] == [f"answer {i}" for i in range(3)]
    # One at a time: each started only after the one before had finished.
    for before, after in zip(finals, finals[1:], strict=False):
        assert after.started_at >= before.finished_at  # type: ignore[operator]
