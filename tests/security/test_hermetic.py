"""Class 11, hermetic tests: codex never sees the developer's HOME or CODEX_HOME, and a
failing end-to-end test shows its jobs' output and runner logs."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from tests.security.attack import REPO

REAL_HOME = pwd.getpwuid(os.getuid()).pw_dir


def test_every_test_has_a_home_of_its_own() -> None:
    home = os.environ["HOME"]
    assert home != REAL_HOME and Path(home).is_dir()
    assert Path(os.environ["CODEX_HOME"]).is_relative_to(home)


def test_codex_runs_its_commands_with_the_tests_home(real_store: JobStore, git_repo: Path) -> None:
    options = RunOptions.checked(
        prompt='RUN_COMMAND: echo "home=$HOME codex_home=$CODEX_HOME"',
        cwd=str(git_repo),
        approval_policy="full-auto",
    )
    final = real_store.wait(real_store.start(options).job_id, 90)
    assert final.status == JobStatus.DONE, final.error
    command = real_store.summary(final.job_id).commands[-1]
    output = "\n".join(real_store.output_tail(final.job_id, 200).lines)
    assert command.exit_code == 0
    assert f"home={os.environ['HOME']} codex_home={os.environ['CODEX_HOME']}" in output
    assert f"home={REAL_HOME} " not in output


FAILING_TEST = """
from jobstore import JobStore, RunOptions


def test_fails_after_a_job(store: JobStore, workdir) -> None:
    job = store.start(RunOptions.checked(prompt="say hello-from-the-job", cwd=str(workdir)))
    store.wait(job.job_id, 30)
    print("job", job.job_id)
    assert False, "deliberate"
"""


def test_a_failing_test_shows_its_jobs_output_and_runner_log(tmp_path: Path) -> None:
    probe = Path(__file__).parent / f"_generated_failing_{os.getpid()}.py"
    probe.write_text(FAILING_TEST)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(probe), "-q", "-p", "no:cacheprovider"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        probe.unlink()
    assert done.returncode == 1, done.stdout
    assert "output (last 40 lines)" in done.stdout
    assert "Done: say hello-from-the-job" in done.stdout
    assert "runner.log" in done.stdout
