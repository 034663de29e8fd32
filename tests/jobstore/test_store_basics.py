"""The store's records, ids, validation and reading, with a fake codex."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

import jobstore.records as records_module
from jobstore import (
    CodexUnavailable,
    InvalidInput,
    JobNotFound,
    JobStatus,
    JobStore,
    ReviewOptions,
    RunOptions,
    UnreadableJob,
)
from jobstore.ids import JOB_ID_LENGTH, check_job_id, new_job_id
from jobstore.output_file import read_tail
from jobstore.record import JobRecord
from jobstore.records import Records
from tests.fakes import install_fake_codex


def run(store: JobStore, workdir: Path, prompt: str = "hello", **kw: object) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir), **kw))


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


# ----------------------------------------------------------------------------- ids


def test_job_ids_are_ordered_unique_and_path_safe() -> None:
    ids = [new_job_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == JOB_ID_LENGTH and i.isalnum() and i.islower() for i in ids)


@pytest.mark.parametrize(
    "bad", ["", "../etc", "/etc/passwd", "a" * 13, "A" * 14, "abc/def/ghijk", "x\x00" * 7, None, 5]
)
def test_malformed_job_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="invalid job id"):
        check_job_id(bad)


def test_unknown_job_is_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get(new_job_id())


# ----------------------------------------------------------------------- lifecycle


def test_plain_run_ends_done_with_session_and_summary(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "say hello")
    assert job.status in (JobStatus.RUNNING, JobStatus.QUEUED)
    assert job.pid
    final = store.wait(job.job_id, 20)
    assert final.status == JobStatus.DONE
    assert final.exit_code == 0
    assert final.session_id
    assert final.started_at and final.finished_at and final.created_at.endswith("+00:00")
    assert store.final_message(job.job_id) == "Done: say hello"
    summary = store.summary(job.job_id)
    assert summary.turn_completed and summary.usage == {
        "input_tokens": 10,
        "cached_input_tokens": 0,
        "output_tokens": 5,
    }
    meta = json.loads(store.layout.meta(job.job_id).read_text())
    for field in (
        "job_id",
        "status",
        "prompt",
        "cwd",
        "approval_policy",
        "pid",
        "started_at",
        "finished_at",
        "exit_code",
        "session_id",
        "model",
        "kind",
        "created_at",
        "error",
        "schema_version",
    ):
        assert field in meta


@pytest.mark.parametrize(
    ("prompt", "exit_code", "error"),
    [
        ("please fail", 1, "fake model failure"),
        ("crash now", 3, "crashed"),
        ("noturn please", 0, "without finishing its turn"),
    ],
)
def test_failures_are_errors_never_done(
    store: JobStore, workdir: Path, prompt: str, exit_code: int, error: str
) -> None:
    final = store.wait(run(store, workdir, prompt).job_id, 20)
    assert final.status == JobStatus.ERROR
    assert final.exit_code == exit_code
    assert error in (final.error or "")


def test_prompt_is_never_interpreted_by_a_shell(store: JobStore, workdir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    prompt = f"$(touch {marker}) `touch {marker}`; touch {marker}"
    final = store.wait(run(store, workdir, prompt).job_id, 20)
    assert final.status == JobStatus.DONE
    assert not marker.exists()
    assert store.final_message(final.job_id) == f"Done: {prompt[:60]}"


def test_prompt_starting_with_dash_is_text(store: JobStore, workdir: Path) -> None:
    final = store.wait(run(store, workdir, "--help me").job_id, 20)
    assert final.status == JobStatus.DONE
    assert store.final_message(final.job_id) == "Done: --help me"


def test_large_prompt_goes_through_stdin(store: JobStore, workdir: Path) -> None:
    prompt = "x" * 200_000
    final = store.wait(run(store, workdir, prompt).job_id, 20)
    assert final.status == JobStatus.DONE
    command = json.loads(store.layout.command(final.job_id).read_text())
    assert command["argv"][-1] == "-" and command["stdin"] == "prompt.txt"
    assert store.final_message(final.job_id) == f"Done: {'x' * 60}"


def test_continue_session_links_jobs(store: JobStore, workdir: Path) -> None:
    first = store.wait(run(store, workdir, "first turn").job_id, 20)
    second = store.wait(run(store, workdir, "second turn", session_id=first.session_id).job_id, 20)
    assert second.status == JobStatus.DONE
    assert second.session_id == first.session_id
    assert second.resumes_session == first.session_id
    argv = json.loads(store.layout.command(second.job_id).read_text())["argv"]
    assert argv[argv.index("resume") + 1] == first.session_id
    sessions = store.sessions()
    assert [t.job_id for t in sessions[0].turns] == [first.job_id, second.job_id]


def test_review_job(store: JobStore, workdir: Path) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)  # codex reviews a repository
    job = store.start_review(ReviewOptions.checked(cwd=str(workdir), base="main"))
    final = store.wait(job.job_id, 20)
    assert final.kind == "review" and final.review == {"base": "main"}
    assert final.status == JobStatus.DONE
    argv = json.loads(store.layout.command(job.job_id).read_text())["argv"]
    assert argv[argv.index("review") :] == ["review", "--base=main"]


def test_approval_policies_map_to_codex_flags(store: JobStore, workdir: Path) -> None:
    def argv_for(**kw: object) -> list[str]:
        job = run(store, workdir, **kw)
        store.wait(job.job_id, 20)
        return json.loads(store.layout.command(job.job_id).read_text())["argv"]

    assert "read-only" in argv_for(approval_policy="suggest")
    assert "workspace-write" in argv_for()
    assert "--dangerously-bypass-approvals-and-sandbox" in argv_for(approval_policy="full-auto")
    custom = argv_for(
        approval_policy="suggest", sandbox="workspace-write", model="gpt-5.1-codex", reasoning_effort="high"
    )
    assert "workspace-write" in custom and "read-only" not in custom
    assert "--model=gpt-5.1-codex" in custom
    assert 'model_reasoning_effort="high"' in custom
    assert "--full-auto" not in custom


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"prompt": ""}, "empty"),
        ({"prompt": "   "}, "empty"),
        ({"prompt": "x" * (1024 * 1024)}, "limit"),
        ({"prompt": "a\x00b"}, "control character"),
        ({"prompt": "bad \ud800"}, "Unicode"),
        ({"approval_policy": "yolo"}, "suggest, auto-edit, full-auto"),
        ({"sandbox": "none"}, "read-only"),
        ({"reasoning_effort": "max"}, "minimal"),
        ({"model": "a b"}, "invalid model"),
        ({"session_id": "../../etc"}, "invalid session id"),
        ({"cwd": "relative/dir"}, "absolute"),
        ({"cwd": "/nonexistent/folder"}, "does not exist"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    store: JobStore, workdir: Path, kw: dict[str, object], message: str
) -> None:
    before = files_in(store.root)
    args: dict[str, object] = {"prompt": "hello", "cwd": str(workdir), **kw}
    with pytest.raises(InvalidInput, match=message):
        store.start(RunOptions.checked(**args))
    assert files_in(store.root) == before


def test_cwd_that_is_a_file_is_refused(store: JobStore, workdir: Path) -> None:
    target = workdir / "file.txt"
    target.write_text("x")
    with pytest.raises(InvalidInput, match="not a folder"):
        RunOptions.checked(prompt="hi", cwd=str(target))


def test_missing_codex_is_clear_and_creates_nothing(tmp_path: Path, workdir: Path) -> None:
    store = JobStore(tmp_path / "s", codex_bin=str(tmp_path / "nope" / "codex"))
    with pytest.raises(CodexUnavailable, match="not found"):
        store.start(RunOptions.checked(prompt="hi", cwd=str(workdir)))
    assert store.job_ids() == []


def test_too_old_codex_is_refused(tmp_path: Path, workdir: Path) -> None:
    old = install_fake_codex(tmp_path / "oldbin", version="0.120.3")
    store = JobStore(tmp_path / "s", codex_bin=str(old))
    with pytest.raises(CodexUnavailable, match="too old"):
        store.start(RunOptions.checked(prompt="hi", cwd=str(workdir)))
    assert store.job_ids() == []


def test_review_options_are_checked(workdir: Path) -> None:
    with pytest.raises(InvalidInput, match="one review target"):
        ReviewOptions.checked(cwd=str(workdir), uncommitted=True, base="main")
    with pytest.raises(InvalidInput, match="not both"):
        ReviewOptions.checked(cwd=str(workdir), base="main", prompt="look at security")
    with pytest.raises(InvalidInput, match="invalid base"):
        ReviewOptions.checked(cwd=str(workdir), base="--upload-pack=evil")
    with pytest.raises(InvalidInput, match="not in a git repository"):
        ReviewOptions.checked(cwd=str(workdir))
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    assert ReviewOptions.checked(cwd=str(workdir)).uncommitted


# ------------------------------------------------------------- records on disk


def test_store_is_private(store: JobStore, workdir: Path) -> None:
    final = store.wait(run(store, workdir).job_id, 20)
    job_dir = store.layout.job_dir(final.job_id)
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(job_dir.stat().st_mode) == 0o700
    for path in job_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b'{"job_id": "x", "sta', "not valid JSON"),
        (b"\x00\xff garbage", "JSON"),
        (b"[1, 2]", "object"),
        (None, "no meta.json"),
    ],
)
def test_damaged_records_are_listed_as_unreadable(
    store: JobStore, workdir: Path, content: bytes | None, reason: str
) -> None:
    good = store.wait(run(store, workdir).job_id, 20)
    bad_id = new_job_id()
    store.layout.job_dir(bad_id).mkdir(mode=0o700)
    if content is not None:
        store.layout.meta(bad_id).write_bytes(content)
    entries = store.list_jobs(limit=10)
    assert [e.job_id for e in entries] == [bad_id, good.job_id]
    assert isinstance(entries[0], UnreadableJob) and reason in entries[0].reason
    assert entries[1].status == JobStatus.DONE
    assert [e.job_id for e in store.list_jobs(status="unreadable")] == [bad_id]


def test_list_filters_and_limits(store: JobStore, workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    jobs = [store.wait(run(store, workdir, p).job_id, 20) for p in ("a ok", "b fail", "c ok")]
    extra = store.wait(run(store, other, "d ok").job_id, 20)
    assert [j.job_id for j in store.list_jobs()] == [extra.job_id, *reversed([j.job_id for j in jobs])]
    assert [j.job_id for j in store.list_jobs(limit=1)] == [extra.job_id]
    assert [j.job_id for j in store.list_jobs(status="error")] == [jobs[1].job_id]
    assert [j.job_id for j in store.list_jobs(cwd=str(other))] == [extra.job_id]
    with pytest.raises(InvalidInput, match="valid values"):
        store.list_jobs(status="finished")
    for bad in (0, -1, 10**9, "5", True):
        with pytest.raises(InvalidInput):
            store.list_jobs(limit=bad)  # type: ignore[arg-type]


def test_reading_a_store_that_does_not_exist(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "missing")
    assert store.list_jobs() == []
    assert store.sessions() == []
    store.reconcile()
    assert not (tmp_path / "missing").exists()


def test_prune_removes_only_old_finished_jobs(store: JobStore, workdir: Path) -> None:
    done = store.wait(run(store, workdir).job_id, 20)
    running = run(store, workdir, "sleep=30")
    assert store.prune(timedelta(days=1)) == []
    assert store.prune(timedelta(0)) == [done.job_id]
    assert [j.job_id for j in store.list_jobs()] == [running.job_id]
    with pytest.raises(InvalidInput):
        store.prune(timedelta(seconds=-1))


def test_concurrent_updates_are_not_lost(store: JobStore, workdir: Path) -> None:
    import threading

    job = store.wait(run(store, workdir).job_id, 20)

    def writer(n: int) -> None:
        for i in range(20):
            with Records(store.layout).locked(job.job_id) as rec:
                rec.extra[f"w{n}-{i}"] = i

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    written = store.read_record(job.job_id).extra
    assert len([key for key in written if key.startswith("w")]) == 120  # beside the runner's own


# ------------------------------------------------------------------------ tail


def test_tail_reads_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(100_000)))
    tail = read_tail(path, 3)
    assert tail.lines == ["line 99997", "line 99998", "line 99999"]
    assert read_tail(path, 1).lines == ["line 99999"]
    path.write_bytes(b"only\n")
    assert read_tail(path, 5).lines == ["only"]
    path.write_bytes(b"no newline at end")
    assert read_tail(path, 5).lines == ["no newline at end"]
    assert read_tail(tmp_path / "absent", 5).lines == []


def test_tail_survives_hostile_output(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_bytes(b"a\xff\xfe\x00b\n" + b"y" * (10 * 1024 * 1024) + b"\nlast\n")
    tail = read_tail(path, 3)
    assert tail.lines[-1] == "last"
    assert len(tail.lines[-2]) < 30_000  # the 10 MB line is clipped, not loaded whole
    assert tail.truncated


def test_tail_cost_does_not_grow_with_file(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with open(path, "wb") as f:
        f.truncate(2 * 1024**3)  # a 2 GB sparse file
        f.seek(0, os.SEEK_END)
        f.write(b"\nfinal line\n")
    assert read_tail(path, 1).lines == ["final line"]


def test_output_with_garbage_renders(store: JobStore, workdir: Path) -> None:
    final = store.wait(run(store, workdir, "garbage please").job_id, 20)
    assert final.status == JobStatus.DONE
    texts = [line.text for line in store.rendered_tail(final.job_id, 50)]
    assert "plain text line" in texts
    assert any("\ufffd" in t for t in texts)


def test_listing_never_sees_a_half_created_job(store: JobStore, workdir: Path) -> None:
    import threading

    stop = threading.Event()
    seen_unreadable: list[object] = []

    def lister() -> None:
        while not stop.is_set():
            seen_unreadable.extend(e for e in store.list_jobs(limit=100) if isinstance(e, UnreadableJob))

    thread = threading.Thread(target=lister)
    thread.start()
    try:
        for i in range(15):
            run(store, workdir, f"job {i}")
    finally:
        stop.set()
        thread.join()
    assert seen_unreadable == []


def test_cwd_without_permission_is_refused(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads everything, so the refusal of the OS is simulated at the check itself.
    import jobstore.options

    monkeypatch.setattr(jobstore.options.os, "access", lambda path, mode: False)
    with pytest.raises(InvalidInput, match="permission denied"):
        RunOptions.checked(prompt="hi", cwd=str(workdir))
    assert store.job_ids() == []


def test_a_short_listing_checks_only_the_names_it_takes(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.ensure()
    ids = [new_job_id() for _ in range(300)]
    for job_id in ids:  # no record: each is listed as unreadable, no process involved
        store.layout.job_dir(job_id).mkdir(mode=0o700)
    (store.layout.jobs_dir / "zz-not-a-job").mkdir()
    checked: list[object] = []
    check = records_module.is_job_id

    def counted(value: object) -> bool:
        checked.append(value)
        return check(value)

    monkeypatch.setattr(records_module, "is_job_id", counted)
    listed = store.list_jobs(limit=5)
    assert [e.job_id for e in listed] == sorted(ids, reverse=True)[:5]
    assert len(checked) <= 6, f"{len(checked)} names checked for a listing of 5"
    assert store.job_ids() == sorted(ids, reverse=True)  # the whole list still leaves others out


def test_codex_learned_ahead_runs_no_probe_in_the_first_start(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server learns codex at its start, off its main thread: its first job then runs no probe.
    import jobstore.app_server_schema as app_server_schema
    import jobstore.codex_cli as codex_cli

    fake = install_fake_codex(tmp_path / "learned-bin")  # a binary no other test has probed
    probes: list[list[str]] = []
    real_probe = codex_cli.run_probe

    def counting_probe(argv: list[str]) -> str:
        probes.append(argv)
        return real_probe(argv)

    monkeypatch.setattr(codex_cli, "run_probe", counting_probe)
    monkeypatch.setattr(app_server_schema, "run_probe", counting_probe)
    s = JobStore(tmp_path / "store", codex_bin=str(fake))
    info = s.learn_codex()
    assert info.path == str(fake)
    assert any("app-server" in argv for argv in probes)  # the store's default runs codex through it
    learned = len(probes)
    job = s.start(RunOptions.checked(prompt="hello", cwd=str(workdir)))
    assert len(probes) == learned
    assert s.wait(job.job_id, 30).status == JobStatus.DONE


def test_a_record_as_a_dict_is_all_of_it_and_apart_from_it() -> None:
    import dataclasses

    record = JobRecord(
        job_id=new_job_id(),
        status=JobStatus.RUNNING,
        kind="run",
        prompt="p",
        cwd="/",
        approval_policy="auto-edit",
        created_at="2026-12-06T00:00:00.000+00:00",
        review={"base": "main"},
        question={"kind": "command", "details": {"argv": ["ls"]}},
        extra={"marker": "m"},
    )
    data = record.to_dict()
    assert data == {**dataclasses.asdict(record), "status": "running"}
    data["question"]["details"]["argv"].append("-l")
    data["extra"]["marker"] = "changed"
    assert record.question == {"kind": "command", "details": {"argv": ["ls"]}}
    assert record.extra == {"marker": "m"}


def test_a_reader_that_opened_the_record_reads_all_of_it_whatever_is_written_meanwhile(
    tmp_path: Path,
) -> None:
    # A reader holds its open file across several writes (a server reading while the runner
    # records pids and the session): what it reads is one whole version, never an emptied file.
    from jobstore import fsio

    record = tmp_path / "meta.json"
    fsio.write_json_atomic(record, {"n": 0, "pad": "x" * 1000})
    with open(record, "rb") as held:
        for n in range(1, 4):
            fsio.write_json_atomic(record, {"n": n, "pad": "y" * 1000})
        assert json.loads(held.read()) == {"n": 0, "pad": "x" * 1000}
    assert json.loads(record.read_bytes())["n"] == 3
