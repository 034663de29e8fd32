"""Interactive Claude Code (the pinned CLI, in tmux) running our `codex` tool as a background MCP task.

Claude Code opts in to MCP tasks only in its interactive entry point, so the test drives it
in a terminal: a tmux session of its own (its own socket under the test's folder) runs
`claude "<prompt>"` against the fake Anthropic API on 127.0.0.1. The fake model calls
`codex` once; the server answers with a task; Claude Code moves it to the background, polls
tasks/get, and hands the model the codex answer in a task notification, which the fake API
receives as a later request. `claude -p` (no opt-in) gets the answer inline.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from jobstore import JobStore
from tests.clients.conftest import ClientWorld, Terminal, client_binary
from tests.clients.fake_anthropic import FakeAnthropic
from tests.clients.test_real_clients import SERVER_NAME, claude_mcp_add, claude_print

API_KEY = "sk-ant-fake-key-for-tests"
TOOL = f"mcp__{SERVER_NAME}__codex"
# What the fake model asks codex; fake codex answers "Done: <prompt>".
PROMPT = "hello from a background task sleep=2"
ANSWER = f"Done: {PROMPT}"
# Bounds for waiting on Claude Code's state (checked every poll; the test fails, never hangs).
STEP_SECONDS = 0.2
LONGEST_WAIT_SECONDS = 120.0


def seed_claude_home(world: ClientWorld) -> None:
    """What a person's first interactive run sets up: onboarding done, the project folder
    trusted, the API key accepted, and every tool of our server allowed."""
    config_path = world.home / ".claude.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    config.update(
        {
            "hasCompletedOnboarding": True,
            "theme": "dark",
            "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
            "projects": {
                str(world.project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
            },
        }
    )
    config_path.write_text(json.dumps(config), encoding="utf-8")
    settings = world.home / ".claude" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": [f"mcp__{SERVER_NAME}"]}}), encoding="utf-8")


def start_claude(world: ClientWorld, terminal: Terminal, api: FakeAnthropic) -> None:
    """Interactive `claude` in the terminal, in the project, talking to the fake API only."""
    binary = client_binary("claude", "@anthropic-ai/claude-code")
    env = {
        **world.env,
        "ANTHROPIC_BASE_URL": api.url,
        "ANTHROPIC_API_KEY": API_KEY,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "ENABLE_TOOL_SEARCH": "false",
        "TERM": "xterm-256color",
    }
    argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(binary), "Run codex on this project."]
    terminal.start(argv, world.project)


def user_blocks(api: FakeAnthropic) -> list[dict[str, Any]]:
    """Every content block of every user turn the fake API has received (the conversation grows)."""
    return [
        block
        for body in api.received()
        for message in body.get("messages", [])
        if message.get("role") == "user" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict)
    ]


def tool_use_ids(api: FakeAnthropic, tool: str) -> set[str]:
    return {
        str(block.get("id"))
        for body in api.received()
        for message in body.get("messages", [])
        if message.get("role") == "assistant" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == tool
    }


def codex_tool_result(api: FakeAnthropic) -> str | None:
    """What the model got back from its `codex` call."""
    ids = tool_use_ids(api, TOOL)
    for block in user_blocks(api):
        if block.get("type") == "tool_result" and block.get("tool_use_id") in ids:
            return json.dumps(block.get("content"))
    return None


def task_notification(api: FakeAnthropic) -> str | None:
    """The task notification Claude Code sends the model when the task ends."""
    for block in user_blocks(api):
        text = json.dumps(block)
        if "<task-notification>" in text:
            return text
    return None


def wait_for(what: str, check: Any, term: Terminal) -> Any:
    deadline = time.monotonic() + LONGEST_WAIT_SECONDS
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Claude Code never got to: {what}\n--- screen ---\n{term.screen()}")
        time.sleep(STEP_SECONDS)


def first_job(world: ClientWorld, store: JobStore, term: Terminal) -> str:
    """The id of the first job the server starts for Claude Code."""
    job_ids: list[str] = wait_for(
        "the server starting a job", lambda: store.job_ids() if world.store_root.exists() else [], term
    )
    return job_ids[0]


def test_interactive_claude_code_runs_codex_as_a_background_task(
    world: ClientWorld, terminal: Terminal
) -> None:
    claude_mcp_add(world, "user")
    seed_claude_home(world)
    store = JobStore(world.store_root)
    arguments = {"prompt": PROMPT, "cwd": str(world.project)}
    with FakeAnthropic(TOOL, arguments) as api:
        start_claude(world, terminal, api)

        job_id = first_job(world, store, terminal)
        record = wait_for("the job's record", lambda: store.entry(job_id), terminal)
        log = wait_for(
            "the server answering with a task",
            lambda: (
                "(MCP task) started job" in world.server_log.read_text(encoding="utf-8")
                and world.server_log.read_text(encoding="utf-8")
            ),
            terminal,
        )
        assert f"started job {job_id} as a task (codex)" in log, log
        assert record.client is not None and record.client.startswith("claude-code "), record

        # The model got the task notice as the tool's result (not the answer), and kept going.
        notice = wait_for("the model getting the task notice", lambda: codex_tool_result(api), terminal)
        assert ANSWER not in notice and "background" in notice, f"not answered as a task: {notice}"

        # Later the codex answer arrives as a task notification, a user turn of its own.
        delivered = wait_for("the task notification", lambda: task_notification(api), terminal)
        assert "<status>completed</status>" in delivered and job_id in delivered, delivered
        assert ANSWER in delivered, delivered
    finished = store.get(job_id)
    assert finished.status.value == "done" and finished.client == record.client


def test_claude_print_still_gets_the_answer_inline(world: ClientWorld) -> None:
    claude_mcp_add(world, "user")
    settings = world.home / ".claude" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": [f"mcp__{SERVER_NAME}"]}}), encoding="utf-8")
    prompt = "inline for claude -p"
    with FakeAnthropic(TOOL, {"prompt": prompt, "cwd": str(world.project), "wait_seconds": 20}) as api:
        run, outcome = claude_print(world, api)
        results = api.tool_results()
    assert outcome["is_error"] is False, run.describe()
    assert any(f"Done: {prompt}" in json.dumps(r.get("content")) for r in results), results
    store = JobStore(world.store_root)
    (job_id,) = store.job_ids()
    assert store.get(job_id).client is None  # not a task
    assert "as a task" not in world.server_log.read_text(encoding="utf-8")
