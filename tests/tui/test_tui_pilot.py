"""codex-tui driven by Textual's pilot: the real app on real stores (demo records or fake codex jobs)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Input, Select, TextArea

from jobstore import DEFAULT_APPROVAL_POLICY, JobRecord, JobStatus, JobStore, RunOptions
from jobstore.fsio import write_bytes_atomic
from jobstore.records import Records
from tests.tui.tui_demo import (
    NOW,
    DemoStore,
    build_demo_store,
    iso,
    job_id_at,
    settle,
    tui_config,
    write_many_jobs,
    write_record,
)
from tui.app import CodexTuiApp
from tui.messages import StoreChanged
from tui.screens.confirm import ConfirmScreen
from tui.screens.continue_session import ContinueSessionScreen
from tui.screens.help import HelpScreen
from tui.screens.new_job import NewJobScreen
from tui.watcher import StoreChanges
from tui.widgets.conversation import TurnView
from tui.widgets.job_detail import JobDetail
from tui.widgets.output_view import OutputLog, OutputView
from tui.widgets.sessions import SessionTree

REPO = Path(__file__).resolve().parents[2]


def make_app(store: JobStore, *, now: datetime = NOW, **overrides: object) -> CodexTuiApp:
    return CodexTuiApp(tui_config(store.root, now=now, **overrides), store=store)


def changed(*, jobs: tuple[str, ...] = (), outputs: tuple[str, ...] = ()) -> StoreChanged:
    """What the watcher would post (tests that snapshot or count run without it)."""
    return StoreChanged(StoreChanges(frozenset(jobs), frozenset(outputs)))


async def wait_for(pilot: object, condition: object, timeout: float = 15.0, what: str = "condition") -> float:
    """Let the app run (no keys pressed) until `condition()`; return how long it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.perf_counter() - started
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    raise AssertionError(f"timed out waiting for {what}")


