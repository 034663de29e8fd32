"""The output pane driven by Textual's pilot: following, paging to the first line, search, jumps,
copy keys and the pager, on the real app and real output files. Nothing here is timed."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from jobstore import JobStore
from jobstore.cut_lines import CUT_END_BYTES
from tests.tui.tui_demo import NOW, DemoStore, build_demo_store, settle, tui_config
from tui.app import CodexTuiApp
from tui.messages import StoreChanged
from tui.output_search import SHOWN_CHARS
from tui.output_source import OutputChunk, OutputSource
from tui.watcher import StoreChanges
from tui.widgets import output_view
from tui.widgets.output_view import READING_NOTE_SECONDS, OutputLog, OutputView, wrap


def make_app(store: JobStore, *, now: datetime = NOW, **overrides: object) -> CodexTuiApp:
    return CodexTuiApp(tui_config(store.root, now=now, **overrides), store=store)


def changed(job_id: str) -> StoreChanged:
    """What the watcher would post (these tests run without it)."""
    return StoreChanged(StoreChanges(frozenset(), frozenset({job_id})))


def agent(text: str) -> str:
    return json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": text}}) + "\n"


def append_steps(path: Path, start: int, count: int) -> None:
    with open(path, "a") as f:
        f.write("".join(agent(f"step {n}") for n in range(start, start + count)))


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "store")


async def open_output(pilot: object, app: CodexTuiApp, job_id: str) -> OutputLog:
    await settle(pilot)
    app.jobs_screen.open_job(job_id)
    await settle(pilot)
    await pilot.press("enter")  # type: ignore[attr-defined]  # from the table into the output
    log = app.query_one(OutputLog)
    assert app.focused is log
    return log


def shown_rows(log: OutputLog) -> list[str]:
    return [segment.text for y in range(log.size.height) for segment in log.render_line(y)]


async def test_follow_pauses_when_scrolled_up_and_resumes_at_the_end(demo: DemoStore) -> None:
    job_id = demo.jobs["running"]
    path = demo.store.layout.output(job_id)
    append_steps(path, 0, 300)
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        assert log.lines[-1].text == "step 299"

        await pilot.press("pageup")
        await settle(pilot)
        assert not log.following
        paused_at = log.scroll_y

        append_steps(path, 300, 5)
        app.jobs_screen.post_message(changed(job_id))
        await settle(pilot)
        assert log.lines[-1].text == "step 304" and log.pending == 5
        assert log.scroll_y == paused_at  # the view did not move
        assert "5 new lines" in str(app.jobs_screen.output.border_subtitle)

        await pilot.press("end")
        await settle(pilot)
        assert log.following and log.pending == 0 and log.scroll_y == log.max_scroll_y
        assert "following" in str(app.jobs_screen.output.border_subtitle)

        append_steps(path, 305, 3)
        app.jobs_screen.post_message(changed(job_id))
        await settle(pilot)
        assert log.lines[-1].text == "step 307" and log.scroll_y == log.max_scroll_y


async def test_paging_up_reaches_the_first_line_in_a_bounded_window(demo: DemoStore) -> None:
    job_id = demo.jobs["payments_1"]
    path = demo.store.layout.output(job_id)
    path.write_text("")
    append_steps(path, 0, 1200)
    app = make_app(demo.store, output_tail_lines=200, output_max_lines=600)
    async with app.run_test(size=(120, 60)) as pilot:
        log = await open_output(pilot, app, job_id)
        assert log.lines[0].text == "step 1000" and log.start > 0
        presses = 0
        while log.start > 0 or log.scroll_y > 0:
            await pilot.press("pageup")
            await settle(pilot)
            presses += 1
            assert log.line_count <= 600 + 500  # the window, and at most the page being added
            assert presses < 400, "paging up never reached the first line"
        assert "step 0" in shown_rows(log)[0]
        assert log.lines[0].text == "step 0" and not log.at_end and not log.following
        # Back to the end: the window is read again from the end and followed.
        await pilot.press("end")
        await settle(pilot)
        assert log.following and log.lines[-1].text == "step 1199"
        # Home: the first line at once, from anywhere.
        await pilot.press("home")
        await settle(pilot)
        assert log.start == 0 and log.scroll_y == 0 and "step 0" in shown_rows(log)[0]


async def test_a_500_mb_output_keeps_a_bounded_window(demo: DemoStore) -> None:
    # A sparse 500 MB output: a first line, a 500 MB line of NULs, 2,000 steps at the end.
    job_id = demo.jobs["payments_1"]
    path = demo.store.layout.output(job_id)
    with open(path, "wb") as f:
        f.write(agent("THE FIRST LINE").encode())
        f.truncate(500 * 1024 * 1024)
        f.seek(0, 2)
        f.write(b"\n" + "".join(agent(f"step {n}") for n in range(2000)).encode())
    app = make_app(demo.store, output_tail_lines=500, output_max_lines=1000)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        assert log.lines[-1].text == "step 1999" and log.line_count == 500
        await pilot.press("home")
        await settle(pilot)
        assert log.lines[0].text == "THE FIRST LINE" and "THE FIRST LINE" in shown_rows(log)[0]
        assert log.line_count <= 1000
        assert all(len(line.text) <= 20_100 + CUT_END_BYTES for line in log.lines)
        assert max(len(row) for row in shown_rows(log)) <= 120
        huge = log.lines[1].text
        assert "cut: the line has" in huge and "\x00" not in huge
        assert len(log._rows) <= 1000 * (SHOWN_CHARS // 100 + 2)  # rows of capped lines


async def test_a_slow_read_says_so_until_the_new_lines_come(
    demo: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last job's lines stay while the next job's are read (usually a frame or two); a
    read that takes longer shows a note, which the lines replace when they come."""
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, demo.jobs["payments_1"])
        release = threading.Event()
        real_load = OutputSource.load

        def slow_load(source: OutputSource, *, note: str | None = None) -> OutputChunk:
            release.wait(10)
            return real_load(source, note=note)

        monkeypatch.setattr(OutputSource, "load", slow_load)
        # A longer wait for the note than the app's: on a busy machine the selection can
        # take longer than READING_NOTE_SECONDS to be drawn, and the note is not what is asked.
        note_after = 10 * READING_NOTE_SECONDS
        monkeypatch.setattr(output_view, "READING_NOTE_SECONDS", note_after)
        app.jobs_screen.open_job(demo.jobs["payments_2"])
        await pilot.pause()
        assert log.placeholder == "" and log.line_count > 0  # still the last job's lines
        await pilot.pause(note_after + 0.2)
        assert log.placeholder == "Reading the output…"
        release.set()
        await settle(pilot)
        assert log.placeholder == "" and log.line_count > 0
        assert app.query_one(OutputView).job_id == demo.jobs["payments_2"]


