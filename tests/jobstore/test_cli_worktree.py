"""`codex-async start --worktree`, `diff`, `apply`, `discard` and `config --worktree`, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobstore import JobStore
from jobstore.cli import main
from jobstore.cli.worktree import EXIT_CONFLICT
from tests.jobstore.test_worktree_diff import git
from tests.worktree_repo import BRANCH


def run(store: JobStore, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--store", str(store.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def started(store: JobStore, capsys: pytest.CaptureFixture[str], cwd: Path, prompt: str) -> str:
    code, out, _ = run(store, capsys, "--json", "start", "--worktree", "--cwd", str(cwd), prompt)
    assert code == 0
    job_id = str(json.loads(out)["job_id"])
    assert run(store, capsys, "wait", job_id)[0] == 0
    return job_id


def test_start_diff_apply_discard(
    store: JobStore, person_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = started(store, capsys, person_repo, "write=new.txt")
    code, out, _ = run(store, capsys, "diff", job_id)
    assert code == 0 and "+written by the job: new.txt" in out
    code, out, _ = run(store, capsys, "--json", "show", job_id)
    shown = json.loads(out)
    assert shown["worktree"] is True and shown["worktree_bytes"] > 0
    code, out, _ = run(store, capsys, "apply", job_id)
    assert code == 0 and "new.txt" in out and (person_repo / "new.txt").exists()
    code, _, err = run(store, capsys, "apply", job_id)
    assert code == 2 and "applied already" in err
    code, out, _ = run(store, capsys, "discard", job_id)
    assert code == 0 and BRANCH + job_id in out
    assert BRANCH + job_id not in git(person_repo, "branch", "--list")


def test_a_conflicting_apply_exits_5_naming_the_file_and_the_branch(
    store: JobStore,
    person_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = started(store, capsys, person_repo, "write=notes.txt")
    (person_repo / "notes.txt").write_text("rewritten meanwhile\n")
    code, out, _ = run(store, capsys, "apply", job_id)
    assert code == EXIT_CONFLICT and "notes.txt" in out and BRANCH + job_id in out
    assert (person_repo / "notes.txt").read_text() == "rewritten meanwhile\n"


def test_config_turns_worktrees_on_for_every_job(
    store: JobStore,
    person_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(store, capsys, "config", "--worktree", "on")
    assert code == 0 and "worktree on" in out
    code, out, _ = run(store, capsys, "--json", "start", "--cwd", str(person_repo), "hi")
    assert json.loads(out)["worktree"] is True
    code, out, _ = run(store, capsys, "--json", "start", "--no-worktree", "--cwd", str(person_repo), "hi")
    assert json.loads(out)["worktree"] is False
    code, out, _ = run(store, capsys, "--json", "config")
    assert json.loads(out)["worktree"] is True


def test_apply_of_a_job_without_a_worktree_is_refused(
    store: JobStore,
    person_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(store, capsys, "--json", "start", "--cwd", str(person_repo), "hi")
    job_id = json.loads(out)["job_id"]
    run(store, capsys, "wait", job_id)
    for verb in ("apply", "discard"):
        code, _, err = run(store, capsys, verb, job_id)
        assert code == 2 and "did not run in a worktree" in err
