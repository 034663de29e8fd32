"""The attack suite reuses the end-to-end fixtures (the real codex CLI against the fake model)
and their report of a failing test's jobs."""

from tests.e2e.conftest import (
    codex_env,
    codex_path,
    git_repo,
    model_service,
    pytest_runtest_makereport,
    real_codex,
    real_store,
)

__all__ = [
    "codex_env",
    "codex_path",
    "git_repo",
    "model_service",
    "pytest_runtest_makereport",
    "real_codex",
    "real_store",
]
