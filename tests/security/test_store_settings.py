"""Class 7, the limit belongs to the store: `<root>/settings.json` holds the job limit and every
process using the store obeys it, whatever its own environment says; CODEX_ASYNC_MAX_JOBS
only seeds a new store and `codex-async config --max-jobs N` changes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions, StoreRefused
from tests.security.attack import REPO, TURN_COMPLETED, make_script_codex, run_cli

JOBS = 5
LIMIT = 2


def counting_codex(bin_dir: Path, running: Path, seen: Path) -> Path:
    """A codex that notes how many of its kind run beside it (itself included)."""
    running.mkdir()
    body = (
        f"me = os.path.join({str(running)!r}, str(os.getpid()))\n"
        "open(me, 'w').close()\n"
        f"count = len(os.listdir({str(running)!r}))\n"
        f"with open({str(seen)!r}, 'a') as f:\n"
        "    f.write(str(count) + '\\n')\n"
        "time.sleep(0.5)\n"
        "os.unlink(me)\n" + TURN_COMPLETED
    )
    return make_script_codex(bin_dir, body)


def start_from_own_process(root: Path, codex: Path, workdir: Path, n: int, max_jobs: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CODEX_ASYNC_MAX_JOBS"}
    env |= {"PYTHONPATH": str(REPO), "CODEX_BIN": str(codex), "CODEX_ASYNC_HOME": str(root)}
    if max_jobs is not None:
        env["CODEX_ASYNC_MAX_JOBS"] = max_jobs
    code = (
        "import sys; from jobstore import JobStore, RunOptions; "
        "JobStore().start(RunOptions.checked(prompt=sys.argv[1], cwd=sys.argv[2]))"
    )
    subprocess.run([sys.executable, "-c", code, f"job {n}", str(workdir)], env=env, check=True, timeout=60)


def test_processes_with_other_limits_in_their_environment_obey_the_store(
    tmp_path: Path, workdir: Path
) -> None:
    root = tmp_path / "store"
    seen = tmp_path / "seen"
    codex = counting_codex(tmp_path / "bin", tmp_path / "running", seen)
    assert run_cli(root, "config", "--max-jobs", str(LIMIT)).returncode == 0
    for n, max_jobs in enumerate(["5", "10", None, "3", "1000"]):
        start_from_own_process(root, codex, workdir, n, max_jobs)
    # A reconcile from a shell without the variable, while jobs wait.
    assert run_cli(root, "reconcile").returncode == 0
    store = JobStore(root, max_jobs=50, codex_bin=str(codex), cancel_grace=1)
    assert store.max_jobs == LIMIT
    for job_id in store.job_ids():
        assert store.wait(job_id, 60).status == JobStatus.DONE
    counts = [int(line) for line in seen.read_text().split()]
    assert len(counts) == JOBS and max(counts) <= LIMIT, counts


def test_the_variable_only_seeds_a_new_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    JobStore(root, max_jobs=3, codex_bin="codex", cancel_grace=1).ensure()
    assert json.loads((root / "settings.json").read_text()) == {
        "max_jobs": 3,
        "codex_path": "app-server",
        "worktree": False,
    }
    other = JobStore(root, max_jobs=7, codex_bin="codex", cancel_grace=1)
    other.ensure()
    assert other.max_jobs == 3 and other.store_settings().max_jobs == 3
    assert other.configure(max_jobs=4).max_jobs == 4
    assert JobStore(root, max_jobs=1, codex_bin="codex", cancel_grace=1).max_jobs == 4
    assert oct((root / "settings.json").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("value", ["0", "-1", "1001", "two", "1.5"])
def test_a_bad_limit_is_refused_and_changes_nothing(tmp_path: Path, value: str) -> None:
    root = tmp_path / "store"
    assert run_cli(root, "config", "--max-jobs", "2").returncode == 0
    before = (root / "settings.json").read_bytes()
    result = run_cli(root, "config", "--max-jobs", value)
    assert result.returncode != 0 and b"Traceback" not in result.stderr
    assert (root / "settings.json").read_bytes() == before
    assert sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"max_jobs": "2"}',
        b'{"max_jobs": true}',
        b'{"max_jobs": 0}',
        b'{"max_jobs": 2, "x": 1}',
        b'{"max_jobs": 2, "worktree": "yes"}',
        b'{"max_jobs": 2, "codex_path": "shell"}',
        b'{"codex_path": "exec"}',
    ],
)
def test_damaged_settings_start_nothing_and_say_how_to_fix_them(
    store: JobStore, workdir: Path, content: bytes
) -> None:
    store.ensure()
    store.layout.settings_file.write_bytes(content)
    with pytest.raises(StoreRefused, match="codex-async config --max-jobs"):
        store.start(RunOptions.checked(prompt="hello", cwd=str(workdir)))
    assert store.job_ids() == []  # refused before anything was written
    assert store.list_jobs() == []  # reading still works
    result = run_cli(store.root, "config", "--max-jobs", "3")
    assert result.returncode == 0, result.stderr
    assert store.max_jobs == 3


def test_settings_that_are_a_symlink_are_refused(store: JobStore, tmp_path: Path) -> None:
    store.ensure()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('{"max_jobs": 100}')
    store.layout.settings_file.unlink()
    store.layout.settings_file.symlink_to(elsewhere)
    with pytest.raises(StoreRefused, match="symlink"):
        store.start(RunOptions.checked(prompt="hello", cwd=str(tmp_path)))
    store.configure(max_jobs=2)  # replaces the link itself, never writes through it
    assert elsewhere.read_text() == '{"max_jobs": 100}' and store.max_jobs == 2