async def test_a_flood_is_read_in_few_bounded_reads(demo: DemoStore) -> None:
    job_id = demo.jobs["running"]
    path = demo.store.layout.output(job_id)
    app = make_app(demo.store, output_tail_lines=300, output_max_lines=1000)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        output = app.jobs_screen.output
        reads = []
        original = output._start

        def counting(*args: object, **kwargs: object) -> None:
            reads.append(kwargs.get("name"))
            original(*args, **kwargs)  # type: ignore[arg-type]

        output._start = counting  # type: ignore[method-assign]
        for batch in range(40):  # 40 changes reported while 100,000 lines arrive
            append_steps(path, batch * 2500, 2500)
            app.jobs_screen.post_message(changed(job_id))
        await settle(pilot)
        app.jobs_screen.post_message(changed(job_id))
        await settle(pilot)
        assert log.lines[-1].text == "step 99999" and log.following
        assert log.line_count <= 1000
        assert len(reads) < 40  # coalesced: one read at a time, one owed


async def test_search_highlights_and_moves_between_hits(demo: DemoStore) -> None:
    job_id = demo.jobs["payments_1"]
    path = demo.store.layout.output(job_id)
    path.write_text("")
    append_steps(path, 0, 2000)
    app = make_app(demo.store, output_tail_lines=200, output_max_lines=600)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        await pilot.press("home")
        await settle(pilot)
        assert log.start == 0 and log.line_count == 200
        await pilot.press("slash", *"step 19", "enter")
        await settle(pilot)
        assert app.focused is log
        assert log.entry(log.cursor)[0].text == "step 19"  # type: ignore[arg-type,index]
        await pilot.press("n")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 190"  # type: ignore[arg-type,index]
        await pilot.press("N")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 19"  # type: ignore[arg-type,index]
        # Beyond the window: the file is searched and a window read around the hit.
        await pilot.press("slash", *"step 1234", "enter")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 1234"  # type: ignore[arg-type,index]
        assert log.start > 0 and log.line_count <= 600
        assert any("step 1234" in row for row in shown_rows(log))
        # The only hit: the search wraps around (and says so) to the same line.
        await pilot.press("N")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 1234"  # type: ignore[arg-type,index]
        assert any("search hit TOP, continuing at BOTTOM" in n.message for n in app._notifications)
        # A search with no hit anywhere says so and stays.
        await pilot.press("slash", *"no such text", "enter")
        await settle(pilot)
        assert any("No 'no such text' in the output" in n.message for n in app._notifications)


def notices(app: CodexTuiApp) -> list[str]:
    return [n.message for n in app._notifications]


def job_of_steps(demo: DemoStore, count: int) -> str:
    """A finished job of the demo whose output is `count` agent messages, `step 0`…"""
    job_id = demo.jobs["payments_1"]
    path = demo.store.layout.output(job_id)
    path.write_text("")
    append_steps(path, 0, count)
    return job_id


