"""A job's life as steps: walked in order, the outcome decided before any cleanup, cleanups last
first and unable to change it, and a cancel before codex starts means codex never starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jobstore import JobRecord, JobStatus, JobStore, RunOptions, Settings, StoreWriteError
from jobstore.job_life import CANCELLED_BEFORE_CODEX, CancelRequest, JobLife, Outcome, walk
from jobstore.job_port import JobPort
from jobstore.record import now_iso
from tests.helpers import wait_until

JOB_ID = "01aaaaaaaaaaaa"
SESSION_ID = "0199a5b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b"
DONE = Outcome(JobStatus.DONE, 0, None)


class Recorded:
    """A step that notes what happened to it in a shared journal."""

    def __init__(
        self,
        name: str,
        journal: list[str],
        *,
        outcome: Outcome | None = None,
        cancellable: bool = True,
        fails: bool = False,
        cleanup_fails: bool = False,
    ) -> None:
        self.name, self.journal, self.outcome = name, journal, outcome
        self.cancellable, self.fails, self.cleanup_fails = cancellable, fails, cleanup_fails

    def run(self, life: JobLife) -> Outcome | None:
        self.journal.append(f"run {self.name}")
        if self.fails:
            raise RuntimeError(f"{self.name} broke")
        return self.outcome

    def clean_up(self, life: JobLife) -> None:
        # Every cleanup runs with the outcome already decided.
        self.journal.append(f"clean {self.name} after {life.outcome.status if life.outcome else None}")
        if self.cleanup_fails:
            raise OSError(f"{self.name}'s cleanup broke")


@pytest.fixture
def life(tmp_path: Path) -> JobLife:
    port = JobPort(tmp_path / "store", JOB_ID, Settings(tmp_path / "store"))
    record = JobRecord(JOB_ID, JobStatus.RUNNING, "run", "go", str(tmp_path), "never", now_iso())
    return JobLife(port, record, CancelRequest(port.layout.cancel_marker(JOB_ID)))


def test_steps_run_in_order_and_clean_up_last_first_after_the_outcome(life: JobLife) -> None:
    journal: list[str] = []
    steps = [
        Recorded("prepare", journal),
        Recorded("start", journal),
        Recorded("follow", journal, outcome=DONE),
    ]
    assert walk(life, steps) == DONE == life.outcome
    assert journal == [
        "run prepare",
        "run start",
        "run follow",
        "clean follow after done",
        "clean start after done",
        "clean prepare after done",
    ]


def test_a_step_that_ends_the_life_skips_the_rest(life: JobLife) -> None:
    journal: list[str] = []
    failed = Outcome(JobStatus.ERROR, None, "could not start codex: no such file")
    steps = [
        Recorded("prepare", journal),
        Recorded("start", journal, outcome=failed),
        Recorded("follow", journal),
    ]
    assert walk(life, steps) == failed
    assert journal == ["run prepare", "run start", "clean start after error", "clean prepare after error"]


def test_a_cancel_before_a_cancellable_step_ends_the_life_there(life: JobLife) -> None:
    journal: list[str] = []

    class CancelledMeanwhile(Recorded):
        def run(self, life: JobLife) -> Outcome | None:
            life.cancel.signalled = True  # as the runner's SIGTERM handler does
            return super().run(life)

    steps = [CancelledMeanwhile("prepare", journal), Recorded("start", journal), Recorded("follow", journal)]
    assert walk(life, steps) == Outcome(JobStatus.CANCELLED, None, CANCELLED_BEFORE_CODEX)
    assert journal == ["run prepare", "clean prepare after cancelled"]


def test_the_cancel_marker_counts_as_a_cancel(life: JobLife) -> None:
    life.layout.job_dir(JOB_ID).mkdir(parents=True)
    life.layout.cancel_marker(JOB_ID).touch()
    journal: list[str] = []
    assert walk(life, [Recorded("prepare", journal)]).status == JobStatus.CANCELLED
    assert journal == []


def test_a_step_that_is_not_cancellable_runs_despite_a_cancel(life: JobLife) -> None:
    journal: list[str] = []
    life.cancel.signalled = True
    cancelled = Outcome(JobStatus.CANCELLED, -15, "cancelled on request")
    assert walk(life, [Recorded("follow", journal, outcome=cancelled, cancellable=False)]) == cancelled
    assert journal == ["run follow", "clean follow after cancelled"]


def test_a_failing_cleanup_changes_nothing_and_the_others_still_run(life: JobLife) -> None:
    journal: list[str] = []
    steps = [
        Recorded("prepare", journal),
        Recorded("start", journal, cleanup_fails=True),
        Recorded("follow", journal, outcome=DONE),
    ]
    assert walk(life, steps) == DONE
    assert journal[-1] == "clean prepare after done"


def test_a_step_that_raises_is_still_cleaned_up_after(life: JobLife) -> None:
    journal: list[str] = []
    steps = [
        Recorded("prepare", journal),
        Recorded("start", journal, fails=True),
        Recorded("follow", journal),
    ]
    with pytest.raises(RuntimeError, match="start broke"):
        walk(life, steps)
    assert life.outcome is None  # unknown: the runner records that its runner failed
    assert journal == ["run prepare", "run start", "clean start after None", "clean prepare after None"]


def test_a_cancel_while_the_folder_is_prepared_means_codex_never_starts(
    tmp_path: Path, fake_codex: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loaded by the runner's interpreter (its PYTHONPATH): the prepare step says it has begun,
    # then lasts until the job's cancel marker appears, as a long snapshot would.
    hooks, preparing, argv_log = tmp_path / "hooks", tmp_path / "preparing", tmp_path / "codex-argv"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "cmdline = open('/proc/self/cmdline', 'rb').read()\n"
        "if b'jobstore.runner' in cmdline or b'jobstore.zygote' in cmdline:\n"
        "    import time\n"
        "    from jobstore import job_steps\n"
        "    def slow_prepare(self, life):\n"
        f"        open({str(preparing)!r}, 'w').close()\n"
        "        deadline = time.monotonic() + 60\n"
        "        while not life.cancel.requested() and time.monotonic() < deadline:\n"
        "            time.sleep(0.01)\n"
        "    job_steps.SnapshotWorktree.run = slow_prepare\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("FAKE_CODEX_ARGV_LOG", str(argv_log))
    store = JobStore(tmp_path / "store", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
    job = store.start(RunOptions.checked(prompt="hello", cwd=str(workdir)))
    wait_until(preparing.exists)
    outcome = store.cancel(job.job_id, wait=30)
    final = outcome.record
    assert (final.status, final.exit_code, final.error) == (JobStatus.CANCELLED, None, CANCELLED_BEFORE_CODEX)
    assert final.codex_pid is None
    runs = [json.loads(line) for line in argv_log.read_text().splitlines()]
    job_argv = json.loads(store.layout.command(job.job_id).read_text())["argv"][1:]
    assert runs and job_argv not in runs  # the store probed codex, but codex never ran for the job
    assert store.layout.output(job.job_id).read_bytes() == b""


def stored(life: JobLife) -> JobLife:
    """The life's record written to its store, as the starter leaves it."""
    life.layout.job_dir(JOB_ID).mkdir(parents=True)
    assert life.port.restore(life.record)
    return life


