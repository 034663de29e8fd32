"""A worktree job's change as a patch (what a team publishes), applied on another store without
the job's objects: the same promises as a local apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStore
from tests.jobstore.test_job_worktree import run_worktree_job
from tests.worktree_repo import UNCOMMITTED_NOTES, objects_of, person_state

CAP = 8 * 1024 * 1024


def published(store: JobStore, cwd: Path, prompt: str) -> bytes:
    """The job's patch, then its worktree and private git folder removed: only the patch is left."""
    job_id = run_worktree_job(store, cwd, prompt)
    _, patch = store.worktree_patch(job_id, CAP)
    assert patch is not None
    store.discard(job_id)
    assert not store.layout.worktree_git_dir(job_id).exists()
    return patch


def test_a_patch_applies_beside_the_persons_edit_once(
    store: JobStore, person_repo: Path, tmp_path: Path
) -> None:
    patch = published(store, person_repo, "write=made.py write=notes.txt")
    (person_repo / "draft.txt").write_text("the person went on working\n")
    before = person_state(person_repo)
    objects_before = objects_of(person_repo)
    other = JobStore(tmp_path / "other-store")

    changed, conflicts = other.apply_patch("team-1", str(person_repo / "src"), patch)

    assert conflicts == [] and sorted(changed) == ["made.py", "notes.txt"]
    assert (person_repo / "made.py").read_text() == "written by the job: made.py\n"
    assert (person_repo / "notes.txt").read_text() == UNCOMMITTED_NOTES + "written by the job: notes.txt\n"
    assert (person_repo / "draft.txt").read_text() == "the person went on working\n"
    assert (person_repo / ".git" / "index").read_bytes() == before["index"]
    assert objects_of(person_repo) == objects_before
    with pytest.raises(InvalidInput, match="applied already"):
        other.apply_patch("team-1", str(person_repo), patch)


def test_a_conflicting_patch_changes_nothing_and_names_the_file(
    store: JobStore, person_repo: Path, tmp_path: Path
) -> None:
    patch = published(store, person_repo, "write=notes.txt write=fresh.txt")
    (person_repo / "notes.txt").write_text("the person rewrote it meanwhile\n")
    before = person_state(person_repo)
    other = JobStore(tmp_path / "other-store")

    changed, conflicts = other.apply_patch("team-2", str(person_repo), patch)

    assert changed == [] and conflicts == ["notes.txt"]
    assert person_state(person_repo) == before
    assert not (person_repo / "fresh.txt").exists()
    (person_repo / "notes.txt").write_text(UNCOMMITTED_NOTES)  # put back: it applies now
    changed, conflicts = other.apply_patch("team-2", str(person_repo), patch)
    assert conflicts == [] and sorted(changed) == ["fresh.txt", "notes.txt"]


def test_a_patch_over_the_cap_is_not_made(store: JobStore, person_repo: Path) -> None:
    job_id = run_worktree_job(store, person_repo, "write=made.py")
    recorded, patch = store.worktree_patch(job_id, 64)
    assert patch is None and recorded.files == [("A", "made.py")]


def test_a_folder_outside_any_repository_is_refused(store: JobStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not in a git working tree"):
        store.apply_patch("team-3", str(tmp_path), b"")
    with pytest.raises(InvalidInput, match="cannot name a change"):
        store.apply_patch("../x", str(tmp_path), b"")