async def test_search_from_the_end_wraps_to_the_top_beyond_the_window(demo: DemoStore) -> None:
    # Following a long output (its first lines not read), a search finds what is above.
    job_id = job_of_steps(demo, 2000)
    app = make_app(demo.store, output_tail_lines=200, output_max_lines=600)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        assert log.following and log.start > 0
        # "step 5" is in steps 5, 50-59 and 500-599 only: none of them read yet.
        await pilot.press("slash", *"step 5", "enter")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 5"  # type: ignore[arg-type,index]
        assert "search hit BOTTOM, continuing at TOP" in notices(app)
        # Backwards from the first hit: on from the end of the file.
        await pilot.press("N")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 599"  # type: ignore[arg-type,index]
        assert "search hit TOP, continuing at BOTTOM" in notices(app)
        await pilot.press("n")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 5"  # type: ignore[arg-type,index]


async def test_search_from_the_end_wraps_to_the_top_within_the_window(demo: DemoStore) -> None:
    # The case: the whole output read, following its end, the word above the view.
    job_id = job_of_steps(demo, 300)
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, job_id)
        assert log.following and log.start == 0 and log.scroll_y > 0
        await pilot.press("slash", *"step 3", "enter")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 3"  # type: ignore[arg-type,index]
        assert "search hit BOTTOM, continuing at TOP" in notices(app)
        await pilot.press("N")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text == "step 39"  # the last of 3, 30-39
        assert "search hit TOP, continuing at BOTTOM" in notices(app)


async def test_jumps_to_commands_errors_and_agent_messages(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, demo.jobs["running"])
        await pilot.press("home", "x")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text.startswith("… $ ")  # type: ignore[arg-type,index]
        await pilot.press("e")
        await settle(pilot)
        line = log.entry(log.cursor)[0]  # type: ignore[arg-type,index]
        assert line.kind == "error" and line.text.startswith("$ bash -lc 'pytest")
        await pilot.press("a")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text.startswith("The backoff uses")  # type: ignore[arg-type,index]
        await pilot.press("X")
        await settle(pilot)
        assert log.entry(log.cursor)[0].text.startswith("$ bash -lc 'pytest")  # type: ignore[arg-type,index]
        # The raw view jumps between the same events, shown as JSON.
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("home", "a")
        await settle(pilot)
        assert '"agent_message"' in log.entry(log.cursor)[0].text  # type: ignore[arg-type,index]


async def test_copy_keys_and_pager(demo: DemoStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = demo.jobs["payments_2"]
    path = demo.store.layout.output(job_id)
    with open(path, "a") as f:
        f.write("\x1b]52;c;evil\x07 \x1b[2J\n")  # escapes codex printed: never to the terminal
    paged = tmp_path / "paged.txt"
    pager = tmp_path / "fake-pager"
    pager.write_text(f"#!/bin/sh\ncat > {paged}\n")
    pager.chmod(0o755)
    monkeypatch.setenv("PAGER", str(pager))
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_output(pilot, app, job_id)
        await pilot.press("y")
        assert app.clipboard == job_id
        await pilot.press("Y")
        await settle(pilot)
        assert app.clipboard == demo.store.final_message(job_id) and app.clipboard
        # The headless driver cannot suspend; everything else is real.
        suspended: list[bool] = []

        @contextlib.contextmanager
        def suspend() -> Iterator[None]:
            suspended.append(True)
            yield

        monkeypatch.setattr(app, "suspend", suspend)
        await pilot.press("o")
        await settle(pilot)
        assert suspended == [True]
        text = paged.read_text()
        assert text.startswith(path.read_text()[:50])
        assert "\x1b" not in text and "\x07" not in text
        assert "␛]52;c;evil␇ ␛[2J" in text


def test_wrap_breaks_at_spaces_and_keeps_wide_characters_whole() -> None:
    assert wrap("short", 10) == ["short"]
    assert wrap("alpha beta gamma delta", 11) == ["alpha beta", "gamma delta"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert all(len(r) <= 10 for r in wrap("word " * 40, 10))
    assert wrap("日本語のテキスト", 6) == ["日本語", "のテキ", "スト"]


def test_search_keys_are_in_the_help() -> None:
    keys = {binding.key for binding in OutputView.BINDINGS}  # type: ignore[union-attr]
    assert {"slash", "n", "N", "x", "X", "e", "E", "a", "A"} <= keys


async def test_a_search_is_cleared_when_another_job_is_selected(demo: DemoStore) -> None:
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        log = await open_output(pilot, app, demo.jobs["running"])
        view = app.query_one(OutputView)
        await pilot.press("slash", *"backoff", "enter")
        await settle(pilot)
        assert view.search_query is not None and "'backoff'" in str(view.border_subtitle)
        app.jobs_screen.open_job(demo.jobs["payments_2"])
        await settle(pilot)
        assert view.search_query is None and log.search_query is None
        assert "backoff" not in str(view.border_subtitle)
        await pilot.press("enter", "n")  # into the output, then the next hit of nothing
        assert "Nothing searched yet: press / to search the output." in notices(app)