def test_deferred_fields_land_with_the_next_write(life: JobLife) -> None:
    stored(life)
    meta = life.layout.meta(JOB_ID)
    life.defer(session_id=SESSION_ID)
    assert life.port.read().session_id is None  # deferring writes nothing
    life.write(None, codex_pid=4242)
    on_disk = life.port.read()
    assert (on_disk.session_id, on_disk.codex_pid) == (SESSION_ID, 4242)
    assert life.deferred == {}
    written = os.stat(meta).st_ino  # each write renames a new file into place
    life.write_deferred()  # nothing waits: nothing is written
    assert os.stat(meta).st_ino == written


def test_deferred_fields_land_with_the_jobs_end(life: JobLife) -> None:
    stored(life)
    life.defer(session_id=SESSION_ID)
    life.write(JobStatus.DONE, exit_code=0)
    on_disk = life.port.read()
    assert (on_disk.status, on_disk.exit_code, on_disk.session_id) == (JobStatus.DONE, 0, SESSION_ID)
    assert life.deferred == {}


def test_deferred_fields_are_kept_for_the_retry_of_a_failed_write(
    life: JobLife, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored(life)
    real_update = life.port.update
    failures = [StoreWriteError("cannot write meta.json: No space left on device")]

    def update_failing_once(**fields: object) -> JobRecord:
        if failures:
            raise failures.pop()
        return real_update(**fields)

    monkeypatch.setattr(life.port, "update", update_failing_once)
    life.defer(session_id=SESSION_ID)
    with pytest.raises(StoreWriteError):
        life.write_deferred()
    assert life.deferred == {"session_id": SESSION_ID}
    assert life.port.read().session_id is None
    life.write_deferred()
    assert life.port.read().session_id == SESSION_ID
    assert life.deferred == {}
