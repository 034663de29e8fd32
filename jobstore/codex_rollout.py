"""One codex rollout file read: its records (tolerant: lines that are not JSON objects, or
too long, are skipped and counted), a record's kind and payload in old and new forms, the
prompt a record carries, and the whole file as a `Conversation`. Read-only, never following
a symlink. `jobstore.codex_sessions` finds the files and reads their heads with these.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jobstore.conversation import UNFINISHED, CommandRun, Conversation, Turn, TurnStatus
from jobstore.record import parse_iso
from jobstore.states import JobStatus

MAX_ROLLOUT_BYTES = 256 * 1024 * 1024  # read no further into one file
MAX_LINE_BYTES = 8 * 1024 * 1024  # longer records are skipped (and counted)
MAX_OUTPUT_CHARS = 4_000  # of a command's output, kept per command
_SHELL_TOOLS = frozenset({"shell", "exec_command", "container.exec", "shell_command", "local_shell"})
# Records read for what they say elsewhere, or that say nothing a reader of the conversation
# wants: not "unknown".
_QUIET_RECORDS = frozenset({"turn_context", "world_state", "token_usage_record", "compacted"})
_QUIET_EVENTS = frozenset(
    {
        "thread_settings_applied",
        "item_started",
        "agent_reasoning",
        "agent_reasoning_raw_content",
        "agent_reasoning_section_break",
        "exec_command_begin",
        "patch_apply_begin",
        "mcp_tool_call_begin",
        "session_configured",
        "background_event",
        "rate_limits",
    }
)
_QUIET_ITEMS = frozenset({"reasoning", "function_call_output", "custom_tool_call_output"})
# A user message that codex adds itself (its environment, the project's instructions).
_INJECTED_PREFIXES = ("<environment_context>", "<user_instructions>", "<user_shell_command>", "# AGENTS.md")


def read_records(path: Path, *, max_bytes: int) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a file's lines (up to `max_bytes`), and how many lines were not."""
    records: list[dict[str, Any]] = []
    skipped = 0
    read = 0
    with open(path, "rb", opener=_no_follow) as f:
        while read < max_bytes:
            line = f.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            read += len(line)
            if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
                skipped += 1  # too long (the rest is skipped too), or a last line being written
                while len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    line = f.readline(MAX_LINE_BYTES + 1)
                    read += len(line)
                continue
            record = _json_object(line)
            if record is None:
                skipped += bool(line.strip())
            else:
                records.append(record)
    return records, skipped


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def split_record(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(record type, payload). Older versions wrote items bare: ("item", the record)."""
    payload = record.get("payload")
    kind = record.get("type")
    if isinstance(payload, dict) and isinstance(kind, str):
        return kind, payload
    if isinstance(kind, str) and kind:
        return "item", record
    return "", record


def as_str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _texts(content: object) -> str:
    """The text of a message's content, whatever its parts are called."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [as_str(c.get("text")) for c in content if isinstance(c, dict)]
    return "\n".join(p for p in parts if p)


def prompt_of(kind: str, payload: dict[str, Any]) -> str:
    """The text a person typed, if this record is one (event or item form)."""
    if kind == "event_msg":
        ptype = payload.get("type")
        if ptype == "user_message":
            return as_str(payload.get("message"))
        item = payload.get("item")
        if ptype == "item_completed" and isinstance(item, dict) and item.get("type") == "UserMessage":
            return _texts(item.get("content"))
    if (
        kind in ("response_item", "item")
        and payload.get("type") == "message"
        and payload.get("role") == "user"
    ):
        text = _texts(payload.get("content"))
        if text and not text.lstrip().startswith(_INJECTED_PREFIXES):
            return text
    return ""


@dataclass
class _TurnBuilder:
    prompt: str = ""
    item_prompt: str = ""  # from a response item: used when no event gave the prompt
    answer: str | None = None
    item_answer: str | None = None
    status: TurnStatus = UNFINISHED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tokens_before: int | None = None
    tokens_after: int | None = None
    commands: dict[str, CommandRun] = field(default_factory=dict)
    file_changes: dict[tuple[str, str], None] = field(default_factory=dict)
    error: str | None = None
    other: Counter[str] = field(default_factory=Counter)

    @property
    def has_prompt(self) -> bool:
        return bool(self.prompt or self.item_prompt)

    def build(self) -> Turn:
        tokens = None
        if self.tokens_after is not None:
            tokens = self.tokens_after - (self.tokens_before or 0)
        return Turn(
            prompt=self.prompt or self.item_prompt,
            answer=self.answer if self.answer is not None else self.item_answer,
            status=self.status,
            started_at=self.started_at,
            finished_at=self.finished_at,
            tokens=tokens,
            commands=tuple(self.commands.values()),
            file_changes=tuple(self.file_changes),
            error=self.error,
            other=tuple(sorted(self.other.items())),
        )


class _Reader:
    """Folds a session file's records into turns."""

    def __init__(self) -> None:
        self.turns: list[_TurnBuilder] = []
        self.current: _TurnBuilder | None = None
        self.total_tokens: int | None = None
        self.cwd = ""
        self.details: dict[str, str] = {}

    def turn(self, at: datetime | None = None, *, new: bool = False) -> _TurnBuilder:
        if self.current is None or new:
            self.current = _TurnBuilder(started_at=at, tokens_before=self.total_tokens)
            self.turns.append(self.current)
        return self.current

    def feed(self, record: dict[str, Any]) -> None:
        at = parse_iso(as_str(record.get("timestamp")))
        kind, payload = split_record(record)
        if kind == "session_meta" or (kind == "" and "instructions" in record):
            self.cwd = self.cwd or as_str(payload.get("cwd"))
            for name in ("cli_version", "originator", "model_provider"):
                if as_str(payload.get(name)):
                    self.details[name] = as_str(payload.get(name))
        elif kind == "turn_context":
            self.cwd = self.cwd or as_str(payload.get("cwd"))
        elif kind == "event_msg":
            self._event(payload, at)
        elif kind in ("response_item", "item"):
            self._item(payload, at)
        elif kind not in _QUIET_RECORDS:
            self.turn(at).other[kind or "record without a type"] += 1

    def _event(self, payload: dict[str, Any], at: datetime | None) -> None:
        ptype = as_str(payload.get("type"))
        prompt = prompt_of("event_msg", payload)
        if ptype in ("task_started", "turn_started"):
            current = self.current
            if current is None or current.has_prompt or current.status != UNFINISHED:
                self.turn(at, new=True)
            elif current.started_at is None:
                current.started_at = at
        elif prompt:
            turn = self.turn(at)
            if turn.prompt:  # a second prompt in a turn: codex was steered, or a new turn began
                turn = self.turn(at, new=turn.status != UNFINISHED or turn.answer is not None)
            turn.prompt = turn.prompt + ("\n\n" if turn.prompt else "") + prompt
        elif ptype == "agent_message":
            self.turn(at).answer = as_str(payload.get("message"))
        elif ptype == "item_completed" and _item_type(payload) == "AgentMessage":
            self.turn(at).answer = _texts(payload["item"].get("content"))
        elif ptype in ("task_complete", "turn_complete"):
            turn = self.turn(at)
            last = payload.get("last_agent_message")
            if isinstance(last, str) and last:
                turn.answer = last
            turn.status, turn.finished_at = JobStatus.DONE, at
            turn.tokens_after = self.total_tokens
        elif ptype == "turn_aborted":
            turn = self.turn(at)
            turn.status, turn.finished_at = JobStatus.CANCELLED, at
            turn.error = f"aborted: {as_str(payload.get('reason')) or 'interrupted'}"
        elif ptype in ("error", "stream_error"):
            turn = self.turn(at)
            turn.error = as_str(payload.get("message")) or ptype
            if ptype == "error":
                turn.status = JobStatus.ERROR
        elif ptype == "token_count":
            self._tokens(payload)
        elif ptype == "exec_command_end":
            command = payload.get("command")
            text = " ".join(map(str, command)) if isinstance(command, list) else as_str(command)
            exit_code = payload.get("exit_code")
            output = as_str(payload.get("aggregated_output")) or as_str(payload.get("stdout"))
            self._command(as_str(payload.get("call_id")), text, exit_code, output, at)
        elif ptype == "patch_apply_end":
            changes = payload.get("changes")
            if isinstance(changes, dict):
                for path, change in changes.items():
                    kind = as_str(change.get("type")) if isinstance(change, dict) else ""
                    self.turn(at).file_changes[(kind or "update", str(path))] = None
        elif ptype == "item_completed" or ptype in _QUIET_EVENTS:
            pass
        else:
            self.turn(at).other[f"event {ptype or '?'}"] += 1

    def _tokens(self, payload: dict[str, Any]) -> None:
        info = payload.get("info")
        usage = info.get("total_token_usage") if isinstance(info, dict) else None
        if not isinstance(usage, dict):
            return
        total = usage.get("total_tokens")
        if not isinstance(total, int):
            parts = [usage.get("input_tokens"), usage.get("output_tokens")]
            total = sum(p for p in parts if isinstance(p, int))
        self.total_tokens = total
        if self.current is not None:
            self.current.tokens_after = total

    def _item(self, payload: dict[str, Any], at: datetime | None) -> None:
        itype = as_str(payload.get("type"))
        if itype == "message":
            role = payload.get("role")
            if role == "user":
                prompt = prompt_of("item", payload)
                if prompt:
                    turn = self.turn(at)
                    if turn.item_prompt and (turn.item_answer is not None or turn.status != UNFINISHED):
                        turn = self.turn(at, new=True)
                    turn.item_prompt = turn.item_prompt or prompt
            elif role == "assistant":
                self.turn(at).item_answer = _texts(payload.get("content"))
        elif itype in ("function_call", "custom_tool_call", "local_shell_call"):
            self._tool_call(itype, payload, at)
        elif itype in ("function_call_output", "custom_tool_call_output"):
            self._tool_output(payload)
        elif itype == "web_search_call":
            action = payload.get("action")
            query = as_str(action.get("query")) if isinstance(action, dict) else ""
            self._command(as_str(payload.get("id")), f"web search: {query}", None, "", at)
        elif itype not in _QUIET_ITEMS:
            self.turn(at).other[f"item {itype or '?'}"] += 1

    def _tool_call(self, itype: str, payload: dict[str, Any], at: datetime | None) -> None:
        name = as_str(payload.get("name"))
        call_id = as_str(payload.get("call_id")) or as_str(payload.get("id"))
        raw = payload.get("arguments") if itype == "function_call" else payload.get("input")
        if itype == "local_shell_call":
            action = payload.get("action")
            command = action.get("command") if isinstance(action, dict) else None
            text = " ".join(map(str, command)) if isinstance(command, list) else ""
            self._command(call_id, text, None, "", at)
            return
        args = _json_object(raw.encode()) if isinstance(raw, str) and raw.lstrip().startswith("{") else None
        if name == "apply_patch":
            patch = as_str(args.get("input")) if args is not None else as_str(raw)
            for kind, path in _patch_files(patch):
                self.turn(at).file_changes[(kind, path)] = None
            return
        if name in _SHELL_TOOLS and args is not None:
            command = args.get("cmd", args.get("command"))
            text = " ".join(map(str, command)) if isinstance(command, list) else as_str(command)
            self._command(call_id, text, None, "", at)
            return
        shown = as_str(raw) if len(as_str(raw)) <= 200 else as_str(raw)[:199] + "…"
        self._command(call_id, f"{name or itype}({shown})", None, "", at)

    def _tool_output(self, payload: dict[str, Any]) -> None:
        call_id = as_str(payload.get("call_id"))
        if self.current is None or call_id not in self.current.commands:
            return
        output = payload.get("output")
        if isinstance(output, dict):
            output = output.get("content") or output.get("output")
        text = as_str(output) or _texts(output)
        parsed = _json_object(text.encode()) if text.lstrip().startswith("{") else None
        exit_code: object = None
        if parsed is not None:  # older versions: {"output": ..., "metadata": {"exit_code": ...}}
            metadata = parsed.get("metadata")
            exit_code = metadata.get("exit_code") if isinstance(metadata, dict) else None
            text = as_str(parsed.get("output")) or text
        else:
            found = re.search(r"(?:exited with code|Exit code:)\s*(-?\d+)", text)
            exit_code = int(found.group(1)) if found else None
        run = self.current.commands[call_id]
        self.current.commands[call_id] = CommandRun(
            run.command, exit_code if isinstance(exit_code, int) else run.exit_code, text[:MAX_OUTPUT_CHARS]
        )

    def _command(self, call_id: str, text: str, exit_code: object, output: str, at: datetime | None) -> None:
        turn = self.turn(at)
        key = call_id or f"#{len(turn.commands)}"
        known = turn.commands.get(key)
        turn.commands[key] = CommandRun(
            text or (known.command if known else ""),
            exit_code if isinstance(exit_code, int) else (known.exit_code if known else None),
            output[:MAX_OUTPUT_CHARS] or (known.output if known else ""),
        )


def _item_type(payload: dict[str, Any]) -> str:
    item = payload.get("item")
    return as_str(item.get("type")) if isinstance(item, dict) else ""


_PATCH_FILE_RE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$", re.MULTILINE)


def _patch_files(patch: str) -> list[tuple[str, str]]:
    return [(kind.lower(), path.strip()) for kind, path in _PATCH_FILE_RE.findall(patch)]


def read_conversation(path: Path, session_id: str) -> Conversation:
    """One session file as a conversation. Raises OSError when it cannot be read at all."""
    records, skipped = read_records(path, max_bytes=MAX_ROLLOUT_BYTES)
    reader = _Reader()
    for record in records:
        try:
            reader.feed(record)
        except (AttributeError, TypeError, ValueError, KeyError):
            # A known record type in a shape this reader does not expect: kept as unknown.
            reader.turn().other[f"unreadable {as_str(record.get('type')) or 'record'}"] += 1
    if skipped:
        reader.details["lines skipped"] = str(skipped)
    turns = tuple(t.build() for t in reader.turns if t.has_prompt or t.answer or t.commands or t.other)
    return Conversation(
        session_id=session_id,
        cwd=reader.cwd,
        turns=turns,
        started_here=False,
        source=str(path),
        details=reader.details,
    )
