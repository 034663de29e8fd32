"""Fewer inodes per job: slot and queue markers are hard links of the store's one marker file,
a job's record is locked by an flock on its folder (and on the `lock` file an earlier version
made, where it exists), and an exec job's session id reaches its record with the next write."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions, StoreRefused, StoreWriteError, fsio
from jobstore.record import JobRecord
from jobstore.records import Records
from tests.helpers import wait_until


def run(store: JobStore, workdir: Path, prompt: str) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))


def thread_id_printed(store: JobStore, job_id: str) -> str:
    """The session id codex announced: its output's first event, `thread.started`."""
    first = json.loads(store.layout.output(job_id).read_text().splitlines()[0])
    assert first["type"] == "thread.started"
    return str(first["thread_id"])


# --------------------------------------------------------------------- markers


def test_slot_and_queue_markers_are_links_of_the_one_marker_file(store: JobStore, workdir: Path) -> None:
    store.configure(max_jobs=1)
    first = run(store, workdir, "first sleep=30")
    second = run(store, workdir, "second waits")
    try:
        assert (first.status, second.status) == (JobStatus.RUNNING, JobStatus.QUEUED)
        source = os.stat(store.layout.marker_source)
        assert stat.S_ISREG(source.st_mode) and source.st_size == 0
        assert os.stat(store.layout.running_marker(first.job_id)).st_ino == source.st_ino
        assert os.stat(store.layout.queued_marker(second.job_id)).st_ino == source.st_ino
        assert source.st_nlink == 3  # the source and its two links: no inode of their own
    finally:
        store.cancel(second.job_id)
        store.cancel(first.job_id, wait=10)


def test_a_finished_job_leaves_no_lock_file_and_no_marker(store: JobStore, workdir: Path) -> None:
    final = store.wait(run(store, workdir, "quick").job_id, 20)
    assert final.status == JobStatus.DONE
    assert not os.path.lexists(store.layout.job_lock(final.job_id))
    wait_until(lambda: not os.path.lexists(store.layout.running_marker(final.job_id)))  # freed after the end
    assert os.stat(store.layout.marker_source).st_nlink == 1


def test_link_marker_links_the_source_made_on_first_use_and_an_existing_marker_is_fine(
    tmp_path: Path,
) -> None:
    source, marker = tmp_path / "marker", tmp_path / "queue" / "01aaaaaaaaaaaa"
    marker.parent.mkdir()
    fsio.link_marker(source, marker)
    assert stat.S_IMODE(source.stat().st_mode) == 0o600
    assert marker.stat().st_ino == source.stat().st_ino
    fsio.link_marker(source, marker)  # again: nothing to do
    assert marker.stat().st_ino == source.stat().st_ino and source.stat().st_nlink == 2
    # A marker an earlier version made, a file of its own, is fine as it is.
    own = tmp_path / "queue" / "01bbbbbbbbbbbb"
    own.touch(mode=0o600)
    fsio.link_marker(source, own)
    assert own.stat().st_ino != source.stat().st_ino and source.stat().st_nlink == 2


def test_link_marker_refuses_a_source_that_is_a_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.touch(mode=0o600)
    source, marker = tmp_path / "marker", tmp_path / "running" / "01aaaaaaaaaaaa"
    marker.parent.mkdir()
    source.symlink_to(elsewhere)
    with pytest.raises(StoreRefused, match="not a plain file"):
        fsio.link_marker(source, marker)
    assert not os.path.lexists(marker)
    assert elsewhere.stat().st_nlink == 1


def test_link_marker_refuses_a_source_group_may_write(tmp_path: Path) -> None:
    source, marker = tmp_path / "marker", tmp_path / "running" / "01aaaaaaaaaaaa"
    marker.parent.mkdir()
    source.touch()
    source.chmod(0o620)
    with pytest.raises(StoreRefused, match="group or others may write"):
        fsio.link_marker(source, marker)
    assert not os.path.lexists(marker)


def test_link_marker_makes_a_file_of_its_own_when_the_source_has_too_many_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, marker = tmp_path / "marker", tmp_path / "running" / "01aaaaaaaaaaaa"
    marker.parent.mkdir()

    def too_many_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMLINK, os.strerror(errno.EMLINK))

    monkeypatch.setattr(fsio.os, "link", too_many_links)
    fsio.link_marker(source, marker)
    st = os.lstat(marker)
    assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != source.stat().st_ino


