"""`codex-async steer | interrupt | answer | show | list | config` in their own processes, on jobs
of the real codex CLI's app-server against the fake model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from tests.helpers import processes_matching, wait_until

REPO = Path(__file__).resolve().parents[2]


def cli(store: JobStore, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "jobstore.cli", "--store", str(store.root), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def start(store: JobStore, cwd: Path, prompt: str, *flags: str) -> str:
    code, out, err = cli(store, "--json", "start", prompt, "--cwd", str(cwd), *flags)
    assert code == 0, err
    return str(json.loads(out)["job_id"])


def test_steer_interrupt_and_answer_from_the_shell(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    code, out, _ = cli(store, "config")
    assert code == 0 and "codex_path app-server" in out

    job_id = start(store, git_repo, "SLOW_COMMAND: sleep 4.5", "--approval-policy", "full-auto")
    wait_until(lambda: processes_matching("sleep 4.5"), timeout=60)
    code, out, err = cli(store, "steer", job_id, "REPLY: from the shell")
    assert code == 0, err
    assert "sent into the running turn" in out
    code, _, err = cli(store, "wait", job_id)
    assert code == 0, err
    assert store.final_message(job_id) == "from the shell"
    code, _, err = cli(store, "steer", job_id, "too late")
    assert code == 2 and "already ended" in err

    slow = start(store, git_repo, "SLOW_COMMAND: sleep 579", "--approval-policy", "full-auto")
    wait_until(lambda: processes_matching("sleep 579"), timeout=60)
    code, out, err = cli(store, "interrupt", slow)
    assert code == 0, err
    assert "is interrupted" in out
    assert processes_matching("sleep 579") == []
    code, _, _ = cli(store, "wait", slow)
    assert code == 4  # ended, not done

    asking = start(store, git_repo, "RUN_COMMAND: echo shell > shell.txt", "--approval-policy", "untrusted")
    wait_until(lambda: store.get(asking).status == JobStatus.WAITING, timeout=60)
    code, out, _ = cli(store, "list")
    assert out.splitlines()[1].split()[:2] == [asking, "waiting"]
    code, out, _ = cli(store, "show", asking)
    assert "QUESTION" in out and "shell.txt" in out and f"codex-async answer {asking}" in out
    code, out, err = cli(store, "answer", asking, "approve")
    assert code == 0, err
    code, _, err = cli(store, "answer", asking, "deny")
    # The job may have ended meanwhile: either way the second answer changes nothing.
    assert code == 2 and ("already answered" in err or "already ended" in err), err
    code, _, err = cli(store, "wait", asking)
    assert code == 0, err
    assert (git_repo / "shell.txt").read_text().strip() == "shell"


def test_exec_setting_is_obeyed_by_every_process(app_server_store: JobStore, git_repo: Path) -> None:
    store = app_server_store
    code, out, err = cli(store, "config", "--codex-path", "exec")
    assert code == 0, err
    job = store.start(RunOptions.checked(prompt="REPLY: as exec", cwd=str(git_repo)))
    assert job.codex_path == "exec"
    assert store.wait(job.job_id, 60).status == JobStatus.DONE
    code, _, err = cli(store, "config", "--codex-path", "nope")
    assert code == 2 and "invalid choice" in err
    assert store.store_settings().codex_path == "exec"
