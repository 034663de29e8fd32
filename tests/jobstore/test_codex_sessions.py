"""Reading codex's own session files: a real one (codex 0.171.0 against the fake model),
older shapes, unknown record types, garbage, and thousands of files."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobstore.codex_rollout import read_conversation
from jobstore.codex_sessions import CodexSessions
from jobstore.review_usage import review_usage

FIXTURES = Path(__file__).parent / "fixtures"
REAL_ID = "01a2298d-1e8e-79f2-bed9-e0ab1302a149"
REAL_NAME = f"rollout-2026-11-29T23-04-03-{REAL_ID}.jsonl"


def place(codex_home: Path, name: str, lines: list[str], day: str = "2026/11/29") -> Path:
    folder = codex_home / "sessions" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def rec(kind: str, payload: dict[str, Any], ts: str = "2026-01-02T03:04:05.000Z") -> str:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload})


def test_a_real_session_file_reads_as_its_conversation(tmp_path: Path) -> None:
    folder = tmp_path / "sessions" / "2026" / "11" / "29"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / REAL_NAME, folder / REAL_NAME)
    sessions = CodexSessions(tmp_path)
    [rollout] = sessions.rollouts()
    assert rollout.session_id == REAL_ID
    head = sessions.head(rollout)
    assert head.cwd == "/home/user/project"
    assert head.first_prompt == "RUN_COMMAND: echo two >> a.txt"
    assert head.cli_version == "0.171.0"

    conversation = sessions.conversation(rollout)
    assert conversation.cwd == "/home/user/project" and not conversation.started_here
    first, second = conversation.turns
    assert (first.prompt, first.answer, first.status, first.tokens) == (
        "RUN_COMMAND: echo two >> a.txt",
        "Command finished.",
        "done",
        30,
    )
    [command] = first.commands
    assert command.command == "echo two >> a.txt" and command.exit_code == 1
    assert "Read-only file system" in command.output
    assert first.seconds is not None and first.seconds < 1
    assert (second.prompt, second.answer, second.tokens) == (
        "REPLY: **second** answer",
        "**second** answer",
        15,
    )
    assert first.other == () and second.other == ()  # every record of 0.171.0 is understood


def test_older_shapes_are_read_too(tmp_path: Path) -> None:
    lines = [
        # Older versions: a bare first line, items without {type, payload}.
        json.dumps({"id": REAL_ID, "timestamp": "2025-05-01T10:00:00Z", "instructions": None}),
        json.dumps(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "<environment_context>x"}],
            }
        ),
        json.dumps(
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}
        ),
        json.dumps(
            {
                "type": "function_call",
                "name": "shell",
                "arguments": json.dumps({"command": ["bash", "-lc", "ls"]}),
                "call_id": "c1",
            }
        ),
        json.dumps(
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": json.dumps({"output": "a.py\n", "metadata": {"exit_code": 0}}),
            }
        ),
        json.dumps(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "One file."}],
            }
        ),
        # Middle versions: event_msg prompts and answers, apply_patch, an aborted turn.
        rec("event_msg", {"type": "task_started"}, "2025-05-01T10:01:00Z"),
        rec("event_msg", {"type": "user_message", "message": "fix it"}, "2025-05-01T10:01:00Z"),
        rec(
            "response_item",
            {
                "type": "custom_tool_call",
                "name": "apply_patch",
                "call_id": "p1",
                "input": "*** Begin Patch\n*** Update File: a.py\n*** Add File: b.py\n*** End Patch",
            },
        ),
        rec(
            "event_msg", {"type": "patch_apply_end", "call_id": "p1", "changes": {"c.py": {"type": "delete"}}}
        ),
        rec("event_msg", {"type": "turn_aborted", "reason": "interrupted"}, "2025-05-01T10:02:00Z"),
    ]
    conversation = read_conversation(
        place(tmp_path, f"rollout-2025-05-01T10-00-00-{REAL_ID}.jsonl", lines), REAL_ID
    )
    first, second = conversation.turns
    assert (first.prompt, first.answer) == ("list files", "One file.")
    assert [(c.command, c.exit_code, c.output) for c in first.commands] == [("bash -lc ls", 0, "a.py\n")]
    assert second.prompt == "fix it" and second.status == "cancelled"
    assert second.error == "aborted: interrupted"
    assert second.file_changes == (("update", "a.py"), ("add", "b.py"), ("delete", "c.py"))
    assert second.seconds == 60


def test_unknown_records_are_kept_and_garbage_never_crashes(tmp_path: Path) -> None:
    lines = [
        rec("session_meta", {"id": REAL_ID, "cwd": "/p"}),
        "not json at all",
        "[1, 2, 3]",
        "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
        rec("event_msg", {"type": "user_message", "message": "hello"}),
        rec("brand_new_record", {"what": 1}),
        rec("event_msg", {"type": "hologram_started"}),
        rec("response_item", {"type": "telepathy", "x": 1}),
        rec("event_msg", {"type": "agent_message", "message": 42}),  # a known type, an odd shape
        rec(
            "response_item", {"type": "function_call", "name": "shell", "arguments": "{broken", "call_id": 5}
        ),
        rec("event_msg", {"type": "token_count", "info": {"total_token_usage": "many"}}),
        rec("event_msg", {"type": "patch_apply_end", "changes": ["not", "a", "dict"]}),
        json.dumps({"type": "event_msg", "payload": {"type": "user_message", "message": "cut off"}})[:30],
    ]
    path = place(tmp_path, f"rollout-2026-01-02T03-04-05-{REAL_ID}.jsonl", lines)
    with path.open("ab") as f:
        f.write(b'{"type": "event_msg", "payload": {"type": "task_comp')  # a line being written
    conversation = read_conversation(path, REAL_ID)
    [turn] = conversation.turns
    assert turn.prompt == "hello" and turn.status == "unfinished"
    assert dict(turn.other) == {"brand_new_record": 1, "event hologram_started": 1, "item telepathy": 1}
    assert conversation.details["lines skipped"] == "5"


def test_thousands_of_files_are_listed_by_name_and_only_shown_heads_are_read(tmp_path: Path) -> None:
    for n in range(3000):
        day = f"2026/{1 + n % 12:02d}/{1 + n % 28:02d}"
        sid = f"00000000-0000-7000-8000-{n:012d}"
        path = place(
            tmp_path,
            f"rollout-2026-01-01T00-00-00-{sid}.jsonl",
            [rec("event_msg", {"type": "user_message", "message": f"prompt {n}"})],
            day,
        )
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    place(tmp_path, "notes.txt", ["not a session"])
    (tmp_path / "sessions" / "2026" / "nonsense").mkdir()
    sessions = CodexSessions(tmp_path)
    newest = sessions.rollouts(limit=50)
    assert sessions.heads_read == 0  # listing reads no file
    assert len(sessions.rollouts()) == 3000
    assert [r.session_id[-4:] for r in newest[:3]] == ["2999", "2998", "2997"]  # last activity first
    heads = [sessions.head(r) for r in newest]
    heads_again = [sessions.head(r) for r in newest]
    assert sessions.heads_read == 50 and heads == heads_again
    assert heads[0].first_prompt == "prompt 2999"
    found = sessions.find("00000000-0000-7000-8000-000000000007")
    assert found is not None and sessions.head(found).first_prompt == "prompt 7"


def test_a_missing_codex_home_has_no_sessions(tmp_path: Path) -> None:
    sessions = CodexSessions(tmp_path / "nowhere")
    assert sessions.rollouts() == [] and sessions.find(REAL_ID) is None


def test_codex_home_comes_from_the_settings(tmp_path: Path) -> None:
    from jobstore.settings import Settings

    assert Settings.from_env({"CODEX_HOME": str(tmp_path)}).codex_home == tmp_path
    assert Settings.from_env({"HOME": "/nowhere"}).codex_home == Path.home() / ".codex"


def _tokens(total_in: int, total_out: int) -> str:
    usage = {"input_tokens": total_in, "output_tokens": total_out, "total_tokens": total_in + total_out}
    return rec("event_msg", {"type": "token_count", "info": {"total_token_usage": usage}})


def test_a_reviews_tokens_are_read_from_its_sub_agents_sessions(tmp_path: Path) -> None:
    """codex reports a review turn's usage as zeros; the sub-agent sessions it ran (their
    session_meta names the review's thread as parent) hold the count: the last total of each,
    summed. Other threads' sub-agents and sessions older than the review do not count."""
    review = "01a24930-a041-7d72-aa76-c8a83389ca5f"
    since = datetime(2026, 12, 6, 2, 30, 50, tzinfo=UTC)

    def sub_agent(session_id: str, parent: str, stamp: str, *tokens: str) -> None:
        meta = rec("session_meta", {"id": session_id, "parent_thread_id": parent})
        lines = [meta, rec("event_msg", {"type": "task_started"}), *tokens]
        place(tmp_path, f"rollout-2026-12-06T{stamp}-{session_id}.jsonl", lines, day="2026/12/06")

    sub_agent("01a24930-a0af-70a0-8173-911ed4ec8f49", review, "02-30-53", _tokens(10, 5), _tokens(30, 9))
    sub_agent("01a24930-a0b0-70a0-8173-911ed4ec8f49", review, "02-31-10", _tokens(7, 1))
    sub_agent("01a24930-a0c0-70a0-8173-911ed4ec8f49", "another-thread", "02-30-54", _tokens(100, 100))
    sub_agent("01a24930-a0d0-70a0-8173-911ed4ec8f49", review, "01-00-00", _tokens(1000, 1000))
    usage = review_usage(tmp_path, review, since)
    assert usage == {"input_tokens": 37, "output_tokens": 10, "total_tokens": 47}
    assert review_usage(tmp_path, "01a24930-ffff-7d72-aa76-c8a83389ca5f", since) is None
    assert review_usage(tmp_path / "no-codex-home", review, since) is None