def notifications(app: CodexTuiApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


# --------------------------------------------------------------------- reading


async def test_jobs_in_every_status_and_counts(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        table = app.jobs_screen.table
        assert table.row_count == 9
        # Newest first: the queued job (created last) is on top and selected.
        assert [table.get_row_at(i)[1].plain for i in range(2)] == [demo.jobs["queued"], demo.jobs["running"]]
        assert app.jobs_screen.selected_job_id == demo.jobs["queued"]
        statuses = {row.status for row in app.jobs_screen.model.rows.values()}
        assert statuses == {"queued", "running", "done", "error", "cancelled", "lost", "unreadable"}
        bar = app.jobs_screen.status_bar
        assert bar.counts == {
            "waiting": 0,  # shown only while some job waits (see tui.jobs.SHOWN_WHEN_ANY)
            "interrupted": 0,
            "running": 1,
            "queued": 1,
            "done": 3,
            "error": 1,
            "cancelled": 1,
            "lost": 1,
            "unreadable": 1,
        }
        # Tokens come from the summary's usage.
        payments = app.jobs_screen.model.rows[demo.jobs["payments_2"]]
        assert payments.tokens == 61_002 + 5_117
        assert table.get_row(demo.jobs["payments_2"])[7].plain == "66.1k"


async def test_select_shows_detail_rendered_and_raw_output(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)
        assert app.jobs_screen.selected_job_id == demo.jobs["running"]
        detail = app.query_one(JobDetail)
        assert detail.row is not None and detail.row.status == "running"
        assert app.query_one("#cancel-job").display
        log = app.query_one(OutputLog)
        kinds = {line.kind for line in log.lines}
        assert {"info", "reasoning", "error", "output", "todo", "agent", "file_change"} <= kinds
        # A command still running is shown dim, as info, until its completion line comes.
        assert any(line.kind == "info" and line.text.startswith("… $ ") for line in log.lines)
        texts = [line.text for line in log.lines]
        assert "$ bash -lc 'pytest -q tests/test_http.py'  [exit 1]" in texts
        assert "[x] Reproduce the failure" in texts
        assert "update: src/api/retry.py" in texts
        # A key switches to the raw event stream, and back.
        await pilot.press("r")
        await settle(pilot)
        assert app.jobs_screen.output.raw
        assert all(line.kind == "raw" for line in log.lines)
        assert json.loads(log.lines[0].text)["type"] == "thread.started"
        await pilot.press("r")
        await settle(pilot)
        assert not app.jobs_screen.output.raw and log.lines[0].kind == "info"
        # A finished job: the usage line at the end, no Cancel button.
        app.jobs_screen.open_job(demo.jobs["payments_2"])
        await settle(pilot)
        assert log.lines[-1].kind == "usage"
        assert log.lines[-1].text == "turn completed · 61,002 in / 5,117 out tokens"
        assert not app.query_one("#cancel-job").display


# --------------------------------------------------------------------- filter


async def test_filter_by_status_project_and_text(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("j")  # the running job, in project api
        await pilot.press("slash")
        field = app.query_one("#filter", Input)
        assert field.display and app.focused is field
        await pilot.press(*"api")
        await settle(pilot)
        assert app.jobs_screen.table.shown == 5  # four jobs in .../api, one prompt that mentions the API
        assert app.jobs_screen.selected_job_id == demo.jobs["running"]  # the cursor stayed on its job
        assert app.jobs_screen.status_bar.filter_text == "api"
        await pilot.press("enter")
        assert app.focused is app.jobs_screen.table and field.display

        await pilot.press("slash", "ctrl+a", "ctrl+k", *"error")
        await settle(pilot)
        assert app.jobs_screen.table.shown == 1  # a status name filters by status
        assert app.jobs_screen.selected_job_id == demo.jobs["deps"]

        field.value = "project:web status:done"
        await settle(pilot)
        assert {
            app.jobs_screen.table.get_row_at(i)[1].plain for i in range(app.jobs_screen.table.row_count)
        } == {
            demo.jobs["payments_1"],
            demo.jobs["payments_2"],
        }
        field.value = "flaky"
        await settle(pilot)
        assert app.jobs_screen.table.shown == 1 and app.jobs_screen.selected_job_id == demo.jobs["running"]

        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        assert app.jobs_screen.table.shown == 9 and not field.display
        assert app.jobs_screen.selected_job_id == demo.jobs["running"]
        assert app.jobs_screen.status_bar.filter_text == ""


# --------------------------------------------------------------------- cancel


async def test_cancel_asks_first_and_really_cancels(store: JobStore, workdir: Path) -> None:
    record = store.start(RunOptions.checked(prompt="sleep=60", cwd=str(workdir)))
    assert store.get(record.job_id).status == JobStatus.RUNNING
    app = make_app(store, now=datetime.now(UTC), launch_cwd=workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.jobs_screen.selected_job_id == record.job_id
        assert app.query_one("#cancel-job").display

        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.click("#cancel-job")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmScreen)
        assert store.get(record.job_id).status == JobStatus.RUNNING

        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: app.jobs_screen.model.rows[record.job_id].status == "cancelled",
            what="the cancelled row",
        )
        assert store.get(record.job_id).status == JobStatus.CANCELLED
        await settle(pilot)
        assert "cancelled" in app.jobs_screen.table.get_row(record.job_id)[0].plain
        assert not app.query_one("#cancel-job").display
        assert any(n.startswith("Job cancelled") and record.job_id in n for n in notifications(app))
        # A finished job is not offered for cancelling.
        await pilot.press("c")
        assert not isinstance(app.screen, ConfirmScreen)


async def test_apply_and_discard_ask_first_then_act_on_the_worktree_job(
    store: JobStore, person_repo: Path
) -> None:
    record = store.start(RunOptions.checked(prompt="write=new.txt", cwd=str(person_repo), worktree=True))
    assert store.wait(record.job_id, 60).status == JobStatus.DONE
    app = make_app(store, now=datetime.now(UTC), launch_cwd=person_repo)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.jobs_screen.selected_job_id == record.job_id
        await pilot.press("d")
        await wait_for(pilot, lambda: app.query_one("#apply-diff").display, what="the Apply button")
        await pilot.click("#apply-diff")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not (person_repo / "new.txt").exists()

        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: (person_repo / "new.txt").exists(), what="the applied file")
        await wait_for(
            pilot, lambda: not app.query_one("#apply-diff").display, what="Apply gone once applied"
        )
        assert store.get(record.job_id).applied_at is not None

        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: store.get(record.job_id).discarded_at is not None, what="the discard")
        await wait_for(pilot, lambda: not app.query_one("#discard-diff").display, what="Discard gone")
        assert not store.layout.worktree_dir(record.job_id).exists()
        await wait_for(pilot, lambda: any("Discarded" in n for n in notifications(app)), what="the note")


