"""Reading the `codex exec --json` event stream: a running summary and a readable rendering.

Tolerant by design: old field names (`item_type`, `assistant_message`), unknown
event and item types, and lines that are not JSON at all (stderr, banners) are
all kept rather than dropped or fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from jobstore.cut_lines import split_cut

LineKind = Literal[
    "agent",
    "reasoning",
    "command",
    "output",
    "file_change",
    "todo",
    "error",
    "usage",
    "info",
    "notice",
    "raw",
    "user",
]

_ITEM_ALIASES = {"assistant_message": "agent_message", "local_shell_call": "command_execution"}
_MAX_OUTPUT_LINES_SHOWN = 5
_MAX_COMMANDS_KEPT = 200
_MAX_ERRORS_KEPT = 50


def parse_event(line: str) -> dict[str, Any] | None:
    """The event a line holds, or None when the line is not a JSON object. A line cut by a
    reader (see `cut_line`) holding a command's end gives that command, as far as it was kept."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    cut = split_cut(text)
    if cut is not None and (event := _cut_command_event(*cut)) is not None:
        return event
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


# ---------------------------------------------------------------- lines too long to keep whole
# Keys of the JSON, never text inside a string (where every quote is escaped).
_EVENT_TYPE = re.compile(r'^\{\s*"type"\s*:\s*"(item\.[a-z_]+)"')
_ITEM_ID = re.compile(r'[{,]\s*"id"\s*:\s*"((?:[^"\\]|\\.)*)"')
_COMMAND = re.compile(r'[{,]\s*"command"\s*:\s*"((?:[^"\\]|\\.)*)"')
_EXIT_CODE = re.compile(r'[{,]\s*"exit_code"\s*:\s*(-?\d+|null)')
_STATUS = re.compile(r'[{,]\s*"status"\s*:\s*"([a-z_]+)"')
# The end of the output string: an unescaped quote, then the key after it.
_OUTPUT_END = re.compile(r'(?<!\\)((?:\\\\)*)"\s*,\s*"(?:exit_code|status)"\s*:')


