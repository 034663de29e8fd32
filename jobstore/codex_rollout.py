"""One codex rollout file read: its records (tolerant: lines that are not JSON objects, or
too long, are skipped and counted), a record's kind and payload in old and new forms, the
prompt a record carries, and the whole file as a `Conversation`. Read-only, never following
a symlink. `jobstore.codex_sessions` finds the files and reads their heads with these.

A rollout is read as a stream, one record at a time, into bounded summaries: whatever a file
holds (millions of records, turns or commands, megabytes of text in one), what is kept stays
within the limits below, and what was left out is counted in the conversation's details.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jobstore.conversation import UNFINISHED, CommandRun, Conversation, Turn, TurnStatus
from jobstore.record import parse_iso
from jobstore.states import JobStatus

MAX_ROLLOUT_BYTES = 256 * 1024 * 1024  # read no further into one file
MAX_LINE_BYTES = 8 * 1024 * 1024  # longer records are skipped (and counted)
# What one conversation keeps, whatever the file holds: the newest turns, the newest commands
# of a turn, the end of a command's output, the start of every other text.
MAX_TURNS = 200
MAX_KEPT_CHARS = 8_000_000  # of text in the turns kept; older turns go first
MAX_COMMANDS_PER_TURN = 100
MAX_FILE_CHANGES_PER_TURN = 500
MAX_OUTPUT_CHARS = 2_000  # of a command's output: its end
MAX_COMMAND_CHARS = 1_000
MAX_TEXT_CHARS = 20_000  # of a prompt, an answer, an error
MAX_NAME_CHARS = 200  # of a folder, a path, a detail, a kind of record
MAX_OTHER_KINDS = 50  # kinds of unknown record counted by name; the rest together
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


@dataclass
class RolloutRecords:
    """The JSON objects of a file's lines (up to `max_bytes`), one at a time as they are read;
    once iterated, `skipped` says how many lines were not (too long, not an object)."""

    path: Path
    max_bytes: int
    skipped: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        read = 0
        with open(self.path, "rb", opener=_no_follow) as f:
            while read < self.max_bytes:
                line = f.readline(MAX_LINE_BYTES + 1)
                if not line:
                    break
                read += len(line)
                if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
                    self.skipped += 1  # too long (the rest is skipped too), or a last line being written
                    while len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                        line = f.readline(MAX_LINE_BYTES + 1)
                        read += len(line)
                    continue
                record = _json_object(line)
                if record is None:
                    self.skipped += bool(line.strip())
                else:
                    yield record


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


def _head(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


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

    def count_other(self, kind: str) -> None:
        name = _head(kind, MAX_NAME_CHARS)
        if name not in self.other and len(self.other) >= MAX_OTHER_KINDS:
            name = "records of other kinds"
        self.other[name] += 1

    def kept_chars(self) -> int:
        """How much text this turn holds (prompt, answer, error, commands, file changes)."""
        texts = (self.prompt, self.item_prompt, self.answer or "", self.item_answer or "", self.error or "")
        commands = sum(len(run.command) + len(run.output) for run in self.commands.values())
        return sum(map(len, texts)) + commands + sum(len(path) for _, path in self.file_changes)

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
    """Folds a session file's records into turns, keeping the newest within the limits."""

    def __init__(self) -> None:
        self.turns: deque[_TurnBuilder] = deque()
        self.current: _TurnBuilder | None = None
        self.total_tokens: int | None = None
        self.cwd = ""
        self.details: dict[str, str] = {}
        self.ended_chars = 0  # of the kept turns but the current one (which no record changes again)
        self.dropped = Counter[str]()  # what was left out, by what

    def turn(self, at: datetime | None = None, *, new: bool = False) -> _TurnBuilder:
        if self.current is None or new:
            if self.current is not None:
                self.ended_chars += self.current.kept_chars()
            self.current = _TurnBuilder(started_at=at, tokens_before=self.total_tokens)
            self.turns.append(self.current)
            while len(self.turns) > 1 and (len(self.turns) > MAX_TURNS or self.ended_chars > MAX_KEPT_CHARS):
                self.ended_chars -= self.turns.popleft().kept_chars()
                self.dropped["earliest turns not kept"] += 1
        return self.current

    def feed(self, record: dict[str, Any]) -> None:
        at = parse_iso(as_str(record.get("timestamp")))
        kind, payload = split_record(record)
        if kind == "session_meta" or (kind == "" and "instructions" in record):
            self.cwd = self.cwd or _head(as_str(payload.get("cwd")), MAX_NAME_CHARS * 20)
            for name in ("cli_version", "originator", "model_provider"):
                if as_str(payload.get(name)):
                    self.details[name] = _head(as_str(payload.get(name)), MAX_NAME_CHARS)
        elif kind == "turn_context":
            self.cwd = self.cwd or _head(as_str(payload.get("cwd")), MAX_NAME_CHARS * 20)
        elif kind == "event_msg":
            self._event(payload, at)
        elif kind in ("response_item", "item"):
            self._item(payload, at)
        elif kind not in _QUIET_RECORDS:
            self.turn(at).count_other(kind or "record without a type")

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
            joined = turn.prompt + ("\n\n" if turn.prompt else "") + prompt
            turn.prompt = _head(joined, MAX_TEXT_CHARS) if len(turn.prompt) < MAX_TEXT_CHARS else turn.prompt
        elif ptype == "agent_message":
            self.turn(at).answer = _head(as_str(payload.get("message")), MAX_TEXT_CHARS)
        elif ptype == "item_completed" and _item_type(payload) == "AgentMessage":
            self.turn(at).answer = _head(_texts(payload["item"].get("content")), MAX_TEXT_CHARS)
        elif ptype in ("task_complete", "turn_complete"):
            turn = self.turn(at)
            last = payload.get("last_agent_message")
            if isinstance(last, str) and last:
                turn.answer = _head(last, MAX_TEXT_CHARS)
            turn.status, turn.finished_at = JobStatus.DONE, at
            turn.tokens_after = self.total_tokens
        elif ptype == "turn_aborted":
            turn = self.turn(at)
            turn.status, turn.finished_at = JobStatus.CANCELLED, at
            turn.error = _head(f"aborted: {as_str(payload.get('reason')) or 'interrupted'}", MAX_TEXT_CHARS)
        elif ptype in ("error", "stream_error"):
            turn = self.turn(at)
            turn.error = _head(as_str(payload.get("message")) or ptype, MAX_TEXT_CHARS)
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
                    self._file_change(kind or "update", str(path), at)
        elif ptype == "item_completed" or ptype in _QUIET_EVENTS:
            pass
        else:
            self.turn(at).count_other(f"event {ptype or '?'}")

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
                    turn.item_prompt = turn.item_prompt or _head(prompt, MAX_TEXT_CHARS)
            elif role == "assistant":
                self.turn(at).item_answer = _head(_texts(payload.get("content")), MAX_TEXT_CHARS)
        elif itype in ("function_call", "custom_tool_call", "local_shell_call"):
            self._tool_call(itype, payload, at)
        elif itype in ("function_call_output", "custom_tool_call_output"):
            self._tool_output(payload)
        elif itype == "web_search_call":
            action = payload.get("action")
            query = as_str(action.get("query")) if isinstance(action, dict) else ""
            self._command(as_str(payload.get("id")), f"web search: {query}", None, "", at)
        elif itype not in _QUIET_ITEMS:
            self.turn(at).count_other(f"item {itype or '?'}")

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
                self._file_change(kind, path, at)
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
            run.command,
            exit_code if isinstance(exit_code, int) else run.exit_code,
            _tail(text, MAX_OUTPUT_CHARS),
        )

    def _command(self, call_id: str, text: str, exit_code: object, output: str, at: datetime | None) -> None:
        turn = self.turn(at)
        key = _head(call_id, MAX_NAME_CHARS) or f"#{len(turn.commands)}"
        known = turn.commands.get(key)
        if known is None and len(turn.commands) >= MAX_COMMANDS_PER_TURN:
            del turn.commands[next(iter(turn.commands))]  # the oldest: a turn's last commands matter most
            self.dropped["earlier commands not kept"] += 1
        turn.commands[key] = CommandRun(
            _head(text, MAX_COMMAND_CHARS) or (known.command if known else ""),
            exit_code if isinstance(exit_code, int) else (known.exit_code if known else None),
            _tail(output, MAX_OUTPUT_CHARS) or (known.output if known else ""),
        )

    def _file_change(self, kind: str, path: str, at: datetime | None) -> None:
        changes = self.turn(at).file_changes
        key = (_head(kind, MAX_NAME_CHARS), _head(path, MAX_NAME_CHARS * 20))
        if key not in changes and len(changes) >= MAX_FILE_CHANGES_PER_TURN:
            self.dropped["file changes not kept"] += 1
            return
        changes[key] = None


