"""What codex-tui's start costs: views and dialogs nobody opened are neither imported nor
built, and the newest jobs are on the first frame. The time itself is a benchmark
(benchmarks/: first paint); these tests keep the structure that makes it fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.tui.tui_demo import DemoStore, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp
from tui.widgets.diff_view import DiffView
from tui.widgets.jobs_table import JobsTable

# Imported only when what needs them is first shown.
DEFERRED_MODULES = (
    "tui.widgets.sessions",
    "tui.widgets.conversation",
    "jobstore.codex_sessions",
    "tui.screens.new_job",
    "tui.screens.continue_codex",
    "tui.screens.continue_session",
    "tui.screens.confirm",
    "tui.screens.help",
    "textual.widgets._rich_log",
    # The team view and what it reads Redis with: only once it is opened.
    "tui.screens.team",
    "redis",
    "docket",
)


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


def test_importing_the_app_leaves_the_views_and_dialogs_for_later() -> None:
    found = subprocess.run(
        [sys.executable, "-c", "import sys, tui.app; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [name for name in DEFERRED_MODULES if name in found] == []


async def test_the_first_frame_has_the_newest_jobs_and_no_unopened_view(demo: DemoStore) -> None:
    app = CodexTuiApp(tui_config(demo.store.root, now=demo.now), store=demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = app.jobs_screen
        # Read before the first paint (not in a worker racing it for the GIL).
        assert app.query_one(JobsTable).row_count == len(demo.jobs)
        assert screen.sessions_view is None
        assert not app.query_one(DiffView).children
        await pilot.press("s")
        await settle(pilot)
        assert screen.sessions_view is not None and screen.view == "sessions"
        assert app.focused is screen.sessions_view.session_tree
        await pilot.press("s", "d")
        await settle(pilot)
        assert app.query_one(DiffView).children
