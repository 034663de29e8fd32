"""A selection is drawn in one frame: the cursor's move holds repaints until the job's output
is in (tui.frame_hold), never longer than the hold's bound. Nothing here is timed: the
bound is waited past, not measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from tests.tui.tui_demo import DemoStore, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp
from tui.frame_hold import FrameHold
from tui.widgets.output_view import OutputView


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


async def test_a_hold_ends_when_released_or_at_its_bound() -> None:
    app: App[None] = App()
    async with app.run_test() as pilot:
        hold = FrameHold(app, 0.05)
        hold.hold()
        hold.hold()  # one hold at a time
        assert hold.held
        hold.release()
        assert not hold.held
        hold.release()  # releasing twice is harmless
        hold.hold()
        await pilot.pause(0.2)
        assert not hold.held


async def test_moving_the_cursor_holds_until_the_output_is_in(demo: DemoStore) -> None:
    app = CodexTuiApp(tui_config(demo.store.root, now=demo.now), store=demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.jobs_screen
        frame = screen._selection_frame
        assert frame is not None and not frame.held
        output = app.query_one(OutputView)
        first = screen.selected_job_id
        screen.table.action_cursor_down()  # what `j` does
        assert frame.held  # before the job is selected, its output read
        await settle(pilot)
        assert not frame.held
        assert screen.selected_job_id not in (None, first) and output.job_id == screen.selected_job_id