def test_link_marker_reports_another_failure_as_a_write_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, marker = tmp_path / "marker", tmp_path / "running" / "01aaaaaaaaaaaa"
    marker.parent.mkdir()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fsio.os, "link", no_space)
    with pytest.raises(StoreWriteError, match=os.strerror(errno.ENOSPC)):
        fsio.link_marker(source, marker)
    assert not os.path.lexists(marker)


# ----------------------------------------------------------------------- locks


def test_folder_lock_of_a_missing_folder_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(StoreWriteError, match="cannot lock"), fsio.folder_lock(tmp_path / "gone"):
        pass


def test_lock_if_present_never_creates_the_lock_file(tmp_path: Path) -> None:
    with fsio.lock_if_present(tmp_path / "lock"):
        pass
    assert not os.path.lexists(tmp_path / "lock")


def test_a_record_update_waits_for_an_earlier_versions_lock_file(store: JobStore, workdir: Path) -> None:
    # A runner of an earlier version flocks only `jobs/<id>/lock`: this one takes turns with it.
    job = store.wait(run(store, workdir, "quick").job_id, 20)
    legacy = store.layout.job_lock(job.job_id)
    holder = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from jobstore import fsio

        with fsio.file_lock(Path(sys.argv[1])):
            print("held", flush=True)
            sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder, str(legacy)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    updater = threading.Thread(
        target=lambda: Records(store.layout).update(job.job_id, error="after the lock")
    )
    try:
        assert child.stdout.readline() == "held\n"
        updater.start()
        updater.join(0.5)
        assert updater.is_alive(), "the update did not wait for the earlier version's lock"
        assert store.read_record(job.job_id).error is None
        child.stdin.write("release\n")
        child.stdin.flush()
        updater.join(5)
        assert not updater.is_alive(), "the update did not finish once the lock was released"
        assert store.read_record(job.job_id).error == "after the lock"
    finally:
        child.stdin.close()
        child.wait(5)
        updater.join(5)


# ------------------------------------------------------------------ session id


def test_a_short_jobs_record_and_session_index_have_codexs_session_id(store: JobStore, workdir: Path) -> None:
    final = store.wait(run(store, workdir, "hello").job_id, 20)
    assert final.status == JobStatus.DONE
    session_id = thread_id_printed(store, final.job_id)
    assert final.session_id == session_id
    assert store.layout.session_index(session_id).read_text().splitlines() == [final.job_id]


def test_a_running_jobs_record_has_its_session_id_before_its_end(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "stays sleep=5")
    try:
        # The runner's first summary write, ~0.5 s after its start, brings the deferred id.
        record = wait_until(lambda: (r := store.read_record(job.job_id)).session_id and r, timeout=4)
        assert record.status == JobStatus.RUNNING
        session_id = thread_id_printed(store, job.job_id)
        assert record.session_id == session_id
        assert store.layout.session_index(session_id).read_text().splitlines() == [job.job_id]
    finally:
        ended = store.cancel(job.job_id, wait=10).record
        assert ended.is_terminal


def test_a_runner_that_fails_after_codex_announced_its_session_records_the_session_id(
    tmp_path: Path, fake_codex: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loaded by the runner's interpreter (its PYTHONPATH): the runner breaks right after it read
    # codex's session id, before any record write brought the deferred id to the record.
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "cmdline = open('/proc/self/cmdline', 'rb').read()\n"
        "if b'jobstore.runner' in cmdline or b'jobstore.zygote' in cmdline:\n"
        "    from jobstore import codex_exec\n"
        "    consume = codex_exec.CodexExec._consume\n"
        "    def breaking_consume(self, life, lines):\n"
        "        consume(self, life, lines)\n"
        "        if life.deferred:\n"
        "            raise RuntimeError('the runner broke')\n"
        "    codex_exec.CodexExec._consume = breaking_consume\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    )
    store = JobStore(tmp_path / "store", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
    final = store.wait(run(store, workdir, "hello").job_id, 20)
    assert final.status == JobStatus.ERROR and "the runner broke" in (final.error or "")
    assert final.session_id == thread_id_printed(store, final.job_id)
