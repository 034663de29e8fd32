"""Following a job's output live, with the real watchers: the store's folders, the job
folders and the shown file with inotify (never a job folder's writes through watchfiles: a
flood of writes cost the app seconds of CPU). Nothing here is timed: waits
are bounded, and what is counted does not depend on speed."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from jobstore.inotify import IN_MODIFY
from tests.tui.tui_demo import NOW, DemoStore, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp
from tui.file_events import FileEvent, PathWatch
from tui.widgets.output_view import OutputLog


def agent(text: str) -> str:
    return json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": text}}) + "\n"


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


async def until(pilot: object, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Let the app run until `condition()` (a bound, not a measure)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)  # type: ignore[attr-defined]


async def test_writes_to_a_file_fold_into_one_event_between_reads(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    path.write_text("")
    batches: list[list[FileEvent]] = []
    watch = PathWatch(batches.append, interval=0.05)
    try:
        assert watch.available
        assert watch.add(path, IN_MODIFY) is not None
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for n in range(5000):  # the event loop does not run in between: nothing is read
                os.write(fd, agent(f"line {n}").encode())
        finally:
            os.close(fd)
        for _ in range(200):
            if batches:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # anything more would come within the interval
        assert len(batches) == 1
        assert [(event.path, event.mask & IN_MODIFY) for event in batches[0]] == [(path, IN_MODIFY)]
    finally:
        watch.close()


async def test_the_job_shown_is_followed_through_a_flood_and_an_unfinished_line(demo: DemoStore) -> None:
    job_id = demo.jobs["running"]
    job_dir = demo.store.layout.job_dir(job_id)
    path = demo.store.layout.output(job_id)
    app = CodexTuiApp(tui_config(demo.store.root, now=NOW, watch=True), store=demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = app.jobs_screen
        await until(
            pilot, lambda: screen.watcher is not None and screen.watcher.running.is_set(), "the watch"
        )
        await settle(pilot)
        screen.open_job(job_id)
        await settle(pilot)
        log = app.query_one(OutputLog)
        watcher = screen.watcher
        assert watcher is not None
        # Job folders are watched for their entries (inotify), never through watchfiles.
        await until(pilot, lambda: job_id in watcher.watched_jobs, "the job's folder watched")
        assert job_dir not in watcher.watching and all(job_dir not in p.parents for p in watcher.watching)
        output = screen.output
        await until(pilot, lambda: output._output_wd is not None, "the shown file watched")

        # A flood, one write a line as codex writes, ending in a line not finished yet.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for n in range(20_000):
                os.write(fd, agent(f"flood {n}").encode())
            os.write(fd, agent("the last line").encode()[:20])
        finally:
            os.close(fd)
        await until(pilot, lambda: "flood 19999" in [line.text for line in log.lines[-2:]], "the flood's end")
        assert log.following and log.at_end and log.line_count <= 10_000
        with open(path, "a") as f:  # its newline comes later; a quiet job, no other write
            f.write(agent("the last line")[20:])
        await until(pilot, lambda: log.lines[-1].text == "the last line", "the finished line")
        assert log.following

        # Another job shown: only its file is watched (the first one's watch is removed).
        other = demo.jobs["deps"]
        screen.open_job(other)
        await settle(pilot)
        assert output.job_id == other and output._file_watch is not None
        assert output._file_watch.wds == ({output._output_wd} if output._output_wd is not None else set())
