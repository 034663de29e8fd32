"""End-to-end fixtures: the real codex CLI (pinned in tools/package.json) against a fake
model service on 127.0.0.1. Nothing here reaches any other address."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstore import JobStore
from tests.conftest import stop_everything
from tests.fakes.model_service import FakeModelService

REPO = Path(__file__).resolve().parents[2]
REAL_CODEX = REPO / "tools" / "node_modules" / ".bin" / "codex"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def real_codex() -> Path:
    if not REAL_CODEX.exists():
        pytest.fail(
            f"the real codex CLI is not installed at {REAL_CODEX}: run `bash scripts/test` "
            "(it runs `npm ci` in tools/) before the end-to-end tests"
        )
    return REAL_CODEX


@pytest.fixture(scope="session")
def model_service() -> Iterator[FakeModelService]:
    service = FakeModelService().start()
    yield service
    service.stop()


@pytest.fixture
def codex_env(
    tmp_path: Path, model_service: FakeModelService, real_codex: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment for processes that run the real codex offline: CODEX_HOME, CODEX_BIN."""
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    model_service.write_codex_home(codex_home)
    env = {"CODEX_HOME": str(codex_home), "CODEX_BIN": str(real_codex)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Never let a stray proxy setting send codex anywhere but loopback.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return env


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A small git repository with one commit and one uncommitted change."""
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            env={
                **os.environ,
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.invalid",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.invalid",
            },
        )

    git("init", "-q", "-b", "main")
    (repo / "app.py").write_text("def add(a, b):\n    return a + b\n")
    git("add", "app.py")
    git("commit", "-q", "-m", "first")
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    return repo


@pytest.fixture
def real_store(tmp_path: Path, codex_env: dict[str, str], real_codex: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "store", max_jobs=5, codex_bin=str(real_codex), cancel_grace=3.0)
    yield store
    stop_everything(store)
