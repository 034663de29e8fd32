"""Shared fixtures: a private store, and a fake codex binary for unit tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstore import JobStore
from tests.fakes import install_fake_codex


@pytest.fixture
def fake_codex(tmp_path: Path) -> Path:
    return install_fake_codex(tmp_path / "bin")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def repo(workdir: Path) -> Path:
    """`workdir` made a git repository (codex reviews only inside one)."""
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    return workdir


@pytest.fixture
def person_repo(tmp_path: Path) -> Path:
    """A repository with a commit, an uncommitted edit, an untracked and an ignored file."""
    from tests.worktree_repo import person_repository

    return person_repository(tmp_path / "person")


def stop_everything(store: JobStore) -> None:
    """Leave no job process behind after a test."""
    for job_id in store.job_ids():
        try:
            record = store.read_record(job_id)
        except Exception:
            continue
        if record.status.is_active:
            store.cancel(job_id, wait=10)


@pytest.fixture
def store(tmp_path: Path, fake_codex: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStore]:
    monkeypatch.setenv("CODEX_BIN", str(fake_codex))
    s = JobStore(tmp_path / "store", max_jobs=5, codex_bin=str(fake_codex), cancel_grace=2.0)
    yield s
    stop_everything(s)


@pytest.fixture(autouse=True)
def _private_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every codex it starts, gets a HOME and CODEX_HOME of its own: codex runs
    commands in a login shell, which must never read the developer's start-up files."""
    home = tmp_path_factory.mktemp("home")
    (home / ".codex").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEX_HOME", str(home / ".codex"))
