"""Class 1, a store you don't own: like ssh's StrictModes, a store root or folder that is not
ours or that group or others may write is refused (saying how to fix it) for reading and for
writing, and nothing queued in it is executed; a new store is private from its first byte."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from jobstore import JobStore, RunOptions, Settings, StoreRefused, UnreadableJob, fsio
from jobstore.job_port import JobPort
from tests.security.attack import run_cli

FOLDERS = ("", "jobs", "queue", "running", "sessions")
JOB_ID = "01aaaaaaaaaaaa"


def plant_queued_job(root: Path, proof: Path) -> None:
    """What an attacker with write access to a store leaves: a queued job whose command
    writes `proof` (as whoever executes it)."""
    for name in FOLDERS[1:]:
        (root / name).mkdir(parents=True, exist_ok=True)
    job = root / "jobs" / JOB_ID
    job.mkdir(exist_ok=True)
    record = {
        "job_id": JOB_ID,
        "status": "queued",
        "kind": "run",
        "prompt": "planted",
        "cwd": "/",
        "approval_policy": "never",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    (job / "meta.json").write_text(json.dumps(record))
    (job / "command.json").write_text(json.dumps({"argv": ["touch", str(proof)], "stdin": None}))
    (job / "output.txt").write_text("")
    (root / "queue" / JOB_ID).write_text("")


def job_port(store: JobStore) -> JobPort:
    """The planted job's side of the store, as its runner would hold it."""
    return JobPort(store.root, JOB_ID, Settings(store.root))