async def test_unreadable_record_is_listed_and_not_cancellable(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(demo.jobs["unreadable"])
        await settle(pilot)
        row = app.jobs_screen.model.rows[demo.jobs["unreadable"]]
        assert row.status == "unreadable" and "not valid JSON" in (row.error or "")
        assert not app.query_one("#cancel-job").display
        await pilot.press("c")
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("only queued or running jobs" in n for n in notifications(app))


# --------------------------------------------------------------------- start


async def test_new_job_form_starts_a_job_in_the_store(store: JobStore, workdir: Path) -> None:
    app = make_app(store, now=datetime.now(UTC), launch_cwd=workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewJobScreen)
        assert form.query_one("#cwd", Input).value == str(workdir)
        # The store's own checks, shown in the form.
        await pilot.press("ctrl+s")
        assert "prompt is empty" in str(form.query_one("#form-error").render())
        form.query_one("#prompt", TextArea).text = "Say hello lines=2"
        form.query_one("#cwd", Input).value = "relative/path"
        await pilot.press("ctrl+s")
        assert "not an absolute path" in str(form.query_one("#form-error").render())
        assert store.job_ids() == []

        form.query_one("#cwd", Input).value = str(workdir)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewJobScreen), what="the form to close")
        job_ids = store.job_ids()
        assert len(job_ids) == 1
        await wait_for(
            pilot, lambda: app.jobs_screen.selected_job_id == job_ids[0], what="the new job selected"
        )
        final = await asyncio.to_thread(store.wait, job_ids[0], 15)
        assert final.status == JobStatus.DONE and final.prompt == "Say hello lines=2"


async def start_from_the_form(store: JobStore, workdir: Path, fields: dict[str, str]) -> JobRecord:
    """Start a job from the new-job form with these fields set (by id); its record."""
    app = make_app(store, now=datetime.now(UTC), launch_cwd=workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewJobScreen)
        form.query_one("#prompt", TextArea).text = "Say hello lines=1"
        for field_id, value in fields.items():
            form.query_one(f"#{field_id}", Input | Select).value = value  # type: ignore[arg-type]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewJobScreen), what="the form to close")
        (job_id,) = store.job_ids()
        await asyncio.to_thread(store.wait, job_id, 15)
        return store.read_record(job_id)


async def test_new_job_form_offers_every_option_of_codex_start(store: JobStore, workdir: Path) -> None:
    fields = {"policy": "suggest", "sandbox": "read-only", "model": "  gpt-5-codex ", "effort": "high"}
    record = await start_from_the_form(store, workdir, fields)
    assert (record.approval_policy, record.sandbox) == ("suggest", "read-only")
    assert (record.model, record.reasoning_effort) == ("gpt-5-codex", "high")


async def test_new_job_form_leaves_unset_options_to_codex(store: JobStore, workdir: Path) -> None:
    record = await start_from_the_form(store, workdir, {})
    assert record.approval_policy == DEFAULT_APPROVAL_POLICY
    assert (record.sandbox, record.model, record.reasoning_effort) == (None, None, None)


async def test_new_job_form_shows_codex_unavailable(tmp_path: Path, workdir: Path) -> None:
    store = JobStore(tmp_path / "store", codex_bin=str(tmp_path / "no" / "codex"))
    app = make_app(store, launch_cwd=workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        form = app.screen
        form.query_one("#prompt", TextArea).text = "anything"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not form.starting, what="the start to fail")
        assert isinstance(app.screen, NewJobScreen)
        assert "codex CLI not found" in str(form.query_one("#form-error").render())
        assert store.job_ids() == []
        await pilot.press("escape")
        assert not isinstance(app.screen, NewJobScreen)


