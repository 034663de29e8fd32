"""The job index (jobstore/job_index.py): the newest jobs read from its end always equal what
listing the folder gives, across concurrent and out-of-order creators, removed folders, an
index that is damaged, truncated, a symlink, not private, unsealed or absent (an earlier
version's store): then the read lists the folder, and the writers (a start, reconcile) rebuild
it. Reads never create nor repair it. Jobs are created by the writers' own code (claim a
staging folder, publish it under the scheduler lock), without processes."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from jobstore import JobRecord, JobStatus, JobStore, RunOptions, fsio
from jobstore.job_index import CHUNK_LINES, LINE_BYTES, MAX_DISORDER, IndexUnusable
from jobstore.record import now_iso
from jobstore.records import Records
from tests.conftest import stop_everything


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "store")


def records_of(store: JobStore) -> Records:
    return store._records


def claim(store: JobStore) -> tuple[str, Path]:
    records = records_of(store)
    records.ensure()
    return records.claim_staging()


def publish(store: JobStore, job_id: str, staging: Path) -> None:
    """What a start does once its job is assembled (Scheduler.admit, without a runner)."""
    record = JobRecord(
        job_id=job_id,
        status=JobStatus.DONE,
        kind="run",
        prompt="hello",
        cwd="/tmp",
        approval_policy="never",
        created_at=now_iso(),
    )
    with fsio.file_lock(store.layout.scheduler_lock):
        records_of(store).publish(record, staging)


def create_jobs(store: JobStore, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        job_id, staging = claim(store)
        publish(store, job_id, staging)
        ids.append(job_id)
    return ids


def listed(store: JobStore, limit: int = 20) -> list[str]:
    return [entry.job_id for entry in store.list_jobs(limit)]


def scanned(store: JobStore) -> list[str]:
    """The truth: the job folders, listed and sorted."""
    return sorted((n for n in os.listdir(store.layout.jobs_dir) if not n.startswith(".")), reverse=True)


def newest_from_index(store: JobStore) -> list[str]:
    return list(records_of(store).index.newest())


# --------------------------------------------------------------- reading its end


def test_the_newest_come_from_the_index_and_equal_the_folder(store: JobStore) -> None:
    ids = create_jobs(store, CHUNK_LINES + 50)
    truth = scanned(store)
    assert truth == ids[::-1]
    assert newest_from_index(store) == truth
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records_of(store), "_listed_ids", lambda: pytest.fail("the job folder was listed"))
        assert listed(store, 20) == truth[:20]
        assert listed(store, 500) == truth  # deeper than one chunk, still from the index
    assert store.job_ids() == truth


def test_out_of_order_appends_still_read_newest_first(store: JobStore) -> None:
    """Creators claim ids before the lock and publish in another order: within MAX_DISORDER
    the index keeps them as they came; further, the append rewrites it sorted."""
    create_jobs(store, 10)
    claimed = [claim(store) for _ in range(3 * MAX_DISORDER)]
    shuffled = claimed[:]
    random.Random(7).shuffle(shuffled)
    for job_id, staging in shuffled:
        publish(store, job_id, staging)
    late_id, late_staging = claim(store)
    create_jobs(store, MAX_DISORDER + 5)  # newer jobs published before it
    publish(store, late_id, late_staging)
    index = records_of(store).index
    assert len(index.read_all()) == len(scanned(store))  # checks the order bound too
    assert newest_from_index(store) == scanned(store)
    assert listed(store, 100) == scanned(store)[:100]


def test_concurrent_creators(store: JobStore) -> None:
    errors: list[BaseException] = []

    def creator() -> None:
        try:
            create_jobs(store, 40)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=creator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(scanned(store)) == 160
    assert newest_from_index(store) == scanned(store)
    assert listed(store, 200) == scanned(store)


def test_an_id_without_a_folder_is_skipped(store: JobStore) -> None:
    """A creator that died after appending, before its folder was renamed in."""
    create_jobs(store, 5)
    orphan, _staging = claim(store)
    with fsio.file_lock(store.layout.scheduler_lock):
        records_of(store).index.add(orphan)
    records_of(store).index.seal()
    assert orphan in newest_from_index(store)
    assert listed(store) == scanned(store)
    assert orphan not in listed(store)


def test_removed_folders_are_skipped_and_prune_drops_their_ids(store: JobStore) -> None:
    ids = create_jobs(store, 30)
    for job_id in ids[-3:]:  # the newest
        records_of(store).delete(job_id)
    assert listed(store) == scanned(store)[:20]
    records_of(store).check_index()
    assert newest_from_index(store) == scanned(store)
    assert listed(store) == scanned(store)[:20]


def test_a_record_finished_long_ago_is_pruned_from_the_index(store: JobStore) -> None:
    create_jobs(store, 4)
    removed = store.prune(older_than=timedelta(0))
    assert len(removed) == 4
    assert newest_from_index(store) == [] == listed(store)


# --------------------------------------------- an index that cannot be trusted


def damage_garbage(store: JobStore) -> None:
    """A line that is no job id, the index sealed again: found by reading it."""
    with store.layout.job_index.open("ab") as file:
        file.write(b"not a job id!!\n")
    records_of(store).index.seal()


def damage_truncate(store: JobStore) -> None:
    path = store.layout.job_index
    os.truncate(path, path.stat().st_size - LINE_BYTES)  # a whole line: a job it no longer holds


def damage_cut_mid_line(store: JobStore) -> None:
    path = store.layout.job_index
    os.truncate(path, path.stat().st_size - 7)


def damage_symlink(store: JobStore) -> None:
    path = store.layout.job_index
    copy = path.with_name("elsewhere")
    path.rename(copy)
    path.symlink_to(copy)


def damage_mode(store: JobStore) -> None:
    store.layout.job_index.chmod(0o666)


def damage_remove(store: JobStore) -> None:
    store.layout.job_index.unlink()  # as in a store made by an earlier version


def damage_folder_by_hand(store: JobStore) -> None:
    """A job folder that no writer of ours made (an earlier version's process, a person)."""
    job_id, staging = claim(store)
    os.rename(staging, store.layout.job_dir(job_id))


Damage = Callable[[JobStore], None]
DAMAGES: list[Damage] = [
    damage_garbage,
    damage_truncate,
    damage_cut_mid_line,
    damage_symlink,
    damage_mode,
    damage_remove,
    damage_folder_by_hand,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
def test_an_untrustworthy_index_is_not_read_and_reconcile_rebuilds_it(
    store: JobStore, damage: Damage
) -> None:
    create_jobs(store, 30)
    path = store.layout.job_index
    damage(store)
    with pytest.raises(IndexUnusable):
        newest_from_index(store)
    truth = scanned(store)
    assert listed(store, 50) == truth  # the folder, listed
    store.reconcile()
    assert not path.is_symlink() and (path.stat().st_mode & 0o777) == 0o600
    assert newest_from_index(store) == truth
    assert listed(store, 50) == truth
    assert records_of(store).check_index() is False  # checked once more: nothing to do


@pytest.mark.parametrize("damage", [damage_garbage, damage_cut_mid_line, damage_mode, damage_remove])
def test_a_start_rebuilds_an_index_it_cannot_append_to(store: JobStore, damage: Damage) -> None:
    create_jobs(store, 10)
    damage(store)
    create_jobs(store, 1)
    assert newest_from_index(store) == scanned(store)


def test_a_job_missing_from_a_sealed_index_shows_by_its_marker(store: JobStore) -> None:
    """A folder made by a process that knows no index, sealed over by a writer of ours in the
    same instant: the job holds a queue marker, and the read sees the index misses it."""
    create_jobs(store, 10)
    job_id, staging = claim(store)
    os.rename(staging, store.layout.job_dir(job_id))
    records_of(store).index.seal()
    assert job_id not in newest_from_index(store)
    records_of(store).mark_queued(job_id)
    with pytest.raises(IndexUnusable):
        list(records_of(store).index.newest(records_of(store).queued_ids()))
    assert job_id in [entry.job_id for entry in store.list_jobs(20)]


def root_files(store: JobStore) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.lstat().st_mtime_ns, p.read_bytes()) for p in store.root.iterdir() if p.is_file()}


