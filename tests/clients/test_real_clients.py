"""The installed `codex-async-mcp` server, driven by real MCP clients from npm (tools/).

- Claude Code's CLI: `claude mcp add` (user and project scope) and `claude mcp list`, which
  starts the server and reports it connected; and `claude -p` against a fake Anthropic API
  on 127.0.0.1, calling one of our tools only when a permission rule allows it.
- The MCP Inspector's CLI mode: tools/list, and a job run with codex_start then codex_wait.
- mcporter: ad-hoc stdio calls of ping, codex_start, codex_wait and codex_list.

Every server runs over a temporary store with the fake codex (tests/fakes/fake_codex.py);
every client runs with a temporary HOME (see conftest.py). Nothing contacts any address but
127.0.0.1 (and only the `claude -p` test does, to reach its fake API).
"""

from __future__ import annotations

import json
import re
from typing import Any

from jobstore import JobStore
from tests.clients.conftest import REPO, ClientWorld, Completed, client_binary, run_client
from tests.clients.fake_anthropic import FINAL_TEXT, FakeAnthropic
from tests.mcp_server.mcp_helpers import ALL_TOOLS, check_against_schema

SERVER_NAME = "codex-async"
PINNED = json.loads((REPO / "tools" / "package.json").read_text(encoding="utf-8"))["dependencies"]
# What `claude mcp list` prints for a server it started and initialized (checked with 2.1.332).
CLAUDE_CONNECTED = "✔ Connected"
CLAUDE_PENDING = "⏸ Pending approval"


def parse_json(result: Completed) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the client's output is not JSON ({exc})\n{result.describe()}") from None


def served_store(world: ClientWorld) -> str:
    """The server's own log (CODEX_ASYNC_LOG_FILE): proof it ran, with the env the client passed."""
    assert world.server_log.exists(), "the server never started (it wrote no log)"
    text = world.server_log.read_text(encoding="utf-8")
    assert f"serving on stdio; store {world.store_root}," in text, text
    return text


# --- Claude Code ------------------------------------------------------------------------------


def claude(world: ClientWorld, *args: str) -> Completed:
    binary = client_binary("claude", "@anthropic-ai/claude-code")
    return run_client([binary, *args], world.env, cwd=world.project)


def claude_mcp_add(world: ClientWorld, scope: str) -> Completed:
    env_flags = [flag for pair in world.env_pairs() for flag in ("-e", pair)]
    return claude(world, "mcp", "add", "--scope", scope, SERVER_NAME, *env_flags, "--", world.server).ok()


def server_line(listing: Completed) -> str:
    """The line `claude mcp list` prints for our server."""
    lines = [line for line in listing.stdout.splitlines() if line.startswith(f"{SERVER_NAME}: ")]
    assert len(lines) == 1, f"`claude mcp list` shows {SERVER_NAME} {len(lines)} times\n{listing.describe()}"
    return lines[0]


def expected_entry(world: ClientWorld) -> dict[str, Any]:
    return {"type": "stdio", "command": world.server, "args": [], "env": world.server_env}


def test_claude_code_user_scope(world: ClientWorld) -> None:
    version = claude(world, "--version").ok()
    pinned = PINNED["@anthropic-ai/claude-code"]
    assert version.stdout.startswith(f"{pinned} (Claude Code)"), version.describe()

    added = claude_mcp_add(world, "user")
    assert f"Added stdio MCP server {SERVER_NAME}" in added.stdout, added.describe()
    assert "to user config" in added.stdout, added.describe()
    user_config = json.loads((world.home / ".claude.json").read_text(encoding="utf-8"))
    assert user_config["mcpServers"] == {SERVER_NAME: expected_entry(world)}
    assert not (world.project / ".mcp.json").exists()

    listing = claude(world, "mcp", "list").ok()
    line = server_line(listing)
    assert line.startswith(f"{SERVER_NAME}: {world.server} "), listing.describe()
    assert line.endswith(f"- {CLAUDE_CONNECTED}"), listing.describe()
    served_store(world)

    details = claude(world, "mcp", "get", SERVER_NAME).ok()
    for expected in (
        "Scope: User config",
        f"Status: {CLAUDE_CONNECTED}",
        "Type: stdio",
        f"Command: {world.server}",
        *(f"    {pair}" for pair in world.env_pairs()),
    ):
        assert expected in details.stdout, f"{expected!r} missing\n{details.describe()}"