async def test_session_history_and_continue(store: JobStore, workdir: Path) -> None:
    first = store.start(RunOptions.checked(prompt="first turn", cwd=str(workdir)))
    done = await asyncio.to_thread(store.wait, first.job_id, 15)
    assert done.status == JobStatus.DONE and done.session_id
    session_id = done.session_id
    app = make_app(store, now=datetime.now(UTC), launch_cwd=workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert app.jobs_screen.view == "sessions"
        tree = app.query_one(SessionTree)
        assert app.focused is tree
        assert [n.data.session_id for n in tree.root.children] == [session_id]
        await pilot.press("down")  # the session's first turn
        await settle(pilot)
        [turn] = [view.turn for view in app.query(TurnView)]  # the conversation: prompt and answer
        assert (turn.prompt, turn.answer, turn.job_id) == ("first turn", "Done: first turn", first.job_id)
        await pilot.press("enter")  # opens the turn's job
        await settle(pilot)
        assert app.jobs_screen.view == "jobs" and app.jobs_screen.selected_job_id == first.job_id

        await pilot.press("t")  # continue the selected job's session
        await wait_for(pilot, lambda: isinstance(app.screen, ContinueSessionScreen), what="the form")
        form = app.screen
        form.query_one("#prompt", TextArea).text = "second turn"
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, ContinueSessionScreen), what="the form to close"
        )
        second_id = next(j for j in store.job_ids() if j != first.job_id)
        second = await asyncio.to_thread(store.wait, second_id, 15)
        assert second.status == JobStatus.DONE
        assert second.resumes_session == session_id and second.session_id == session_id
        session = store.session(session_id)
        assert session is not None and [t.job_id for t in session.turns] == [first.job_id, second_id]
        await wait_for(
            pilot, lambda: app.jobs_screen.selected_job_id == second_id, what="the new turn selected"
        )


# --------------------------------------------------------------------- live


