"""Snapshots of codex-tui (pytest-textual-snapshot): the real app on the demo store.

Deterministic by construction: a frozen clock, fixed ids and timestamps, a fixed
terminal size and theme, no cursor blink, no spinner, no file watcher, and every
snapshot taken only once the app has read all it was asked to read.
Regenerate with `pytest tests/tui/test_tui_snapshots.py --snapshot-update`, then look.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.tui_demo import NOW, DemoStore, as_worktree_job, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp

WIDE = (120, 35)
LAUNCH_CWD = Path("/home/dev/src/api")


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


def app_for(root: Path) -> CodexTuiApp:
    return CodexTuiApp(tui_config(root, now=NOW, launch_cwd=LAUNCH_CWD))


def steps(*actions: Any) -> Callable[[Any], Awaitable[None]]:
    """run_before: settle, then for each action press its keys (a tuple) or call it with the app."""

    async def run(pilot: Any) -> None:
        await settle(pilot)
        for action in actions:
            if isinstance(action, tuple):
                await pilot.press(*action)
            else:
                action(pilot.app)
            await settle(pilot)

    return run


def test_empty_store(snap_compare: Any) -> None:
    # A store that does not exist (yet): the app waits for it without creating it.
    missing = Path("/nonexistent/codex-tui-snapshot/store")
    assert snap_compare(app_for(missing), terminal_size=WIDE, run_before=steps())


def test_jobs_in_every_status(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps())


def test_running_job_rendered_output(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(("j",)))


def test_finished_job_output_and_usage(snap_compare: Any, demo: DemoStore) -> None:
    job = demo.jobs["payments_2"]
    assert snap_compare(
        app_for(demo.store.root),
        terminal_size=WIDE,
        run_before=steps(lambda app: app.jobs_screen.open_job(job)),
    )


def test_raw_output(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(("j", "r")))


def test_session_history(snap_compare: Any, demo: DemoStore) -> None:
    # The payments session: two turns; the second turn highlighted with its final answer.
    keys = ("s", "down", "down", "down", "down", "down", "down")
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(keys))


def test_cancel_confirmation(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(("j", "c")))


def test_filter_applied(snap_compare: Any, demo: DemoStore) -> None:
    keys = ("slash", *"project:api", "enter")
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(keys))


def test_new_job_form(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(("n",)))


def test_help_screen(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=WIDE, run_before=steps(("question_mark",)))


def test_small_terminal(snap_compare: Any, demo: DemoStore) -> None:
    assert snap_compare(app_for(demo.store.root), terminal_size=(80, 24), run_before=steps(("j",)))


def test_new_job_form_on_a_small_terminal(snap_compare: Any, demo: DemoStore) -> None:
    # Every field and the buttons fit in 80x24 (the prompt is shorter there).
    assert snap_compare(app_for(demo.store.root), terminal_size=(80, 24), run_before=steps(("n",)))


def test_worktree_job_diff_with_apply_and_discard(snap_compare: Any, demo: DemoStore) -> None:
    job = as_worktree_job(demo, "payments_2")
    assert snap_compare(
        app_for(demo.store.root),
        terminal_size=WIDE,
        run_before=steps(lambda app: app.jobs_screen.open_job(job), ("d",)),
    )


@pytest.fixture
def talk_demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store", talk=True)


@pytest.mark.parametrize("size", [WIDE, (80, 24), (60, 24)], ids=["120x35", "80x24", "60x24"])
def test_waiting_job_and_its_question(snap_compare: Any, talk_demo: DemoStore, size: tuple[int, int]) -> None:
    # Its question under the detail (the escape made visible), how long it waits, Approve/Deny.
    job = talk_demo.jobs["waiting"]
    assert snap_compare(
        app_for(talk_demo.store.root),
        terminal_size=size,
        run_before=steps(lambda app: app.jobs_screen.open_job(job)),
    )


def test_message_line_on_a_steered_running_job(snap_compare: Any, talk_demo: DemoStore) -> None:
    # The earlier message in the output where it was sent; the line open with the next one typed.
    job = talk_demo.jobs["running"]
    assert snap_compare(
        app_for(talk_demo.store.root),
        terminal_size=WIDE,
        run_before=steps(lambda app: app.jobs_screen.open_job(job), ("m", *"run the whole suite too")),
    )
