"""Interactive Claude Code (the pinned CLI, in tmux) answers a real codex job's question.

The fake Anthropic model calls our `codex` tool with `approval_policy: "untrusted"` and a
prompt that makes the real codex CLI (through its app-server, against the fake model service
on 127.0.0.1) run a command that needs approval. Claude Code holds the call as an MCP task;
the job waits, the task reads `input_required` with the question as one elicitation form,
and Claude Code shows that form to its person. The test answers it with the keys a person
presses; Claude Code sends `tasks/update`; codex runs the command and the job ends `done`;
the model gets the result in a task notification.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobstore import JobStore
from tests.clients.conftest import ClientWorld, Terminal
from tests.clients.fake_anthropic import FakeAnthropic
from tests.clients.test_claude_code_tasks import (
    STEP_SECONDS,
    TOOL,
    first_job,
    seed_claude_home,
    start_claude,
    task_notification,
    wait_for,
)
from tests.clients.test_real_clients import SERVER_NAME, claude
from tests.e2e.conftest import git_repo, model_service, real_codex  # noqa: F401  (fixtures used below)
from tests.fakes.model_service import FakeModelService

MARKER = "asked-in-claude.txt"
# A key's effect is waited for this long before the key is pressed again, at most this often.
KEY_EFFECT_SECONDS = 5.0
KEY_TRIES = 4
PROMPT = f"RUN_COMMAND: echo approved-by-a-person > {MARKER}"


def add_server_running_real_codex(world: ClientWorld, codex_bin: Path, codex_home: Path) -> None:
    """`claude mcp add` our server, its jobs run by the real codex against the fake model."""
    server_env = {
        **world.server_env,
        "CODEX_BIN": str(codex_bin),
        "CODEX_HOME": str(codex_home),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env_flags = [flag for key, value in server_env.items() for flag in ("-e", f"{key}={value}")]
    claude(world, "mcp", "add", "--scope", "user", SERVER_NAME, *env_flags, "--", world.server).ok()


def question_on_screen(terminal: Terminal) -> str | None:
    """The screen, once Claude Code shows our server's request with codex's command in it."""
    screen = terminal.screen()
    return screen if "requests your input" in screen and MARKER in screen else None


def press_until(terminal: Terminal, key: str, what: str, shows: Callable[[str], bool]) -> None:
    """Press a key and wait for the screen to show its effect; press again if it did not (as a
    person would: a key that lands while the form re-renders can go unheard)."""
    for _ in range(KEY_TRIES):
        terminal.press(key)
        deadline = time.monotonic() + KEY_EFFECT_SECONDS
        while time.monotonic() < deadline:
            if shows(terminal.screen()):
                return
            time.sleep(STEP_SECONDS)
    pytest.fail(f"Claude Code never got to: {what} ({key} pressed {KEY_TRIES} times)\n{terminal.screen()}")


def test_interactive_claude_code_answers_a_codex_question(
    world: ClientWorld,
    terminal: Terminal,
    real_codex: Path,  # noqa: F811
    model_service: FakeModelService,  # noqa: F811
    git_repo: Path,  # noqa: F811
) -> None:
    codex_home = world.home / ".codex"
    model_service.write_codex_home(codex_home)
    store = JobStore(world.store_root)
    store.configure(codex_path="app-server")  # questions come through codex's app-server
    add_server_running_real_codex(world, real_codex, codex_home)
    seed_claude_home(world)
    marker = git_repo / MARKER
    arguments = {"prompt": PROMPT, "cwd": str(git_repo), "approval_policy": "untrusted"}
    with FakeAnthropic(TOOL, arguments) as api:
        start_claude(world, terminal, api)
        job_id = first_job(world, store, terminal)

        # The question reaches the person: Claude Code shows our form with codex's command.
        form = wait_for("showing the job's question", lambda: question_on_screen(terminal), terminal)
        assert f"MCP server “{SERVER_NAME}” requests your input" in form, form
        assert "codex asks to run" in form and "approve or deny" in form, form
        assert "Your answer" in form and "Accept" in form and "Decline" in form, form
        waiting = store.get(job_id)
        assert waiting.status.value == "waiting" and not marker.exists(), waiting

        # The person answers: open the choice, pick approve, go to Accept, press it.
        press_until(terminal, "Right", "listing the choices", lambda screen: "◯ approve" in screen)
        press_until(terminal, "Space", "taking approve", lambda screen: "✔ Your answer: ▸ approve" in screen)
        press_until(terminal, "Down", "moving to Accept", lambda screen: "❯ Accept" in screen)
        press_until(terminal, "Enter", "answering", lambda screen: "requests your input" not in screen)

        # The answer reaches codex: the command ran and the job ended done.
        wait_for("the job ending", lambda: store.get(job_id).is_terminal, terminal)
        finished = store.get(job_id)
        assert finished.status.value == "done", finished
        assert marker.read_text(encoding="utf-8").strip() == "approved-by-a-person"
        log = world.server_log.read_text(encoding="utf-8")
        assert f"task {job_id}: job {job_id}: answered approve" in log, log  # through tasks/update

        # Claude Code gets the result: its model a task notification, its person a line.
        delivered = wait_for("the task notification", lambda: task_notification(api), terminal)
        assert "<status>completed</status>" in delivered and job_id in delivered, delivered
        result = json.loads(delivered)["text"]
        assert '"status":"done"' in result and '"answer":"Command finished."' in result, result
        wait_for(
            "showing the task completed",
            lambda: f"MCP task {job_id} ({SERVER_NAME}/codex) completed." in terminal.screen(),
            terminal,
        )