def test_claude_code_project_scope(world: ClientWorld) -> None:
    added = claude_mcp_add(world, "project")
    assert "to project config" in added.stdout, added.describe()
    mcp_json = world.project / ".mcp.json"
    assert json.loads(mcp_json.read_text(encoding="utf-8")) == {
        "mcpServers": {SERVER_NAME: expected_entry(world)}
    }
    user_config = world.home / ".claude.json"
    if user_config.exists():
        assert SERVER_NAME not in json.loads(user_config.read_text(encoding="utf-8")).get("mcpServers", {})

    # A server from .mcp.json is not started until the user approves it.
    listing = claude(world, "mcp", "list").ok()
    assert CLAUDE_PENDING in server_line(listing), listing.describe()
    assert not world.server_log.exists(), "Claude Code started an unapproved project server"

    # Approve it the way a non-interactive setup does: enabledMcpjsonServers in user settings.
    settings = world.home / ".claude" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps({"enabledMcpjsonServers": [SERVER_NAME]}), encoding="utf-8")
    listing = claude(world, "mcp", "list").ok()
    line = server_line(listing)
    assert line.startswith(f"{SERVER_NAME}: {world.server} "), listing.describe()
    assert line.endswith(f"- {CLAUDE_CONNECTED}"), listing.describe()
    served_store(world)


def claude_print(world: ClientWorld, api: FakeAnthropic) -> tuple[Completed, dict[str, Any]]:
    """`claude -p` against the fake API: loopback goes direct, anything else to the closed proxy."""
    env = {
        **world.env,
        "ANTHROPIC_BASE_URL": api.url,
        "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # Offer MCP tools to the model directly rather than behind the ToolSearch tool.
        "ENABLE_TOOL_SEARCH": "false",
    }
    binary = client_binary("claude", "@anthropic-ai/claude-code")
    prompt = "Run codex on this project."
    result = run_client([binary, "-p", prompt, "--output-format", "json"], env, cwd=world.project).ok()
    return result, parse_json(result)


def test_claude_code_calls_a_tool_allowed_by_a_permission_rule(world: ClientWorld) -> None:
    claude_mcp_add(world, "user")
    tool = f"mcp__{SERVER_NAME}__codex"
    prompt = "hello from claude code"
    arguments = {"prompt": prompt, "cwd": str(world.project), "wait_seconds": 20}
    store = JobStore(world.store_root)

    # No rule: in -p mode the call is refused, and nothing runs.
    with FakeAnthropic(tool, arguments) as api:
        run, outcome = claude_print(world, api)
        results = api.tool_results()
    assert [d["tool_name"] for d in outcome["permission_denials"]] == [tool], run.describe()
    (refused,) = [r for r in results if "granted" in json.dumps(r.get("content"))]
    assert refused.get("is_error") is True, results
    assert not world.store_root.exists() or store.job_ids() == []

    # The README's rule for every tool of the server: the call goes through and codex runs.
    settings = world.home / ".claude" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": [f"mcp__{SERVER_NAME}"]}}), encoding="utf-8")
    with FakeAnthropic(tool, arguments) as api:
        run, outcome = claude_print(world, api)
        results = api.tool_results()
    assert outcome["is_error"] is False and outcome["permission_denials"] == [], run.describe()
    assert outcome["result"] == FINAL_TEXT, run.describe()
    answers = [r for r in results if "Done: " in json.dumps(r.get("content"))]
    assert len(answers) == 1 and not answers[0].get("is_error"), results
    assert f"Done: {prompt}" in json.dumps(answers[0]["content"])
    (job_id,) = store.job_ids()
    record = store.read_record(job_id)
    assert record.status.value == "done" and record.exit_code == 0, record
    served_store(world)


# --- MCP Inspector (CLI mode) -------------------------------------------------------------------


