"""Class 7, settings: every number a setting takes is bounded, so no arithmetic of ours on it can
fail. A value out of range (nan, inf, negative, zero, huge) is refused before anything is written,
naming the variable and the allowed range; the largest allowed values still cancel a job cleanly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions, Settings
from jobstore.settings import MAX_CANCEL_GRACE_SECONDS, MAX_JOBS_CEILING, SNAPSHOT_MAX_MB_CEILING
from jobstore.watch import MAX_SLEEP_SECONDS, epoll_timeout
from tests.security.attack import run_cli

OUT_OF_RANGE = ["nan", "inf", "-inf", "-1", "0", "1e308", "1e400", "99999999999999999999999"]
WHOLE = "use a whole number greater than zero and at most"
RANGES = {
    "CODEX_ASYNC_CANCEL_GRACE": f"use a number greater than zero and at most {MAX_CANCEL_GRACE_SECONDS:g}",
    "CODEX_ASYNC_MAX_JOBS": f"{WHOLE} {MAX_JOBS_CEILING}",
    "CODEX_ASYNC_SNAPSHOT_MAX_MB": f"{WHOLE} {SNAPSHOT_MAX_MB_CEILING}",
}


@pytest.mark.parametrize("name", sorted(RANGES))
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_number_out_of_range_is_refused_naming_variable_and_range(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name}={value!r} is ") and RANGES[name] in message, message


def test_the_largest_values_are_accepted() -> None:
    settings = Settings.from_env(
        {"CODEX_ASYNC_CANCEL_GRACE": "3600", "CODEX_ASYNC_MAX_JOBS": str(MAX_JOBS_CEILING)}
    )
    assert (settings.cancel_grace, settings.max_jobs) == (MAX_CANCEL_GRACE_SECONDS, MAX_JOBS_CEILING)


def test_the_cli_refuses_a_huge_grace_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    monkeypatch.setenv("CODEX_ASYNC_CANCEL_GRACE", "1e308")
    root = tmp_path / "store"
    done = run_cli(root, "start", "--cwd", str(workdir), "hello")
    assert done.returncode != 0 and b"Traceback" not in done.stderr
    assert b"CODEX_ASYNC_CANCEL_GRACE='1e308' is out of range" in done.stderr, done.stderr
    assert not root.exists()


@pytest.mark.parametrize("grace", [math.nan, math.inf, -1.0, 0.0, 1e308])
def test_a_store_refuses_a_grace_out_of_range(tmp_path: Path, grace: float) -> None:
    with pytest.raises(InvalidInput, match="cancel_grace must be a number of seconds"):
        JobStore(tmp_path / "store", max_jobs=1, codex_bin="codex", cancel_grace=grace)
    assert not (tmp_path / "store").exists()


def test_the_longest_grace_still_cancels_a_job_as_cancelled(
    tmp_path: Path, fake_codex: Path, workdir: Path
) -> None:
    store = JobStore(
        tmp_path / "store", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=MAX_CANCEL_GRACE_SECONDS
    )
    job = store.start(RunOptions.checked(prompt="sleep=120", cwd=str(workdir)))
    store.wait(job.job_id, 0.5)
    outcome = store.cancel(job.job_id)
    assert outcome.record.status == JobStatus.CANCELLED, (outcome.message, outcome.record.error)
    assert outcome.record.error is None or "Overflow" not in outcome.record.error


def test_sleeps_take_any_timeout(store: JobStore, workdir: Path) -> None:
    assert [epoll_timeout(t) for t in (math.nan, -1.0, 0.5, 1e308, math.inf)] == [
        0.0,
        0.0,
        0.5,
        MAX_SLEEP_SECONDS,
        MAX_SLEEP_SECONDS,
    ]
    job = store.start(RunOptions.checked(prompt="quick", cwd=str(workdir)))
    assert store.wait(job.job_id, 1e308).is_terminal
    assert store.wait(job.job_id, math.nan).is_terminal