def test_a_read_never_creates_or_repairs_the_index(store: JobStore) -> None:
    create_jobs(store, 5)
    for damage in (damage_garbage, damage_remove):
        damage(store)
        before = {
            p.name: (p.lstat().st_mtime_ns, p.read_bytes()) for p in store.root.iterdir() if p.is_file()
        }
        assert listed(store) == scanned(store)
        assert store.job_ids() == scanned(store)
        after = {p.name: (p.lstat().st_mtime_ns, p.read_bytes()) for p in store.root.iterdir() if p.is_file()}
        assert after == before


def test_an_empty_store_lists_nothing(store: JobStore) -> None:
    assert listed(store) == []
    records_of(store).ensure()
    assert listed(store) == []
    assert not store.layout.job_index.exists()  # made by the first start, or a reconcile
    store.reconcile()
    assert newest_from_index(store) == []


def test_starts_keep_the_index_sealed(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    """Real starts (a runner and the fake codex each): every one appended and sealed."""
    real = JobStore(tmp_path / "real", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=2.0)
    try:
        ids = [real.start(RunOptions.checked(prompt="hello", cwd=str(workdir))).job_id for _ in range(3)]
        for job_id in ids:
            real.wait(job_id, 20)
        assert newest_from_index(real) == scanned(real) == ids[::-1]
        assert listed(real) == ids[::-1]
    finally:
        stop_everything(real)