def inspector(world: ClientWorld, *args: str) -> Any:
    """`mcp-inspector --cli` against the server over stdio; returns its JSON answer."""
    binary = client_binary("mcp-inspector", "@modelcontextprotocol/inspector")
    env_flags = [flag for pair in world.env_pairs() for flag in ("-e", pair)]
    result = run_client([binary, "--cli", *env_flags, *args, "--", world.server], world.env, world.project)
    return parse_json(result.ok())


def test_inspector_lists_every_tool(world: ClientWorld) -> None:
    listed = inspector(world, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == ALL_TOOLS
    for name, tool in tools.items():
        assert tool.get("description"), f"{name} has no description"
        assert tool["inputSchema"]["type"] == "object", name
        assert tool.get("outputSchema", {}).get("type") == "object", f"{name} declares no output schema"
    assert set(tools["codex_start"]["inputSchema"]["required"]) == {"prompt", "cwd"}
    served_store(world)


def test_inspector_runs_a_job(world: ClientWorld) -> None:
    schemas = {t["name"]: t["outputSchema"] for t in inspector(world, "--method", "tools/list")["tools"]}

    def call(tool: str, *pairs: str) -> dict[str, Any]:
        result = inspector(world, "--method", "tools/call", "--tool-name", tool, "--tool-arg", *pairs)
        assert result.get("isError") is False, result
        structured = result["structuredContent"]
        check_against_schema(tool, schemas[tool], structured)
        assert result["content"][0]["type"] == "text" and result["content"][0]["text"].strip(), result
        return structured

    prompt = "say hello sleep=2"
    started = call("codex_start", f"prompt={prompt}", f"cwd={world.project}")
    assert started["status"] in ("running", "queued"), started
    assert started["cwd"] == str(world.project)
    job_id = started["job_id"]

    # A fresh server process waits for the job the previous one started (the store is durable).
    waited = call("codex_wait", f"job_id={job_id}", "timeout_seconds=30")
    assert waited["finished"] is True and waited["timed_out"] is False, waited
    assert waited["status"] == "done" and waited["exit_code"] == 0, waited
    assert waited["job_id"] == job_id and waited["prompt"] == prompt
    assert waited["last_message"] == f"Done: {prompt}"
    assert [c["command"] for c in waited["commands"]] == ["sleep"]
    assert waited["usage"] == {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 5}
    served_store(world)


# --- mcporter -------------------------------------------------------------------------------------


def mcporter(world: ClientWorld, tool: str, *pairs: str) -> Any:
    """`mcporter call` of one tool on an ad-hoc stdio server; returns the structured result."""
    binary = client_binary("mcporter", "mcporter")
    env_flags = [flag for pair in world.env_pairs() for flag in ("--env", pair)]
    result = run_client(
        [binary, "call", "--stdio", world.server, *env_flags, "--timeout", "40000", "--output", "json"]
        + [tool, *pairs],
        world.env,
        world.project,
    )
    return parse_json(result.ok())


def test_mcporter_calls_ping_and_codex_list(world: ClientWorld) -> None:
    pong = mcporter(world, "ping")
    assert pong["ok"] is True, pong
    assert pong["store_root"] == str(world.store_root)
    assert pong["codex_path"] == str(world.fake_codex)
    assert pong["codex_version"] == "0.169.0" and pong["codex_error"] is None, pong
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", pong["server_version"]), pong

    assert mcporter(world, "codex_list") == {"jobs": [], "count": 0}

    started = mcporter(world, "codex_start", "prompt=list me sleep=1", f"cwd={world.project}")
    job_id = started["job_id"]
    waited = mcporter(world, "codex_wait", f"job_id={job_id}", "timeout_seconds=30")
    assert waited["finished"] is True and waited["status"] == "done", waited

    listed = mcporter(world, "codex_list", "status=done", "limit=5")
    assert listed["count"] == 1, listed
    (entry,) = listed["jobs"]
    assert entry["job_id"] == job_id and entry["status"] == "done" and entry["exit_code"] == 0, entry
    assert entry["prompt"] == "list me sleep=1" and entry["cwd"] == str(world.project), entry
    assert mcporter(world, "codex_list", "status=running") == {"jobs": [], "count": 0}
    served_store(world)
