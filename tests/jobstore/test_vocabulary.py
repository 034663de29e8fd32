"""The store's vocabulary: statuses, settings from the environment, and what each path is."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore import (
    LISTABLE_STATUSES,
    UNREADABLE,
    FileKind,
    InvalidInput,
    JobStatus,
    JobStore,
    Settings,
    StoreFile,
)
from jobstore.ids import new_job_id
from jobstore.states import can_transition

SESSION = "01a1fb0e-1565-7113-93f8-60fc9caf5d10"


def test_statuses_are_active_or_terminal() -> None:
    assert {s for s in JobStatus if s.is_active} == {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING}
    assert {s for s in JobStatus if s.is_started} == {JobStatus.RUNNING, JobStatus.WAITING}
    assert all(s.is_terminal != s.is_active for s in JobStatus)
    # A question comes and goes while the job runs; it ends from either, interrupted too.
    assert can_transition(JobStatus.RUNNING, JobStatus.WAITING)
    assert can_transition(JobStatus.WAITING, JobStatus.RUNNING)
    for end in (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.LOST):
        assert can_transition(JobStatus.RUNNING, end) and can_transition(JobStatus.WAITING, end)
    assert not can_transition(JobStatus.QUEUED, JobStatus.WAITING)
    assert not can_transition(JobStatus.INTERRUPTED, JobStatus.RUNNING)
    assert (*(s.value for s in JobStatus), UNREADABLE) == LISTABLE_STATUSES


def test_settings_defaults_and_values(tmp_path: Path) -> None:
    home = tmp_path / "home"
    defaults = Settings.from_env({"HOME": str(home)})
    assert defaults.max_jobs == 5 and defaults.cancel_grace == 5.0 and defaults.codex_bin is None
    assert defaults.max_policy == "full-auto" and defaults.log_file is None and defaults.log_level == "INFO"
    given = Settings.from_env(
        {
            "CODEX_ASYNC_HOME": str(tmp_path / "s"),
            "CODEX_ASYNC_MAX_JOBS": "2",
            "CODEX_ASYNC_CANCEL_GRACE": "0.5",
            "CODEX_BIN": "/opt/codex",
            "CODEX_ASYNC_MAX_POLICY": " Suggest ",
            "CODEX_ASYNC_LOG_FILE": "/tmp/log",
            "CODEX_ASYNC_LOG_LEVEL": "debug",
            "CODEX_ASYNC_LOG_LEVEL_UNUSED": "x",
        }
    )
    assert given == Settings(
        tmp_path / "s", 2, 0.5, "/opt/codex", "suggest", "/tmp/log", "DEBUG", max_jobs_from_env=True
    )
    store = JobStore.from_settings(given)
    assert (store.root, store.max_jobs, store.cancel_grace, store.codex_bin) == (
        tmp_path / "s",
        2,
        0.5,
        "/opt/codex",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CODEX_ASYNC_MAX_JOBS", "0", "is out of range; use a whole number greater"),
        ("CODEX_ASYNC_MAX_JOBS", "two", "is not a whole number"),
        ("CODEX_ASYNC_CANCEL_GRACE", "nan", "is out of range; use a number greater"),
        ("CODEX_ASYNC_MAX_POLICY", "yolo", "is not a valid policy"),
        ("CODEX_ASYNC_LOG_LEVEL", "loud", "is not a valid log level"),
    ],
)
def test_bad_settings_are_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=f"{name}='{value}' {message}"):
        Settings.from_env({name: value})


def test_classify_names_every_file_of_the_store(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "store", max_jobs=1, codex_bin="codex", cancel_grace=1)
    job = new_job_id()
    layout = store.layout
    expected = {
        layout.job_dir(job): StoreFile(FileKind.JOB_DIR, job),
        layout.meta(job): StoreFile(FileKind.META, job),
        layout.output(job): StoreFile(FileKind.OUTPUT, job),
        layout.summary(job): StoreFile(FileKind.SUMMARY, job),
        layout.last_message(job): StoreFile(FileKind.LAST_MESSAGE, job),
        layout.runner_log(job): StoreFile(FileKind.RUNNER_LOG, job),
        layout.command(job): StoreFile(FileKind.COMMAND, job),
        layout.prompt_file(job): StoreFile(FileKind.PROMPT, job),
        layout.cancel_marker(job): StoreFile(FileKind.CANCEL_MARKER, job),
        layout.job_lock(job): StoreFile(FileKind.OTHER, job),
        layout.meta(job).with_name(".meta.json.1.ab.tmp"): StoreFile(FileKind.OTHER, job),
        layout.queued_marker(job): StoreFile(FileKind.QUEUED_MARKER, job),
        layout.running_marker(job): StoreFile(FileKind.RUNNING_MARKER, job),
        layout.session_index(SESSION): StoreFile(FileKind.SESSION_INDEX, session_id=SESSION),
        layout.staging_dir(job): StoreFile(FileKind.OTHER),
        layout.scheduler_lock: StoreFile(FileKind.OTHER),
        store.root: StoreFile(FileKind.OTHER),
    }
    for path, kind in expected.items():
        assert store.classify(path) == kind, path
        assert store.classify(str(path)) == kind, path
    assert store.classify(tmp_path / "elsewhere" / "meta.json") is None
    assert {p.relative_to(store.root).as_posix() for p in store.watch_paths([job])} == {
        ".",
        "jobs",
        "queue",
        "running",
        "sessions",
        f"jobs/{job}",
    }
