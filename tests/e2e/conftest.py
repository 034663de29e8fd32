"""End-to-end fixtures: the real codex CLI (pinned in tools/package.json) against a fake
model service on 127.0.0.1. Nothing here reaches any other address."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstore import JobStore
from jobstore.sanitize import terminal_safe
from tests.conftest import stop_everything
from tests.fakes.model_service import FakeModelService

REPO = Path(__file__).resolve().parents[2]
REAL_CODEX = REPO / "tools" / "node_modules" / ".bin" / "codex"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test that used a store shows each job's output tail and runner log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, JobStore):
                report.sections.extend(job_diagnostics(value))


def job_diagnostics(store: JobStore, tail_lines: int = 40) -> list[tuple[str, str]]:
    sections = []
    for job_id in store.job_ids():
        try:
            tail = "\n".join(store.output_tail(job_id, tail_lines).lines)
            log = store.layout.runner_log(job_id).read_text("utf-8", "replace")[-8000:]
        except Exception as exc:  # diagnostics must never hide the test's own failure
            tail, log = f"(cannot read: {exc})", ""
        sections.append(
            (f"job {job_id} output (last {tail_lines} lines)", terminal_safe(tail, multiline=True))
        )
        sections.append((f"job {job_id} runner.log", terminal_safe(log, multiline=True)))
    return sections


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
    """Environment for processes that run the real codex offline: its own HOME (codex runs
    commands in a login shell, which reads HOME's start-up files), CODEX_HOME, CODEX_BIN."""
    home = tmp_path / "codex-user-home"
    codex_home = tmp_path / "codex-home"
    home.mkdir()
    codex_home.mkdir()
    model_service.write_codex_home(codex_home)
    env = {"HOME": str(home), "CODEX_HOME": str(codex_home), "CODEX_BIN": str(real_codex)}
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


@pytest.fixture(params=["app-server", "exec"])
def codex_path(request: pytest.FixtureRequest) -> str:
    """Each end-to-end test runs codex both ways: through its app-server and as `codex exec`."""
    return str(request.param)


@pytest.fixture
def real_store(
    tmp_path: Path, codex_env: dict[str, str], real_codex: Path, codex_path: str
) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "store", max_jobs=5, codex_bin=str(real_codex), cancel_grace=3.0)
    store.configure(codex_path=codex_path)
    yield store
    stop_everything(store)


@pytest.fixture
def app_server_store(tmp_path: Path, codex_env: dict[str, str], real_codex: Path) -> Iterator[JobStore]:
    """A store running codex through its app-server (steer, interrupt, questions)."""
    store = JobStore(tmp_path / "talk-store", max_jobs=5, codex_bin=str(real_codex), cancel_grace=3.0)
    store.configure(codex_path="app-server")
    yield store
    stop_everything(store)
