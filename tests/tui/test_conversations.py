"""Pilot tests of the conversation view (the store's sessions and codex's own), the Diff tab,
narrow terminals and the detail line's buttons, on the demo store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from textual.widgets import Markdown, TabbedContent

from jobstore import Settings
from jobstore.fsio import write_json_atomic
from jobstore.layout import FileKind
from tests.tui.conversation_demo import (
    CODEX_SESSION_ID,
    DEMO_DIFF,
    build_conversation_demo,
    demo_codex_home,
)
from tests.tui.tui_demo import NOW, DemoStore, settle, tui_config
from tui.app import CodexTuiApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.continue_codex import ContinueCodexSessionScreen
from tui.widgets.conversation import TurnView
from tui.widgets.diff_view import DiffView
from tui.widgets.jobs_table import JobsTable
from tui.widgets.sessions import SessionTree

WIDE = (120, 35)


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_conversation_demo(tmp_path)


def app_for(demo: DemoStore) -> CodexTuiApp:
    config = tui_config(demo.store.root, now=NOW)
    settings = Settings(store_root=demo.store.root, codex_home=demo_codex_home(demo.store.root))
    return CodexTuiApp(dataclasses.replace(config, settings=settings), store=demo.store)


def turns(app: CodexTuiApp) -> list[TurnView]:
    return list(app.query(TurnView))


async def test_a_session_of_the_store_reads_as_its_conversation(demo: DemoStore) -> None:
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        tree = app.query_one(SessionTree)
        # By last activity, as each row shows it; codex's own session among the store's.
        ids = [node.data.session_id for node in tree.root.children if node.data]
        assert CODEX_SESSION_ID in ids
        assert (
            ids.index(demo.sessions["flaky"])
            < ids.index(CODEX_SESSION_ID)
            < ids.index(demo.sessions["payments"])
        )
        tree.move_cursor(
            next(n for n in tree.root.children if n.data and n.data.session_id == demo.sessions["payments"])
        )
        await settle(pilot)
        shown = turns(app)
        assert [t.turn.job_id for t in shown] == [demo.jobs["payments_1"], demo.jobs["payments_2"]]
        first = shown[0].turn
        assert first.prompt.startswith("Refactor the payment module") and first.status == "done"
        assert first.answer and "212 tests pass" in first.answer and first.tokens == 52_114
        assert shown[0].query(Markdown)  # the answer is rendered Markdown
        # Only the last turn offers to continue; every turn opens its job.
        assert len(shown[0].query(".continue-turn")) == 0 and len(shown[1].query(".continue-turn")) == 1
        await pilot.click(shown[0].query_one(".open-turn"))
        await settle(pilot)
        assert app.jobs_screen.view == "jobs" and app.jobs_screen.selected_job_id == demo.jobs["payments_1"]


async def test_codex_own_session_is_shown_and_continued_as_a_new_job(demo: DemoStore) -> None:
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        tree = app.query_one(SessionTree)
        node = next(n for n in tree.root.children if n.data and n.data.session_id == CODEX_SESSION_ID)
        assert "codex" in str(node.label) and "RUN_COMMAND" in str(node.label) and not node.children
        tree.move_cursor(node)
        await settle(pilot)
        first, second = (t.turn for t in turns(app))
        assert (first.prompt, first.answer, first.tokens) == (
            "RUN_COMMAND: echo two >> a.txt",
            "Command finished.",
            30,
        )
        assert first.commands[0].command == "echo two >> a.txt" and first.commands[0].exit_code == 1
        assert second.answer == "**second** answer"
        await pilot.press("t")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ContinueCodexSessionScreen)
        assert form.session_id() == CODEX_SESSION_ID and form.cwd_value() == "/home/user/project"


async def test_the_diff_tab_shows_what_the_job_changed_and_copies_it(demo: DemoStore) -> None:
    app = app_for(demo)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(demo.jobs["payments_2"])
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "diff-tab"
        view = app.query_one(DiffView)
        assert view.diff is not None and view.diff.other_jobs == [demo.jobs["review"]]
        assert "some of these changes may be theirs" in str(view.query_one("#diff-summary").render())
        await pilot.click("#copy-diff")
        assert copied == [DEMO_DIFF]
        # A job without a recorded diff says why.
        app.jobs_screen.open_job(demo.jobs["payments_1"])
        await settle(pilot)
        assert view.diff is None and "Nothing recorded" in str(view.query_one("#diff-summary").render())
        await pilot.press("d")
        assert app.query_one(TabbedContent).active == "output-tab"


async def test_the_diff_tab_says_which_files_were_not_snapshotted(demo: DemoStore) -> None:
    job_id = demo.jobs["payments_2"]
    meta = demo.store.layout.job_file(demo.store.layout.job_dir(job_id), FileKind.WORKTREE)
    recorded = {**json.loads(meta.read_text()), "skipped_count": 3, "skipped_over_mb": 50}
    write_json_atomic(meta, {**recorded, "skipped": ["data/a.bin", "data/b.bin", "data/c.bin"]})
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(job_id)
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        summary = str(app.query_one(DiffView).query_one("#diff-summary").render())
        assert "not snapshotted: 3 files over 50 MB (their changes are not in this diff)" in summary


@pytest.mark.parametrize("size", [(80, 24), (60, 24)])
async def test_narrow_terminals_keep_the_prompt(demo: DemoStore, size: tuple[int, int]) -> None:
    app = app_for(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.query_one(JobsTable)
        labels = [str(column.label) for column in table.columns.values()]
        assert "Prompt" in labels and "Session" not in labels and "Tokens" not in labels
        prompt = next(c for c in table.columns.values() if str(c.label) == "Prompt")
        assert prompt.width >= 30
        if size[0] == 60:
            assert "Job" not in labels  # the detail line under the table names the job
        row = table.get_row(demo.jobs["payments_1"])
        assert any("Refactor the payment module" in cell.plain for cell in row)


async def test_cancel_and_continue_buttons_beside_the_detail(demo: DemoStore) -> None:
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(demo.jobs["queued"])
        await settle(pilot)
        assert app.query_one("#cancel-job").display and not app.query_one("#continue-job").display
        await pilot.click("#cancel-job")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # the same confirmation as `c`
        await pilot.press("escape")
        await settle(pilot)
        app.jobs_screen.open_job(demo.jobs["payments_1"])
        await settle(pilot)
        assert app.query_one("#continue-job").display and not app.query_one("#cancel-job").display


async def test_failed_jobs_show_the_error_and_the_prompt_and_ctrl_r_answers(demo: DemoStore) -> None:
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(demo.jobs["deps"])
        await settle(pilot)
        detail = str(app.query_one("#detail-text").render())
        assert "rate limit exceeded" in detail and "Upgrade the dependencies" in detail
        await pilot.press("ctrl+r")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Store rescanned: 9 jobs") for m in messages)


async def test_the_folder_error_of_the_new_job_form_clears_once_the_folder_is_edited(demo: DemoStore) -> None:
    from textual.widgets import Input, Static, TextArea

    from tui.screens.new_job import NewJobScreen

    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NewJobScreen)
        form.query_one("#prompt", TextArea).text = "do it"
        form.query_one("#cwd", Input).value = "/nonexistent/folder"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = form.query_one("#form-error", Static)
        assert "/nonexistent/folder" in str(error.render())
        form.query_one("#cwd", Input).value = str(demo.store.root.parent)
        await settle(pilot)
        assert str(error.render()).strip() == ""


async def test_a_job_that_ends_rings_the_bell_when_asked(demo: DemoStore) -> None:
    from tui.jobs import read_rows

    app = CodexTuiApp(dataclasses.replace(app_for(demo).config, notify_end="bell"), store=demo.store)
    rings: list[bool] = []
    app.bell = lambda: rings.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        [row], _ = read_rows(demo.store, [demo.jobs["payments_1"]])
        app.jobs_screen.actions.toast_finished(row)
        assert rings == [True]
        await pilot.pause()
        assert any(demo.jobs["payments_1"] in str(n.message) for n in app._notifications)  # the toast too


async def test_sessions_are_told_apart_by_the_end_of_their_ids(demo: DemoStore) -> None:
    # codex's session ids are UUIDv7, time first: their first 8 characters are alike for
    # sessions started close together, their last 8 are random.
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        table = app.query_one(JobsTable)
        running = demo.jobs["running"]
        session = app.jobs_screen.model.rows[running].session_id
        assert session is not None
        assert table.get_row(running)[6].plain == session[-8:]
        await pilot.press("s")
        await settle(pilot)
        tree = app.query_one(SessionTree)
        for node in tree.root.children:
            assert node.data is not None
            assert str(node.label).split()[1] == node.data.session_id[-8:]


async def test_a_failed_sessions_read_is_reported_and_the_next_reads_again(
    demo: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker's failure goes only to the widget that ran it: the sessions view reports it.
    real_sessions = demo.store.sessions
    failing = True

    def sessions(**kwargs: object) -> object:
        if failing:
            raise RuntimeError("the disk is on fire")
        return real_sessions(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(demo.store, "sessions", sessions)
    app = app_for(demo)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert "Could not read the sessions: RuntimeError('the disk is on fire')" in messages
        failing = False
        view = app.jobs_screen.sessions_view
        assert view is not None
        view.invalidate()
        await settle(pilot)
        tree = app.query_one(SessionTree)
        ids = [node.data.session_id for node in tree.root.children if node.data]
        assert demo.sessions["payments"] in ids
