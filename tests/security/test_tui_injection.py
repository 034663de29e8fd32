"""Class 2 in the TUI: stored text shown outside the output pane (jobs table, detail line, sessions,
toasts, dialogs) is made visible, never emitted raw, and never read as Rich markup.

The pilot tests look at what Textual would write to the terminal (the compositor's full
update, escape sequences and all); the tmux test runs the real `codex-tui` in a terminal
and asks tmux whether the window title or its paste buffers changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobstore import JobRecord, JobStore, RunOptions
from jobstore.records import Records
from jobstore.sanitize import terminal_safe
from tests.security.attack import HOSTILE, REPO, unsafe_characters
from tests.security.test_terminal_injection import hostile_job
from tests.tui.tui_demo import settle, tui_config
from tui.app import CodexTuiApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.continue_session import ContinueSessionScreen

MARKUP = "[bold red]loud[/] [link=https://evil.example]click[/link] [@click=app.quit]quit[/]"
CASES = {**HOSTILE, "rich-markup": MARKUP}
# Textual's own drawing: colours (SGR) and cursor moves. Anything else with an ESC is not its.
_TEXTUAL_CSI = re.compile(r"\x1b\[[0-9;:]*[mH]")


def drawn(app: CodexTuiApp) -> str:
    """The screen as a person sees it, line by line; first checked to be safe as written:
    what Textual writes to the terminal for it, without its own colours and cursor moves,
    holds no control character."""
    update = app.screen._compositor.render_full_update()
    assert_safe(_TEXTUAL_CSI.sub("", update.render_segments(app.console)), type(app.screen).__name__)
    return "\n".join("".join(segment.text for strip in line for segment in strip) for line in update.strips)


def assert_safe(text: str, where: str) -> None:
    assert not unsafe_characters(text.replace("\x1b", "")), (where, unsafe_characters(text))
    assert "\x1b" not in text, (where, text[text.index("\x1b") - 20 : text.index("\x1b") + 20])


def visible_piece(payload: str) -> str:
    """A piece of the payload as it must show (short enough for any cell it is in)."""
    return terminal_safe(payload.split("\n")[0])[:10]


def write_final_answer(store: JobStore, job: JobRecord, payload: str) -> None:
    store.layout.last_message(job.job_id).write_text(f"answer {payload}\nsecond line")


@pytest.fixture
def app_size() -> tuple[int, int]:
    return (220, 50)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_every_place_outside_the_output_shows_stored_text_visibly(
    name: str, store: JobStore, tmp_path: Path, app_size: tuple[int, int]
) -> None:
    payload = CASES[name]
    job = hostile_job(store, tmp_path, payload)
    write_final_answer(store, job, payload)
    assert job.session_id is not None
    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC)), store=store)
    piece = visible_piece(payload)
    async with app.run_test(size=app_size) as pilot:
        await settle(pilot)
        screen = drawn(app)
        assert screen.count(piece) >= 3, "prompt in the table and detail, folder in the detail"

        app.jobs_screen.actions.toast_finished(app.jobs_screen.model.get(job.job_id))  # type: ignore[arg-type]
        await pilot.pause()
        toast = app._notifications.last if hasattr(app._notifications, "last") else None
        messages = [n.message for n in app._notifications]
        assert any(piece in m for m in messages), messages
        assert all(not unsafe_characters(m) for m in messages)
        assert toast is None or not toast.markup
        await settle(pilot)
        drawn(app)  # checked as written
        if name == "rich-markup":
            assert "[bold red]loud[/]" in drawn(app)

        await pilot.press("s")
        await settle(pilot)
        await pilot.press("down")  # the session's first turn: prompt, error and answer in full
        await settle(pilot)
        screen = drawn(app)
        assert screen.count(piece) >= 3, "turn label, prompt, final answer"
        assert visible_piece(f"answer {payload}") in screen

        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ContinueSessionScreen)
        screen = drawn(app)
        assert piece in screen
        if name == "rich-markup":
            assert "[link=https://evil.example]" in screen


async def test_the_cancel_dialog_shows_a_running_job_visibly(store: JobStore, workdir: Path) -> None:
    payload = MARKUP + "".join(HOSTILE.values())
    job = store.start(RunOptions.checked(prompt="sleep=120", cwd=str(workdir)))
    Records(store.layout).update(job.job_id, prompt=f"{payload} tail")
    app = CodexTuiApp(tui_config(store.root, now=datetime.now(UTC)), store=store)
    async with app.run_test(size=(220, 50)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        screen = drawn(app)
        assert "␛]0;pwned" in screen and "[bold red]loud[/]" in screen
        await pilot.press("n")
    store.cancel(job.job_id)


# ------------------------------------------------------------------------ tmux


def _tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False, timeout=30
    )
    return done.stdout


@pytest.fixture
def tmux_socket(tmp_path: Path) -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/test installs it)")
    socket = f"codex-tui-injection-{os.getpid()}"
    yield socket
    _tmux(socket, "kill-server")


def _wait_for_screen(socket: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _tmux(socket, "capture-pane", "-p", "-t", "tui")
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")
        time.sleep(0.1)


def test_codex_tui_in_tmux_keeps_title_and_clipboard(
    store: JobStore, tmp_path: Path, workdir: Path, tmux_socket: str
) -> None:
    payload = HOSTILE["osc0-title"] + HOSTILE["osc52-clipboard"] + HOSTILE["csi-clear-screen"]
    done = hostile_job(store, tmp_path, payload)
    running = store.start(RunOptions.checked(prompt="sleep=120", cwd=str(workdir)))
    Records(store.layout).update(running.job_id, prompt=f"{payload} running")
    env = {
        "PYTHONPATH": str(REPO),
        "HOME": os.environ["HOME"],
        "CODEX_HOME": os.environ["CODEX_HOME"],
        "CODEX_BIN": store.codex_bin or "",
        "PATH": os.environ["PATH"],
        "TERM": "xterm-256color",
    }
    command = " ".join(
        [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            sys.executable,
            "-m",
            "tui",
            "--store",
            str(store.root),
            "--no-watch",
            "--no-spinner",
        ]
    )
    _tmux(tmux_socket, "-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", "200", "-y", "50", command)
    _tmux(tmux_socket, "set-option", "-g", "set-clipboard", "on")  # OSC 52 would reach the buffers
    _tmux(tmux_socket, "set-option", "-g", "allow-rename", "on")
    title = _tmux(tmux_socket, "display", "-p", "-t", "tui", "#{pane_title}")
    buffers = _tmux(tmux_socket, "list-buffers")

    screen = _wait_for_screen(tmux_socket, "␛]0;pwned-title␇")  # the table and the detail line
    assert "␛]52;c;" in screen
    _tmux(tmux_socket, "send-keys", "-t", "tui", "c")  # the running job is on top: cancel asks
    screen = _wait_for_screen(tmux_socket, "Keep it")
    assert "␛]0;pwned-title␇" in screen
    _tmux(tmux_socket, "send-keys", "-t", "tui", "n")
    _tmux(tmux_socket, "send-keys", "-t", "tui", "j")  # the finished job, with a session
    _tmux(tmux_socket, "send-keys", "-t", "tui", "s")
    _wait_for_screen(tmux_socket, done.session_id[-8:] if done.session_id else "Sessions")
    _tmux(tmux_socket, "send-keys", "-t", "tui", "Down")  # a turn: its prompt in full beside the tree
    _wait_for_screen(tmux_socket, "␛[2J")

    assert _tmux(tmux_socket, "display", "-p", "-t", "tui", "#{pane_title}") == title
    assert "pwned" not in title
    assert _tmux(tmux_socket, "list-buffers") == buffers
    _tmux(tmux_socket, "send-keys", "-t", "tui", "q")
    store.cancel(running.job_id)
