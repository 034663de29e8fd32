"""A hostile repository: its configuration names a program for every key git runs one from (filters,
also through include.path and includeIf, every hook, fsmonitor, external diff, textconv, pager,
credential helper, ssh, editors, signing, merge drivers). No git command of the project may run
any of them: each program would leave a marker file, and none may appear."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from jobstore import JobStore, RunOptions, Settings
from jobstore.errors import InvalidInput
from jobstore.git import Git, GitFailed, repository_paths
from jobstore.worktree_diff import read_worktree_diff
from mcp_server.convert import worktree_diff_view
from tests.helpers import wait_until
from tests.jobstore.test_worktree_diff import (
    GIT_ENV,
    codex_started,
    committed_repository,
    git,
    snapshot_tree,
)

HOOKS = [
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
]
# Every configuration key whose value git runs, each given its own program (by the key's name).
PROGRAM_KEYS = (
    "filter.x.clean",
    "filter.x.smudge",
    "core.fsmonitor",
    "diff.external",
    "diff.x.textconv",
    "diff.x.command",
    "core.pager",
    "pager.diff",
    "pager.status",
    "credential.helper",
    "core.sshCommand",
    "core.editor",
    "sequence.editor",
    "gpg.program",
    "core.alternateRefsCommand",
    "merge.x.driver",
    "remote.origin.uploadpack",
    "remote.origin.receivepack",
)


def _program(folder: Path, markers: Path, name: str, file_name: str | None = None) -> str:
    """A program that leaves `markers/<name>` behind, then passes its input on (as a filter)."""
    path = folder / (file_name or name)
    path.write_text(f"#!/bin/sh\necho \"$0 $*\" >> '{markers / name}'\nexec cat\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    """Where the hostile repository's programs leave their marks (empty: none ran)."""
    return Path(tempfile.mkdtemp(dir=tmp_path, prefix="markers-"))


@pytest.fixture
def hostile(tmp_path: Path, markers: Path) -> Path:
    """A repository with a commit, then configured to run a program for everything it can."""
    programs = Path(tempfile.mkdtemp(dir=tmp_path, prefix="programs-"))
    attributes = "*.txt filter=x diff=x merge=x\n*.y filter=y\n*.z filter=z\n"
    files = {".gitattributes": attributes, "a.txt": "one\n", "b.y": "bee\n", "c.z": "sea\n"}
    repo = committed_repository(tmp_path / "hostile", files)
    # Only now hostile: building the fixture with plain git ran none of it.
    for key in PROGRAM_KEYS:
        git(repo, "config", key, _program(programs, markers, key))
    git(repo, "config", "remote.origin.url", str(repo))
    git(repo, "config", "protocol.file.allow", "always")
    included = tmp_path / "included.config"
    included.write_text(f'[filter "y"]\n\tprocess = {_program(programs, markers, "filter.y.process")}\n')
    git(repo, "config", "include.path", str(included))
    conditional = tmp_path / "conditional.config"
    conditional.write_text(f'[filter "z"]\n\tclean = {_program(programs, markers, "filter.z.clean")}\n')
    git(repo, "config", f"includeIf.gitdir:{repo}/.git.path", str(conditional))
    for hook in HOOKS:
        _program(repo / ".git" / "hooks", markers, f"hook-{hook}", hook)
    return repo


def edit(repo: Path) -> None:
    """What a job does: a tracked file changed, new untracked files of every filtered kind."""
    (repo / "a.txt").write_text("one\ntwo\n")
    (repo / "new.txt").write_text("new\n")
    (repo / "new.y").write_text("why\n")
    (repo / "new.z").write_text("zed\n")


def test_the_fixture_is_hostile_to_plain_git(hostile: Path, markers: Path, tmp_path: Path) -> None:
    """What the snapshot did before: `git add --all` into a temporary index runs the filters."""
    edit(hostile)
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(tmp_path / "index")}
    subprocess.run(["git", "add", "--all"], cwd=hostile, env=env, capture_output=True, check=False)
    assert {"filter.x.clean", "filter.y.process", "filter.z.clean"} <= set(os.listdir(markers))


def test_a_job_in_a_hostile_repository_runs_none_of_its_programs(
    store: JobStore, hostile: Path, markers: Path
) -> None:
    job_id = store.start(RunOptions(prompt="sleep=300", cwd=str(hostile))).job_id
    wait_until(lambda: codex_started(store, job_id))
    edit(hostile)
    store.cancel(job_id, wait=20)
    diff = wait_until(lambda: (d := read_worktree_diff(store, job_id)) is not None and d.ended and d)
    assert diff.error is None
    assert sorted(diff.files) == [("A", "new.txt"), ("A", "new.y"), ("A", "new.z"), ("M", "a.txt")]
    assert "+two\n" in diff.diff and "+zed\n" in diff.diff
    assert os.listdir(markers) == []


