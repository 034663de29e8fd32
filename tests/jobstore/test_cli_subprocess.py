"""`codex-async` as a person runs it: its own process, real stdout/stderr, Ctrl-C, a closed pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]


def cli(store: JobStore, *args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    return subprocess.Popen(
        [sys.executable, "-m", "jobstore.cli", "--store", str(store.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        **kw,  # type: ignore[call-overload]
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_version_and_json_after_the_command(store: JobStore, workdir: Path) -> None:
    code, out, _ = finish(cli(store, "--version"))
    assert code == 0 and out.startswith("codex-async ")
    job = store.wait(store.start(RunOptions.checked(prompt="hi", cwd=str(workdir))).job_id, 30)
    code, out, err = finish(cli(store, "list", "--json"))
    assert code == 0, err
    assert json.loads(out)[0]["job_id"] == job.job_id


def test_ctrl_c_stops_following_not_the_job(store: JobStore, workdir: Path) -> None:
    job = store.start(RunOptions.checked(prompt="long sleep=120", cwd=str(workdir)))
    follower = cli(store, "follow", job.job_id)
    assert follower.stdout is not None
    # The output so far arrives first: the command is following now.
    wait_until(lambda: "… $ sleep" in follower.stdout.readline(), timeout=30)  # type: ignore[union-attr]
    follower.send_signal(signal.SIGINT)
    code, _, err = finish(follower)
    assert code == 130
    assert f"stopped following; job {job.job_id} keeps running" in err
    assert "Traceback" not in err
    assert store.get(job.job_id).status == JobStatus.RUNNING
    store.cancel(job.job_id)


def test_start_and_wait_from_the_shell(store: JobStore, workdir: Path) -> None:
    code, out, err = finish(cli(store, "--json", "start", "shell job", "--cwd", str(workdir)))
    assert code == 0, err
    job_id = json.loads(out)["job_id"]
    code, out, _ = finish(cli(store, "wait", job_id, "--timeout", "60"))
    assert (code, out.strip()) == (0, f"job {job_id} done (exit 0)")
    code, out, err = finish(cli(store, "start", "x", "--cwd", "relative/missing"))
    assert code == 2 and out == "" and err.startswith("codex-async: cwd ") and err.count("\n") == 1


def test_a_reader_that_leaves_early_is_no_error(store: JobStore, workdir: Path) -> None:
    for index in range(3):
        store.wait(store.start(RunOptions.checked(prompt=f"job {index}", cwd=str(workdir))).job_id, 30)
    lister = cli(store, "list")
    assert lister.stdout is not None
    lister.stdout.close()  # as `| head -0` does
    lister.wait(timeout=60)
    assert lister.stderr is not None and "Traceback" not in lister.stderr.read()