async def test_job_from_another_process_appears_live(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    root = tmp_path / "not-yet" / "store"  # the store does not exist when the app starts
    app = CodexTuiApp(tui_config(root, now=datetime.now(UTC), watch=True))
    script = (
        "import sys; from jobstore import JobStore, RunOptions; "
        f"s = JobStore({str(root)!r}, codex_bin={str(fake_codex)!r}); "
        f"print(s.start(RunOptions.checked(prompt='from elsewhere lines=3', cwd={str(workdir)!r})).job_id)"
    )
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.jobs_screen.status_bar.store_missing and app.jobs_screen.table.row_count == 0
        await asyncio.sleep(0.3)  # the watcher is waiting on the nearest existing parent

        started = time.perf_counter()
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        job_id = result.stdout.strip()
        # No key pressed: the watcher brings it in.
        await wait_for(
            pilot, lambda: job_id in app.jobs_screen.model.rows, timeout=10, what="the job to appear"
        )
        appeared = time.perf_counter() - started
        await wait_for(
            pilot,
            lambda: app.jobs_screen.model.rows[job_id].status == "done",
            timeout=15,
            what="the job to finish",
        )
        await settle(pilot)  # the jobs pane's news reaches the screen (its toast) a message later
        assert not app.jobs_screen.status_bar.store_missing
        assert app.jobs_screen.table.get_row(job_id)[1].plain == job_id
        assert any("Job done" in n and job_id in n for n in notifications(app))
        print(f"job appeared {appeared:.2f}s after the other process started it")

        # And a record written directly by another writer (a thread here) while the app runs.
        store = JobStore(root)
        created = datetime.now(UTC)
        other = job_id_at(created + timedelta(seconds=1), "th7e")

        def writer() -> None:
            store.layout.job_dir(other).mkdir()
            record = JobRecord(
                job_id=other,
                status=JobStatus.ERROR,
                kind="run",
                prompt="written by a thread",
                cwd=str(workdir),
                approval_policy="auto-edit",
                created_at=iso(created),
                error="boom",
            )
            write_bytes_atomic(store.layout.meta(other), json.dumps(record.to_dict()).encode())

        started = time.perf_counter()
        await asyncio.to_thread(writer)
        latency = await wait_for(
            pilot,
            lambda: (
                other in app.jobs_screen.model.rows and app.jobs_screen.model.rows[other].status == "error"
            ),
            timeout=10,
        )
        print(
            f"record written by a thread appeared after {time.perf_counter() - started:.3f}s ({latency:.3f}s)"
        )
        assert app.jobs_screen.table.get_row_index(other) == 0  # newest first


async def test_new_rows_keep_the_cursor_and_scroll(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_many_jobs(root, 200)
    store = JobStore(root)
    app = make_app(store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        for _ in range(30):
            await pilot.press("j")
        await settle(pilot)
        table = app.jobs_screen.table
        selected = app.jobs_screen.selected_job_id
        row, scroll = table.cursor_row, table.scroll_y
        assert row == 30 and scroll > 0

        newer = job_id_at(NOW + timedelta(minutes=1), "n3w1")
        store.layout.job_dir(newer).mkdir()
        record = JobRecord(
            job_id=newer,
            status=JobStatus.QUEUED,
            kind="run",
            prompt="a newer job",
            cwd="/tmp",
            approval_policy="auto-edit",
            created_at=iso(NOW),
        )
        write_bytes_atomic(store.layout.meta(newer), json.dumps(record.to_dict()).encode())
        app.jobs_screen.post_message(changed(jobs=(newer,)))
        await settle(pilot)
        assert table.row_count == 201 and table.get_row_index(newer) == 0
        assert app.jobs_screen.selected_job_id == selected
        assert table.cursor_row == row + 1
        assert table.scroll_y == scroll + 1  # the same jobs stay in view
        pane = app.jobs_screen.jobs_pane
        assert pane.border_subtitle == "↑ 1 new job above"  # a sign of what arrived out of view

        # A change to a shown job updates its row in place.
        older = app.jobs_screen.model.rows[selected]
        changed_record = demo_record_from_row(older.job_id, store)
        changed_record.prompt = "edited prompt"
        write_record(store, changed_record)
        app.jobs_screen.post_message(changed(jobs=(selected,)))
        await settle(pilot)
        assert table.get_row(selected)[5].plain == "edited prompt"
        assert app.jobs_screen.selected_job_id == selected and table.cursor_row == row + 1
        assert pane.border_subtitle == "↑ 1 new job above"

        # The sign goes once the top is seen.
        await pilot.press("g")
        await settle(pilot)
        assert table.scroll_y == 0 and pane.border_subtitle == ""


def demo_record_from_row(job_id: str, store: JobStore) -> JobRecord:
    return store.read_record(job_id)


async def test_toast_when_a_job_finishes(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        running = demo.jobs["running"]
        records = Records(demo.store.layout)
        records.transition(running, JobStatus.ERROR, exit_code=1, error="codex exited with code 1")
        app.jobs_screen.post_message(changed(jobs=(running,)))
        await settle(pilot)
        assert app.jobs_screen.model.rows[running].status == "error"
        assert any(n.startswith("Job failed") and running in n for n in notifications(app))


# --------------------------------------------------------------------- scale, robustness


async def test_ten_thousand_jobs_first_page_then_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = write_many_jobs(root, 10_000)
    app = make_app(JobStore(root))
    async with app.run_test(size=(120, 35)) as pilot:
        # The first page is read before the first paint (how fast: benchmarks/bench_tui.py,
        # "start to first paint, 10,000 jobs"); the rest follows in pages.
        await wait_for(pilot, lambda: app.jobs_screen.table.row_count > 0, what="the first rows")
        assert app.jobs_screen.table.row_count >= 100
        await wait_for(pilot, lambda: app.jobs_screen.reads.loaded, timeout=60, what="all jobs")
        await settle(pilot)
        assert app.jobs_screen.table.row_count == 10_000 and len(app.jobs_screen.model.rows) == 10_000
        assert app.jobs_screen.selected_job_id == max(ids) and app.jobs_screen.table.cursor_row == 0


async def test_missing_store_and_keys_with_nothing_selected(tmp_path: Path) -> None:
    app = CodexTuiApp(tui_config(tmp_path / "nothing" / "here", now=NOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.jobs_screen.status_bar.store_missing
        await pilot.press("j", "k", "c", "r", "f", "t", "enter", "escape", "s", "t", "s")
        await settle(pilot)
        assert app.jobs_screen.table.row_count == 0
        assert not (tmp_path / "nothing").exists()  # reading never creates the store


async def test_help_screen_and_command_palette(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"New job", "Cancel the selected job", "Filter jobs", "Continue the session", "Keys"} <= titles
        assert isinstance(app.query_one(OutputView), OutputView)


# --------------------------------------------------------------------- the non-UI parts


def test_filter_words() -> None:
    from tui.jobs import JobFilter, JobRow

    row = JobRow("01jwqzedn0r7n2", "running", prompt="Fix the flaky test", cwd="/home/dev/src/api")
    assert JobFilter.parse("running").matches(row)
    assert JobFilter.parse("status:run project:api flaky").matches(row)
    assert not JobFilter.parse("error").matches(row)
    assert not JobFilter.parse("p:web").matches(row)
    assert JobFilter.parse("error running").matches(row)  # statuses: any of them
    assert not JobFilter.parse("flaky nothere").matches(row)  # words: all of them
    assert not JobFilter.parse("  ").active


def test_classify_store_changes(tmp_path: Path) -> None:
    from watchfiles import Change

    from tui.watcher import StoreWatcher, classify

    root = tmp_path / "store"
    store = JobStore(root)
    accept = StoreWatcher(store, lambda changes: None).accept
    job = "01jwqzedn0r7n2"
    changes = classify(
        store,
        [
            (Change.modified, f"{root}/jobs/{job}/output.txt"),
            (Change.added, f"{root}/jobs/{job}/meta.json"),
            (Change.added, f"{root}/running/01jwqzk04gq8e9"),
            (Change.added, f"{root}/sessions/0197a3b0-11aa"),
            (Change.added, f"{root}/jobs/not-a-job/meta.json"),
        ],
    )
    assert changes.output_ids == {job}
    assert changes.job_ids == {job, "01jwqzk04gq8e9"}
    assert changes.sessions and not changes.rescan
    assert classify(store, [(Change.added, f"{root}/jobs")]).rescan
    assert not accept(Change.added, f"{root}/jobs/{job}/.meta.json.12.ab.tmp")
    assert not accept(Change.modified, f"{root}/jobs/{job}/lock")
    assert accept(Change.modified, f"{root}/jobs/{job}/summary.json")


def test_age_text_changes_when_announced() -> None:
    from tui import format as fmt

    created = NOW - timedelta(seconds=125)  # "2m" until 3 minutes
    assert fmt.age(created, NOW) == "2m"
    wait = fmt.age_changes_in(created, NOW)
    assert wait == 55
    assert fmt.age(created, NOW + timedelta(seconds=wait - 0.5)) == "2m"
    assert fmt.age(created, NOW + timedelta(seconds=wait)) == "3m"


def test_status_colours_come_from_the_theme() -> None:
    from textual.app import App

    from jobstore import UNREADABLE
    from tui.theme import ROLES, Palette

    assert {*(s.value for s in JobStatus), UNREADABLE} <= set(ROLES)
    app = App[None]()
    for theme in ("textual-dark", "textual-light"):
        app.theme = theme
        palette = Palette(app.get_css_variables())
        mark, style = palette.status(JobStatus.ERROR)
        assert mark == "✗" and style.bold
        assert style.color is not None and style.color.triplet is not None
        assert style.color.triplet.hex.upper() == app.theme_variables["text-error"].upper()
    assert Palette({}).style(JobStatus.DONE).color is None  # an unknown theme leaves the colour alone
