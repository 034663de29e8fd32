"""Class 2, hidden text: every place a person or a model reads codex's text shows invisible
characters (Unicode format characters: tag characters, zero-width spaces and joiners, bidi
controls, ...) visibly, as `<U+XXXX>`; and desktop notifications carry no markup.

One hostile job (its prompt, cwd, error, output events, recorded diff) and one codex session
of codex's own (its rollout) carry the payloads; the table below names every place that shows
them, and each place is read the way it is read in use.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import os
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from jobstore import JobRecord, JobStore, OutputFile, Settings
from jobstore.fsio import write_bytes_atomic, write_json_atomic
from jobstore.layout import FileKind
from jobstore.sanitize import _FORMAT_RANGES, _non_ascii, _nothing_hidden, terminal_safe
from jobstore.worktree_diff import WorktreeDiff
from mcp_server.server import create_server
from mcp_server.settings import ServerSettings
from mcp_server.tasks import one_line, task_state
from tests.security.attack import HOSTILE, run_cli, unsafe_characters
from tests.security.test_terminal_injection import hostile_job
from tests.security.test_tui_injection import drawn
from tests.tui.conversation_demo import CODEX_SESSION_ID, FIXTURE
from tests.tui.tui_demo import settle, tui_config
from tui.app import CodexTuiApp
from tui.pager import copy_safely
from tui.widgets.sessions import SessionTree

# Both hidden payloads at once: tag characters spelling an instruction, and zero-width ones.
INVISIBLE = HOSTILE["tag-characters"] + " " + HOSTILE["zero-width"]
# What each place must show of it: its first tag character.
SHOWN_TAG = "<U+E0069>"
ECHOED_TAG = "\\U000e0069"  # a refusal echoes a value as its repr(), escapes and all


def as_json_string(text: str) -> str:
    return json.dumps(text)[1:-1]


def write_hostile_diff(store: JobStore, job_id: str) -> None:
    """A recorded working-tree diff whose repository and lines carry the payload."""
    diff_text = f"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new {INVISIBLE}\n"
    now = datetime.now(UTC)
    diff = WorktreeDiff(
        repo=f"/repo/{INVISIBLE}",
        started_at=(now - timedelta(minutes=1)).isoformat(),
        start_tree="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        ended_at=now.isoformat(),
        end_tree="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        diff=diff_text,
        files=[("M", "x")],
        other_jobs=[],
    )
    folder = store.layout.job_dir(job_id)
    write_bytes_atomic(store.layout.job_file(folder, FileKind.WORKTREE_DIFF), diff_text.encode())
    write_json_atomic(store.layout.job_file(folder, FileKind.WORKTREE), diff.to_dict())


def write_hostile_rollout(codex_home: Path) -> None:
    """codex's own session (the real 0.171 rollout) whose prompt and answer carry the payload."""
    text = FIXTURE.read_text()
    text = text.replace("RUN_COMMAND: echo two >> a.txt", "RUN_COMMAND: " + as_json_string(INVISIBLE))
    text = text.replace("Command finished.", "Command finished. " + as_json_string(INVISIBLE))
    folder = codex_home / "sessions" / "2026" / "11" / "29"
    folder.mkdir(parents=True)
    (folder / f"rollout-2026-11-29T23-04-03-{CODEX_SESSION_ID}.jsonl").write_text(text)


@pytest.fixture
def hostile(store: JobStore, tmp_path: Path) -> JobRecord:
    job = hostile_job(store, tmp_path, INVISIBLE)
    store.layout.last_message(job.job_id).write_text(f"answer {INVISIBLE}")
    write_hostile_diff(store, job.job_id)
    write_hostile_rollout(tmp_path / "codex-home")
    return job


# ------------------------------------------------------------------------ the places


def cli(*args: str) -> Callable[[JobStore, JobRecord], str]:
    def read(store: JobStore, job: JobRecord) -> str:
        done = run_cli(store.root, *(job.job_id if arg == "{job}" else arg for arg in args))
        assert done.returncode == 0, done.stderr
        return done.stdout.decode("utf-8")

    return read


def pager(store: JobStore, job: JobRecord) -> str:
    sink = io.BytesIO()
    with OutputFile.open(store.layout.output(job.job_id)) as output:
        copy_safely(output, sink)
    return sink.getvalue().decode("utf-8")


def mcp(tool: str, **arguments: Any) -> Callable[[JobStore, JobRecord], Awaitable[str]]:
    """A tool's whole answer as the client receives it: its text and its structured content."""

    async def read(store: JobStore, job: JobRecord) -> str:
        async with Client(create_server(store, ServerSettings())) as client:
            args = {k: job.job_id if v == "{job}" else v for k, v in arguments.items()}
            result = await client.call_tool_mcp(tool, args)
        return result.model_dump_json(by_alias=True)

    return read


async def mcp_refusal(store: JobStore, job: JobRecord) -> str:
    """A refusal that echoes the caller's input (the folder) back."""
    async with Client(create_server(store, ServerSettings())) as client:
        result = await client.call_tool_mcp("codex_start", {"prompt": "x", "cwd": f"/nowhere/{INVISIBLE}"})
    assert result.is_error
    return json.loads(result.model_dump_json())["content"][0]["text"]


def task(store: JobStore, job: JobRecord) -> str:
    return json.dumps(
        task_state(store, job, "complete").model_dump(by_alias=True, mode="json"), ensure_ascii=False
    )


def task_status_line(store: JobStore, job: JobRecord) -> str:
    return one_line(f"codex running: $ echo {INVISIBLE}")