def test_every_git_command_in_a_person_s_repository_runs_none_of_its_programs(
    hostile: Path, markers: Path, tmp_path: Path
) -> None:
    """Commands that read the working tree through git's own index (where a filter, fsmonitor,
    textconv, external diff or pager would run): run through jobstore.git, nothing runs."""
    edit(hostile)
    os.utime(hostile / "a.txt", (1, 1))  # stat-dirty: git must read the file again (through a filter)
    person = Git(str(hostile))
    assert "a.txt" in person.run("status", "--porcelain")
    assert "+two" in person.run("diff")
    assert "+two" in person.run("diff", "HEAD")
    assert "new.z" in person.run("ls-files", "--others", "--exclude-standard")
    paths = repository_paths(str(hostile))
    assert paths is not None and paths.top == str(hostile)
    snapshot_tree(str(hostile), tmp_path / "snapshot")
    with pytest.raises(GitFailed, match="not allowed"):  # no transport, whatever the repository allows
        person.run("fetch", "origin")
    assert os.listdir(markers) == []


def test_the_caller_s_git_environment_never_reaches_git(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No GIT_* of the caller points git at another repository, index or configuration."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(elsewhere, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='/bin/false'")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "/bin/false")
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "no-index"))
    assert Git(str(hostile)).run("rev-parse", "--show-toplevel").strip() == str(hostile)
    edit(hostile)
    assert "+two" in Git(str(hostile)).run("diff")  # the repository's own index, git's own diff


def fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under `folder`: its size and a hash of its bytes."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(folder))] = (
                path.stat().st_size,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return found


def test_a_job_s_snapshots_never_write_into_the_person_s_git_folder(
    store: JobStore, hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    (hostile / "untracked.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    before = fingerprint(hostile / ".git")
    job_id = store.start(RunOptions(prompt="sleep=300", cwd=str(hostile))).job_id
    wait_until(lambda: codex_started(store, job_id))
    edit(hostile)
    (hostile / "during.bin").write_bytes(os.urandom(1024 * 1024))
    store.cancel(job_id, wait=20)
    diff = wait_until(lambda: (d := read_worktree_diff(store, job_id)) is not None and d.ended and d)
    assert ("A", "during.bin") in diff.files and diff.error is None
    assert fingerprint(hostile / ".git") == before
    assert not store.layout.snapshot_dir(job_id).exists()  # the job's own objects went with it
    assert os.listdir(temp) == []


def test_files_over_the_bound_are_left_out_and_named(
    store: JobStore, hostile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_ASYNC_SNAPSHOT_MAX_MB", "1")  # the runner reads it
    with open(hostile / "big-before.bin", "wb") as f:
        f.truncate(3 * 1024 * 1024)
    before = fingerprint(hostile / ".git")
    job_id = store.start(RunOptions(prompt="sleep=300", cwd=str(hostile))).job_id
    wait_until(lambda: codex_started(store, job_id))
    (hostile / "a.txt").write_text("changed\n")
    with open(hostile / "big-during.bin", "wb") as f:
        f.truncate(2 * 1024 * 1024)
    store.cancel(job_id, wait=20)
    diff = wait_until(lambda: (d := read_worktree_diff(store, job_id)) is not None and d.ended and d)
    assert diff.files == [("M", "a.txt")] and diff.error is None
    assert diff.skipped_count == 2 and sorted(diff.skipped) == ["big-before.bin", "big-during.bin"]
    notice = "not snapshotted: 2 files over 1 MB (their changes are not in this diff)"
    assert diff.notice == notice
    view = worktree_diff_view(store, job_id)
    assert view is not None and view.error == notice  # what codex_poll(include_diff) shows
    assert fingerprint(hostile / ".git") == before


@pytest.mark.parametrize("value", ["0", "-5", "4097", "1e308", "inf", "nan", "fifty"])
def test_the_snapshot_bound_is_bounded(value: str) -> None:
    with pytest.raises(InvalidInput, match="CODEX_ASYNC_SNAPSHOT_MAX_MB"):
        Settings.from_env({"CODEX_ASYNC_SNAPSHOT_MAX_MB": value})


def test_the_snapshot_bound_s_default_and_ceiling() -> None:
    assert Settings.from_env({}).snapshot_max_file_bytes == 50 * 1024 * 1024
    assert Settings.from_env({"CODEX_ASYNC_SNAPSHOT_MAX_MB": "4096"}).snapshot_max_mb == 4096