def _json_string(escaped: str) -> str | None:
    try:
        value = json.loads(f'"{escaped}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _cut_command_event(head: str, length: int, end: str) -> dict[str, Any] | None:
    """The command_execution event a cut line held (`jobstore.cut_lines`): its id and command
    from the head, its exit code, status and the end of its output (from its first whole line
    on) from the end."""
    kind = _EVENT_TYPE.match(head)
    if kind is None or not re.search(r'[{,]\s*"type"\s*:\s*"command_execution"', head):
        return None
    item: dict[str, Any] = {"type": "command_execution", "cut_bytes": length}
    for key, pattern, where in (("id", _ITEM_ID, head), ("command", _COMMAND, head + end)):
        found = pattern.search(where)
        if found is not None:
            item[key] = _json_string(found.group(1)) or ""
    exit_code = _EXIT_CODE.findall(end)
    if exit_code and exit_code[-1] != "null":
        item["exit_code"] = int(exit_code[-1])
    status = _STATUS.findall(end)
    if status:
        item["status"] = status[-1]
    output_end = _OUTPUT_END.search(end)
    if output_end is not None:
        # From the first whole line on: the cut may fall inside an escape or a character.
        escaped = end[: output_end.start() + len(output_end.group(1))]
        whole = escaped.split("\\n", 1)[1] if "\\n" in escaped else ""
        item["aggregated_output"] = _json_string(whole) or ""
    return {"type": kind.group(1), "item": item}


def event_type(event: dict[str, Any]) -> str:
    value = event.get("type") or event.get("event_type") or ""
    return value if isinstance(value, str) else ""


def item_of(event: dict[str, Any]) -> dict[str, Any] | None:
    item = event.get("item")
    return item if isinstance(item, dict) else None


def item_type(item: dict[str, Any]) -> str:
    value = item.get("type") or item.get("item_type") or ""
    value = value if isinstance(value, str) else ""
    return _ITEM_ALIASES.get(value, value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


@dataclass
class CommandRun:
    command: str
    exit_code: int | None = None
    status: str = "in_progress"


@dataclass
class Summary:
    """What a person wants to know about a run, kept up to date line by line."""

    session_id: str | None = None
    last_agent_message: str | None = None
    commands: list[CommandRun] = field(default_factory=list)
    file_changes: list[dict[str, str]] = field(default_factory=list)
    todo_list: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    errors: list[str] = field(default_factory=list)
    turn_completed: bool = False
    turn_failed: bool = False
    turn_interrupted: bool = False
    # Messages a person steered into the running turn, each with how many commands had
    # run before it (where it was sent).
    steered: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    other_lines: int = 0
    _command_index: dict[str, int] = field(default_factory=dict, repr=False)

    def feed_line(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            if line.strip():
                self.other_lines += 1
            return
        self.feed(event)

    def feed(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = event_type(event)
        if kind == "thread.started":
            thread_id = event.get("thread_id")
            if isinstance(thread_id, str) and thread_id:
                self.session_id = thread_id
        elif kind == "turn.started":
            self.turn_completed = False
        elif kind == "turn.interrupted":
            self.turn_interrupted = True
        elif kind == "turn.completed":
            self.turn_completed = True
            usage = event.get("usage")
            if isinstance(usage, dict):
                self.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
        elif kind == "turn.failed":
            self.turn_failed = True
            self._error(_error_message(event.get("error")) or "the turn failed")
        elif kind == "error":
            self._error(_text(event.get("message")) or "error")
        elif kind.startswith("item."):
            item = item_of(event)
            if item is not None:
                self._feed_item(item, kind)

    def _feed_item(self, item: dict[str, Any], kind: str) -> None:
        itype = item_type(item)
        if itype == "agent_message" and kind == "item.completed":
            self.last_agent_message = _text(item.get("text"))
        elif itype == "command_execution":
            key = _text(item.get("id")) or f"#{len(self.commands)}"
            exit_code = item.get("exit_code")
            run = CommandRun(
                command=_text(item.get("command")),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                status=_text(item.get("status"))
                or ("completed" if kind == "item.completed" else "in_progress"),
            )
            if key in self._command_index:
                self.commands[self._command_index[key]] = run
            elif len(self.commands) < _MAX_COMMANDS_KEPT:
                self._command_index[key] = len(self.commands)
                self.commands.append(run)
        elif itype == "file_change" and kind == "item.completed":
            for change in item.get("changes") or []:
                if isinstance(change, dict):
                    self.file_changes.append(
                        {"path": _text(change.get("path")), "kind": _text(change.get("kind"))}
                    )
        elif itype == "todo_list":
            items = item.get("items")
            if isinstance(items, list):
                self.todo_list = [
                    {"text": _text(i.get("text")), "completed": bool(i.get("completed"))}
                    for i in items
                    if isinstance(i, dict)
                ]
        elif itype == "error" and kind == "item.completed":
            self._error(_text(item.get("message")))
        elif itype == "user_message" and kind == "item.completed" and len(self.steered) < _MAX_ERRORS_KEPT:
            self.steered.append({"text": _text(item.get("text")), "after_commands": len(self.commands)})

    def _error(self, message: str) -> None:
        if message and len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)

    @property
    def last_error(self) -> str | None:
        return self.errors[-1] if self.errors else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_command_index", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        summary = cls()
        for name in (
            "session_id",
            "last_agent_message",
            "file_changes",
            "todo_list",
            "usage",
            "errors",
            "turn_completed",
            "turn_failed",
            "turn_interrupted",
            "steered",
            "events",
            "other_lines",
        ):
            if name in data:
                setattr(summary, name, data[name])
        summary.commands = [CommandRun(**c) for c in data.get("commands") or [] if isinstance(c, dict)]
        return summary


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        return _text(error.get("message"))
    return _text(error)


@dataclass(frozen=True)
class RenderedLine:
    """One line for a person to read, with a kind that a UI can colour."""

    kind: LineKind
    text: str


# What codex prints on stderr at every start when stdin is closed: says nothing to a reader.
_NOISE_LINES = frozenset({"Reading additional input from stdin..."})
# codex's own notices on stderr, before and among its events (`WARNING: proceeding, even though
# we could not create PATH aliases: ...`, its log lines): kind "notice", which readers dim.
_CODEX_NOTICE = re.compile(
    r"(?:WARNING|WARN|NOTE|INFO): |Reading prompt from stdin\.\.\.$"
    r"|\d{4}-\d\d-\d\dT[\d:.]+Z? +(?:WARN|INFO|DEBUG|TRACE) "
)


def render_line(line: str) -> list[RenderedLine]:
    """A raw output line made readable. Non-JSON lines are shown as they are; codex's own
    notices as kind "notice"."""
    event = parse_event(line)
    if event is None:
        text = line.rstrip("\n")
        stripped = text.strip()
        if not stripped or stripped in _NOISE_LINES:
            return []
        return [RenderedLine("notice" if _CODEX_NOTICE.match(stripped) else "raw", text)]
    return render_event(event)


def render_event(event: dict[str, Any]) -> list[RenderedLine]:
    kind = event_type(event)
    if kind == "thread.started":
        return [RenderedLine("info", f"session {event.get('thread_id', '?')}")]
    if kind == "turn.started":
        return []
    if kind == "turn.completed":
        usage = event.get("usage")
        return [
            RenderedLine(
                "usage", "turn completed · " + format_usage(usage if isinstance(usage, dict) else {})
            )
        ]
    if kind == "turn.failed":
        return [RenderedLine("error", "turn failed: " + (_error_message(event.get("error")) or "?"))]
    if kind == "turn.interrupted":
        return [RenderedLine("info", "turn interrupted")]
    if kind == "error":
        return [RenderedLine("error", "error: " + _text(event.get("message")))]
    item = item_of(event)
    if item is None:
        return [RenderedLine("info", f"[{kind or 'event'}]")]
    return _render_item(item, kind)


def _render_item(item: dict[str, Any], kind: str) -> list[RenderedLine]:
    itype = item_type(item)
    done = kind == "item.completed"
    if itype == "agent_message":
        return [RenderedLine("agent", t) for t in _text(item.get("text")).splitlines()] if done else []
    if itype == "user_message":  # a person's message steered into the turn
        return [RenderedLine("user", "» " + t) for t in _text(item.get("text")).splitlines()] if done else []
    if itype == "reasoning":
        return [RenderedLine("reasoning", t) for t in _text(item.get("text")).splitlines()] if done else []
    if itype == "command_execution":
        command = _text(item.get("command"))
        if not done:
            # Dim while it runs; the completed line below carries the exit code.
            return [RenderedLine("info", f"… $ {command}")] if kind == "item.started" else []
        exit_code = item.get("exit_code")
        status = f"exit {exit_code}" if isinstance(exit_code, int) else _text(item.get("status"))
        lines = [RenderedLine("command" if exit_code in (0, None) else "error", f"$ {command}  [{status}]")]
        output = _text(item.get("aggregated_output")).splitlines()
        cut = item.get("cut_bytes")
        if isinstance(cut, int):  # from a line too long to keep whole: its end only
            lines.append(RenderedLine("output", f"  … (a {cut:,}-byte event: the end of its output)"))
        elif len(output) > _MAX_OUTPUT_LINES_SHOWN:
            lines.append(RenderedLine("output", f"  … {len(output) - _MAX_OUTPUT_LINES_SHOWN} more lines"))
        lines += [RenderedLine("output", "  " + o) for o in output[-_MAX_OUTPUT_LINES_SHOWN:]]
        return lines
    if itype == "file_change":
        if not done:
            return []
        return [
            RenderedLine("file_change", f"{_text(c.get('kind')) or 'change'}: {_text(c.get('path'))}")
            for c in item.get("changes") or []
            if isinstance(c, dict)
        ]
    if itype == "todo_list":
        entries = [i for i in item.get("items") or [] if isinstance(i, dict)]
        return [
            RenderedLine("todo", ("[x] " if i.get("completed") else "[ ] ") + _text(i.get("text")))
            for i in entries
        ]
    if itype == "error":
        return [RenderedLine("error", "error: " + _text(item.get("message")))] if done else []
    if itype == "mcp_tool_call":
        if not done:
            return []
        return [
            RenderedLine(
                "command",
                f"tool {_text(item.get('server'))}.{_text(item.get('tool'))} [{_text(item.get('status'))}]",
            )
        ]
    if itype == "web_search":
        return [RenderedLine("command", f"web search: {_text(item.get('query'))}")] if done else []
    if not done:
        return []
    return [RenderedLine("info", f"[{itype or 'item'}]")]


def format_usage(usage: dict[str, Any]) -> str:
    tin = usage.get("input_tokens")
    tout = usage.get("output_tokens")
    parts = []
    if isinstance(tin, int):
        parts.append(f"{tin:,} in")
    if isinstance(tout, int):
        parts.append(f"{tout:,} out")
    return " / ".join(parts) + " tokens" if parts else "no usage reported"


def total_tokens(usage: dict[str, Any] | None) -> int | None:
    if not usage:
        return None
    tin = usage.get("input_tokens") or 0
    tout = usage.get("output_tokens") or 0
    return int(tin) + int(tout)