def _item_type(payload: dict[str, Any]) -> str:
    item = payload.get("item")
    return as_str(item.get("type")) if isinstance(item, dict) else ""


_PATCH_FILE_RE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$", re.MULTILINE)


def _patch_files(patch: str) -> list[tuple[str, str]]:
    return [(kind.lower(), path.strip()) for kind, path in _PATCH_FILE_RE.findall(patch)]


def read_conversation(path: Path, session_id: str) -> Conversation:
    """One session file as a conversation. Raises OSError when it cannot be read at all."""
    records = RolloutRecords(path, MAX_ROLLOUT_BYTES)
    reader = _Reader()
    for record in records:
        try:
            reader.feed(record)
        except (AttributeError, TypeError, ValueError, KeyError):
            # A known record type in a shape this reader does not expect: kept as unknown.
            reader.turn().count_other(f"unreadable {as_str(record.get('type')) or 'record'}")
    if records.skipped:
        reader.details["lines skipped"] = str(records.skipped)
    reader.details.update((what, str(count)) for what, count in reader.dropped.items())
    turns = tuple(t.build() for t in reader.turns if t.has_prompt or t.answer or t.commands or t.other)
    return Conversation(
        session_id=session_id,
        cwd=reader.cwd,
        turns=turns,
        started_here=False,
        source=str(path),
        details=reader.details,
    )
