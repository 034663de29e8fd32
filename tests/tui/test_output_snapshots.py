"""Snapshots of the output pane (pytest-textual-snapshot): the real app on the demo store, with a
frozen clock, a fixed size and theme, no watcher, each taken once the app has read all it asked for."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.tui_demo import NOW, DemoStore, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp

WIDE = (120, 35)


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


def app_for(demo: DemoStore) -> CodexTuiApp:
    return CodexTuiApp(tui_config(demo.store.root, now=NOW, launch_cwd=Path("/home/dev/src/api")))


def opened(job_id: str, *keys: str) -> Callable[[Any], Awaitable[None]]:
    """run_before: open the job, focus its output, press `keys` one at a time."""

    async def run(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.jobs_screen.open_job(job_id)
        await settle(pilot)
        await pilot.press("enter")
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_search_highlights_matches(snap_compare: Any, demo: DemoStore) -> None:
    # The running job's output, searched for "test": every match marked, the first hit's line current.
    keys = ("home", "slash", *"test", "enter")
    assert snap_compare(app_for(demo), terminal_size=WIDE, run_before=opened(demo.jobs["running"], *keys))


def test_long_output_scrolled_to_its_first_line(snap_compare: Any, demo: DemoStore) -> None:
    # 5,000 agent messages: opened at the end, then Home reads the first lines into the window.
    job_id = demo.jobs["payments_1"]
    with open(demo.store.layout.output(job_id), "w") as f:
        for n in range(5000):
            item = {"type": "agent_message", "text": f"message {n}: the retry policy, step {n}"}
            f.write(json.dumps({"type": "item.completed", "item": item}) + "\n")
    assert snap_compare(app_for(demo), terminal_size=WIDE, run_before=opened(job_id, "home"))