async def tui(store: JobStore, job: JobRecord, tmp_path: Path, keys: list[str]) -> str:
    config = tui_config(store.root, now=datetime.now(UTC))
    settings = Settings(store_root=store.root, codex_home=tmp_path / "codex-home")
    app = CodexTuiApp(dataclasses.replace(config, settings=settings), store=store)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        app.jobs_screen.open_job(job.job_id)
        await settle(pilot)
        for key in keys:
            if key == "codex-session":
                tree = app.query_one(SessionTree)
                tree.move_cursor(
                    next(n for n in tree.root.children if n.data and n.data.session_id == CODEX_SESSION_ID)
                )
            else:
                await pilot.press(key)
            await settle(pilot)
        return drawn(app)


PLACES: dict[str, Any] = {
    "cli list": cli("list"),
    "cli show": cli("show", "{job}", "--tail", "50"),
    "cli follow": cli("follow", "{job}"),
    "pager (o)": pager,
    "mcp codex_poll with diff": mcp("codex_poll", job_id="{job}", include_diff=True),
    "mcp codex_wait": mcp("codex_wait", job_id="{job}", timeout_seconds=1),
    "mcp codex_list": mcp("codex_list"),
    "mcp codex_sessions": mcp("codex_sessions"),
    "mcp refusal": mcp_refusal,
    "task result": task,
    "task status message": task_status_line,
    "tui output and detail": lambda store, job, tmp: tui(store, job, tmp, []),
    "tui raw output": lambda store, job, tmp: tui(store, job, tmp, ["r"]),
    "tui diff": lambda store, job, tmp: tui(store, job, tmp, ["d"]),
    "tui conversation": lambda store, job, tmp: tui(store, job, tmp, ["s", "codex-session"]),
}


@pytest.mark.parametrize("place", sorted(PLACES))
async def test_every_place_shows_invisible_characters_visibly(
    place: str, store: JobStore, hostile: JobRecord, tmp_path: Path
) -> None:
    read = PLACES[place]
    shown = read(store, hostile, tmp_path) if place.startswith("tui") else read(store, hostile)
    if not isinstance(shown, str):
        shown = await shown
    if place.startswith("mcp") or place == "task result":
        shown = json.loads(shown) if shown.startswith("{") else shown
        shown = json.dumps(shown, ensure_ascii=False)  # the strings as the model reads them
    assert not unsafe_characters(shown.replace("\x1b", "")), (place, unsafe_characters(shown))
    # Shown, not dropped (a cell may cut the rest; nothing of it is raw, checked above).
    assert SHOWN_TAG in shown or ECHOED_TAG in shown, (place, shown[:2000])


def test_the_sanitiser_knows_every_format_character() -> None:
    listed = {code for first, last in _FORMAT_RANGES for code in range(first, last + 1)}
    every_cf = {code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"}
    assert every_cf <= listed, [f"U+{code:04X}" for code in sorted(every_cf - listed)]
    text = "".join(chr(code) for code in sorted(every_cf | {0x2028, 0x2029}))
    for multiline in (False, True):
        assert not unsafe_characters(terminal_safe(text, multiline=multiline))
    assert terminal_safe("a\U000e0041\u200bb") == "a<U+E0041><U+200B>b"


def test_what_the_quick_check_passes_the_expression_would_leave_as_it_is() -> None:
    # terminal_safe skips its expression for text `_nothing_hidden` passes: no character of
    # any kind may be one the expression shows (between others, as in text).
    for multiline in (False, True):
        hidden, shown = _non_ascii(multiline)
        for code in range(sys.maxunicode + 1):
            text = f"é{chr(code)}é"
            if _nothing_hidden(text, multiline=multiline):
                assert hidden.sub(shown, text) == text, f"U+{code:04X}"
    assert _nothing_hidden("… done ✓\n␊ next", multiline=True)
    assert not _nothing_hidden("… done\n", multiline=False)


def test_a_joiner_stays_only_inside_an_emoji_sequence() -> None:
    for emoji in ("👩\u200d💻", "🏳\ufe0f\u200d🌈", "👨\U0001f3fd\u200d🚀"):
        assert terminal_safe(emoji) == emoji
    assert terminal_safe("a\u200db") == "a<U+200D>b"
    assert terminal_safe("👩\u200d") == "👩<U+200D>" and terminal_safe("\u200d💻") == "<U+200D>💻"
    assert terminal_safe("👩\u200d\U000e0041💻") == "👩<U+200D><U+E0041>💻"


# ------------------------------------------------------------------------ notifications


def fake_notify_send(bin_dir: Path, record: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "notify-send"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    script.chmod(0o755)


async def test_a_desktop_notification_carries_no_markup(
    store: JobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markup = '<a href="https://evil.example">x</a> <img src="file:///etc/passwd"/> & \'q\''
    job = hostile_job(store, tmp_path, markup + INVISIBLE)
    record = tmp_path / "argv.json"
    fake_notify_send(tmp_path / "notify-bin", record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'notify-bin'}{os.pathsep}{os.environ['PATH']}")
    config = tui_config(store.root, now=datetime.now(UTC), notify_end="desktop")
    app = CodexTuiApp(config, store=store)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        row = app.jobs_screen.model.get(job.job_id)
        assert row is not None
        app.jobs_screen.actions.toast_finished(row)
        for _ in range(200):
            if record.exists() and record.read_text():
                break
            await pilot.pause(0.05)
    argv = json.loads(record.read_text())
    body = argv[-1]
    assert "<" not in body and ">" not in body and '"' not in body and "'" not in body, body
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in body
    assert "&lt;img src=&quot;file:///etc/passwd&quot;/&gt; &amp; &#x27;q&#x27;" in body
    assert html.escape(SHOWN_TAG) in body and not unsafe_characters(body)