def try_everything(store: JobStore) -> list[str]:
    """Every way a process uses a store; returns the ones that were not refused."""
    accepted = []
    for name, use in {
        "list_jobs": lambda: store.list_jobs(),
        "schedule": job_port(store).schedule,  # what a runner does at its end
        "reconcile": store.reconcile,
        "ensure": store.ensure,
        "sessions": lambda: store.sessions(),
    }.items():
        try:
            use()
            accepted.append(name)
        except StoreRefused:
            pass
    return accepted


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o720])
def test_a_folder_others_may_write_is_refused_and_its_queued_job_never_runs(
    tmp_path: Path, fake_codex: Path, folder: str, mode: int
) -> None:
    root = tmp_path / "store"
    proof = tmp_path / "planted-command-ran"
    plant_queued_job(root, proof)
    for name in FOLDERS:
        (root / name).chmod(0o700)
    (root / folder).chmod(mode)
    store = JobStore(root, max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
    assert try_everything(store) == []
    with pytest.raises(StoreRefused, match=rf"chmod 700 {root / folder}".rstrip("/")):
        store.list_jobs()
    with pytest.raises(StoreRefused):
        store.start(RunOptions.checked(prompt="hello", cwd=str(tmp_path)))
    assert not proof.exists()
    assert stat.S_IMODE((root / folder).stat().st_mode) == mode  # refused, not silently changed


def test_the_cli_says_how_to_fix_a_refused_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    plant_queued_job(root, tmp_path / "proof")
    for name in FOLDERS:
        (root / name).chmod(0o700)
    root.chmod(0o777)
    for command in (["list"], ["reconcile"], ["prune", "--older-than", "1d"]):
        result = run_cli(root, *command)
        assert result.returncode == 1, command
        assert f"chmod 700 {root}" in result.stderr.decode(), result.stderr
        assert b"Traceback" not in result.stderr
    root.chmod(0o700)
    assert run_cli(root, "list").returncode == 0
    assert not (tmp_path / "proof").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("folder", FOLDERS)
def test_a_folder_another_user_owns_is_refused(tmp_path: Path, fake_codex: Path, folder: str) -> None:
    root = tmp_path / "store"
    proof = tmp_path / "proof"
    plant_queued_job(root, proof)
    for name in FOLDERS:
        (root / name).chmod(0o700)
    os.chown(root / folder, 65534, 65534)  # nobody
    store = JobStore(root, max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
    assert try_everything(store) == []
    with pytest.raises(StoreRefused, match="chown"):
        job_port(store).schedule()
    assert not proof.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_job_folder_another_user_owns_is_unreadable_and_never_executed(
    store: JobStore, tmp_path: Path
) -> None:
    store.ensure()
    proof = tmp_path / "proof"
    plant_queued_job(store.root, proof)
    for path in (store.root / "jobs" / JOB_ID).iterdir():
        path.chmod(0o600)
    (store.root / "jobs" / JOB_ID).chmod(0o700)
    os.chown(store.root / "jobs" / JOB_ID, 65534, 65534)
    (entry,) = store.list_jobs()
    assert isinstance(entry, UnreadableJob) and "chown" in entry.reason
    store.reconcile()
    assert not proof.exists()


def test_a_job_folder_others_may_write_is_unreadable_and_never_executed(
    store: JobStore, tmp_path: Path
) -> None:
    store.ensure()
    proof = tmp_path / "proof"
    plant_queued_job(store.root, proof)
    (store.root / "jobs" / JOB_ID).chmod(0o777)
    (entry,) = store.list_jobs()
    assert isinstance(entry, UnreadableJob) and "chmod 700" in entry.reason
    store.reconcile()
    job_port(store).schedule()
    assert not proof.exists()


def _modes(root: Path) -> dict[str, str]:
    out = {}
    for path in [root, *root.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        out[str(path.relative_to(root.parent.parent))] = oct(stat.S_IMODE(path.stat().st_mode))
    return out


def test_a_new_store_is_private_from_its_first_byte_under_umask_000(tmp_path: Path, fake_codex: Path) -> None:
    root = tmp_path / "a" / "b" / "store"  # parents it creates, too
    old = os.umask(0)
    try:
        store = JobStore(root, max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
        job = store.start(RunOptions.checked(prompt="hello", cwd=str(tmp_path)))
        record = store.wait(job.job_id, 30)
    finally:
        os.umask(old)
    assert record.status == "done" and record.session_id
    modes = _modes(tmp_path / "a")
    folders = {p: m for p, m in modes.items() if (tmp_path.parent / p).is_dir()}
    files = {p: m for p, m in modes.items() if p not in folders}
    assert set(folders.values()) == {"0o700"}, folders
    assert set(files.values()) == {"0o600"}, files
    assert any(p.endswith("runner.log") for p in files) and any(p.endswith("settings.json") for p in files)


def test_ensure_dir_tightens_a_folder_of_ours_and_refuses_one_others_may_write(tmp_path: Path) -> None:
    readable = tmp_path / "readable"
    readable.mkdir(mode=0o755)
    readable.chmod(0o755)
    fsio.ensure_dir(readable)
    assert stat.S_IMODE(readable.stat().st_mode) == 0o700
    writable = tmp_path / "writable"
    writable.mkdir()
    writable.chmod(0o777)
    with pytest.raises(StoreRefused, match=f"chmod 700 {writable}"):
        fsio.ensure_dir(writable)
    assert stat.S_IMODE(writable.stat().st_mode) == 0o777
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(StoreRefused, match="symlink"):
        fsio.ensure_dir(tmp_path / "link")


def _other_user() -> list[str] | None:
    if os.geteuid() != 0:
        return None
    for tool in (
        ["runuser", "-u", "nobody", "--"],
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    ):
        if shutil.which(tool[0]):
            return tool
    return None


@pytest.mark.skipif(_other_user() is None, reason="needs root and runuser or setpriv to act as user nobody")
def test_a_store_planted_by_another_user_is_never_executed(tmp_path: Path, fake_codex: Path) -> None:
    """Two users: `nobody` prepares a store where we would look for ours (a shared folder,
    like /tmp), with a queued job; every process of ours refuses it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    for folder in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        folder.chmod(0o711)  # nobody may pass through to the shared folder, and read nothing
    root = shared / "store"
    proof = shared / "proof"
    record = {
        "job_id": JOB_ID,
        "status": "queued",
        "kind": "run",
        "prompt": "planted",
        "cwd": "/",
        "approval_policy": "never",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    command = {"argv": ["touch", str(proof)], "stdin": None}
    planter = (
        'umask 077; job="$1/jobs/$4"; mkdir -p "$job" "$1/queue" "$1/running" "$1/sessions" && '
        'printf %s "$2" > "$job/meta.json" && printf %s "$3" > "$job/command.json" && '
        ': > "$job/output.txt" && : > "$1/queue/$4"'
    )
    user = _other_user()
    assert user is not None
    subprocess.run(
        [*user, "sh", "-c", planter, "sh", str(root), json.dumps(record), json.dumps(command), JOB_ID],
        check=True,
    )
    assert root.stat().st_uid == 65534
    store = JobStore(root, max_jobs=2, codex_bin=str(fake_codex), cancel_grace=1)
    assert try_everything(store) == []
    result = run_cli(root, "reconcile")
    assert result.returncode == 1 and b"belongs to nobody" in result.stderr
    assert not proof.exists()
