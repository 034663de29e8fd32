"""`codex-async` commands run in-process: list, start, wait, follow, restart, config and their errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.cli import main
from jobstore.cli.output import Column, cell_width, table
from jobstore.cli.parser import build_parser


def run(store: JobStore, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--store", str(store.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def finished(store: JobStore, workdir: Path, prompt: str = "hello", **options: object) -> str:
    job = store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir), **options))
    return store.wait(job.job_id, 30).job_id


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("codex-async ")


def test_json_and_store_go_before_or_after_the_command(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = finished(store, workdir)
    for argv in (
        ["--json", "--store", str(store.root), "list"],
        ["--store", str(store.root), "list", "--json"],
        ["list", "--store", str(store.root), "--json"],
    ):
        assert main(argv) == 0, argv
        assert [job["job_id"] for job in json.loads(capsys.readouterr().out)] == [job_id]
    # Given before and not after, the value before stays.
    args = build_parser().parse_args(["--json", "--store", "/x", "list"])
    assert args.json is True and args.store == "/x"


def test_list_has_a_header_and_aligned_columns(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    first = finished(store, workdir, "first job\nwith a second line")
    second = finished(store, workdir, "fail this one")
    code, out, _ = run(store, capsys, "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["JOB", "STATUS", "CREATED", "FOLDER", "PROMPT"]
    assert [row.split()[0] for row in rows] == [second, first]
    assert {row.index(row.split()[1]) for row in rows} == {header.index("STATUS")}
    assert {row.index("fail") if "fail" in row else row.index("first") for row in rows} == {
        header.index("PROMPT")
    }
    assert "with a second line" not in out  # the first line of the prompt only
    assert all(len(line) <= 100 for line in out.splitlines())


def test_a_narrow_terminal_keeps_the_prompt(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    finished(store, workdir, "explain the payment retry logic in detail please " * 3)
    _, out, _ = run(store, capsys, "list")
    header, row = out.splitlines()
    assert "FOLDER" not in header and "PROMPT" in header  # the folder goes before the prompt
    assert row.endswith("…") and "explain the payment" in row
    assert all(cell_width(line) <= 60 for line in out.splitlines())


def test_table_measures_wide_characters() -> None:
    lines = table(
        [Column("A"), Column("PROMPT")], [["x", "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字"]], 30
    )
    assert all(cell_width(line) <= 30 for line in lines)
    assert lines[1].endswith("…")


def test_start_wait_and_follow(store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        store,
        capsys,
        "start",
        "write it lines=3",
        "--cwd",
        str(workdir),
        "--approval-policy",
        "suggest",
        "--sandbox",
        "read-only",
        "--model",
        "gpt-5",
        "--reasoning-effort",
        "low",
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert (record["approval_policy"], record["sandbox"], record["model"], record["reasoning_effort"]) == (
        "suggest",
        "read-only",
        "gpt-5",
        "low",
    )
    job_id = record["job_id"]
    code, out, _ = run(store, capsys, "wait", job_id)
    assert code == 0 and out.strip() == f"job {job_id} done (exit 0)"
    code, out, _ = run(store, capsys, "follow", job_id)
    lines = out.splitlines()
    assert code == 0
    assert lines[-1] == f"job {job_id} done (exit 0)"
    assert [line for line in lines if line.startswith(("line ", "Done:"))] == [
        "line 0",
        "line 1",
        "line 2",
        "Done: write it lines=3",
    ]
    code, out, _ = run(store, capsys, "follow", job_id, "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["job"]["status"] == "done"
    assert {"kind": "agent", "text": "line 1"} in events


def test_follow_shows_a_running_job_until_it_ends(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = store.start(RunOptions.checked(prompt="slowly sleep=1 lines=2", cwd=str(workdir)))
    code, out, _ = run(store, capsys, "follow", job.job_id, "--tail", "1")
    assert code == 0
    assert "$ sleep  [exit 0]" in out and out.splitlines()[-1] == f"job {job.job_id} done (exit 0)"
    assert store.get(job.job_id).status == JobStatus.DONE


def test_wait_exit_codes(store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failed = finished(store, workdir, "fail please")
    code, out, _ = run(store, capsys, "wait", failed)
    assert code == 4 and out.startswith(f"job {failed} error (exit 1)")
    slow = store.start(RunOptions.checked(prompt="sleep=60", cwd=str(workdir)))
    code, out, _ = run(store, capsys, "wait", slow.job_id, "--timeout", "0")
    assert code == 3 and "still running" in out
    store.cancel(slow.job_id)
    code, _, _ = run(store, capsys, "wait", slow.job_id)
    assert code == 4


def test_start_refusals_are_one_line_and_exit_2(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, says in (
        (["start", "hi", "--cwd", str(workdir / "missing")], "does not exist"),
        (["start", "hi", "--cwd", str(workdir), "--sandbox", "wide-open"], "unknown sandbox 'wide-open'"),
        (["start", "hi", "--cwd", str(workdir), "--approval-policy", "yolo"], "unknown approval_policy"),
        (["start", "hi", "--cwd", str(workdir), "--reasoning-effort", "max"], "unknown reasoning_effort"),
        (["start", "hi", "--cwd", str(workdir), "--session-id", "not a session"], "session"),
        (["start", "   ", "--cwd", str(workdir)], "prompt is empty"),
    ):
        code, out, err = run(store, capsys, *args)
        assert code == 2, args
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("codex-async: ") and says in err, err
    assert store.job_ids() == []  # nothing was written


def test_start_reads_the_prompt_from_stdin(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    monkeypatch.chdir(workdir)
    code, out, _ = run(store, capsys, "start", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["prompt"] == "from stdin\n" and record["cwd"] == str(workdir.resolve())
    # A prompt of exactly "-" is that text, not "read stdin".
    code, out, _ = run(store, capsys, "start", "--json", "--", "-")
    assert code == 0 and json.loads(out)["prompt"] == "-"


def test_restart_starts_the_same_job_again(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = finished(store, workdir, "first turn", approval_policy="suggest", model="gpt-5")
    session = store.get(first).session_id
    assert session is not None
    turn = finished(store, workdir, "second turn", approval_policy="suggest", session_id=session)
    code, out, _ = run(store, capsys, "restart", turn, "--json")
    assert code == 0
    again = store.wait(json.loads(out)["job_id"], 30)
    old = store.get(turn)
    assert again.job_id != turn
    assert (again.prompt, again.cwd, again.approval_policy, again.resumes_session) == (
        old.prompt,
        old.cwd,
        old.approval_policy,
        session,
    )
    assert again.status == JobStatus.DONE and again.session_id == session
    running = store.start(RunOptions.checked(prompt="sleep=60", cwd=str(workdir)))
    code, _, err = run(store, capsys, "restart", running.job_id)
    assert code == 2 and "still running" in err
    store.cancel(running.job_id)


def test_restart_a_review(store: JobStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jobstore import ReviewOptions

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    review = store.start_review(ReviewOptions.checked(cwd=str(repo), base="main"))
    store.wait(review.job_id, 30)
    code, out, _ = run(store, capsys, "restart", review.job_id, "--json")
    assert code == 0
    again = store.wait(json.loads(out)["job_id"], 30)
    assert (again.kind, again.review, again.prompt) == (
        "review",
        {"base": "main"},
        "Review changes against main",
    )


def test_errors_name_the_problem(store: JobStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(store, capsys, "show", "0000000000zzzz")
    assert code == 1 and out == "" and "no job 0000000000zzzz" in err
    code, _, err = run(store, capsys, "follow", "../etc")
    assert code == 2 and "invalid job id" in err
    code, _, err = run(store, capsys, "list", "--status", "sleeping")
    assert code == 2 and "unknown status 'sleeping'" in err


def test_review_takes_the_options_of_codex_review(
    store: JobStore, tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    code, out, _ = run(
        store, capsys, "review", "--cwd", str(repo), "--base", "main", "--model", "gpt-5", "--json"
    )
    assert code == 0
    record = store.wait(json.loads(out)["job_id"], 30)
    assert (record.kind, record.review, record.model, record.approval_policy) == (
        "review",
        {"base": "main"},
        "gpt-5",
        "suggest",
    )
    assert record.status == JobStatus.DONE
    code, out, _ = run(
        store, capsys, "review", "--cwd", str(repo), "--commit", "abc123", "--title", "T", "--json"
    )
    assert code == 0 and json.loads(out)["review"] == {"commit": "abc123", "title": "T"}
    code, out, _ = run(store, capsys, "review", "focus on the parser", "--cwd", str(repo), "--json")
    assert code == 0 and json.loads(out)["review"] == {"custom": True}
    code, out, _ = run(store, capsys, "review", "--cwd", str(repo))  # no target: the uncommitted changes
    assert code == 0 and out.startswith("started job ")
    assert store.get(store.job_ids()[0]).review == {"uncommitted": True}
    for job_id in store.job_ids():
        store.wait(job_id, 30)

    before = store.job_ids()
    for args, expected in (
        (["--cwd", str(repo), "--uncommitted", "--base", "main"], "one review target"),
        (["look here", "--cwd", str(repo), "--uncommitted"], "not both"),
        (["--cwd", str(repo), "--title", "T"], "title goes with commit"),
        (["--cwd", str(workdir)], "not in a git repository"),
    ):
        code, _, err = run(store, capsys, "review", *args)
        assert code == 2 and expected in err, (args, err)
    assert store.job_ids() == before  # refused: nothing written


def test_sessions_lists_each_session_with_its_turns(
    store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(store, capsys, "sessions")
    assert (code, out) == (0, "no sessions\n")
    monkeypatch.setenv("COLUMNS", "120")
    first = finished(store, workdir, "first turn")
    session = store.get(first).session_id
    assert session is not None
    second = finished(store, workdir, "second turn", session_id=session)
    other = store.get(finished(store, workdir, "another session")).session_id

    code, out, _ = run(store, capsys, "sessions")
    assert code == 0
    lines = out.splitlines()
    # Most recently active first: the one-turn session, then the two-turn one, whole ids shown.
    assert lines[0].startswith(f"session {other}  1 turn, last active ")
    heads = [n for n, line in enumerate(lines) if line.startswith("session ")]
    assert lines[heads[1]].startswith(f"session {session}  2 turns, ") and str(workdir) in lines[heads[1]]
    turns = lines[heads[1] + 1 :]
    assert turns[0].split() == ["JOB", "STATUS", "CREATED", "PROMPT"]
    assert [row.split()[0] for row in turns[1:]] == [first, second]
    assert "second turn" in turns[2] and "done" in turns[2]

    code, out, _ = run(store, capsys, "sessions", "--json", "--limit", "1")
    assert code == 0
    [listed] = json.loads(out)
    assert listed["session_id"] == other and [t["prompt"] for t in listed["turns"]] == ["another session"]
    code, out, _ = run(store, capsys, "sessions", "--json")
    found = {entry["session_id"]: [t["job_id"] for t in entry["turns"]] for entry in json.loads(out)}
    assert found[session] == [first, second]
