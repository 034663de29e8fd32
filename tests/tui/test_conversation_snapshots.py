"""Snapshots of the conversation view, the Diff tab and narrow terminals (pytest-textual-snapshot).

Deterministic as tests/tui/test_tui_snapshots.py: a frozen clock, fixed ids, times and files,
no watcher, no animation, each taken once the app has read all it was asked to read. The
codex session is the real rollout of codex 0.171.0, moved in time. Regenerate with
`--snapshot-update`, then look at every SVG.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.conversation_demo import CODEX_SESSION_ID
from tests.tui.test_conversations import app_for
from tests.tui.test_conversations import demo as demo  # the fixture
from tests.tui.test_tui_snapshots import steps
from tests.tui.tui_demo import DemoStore
from tui.app import CodexTuiApp
from tui.widgets.sessions import SessionTree

WIDE = (120, 35)


def select_session(session_id: str) -> Any:
    def select(app: CodexTuiApp) -> None:
        tree = app.query_one(SessionTree)
        tree.move_cursor(next(n for n in tree.root.children if n.data and n.data.session_id == session_id))

    return select


def test_conversation_of_a_store_session(snap_compare: Any, demo: DemoStore) -> None:
    run = steps(("s",), select_session(demo.sessions["payments"]))
    assert snap_compare(app_for(demo), terminal_size=WIDE, run_before=run)


def test_conversation_of_codex_own_session(snap_compare: Any, demo: DemoStore) -> None:
    run = steps(("s",), select_session(CODEX_SESSION_ID))
    assert snap_compare(app_for(demo), terminal_size=WIDE, run_before=run)


def test_diff_tab(snap_compare: Any, demo: DemoStore) -> None:
    job = demo.jobs["payments_2"]
    run = steps(lambda app: app.jobs_screen.open_job(job), ("d",))
    assert snap_compare(app_for(demo), terminal_size=WIDE, run_before=run)


@pytest.mark.parametrize("size", [(80, 24), (60, 24)], ids=["80x24", "60x24"])
def test_narrow_jobs_view(snap_compare: Any, demo: DemoStore, size: tuple[int, int]) -> None:
    job = demo.jobs["deps"]  # an error: the detail line shows the error and the prompt
    assert snap_compare(
        app_for(demo), terminal_size=size, run_before=steps(lambda app: app.jobs_screen.open_job(job))
    )


def test_narrow_sessions_view(snap_compare: Any, demo: DemoStore) -> None:
    run = steps(("s",), select_session(CODEX_SESSION_ID))
    assert snap_compare(app_for(demo), terminal_size=(60, 24), run_before=run)


@pytest.mark.parametrize("size", [(80, 24), (60, 24)], ids=["80x24", "60x24"])
def test_narrow_diff_tab(snap_compare: Any, demo: DemoStore, size: tuple[int, int]) -> None:
    # The notice that other jobs ran meanwhile wraps at word boundaries, whole.
    job = demo.jobs["payments_2"]
    run = steps(lambda app: app.jobs_screen.open_job(job), ("d",))
    assert snap_compare(app_for(demo), terminal_size=size, run_before=run)
