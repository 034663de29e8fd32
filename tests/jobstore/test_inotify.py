"""The one inotify binding: no watch follows a symlink, a folder is watched only as one, and
only the store's root may be reached through a symlink (`follow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore.inotify import FOLDER_CHANGES, IN_CREATE, IN_MODIFY, Inotify


@pytest.fixture
def inotify() -> Inotify:
    watch = Inotify()
    assert watch.available
    return watch


def test_no_watch_follows_a_symlink_but_a_followed_folder(inotify: Inotify, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    target = folder / "file"
    target.write_text("x")
    (tmp_path / "file-link").symlink_to(target)
    (tmp_path / "folder-link").symlink_to(folder)
    with inotify:
        # A symlink's watch is of the link itself: what is written behind it is not seen.
        link_wd = inotify.watch(tmp_path / "file-link", IN_MODIFY)
        file_wd = inotify.watch(target, IN_MODIFY)
        assert None not in (link_wd, file_wd) and link_wd != file_wd
        target.write_text("written")
        assert {event.wd for event in inotify.read()} == {file_wd}
        assert inotify.watch(tmp_path / "folder-link", FOLDER_CHANGES, folder=True) is None
        assert inotify.watch(target, FOLDER_CHANGES, folder=True) is None  # not a folder
        assert inotify.watch(tmp_path / "folder-link", FOLDER_CHANGES, folder=True, follow=True) is not None
        assert inotify.watch(tmp_path / "missing", IN_MODIFY) is None


def test_events_name_the_entry_of_a_watched_folder(inotify: Inotify, tmp_path: Path) -> None:
    with inotify:
        wd = inotify.watch(tmp_path, IN_CREATE, folder=True)
        assert inotify.read() == []  # nothing queued: never blocks
        (tmp_path / "new").write_text("")
        events = inotify.read()
        seen = [(event.wd, event.mask & IN_CREATE, event.name) for event in events]
        assert seen == [(wd, IN_CREATE, "new")]
        (tmp_path / "other").write_text("")
        inotify.discard()
        assert inotify.read() == []


def test_a_job_waiter_wakes_for_its_record_not_for_the_runner_s_other_files(tmp_path: Path) -> None:
    from jobstore import fsio
    from jobstore.watch import JobWakeup

    job = tmp_path / "job"
    job.mkdir()
    fsio.write_json_atomic(job / "meta.json", {"n": 0})
    with JobWakeup(job) as wakeup:
        fsio.write_json_atomic(job / "summary.json", {"s": 1})
        fsio.write_json_atomic(job / "summary.json", {"s": 2})
        (job / "runner.log").write_text("note\n")
        assert wakeup.wait(5)
        assert not wakeup.clear_changes()  # nothing a waiter reads changed
        fsio.write_json_atomic(job / "meta.json", {"n": 1})
        assert wakeup.wait(5) and wakeup.clear_changes()
        fsio.write_json_atomic(job / "meta.json", {"n": 2})  # a temporary file renamed over it
        assert wakeup.wait(5) and wakeup.clear_changes()
        (job / "meta.json").unlink()
        assert wakeup.wait(5) and wakeup.clear_changes()
